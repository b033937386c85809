"""Tests for generator.documents.compiled: a compiled template renders the bytes docxtpl's own render and save give."""

from __future__ import annotations

import datetime as dt
import io
import threading
import zipfile
from pathlib import Path

import pytest
from docx import Document
from docxtpl import DocxTemplate

from generator import api
from generator.documents.context import brochure_context
from generator.documents.registry import BROCHURE, PERSONALISED, WORDING
from generator.documents.render import DocProperties, make_env, render_docx, reproducible_docx
from generator.documents.wording import wording_context
from generator.errors import TemplateError

PROPS = DocProperties(title="t", subject="s", author="a", keywords="k", date=dt.date(2026, 4, 1))


def docxtpl_bytes(template: Path, context: dict, out: Path) -> bytes:
    """The reference: docxtpl opens, renders and saves the package itself (then the same fixed stamps and properties)."""
    tpl = DocxTemplate(str(template))
    tpl.render(context, jinja_env=make_env(), autoescape=True)
    buffer = io.BytesIO()
    tpl.save(buffer)
    return reproducible_docx(buffer.getvalue(), out, PROPS).read_bytes()


def real_documents() -> list[tuple[str, Path, dict]]:
    site = api.Site.at(Path(__file__).resolve().parents[2])
    product = api.load(site, "cyber_lite", lint=False)
    rates = product.rates
    request = api.client_request(client="株式会社 A&B <テスト>", contact="山田 花子", industry=rates.classes[-1].industries[0],
                                 revenue=str(rates.bands[-1].up_to), limit=str(rates.limits[-1]), date="2026-11-26")
    plan = api.plan(site, product, request, today=dt.date(2026, 11, 26))
    docs = [(d.id, d.template_path(site.templates), plan.contexts[d.id]) for d in PERSONALISED]
    docs.append((BROCHURE.id, BROCHURE.template_path(site.templates), brochure_context(product)))
    docs.append((WORDING.id, WORDING.template_path(site.templates), wording_context(product)))
    return docs


@pytest.mark.parametrize(("doc_id", "template", "context"), real_documents(), ids=lambda v: v if isinstance(v, str) else "")
def test_every_template_renders_the_bytes_docxtpl_writes(doc_id: str, template: Path, context: dict, tmp_path: Path) -> None:
    expected = docxtpl_bytes(template, context, tmp_path / "docxtpl.docx")
    for attempt in range(2):  # the second render starts from what the first left in the compiled template
        got = render_docx(template, context, tmp_path / f"{attempt}.docx", properties=PROPS).read_bytes()
        assert got == expected, f"{doc_id}: render {attempt + 1} differs from docxtpl's"


def zipfile_package(docx: Path) -> bytes:
    """The reference for the zip itself: the package's parts written by zipfile as docgen always wrote them (fixed
    stamps, Unix, deflate level 6)."""
    with zipfile.ZipFile(docx) as z:
        parts = {name: z.read(name) for name in z.namelist()}
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as dst:
        for name, data in parts.items():
            info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type, info.create_system, info.external_attr = zipfile.ZIP_DEFLATED, 3, 0o644 << 16
            dst.writestr(info, data, compresslevel=6)
    return out.getvalue()


@pytest.mark.parametrize(("doc_id", "template", "context"), real_documents(), ids=lambda v: v if isinstance(v, str) else "")
def test_every_rendered_package_has_the_bytes_zipfile_writes(doc_id: str, template: Path, context: dict, tmp_path: Path) -> None:
    # render writes the zip itself and deflates a template's unchanged parts once: the first render may deflate them,
    # the second reuses them, and both must be the bytes zipfile writes
    for attempt in range(2):
        got = render_docx(template, context, tmp_path / f"{attempt}.docx", properties=PROPS)
        assert got.read_bytes() == zipfile_package(got), f"{doc_id}: render {attempt + 1} differs from zipfile's package"


def footnoted(path: Path) -> Path:
    """A template with a footnotes part and two sections: docxtpl renders footnotes once per section."""
    doc = Document()
    doc.add_paragraph().add_run("本文 {{ v }}")
    doc.add_section()
    doc.add_paragraph().add_run("二節 {{ v }}")
    doc.sections[0].header.paragraphs[0].add_run("ヘッダー {{ v }}")
    doc.save(path)
    with zipfile.ZipFile(path) as z:
        parts = {i.filename: z.read(i) for i in z.infolist()}
    w = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
    parts["word/footnotes.xml"] = (f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<w:footnotes xmlns:w="{w}">'
                                   '<w:footnote w:id="1"><w:p><w:r><w:t>注 {{ v }}</w:t></w:r></w:p></w:footnote></w:footnotes>').encode()
    parts["[Content_Types].xml"] = parts["[Content_Types].xml"].replace(b"</Types>", (
        b'<Override PartName="/word/footnotes.xml" '
        b'ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.footnotes+xml"/></Types>'))
    parts["word/_rels/document.xml.rels"] = parts["word/_rels/document.xml.rels"].replace(b"</Relationships>", (
        b'<Relationship Id="rIdFoot" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/footnotes" '
        b'Target="footnotes.xml"/></Relationships>'))
    with zipfile.ZipFile(path, "w") as z:
        for name, data in parts.items():
            z.writestr(name, data)
    return path


@pytest.mark.parametrize("value", ["A&B <株>", "一行目\n二行目\tタブ"], ids=["plain", "listing"])
def test_headers_footnotes_and_sections_render_as_docxtpl_does(tmp_path: Path, value: str) -> None:
    template = footnoted(tmp_path / "foot.docx")
    context = {"v": value}
    expected = docxtpl_bytes(template, context, tmp_path / "docxtpl.docx")
    got = render_docx(template, context, tmp_path / "got.docx", properties=PROPS).read_bytes()
    assert got == expected
    with zipfile.ZipFile(io.BytesIO(got)) as z:
        footnotes, header, body = (z.read(f"word/{n}.xml").decode() for n in ("footnotes", "header1", "document"))
    if value == "A&B <株>":
        assert "注 A&amp;B &lt;株&gt;" in footnotes and "ヘッダー A&amp;B &lt;株&gt;" in header
    else:  # docxtpl's listing: a newline in a value is a line break, a tab a tab (both sections' paragraphs)
        assert body.count("<w:br/>") == 2 and body.count("<w:tab/>") == 2 and "二行目" in body


def test_a_changed_template_file_is_compiled_again(tmp_path: Path) -> None:
    template = tmp_path / "t.docx"
    for text in ("一 {{ v }}", "二 {{ v }}"):
        doc = Document()
        doc.add_paragraph().add_run(text)
        doc.save(template)
        out = render_docx(template, {"v": "x"}, tmp_path / "out.docx")
        with zipfile.ZipFile(out) as z:
            assert f"{text[0]} x".encode() in z.read("word/document.xml")


def test_a_failed_render_leaves_the_compiled_template_usable(tmp_path: Path) -> None:
    template = tmp_path / "t.docx"
    doc = Document()
    doc.add_paragraph().add_run("値 {{ v }}")
    doc.save(template)
    with pytest.raises(TemplateError, match="undefined variable"):
        render_docx(template, {}, tmp_path / "bad.docx")
    assert not (tmp_path / "bad.docx").exists()
    expected = docxtpl_bytes(template, {"v": "ok"}, tmp_path / "docxtpl.docx")
    assert render_docx(template, {"v": "ok"}, tmp_path / "good.docx", properties=PROPS).read_bytes() == expected


def test_threads_rendering_one_template_each_get_their_own_document(tmp_path: Path) -> None:
    template = tmp_path / "t.docx"
    doc = Document()
    for _ in range(200):  # long enough that renders in two threads overlap
        doc.add_paragraph().add_run("値 {{ v }}")
    doc.save(template)
    errors: list[BaseException] = []

    def render(n: int) -> None:
        try:
            for i in range(5):
                out = render_docx(template, {"v": f"thread{n}-{i}"}, tmp_path / f"{n}-{i}.docx")
                with zipfile.ZipFile(out) as z:
                    body = z.read("word/document.xml").decode()
                assert body.count(f"thread{n}-{i}") == 200 and "thread" not in body.replace(f"thread{n}-{i}", "")
        except BaseException as exc:  # noqa: BLE001 - handed to the main thread's assert
            errors.append(exc)

    threads = [threading.Thread(target=render, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
