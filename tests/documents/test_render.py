"""Tests for generator.documents.render (escaping, strictness, the sandbox, byte-reproducible output) and generator.documents.lint."""

from __future__ import annotations

import datetime as dt
import io
import zipfile
from pathlib import Path

import pytest
from docx import Document

from generator.documents.lint import lint_template
from generator.documents.render import DocProperties, docx_tables, docx_text, illegal_values, render_docx, reproducible_docx
from generator.errors import TemplateError

NASTY = "A&B <株> \"x\" 'y'"


def make_template(path: Path, paragraphs: list[str], *, cell: str | None = None, footer: str | None = None) -> Path:
    """A tiny template: one run per paragraph (so every tag sits in one run), optional 1x1 table and footer."""
    doc = Document()
    for text in paragraphs:
        doc.add_paragraph().add_run(text)
    if cell is not None:
        doc.add_table(rows=1, cols=1).cell(0, 0).paragraphs[0].add_run(cell)
    if footer is not None:
        doc.sections[0].footer.paragraphs[0].add_run(footer)
    doc.save(path)
    return path


@pytest.fixture
def simple(tmp_path: Path) -> Path:
    return make_template(tmp_path / "simple.docx", ["before", "値：{{ v }}", "after"], cell="{{ v }}", footer="フッター {{ v }}")


# --- escaping and strict XML ------------------------------------------------------------------


def test_special_characters_print_exactly_in_body_table_and_footer(simple: Path, tmp_path: Path) -> None:
    out = render_docx(simple, {"v": NASTY}, tmp_path / "out.docx")
    text = docx_text(out)
    # docxtpl without escaping drops the whole paragraph silently: all three must survive intact.
    assert text[:3] == ["before", f"値：{NASTY}", "after"]
    assert f"フッター {NASTY}" in text
    assert docx_tables(out) == [[[NASTY]]]


def test_markup_in_values_is_text_not_xml(simple: Path, tmp_path: Path) -> None:
    value = "</w:t></w:r><w:r><w:t>injected"
    out = render_docx(simple, {"v": value}, tmp_path / "out.docx")
    assert docx_text(out)[1] == f"値：{value}"


def test_unescaped_output_is_an_error_not_a_vanished_paragraph(tmp_path: Path) -> None:
    # |safe bypasses autoescape; the broken XML must surface instead of being "recovered" away.
    tpl = make_template(tmp_path / "safe.docx", ["before", "{{ v|safe }}", "after"])
    out = tmp_path / "out.docx"
    with pytest.raises(TemplateError, match=r"safe\.docx.*not well-formed"):
        render_docx(tpl, {"v": "A&B <株"}, out)
    assert not out.exists()


@pytest.mark.parametrize("char", ["\x00", "\x01", "\x08", "\x0b", "\x0c", "\x1f", "\ufffe", "\ud800"])
def test_xml_illegal_characters_are_refused_with_their_path(simple: Path, tmp_path: Path, char: str) -> None:
    context = {"v": "ok", "rows": [{"name": "fine"}, {"name": f"bad{char}value"}]}
    with pytest.raises(TemplateError, match=r"rows\[1\]\.name: contains U\+") as info:
        render_docx(simple, context, tmp_path / "out.docx")
    assert "simple.docx" in str(info.value)
    assert not (tmp_path / "out.docx").exists()


def test_tab_and_newline_are_allowed(simple: Path, tmp_path: Path) -> None:
    out = render_docx(simple, {"v": "a\tb\nc"}, tmp_path / "out.docx")
    assert docx_text(out)[1] == "値：a\tb\nc"


def test_non_plain_values_and_dict_method_keys_are_refused() -> None:
    problems = list(illegal_values({"a": object(), "b": {"items": []}, "c": [dt.date(2026, 1, 1)]}))
    assert any(p.startswith("a: object is not plain data") for p in problems)
    assert any(p.startswith("b: key 'items' is shadowed") for p in problems)
    assert any(p.startswith("c[0]: date is not plain data") for p in problems)


# --- strict variables and the sandbox -------------------------------------------------------


def test_undefined_variable_names_template_and_variable(tmp_path: Path) -> None:
    tpl = make_template(tmp_path / "letter.docx", ["{{ client.name }} 様", "{{ missing_thing }}"])
    with pytest.raises(TemplateError, match=r"letter\.docx: undefined variable: .*'missing_thing' is undefined"):
        render_docx(tpl, {"client": {"name": "伸和企画"}}, tmp_path / "out.docx")


def test_undefined_attribute_is_an_error(tmp_path: Path) -> None:
    tpl = make_template(tmp_path / "t.docx", ["{{ client.nmae }}"])
    with pytest.raises(TemplateError, match=r"undefined variable: .*'nmae'"):
        render_docx(tpl, {"client": {"name": "x"}}, tmp_path / "out.docx")


@pytest.mark.parametrize(
    "expr",
    [
        "{{ ''.__class__.__mro__ }}",
        "{{ ''.__class__.__mro__[1].__subclasses__() }}",
        "{{ lipsum.__globals__ }}",
        "{{ cycler.__init__.__globals__.os }}",
    ],
)
def test_sandbox_refuses_unsafe_attributes(tmp_path: Path, expr: str) -> None:
    tpl = make_template(tmp_path / "evil.docx", [expr])
    out = tmp_path / "out.docx"
    with pytest.raises(TemplateError, match=r"evil\.docx: sandbox refused"):
        render_docx(tpl, {}, out)
    assert not out.exists()


def test_template_runtime_errors_become_template_errors(tmp_path: Path) -> None:
    tpl = make_template(tmp_path / "t.docx", ["{% for x in n %}{{ x }}{% endfor %}"])
    with pytest.raises(TemplateError, match=r"t\.docx: TypeError"):
        render_docx(tpl, {"n": 5}, tmp_path / "out.docx")


def test_missing_template_is_a_template_error(tmp_path: Path) -> None:
    with pytest.raises(TemplateError, match="not found"):
        render_docx(tmp_path / "nope.docx", {}, tmp_path / "out.docx")


# --- reproducible, atomic output --------------------------------------------------------------


def test_same_inputs_give_identical_bytes(simple: Path, tmp_path: Path) -> None:
    props = DocProperties(title="題", subject="件", author="損保", keywords="content 1.0.0", date=dt.date(2026, 12, 1))
    first = render_docx(simple, {"v": NASTY}, tmp_path / "a" / "out.docx", properties=props)
    second = render_docx(simple, {"v": NASTY}, tmp_path / "b" / "out.docx", properties=props)
    assert first.read_bytes() == second.read_bytes()
    with zipfile.ZipFile(first) as z:
        assert {i.date_time for i in z.infolist()} == {(1980, 1, 1, 0, 0, 0)}
        assert z.namelist()[0] == "[Content_Types].xml"
        assert z.namelist()[1:] == sorted(z.namelist()[1:])


def test_core_properties_come_from_the_caller_never_now(simple: Path, tmp_path: Path) -> None:
    props = DocProperties(title="『サイバー Lite』 のご案内", subject="S", author="損害保険", keywords="rates 2026-12", date=dt.date(2026, 12, 1))
    out = render_docx(simple, {"v": "x"}, tmp_path / "out.docx", properties=props)
    core = Document(str(out)).core_properties
    assert (core.title, core.subject, core.author, core.keywords) == (props.title, "S", "損害保険", "rates 2026-12")
    assert core.created == core.modified == dt.datetime(2026, 12, 1, tzinfo=dt.UTC)
    assert core.revision == 1


def test_failed_render_leaves_existing_output_untouched(simple: Path, tmp_path: Path) -> None:
    out = render_docx(simple, {"v": "old"}, tmp_path / "out.docx")
    before = out.read_bytes()
    with pytest.raises(TemplateError):
        render_docx(simple, {}, out)
    assert out.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.docx", "simple.docx"]  # no .part leftovers


def test_reproducible_docx_for_documents_built_in_code(tmp_path: Path) -> None:
    outputs = []
    for name in ("one.docx", "two.docx"):
        doc = Document()
        doc.add_paragraph("保険料 55,000円 & 条件")
        buffer = io.BytesIO()
        doc.save(buffer)  # python-docx stamps zip entries with the current time
        outputs.append(reproducible_docx(buffer.getvalue(), tmp_path / name, DocProperties(title="差分", date=dt.date(2026, 12, 1))).read_bytes())
    assert outputs[0] == outputs[1]
    assert Document(str(tmp_path / "one.docx")).core_properties.title == "差分"


# --- linting ------------------------------------------------------------------------------


def test_lint_clean_template_has_no_problems(simple: Path) -> None:
    assert lint_template(simple, {"v"}) == []


def test_lint_reports_unknown_variable_and_filter(tmp_path: Path) -> None:
    tpl = make_template(tmp_path / "quote.docx", ["{{ premium|yen }}", "{{ client.name }}", "{% if x is nosuchtest %}{% endif %}"], footer="{{ footer_text }}")
    problems = lint_template(tpl, {"premium", "x"})
    assert all(p.startswith(f"{tpl}: ") for p in problems), problems
    assert any("unknown filter 'yen'" in p for p in problems)
    assert any("unknown test 'nosuchtest'" in p for p in problems)
    assert any("unknown variable 'client'" in p for p in problems)
    assert any("footer" in p and "unknown variable 'footer_text'" in p for p in problems)
    assert not any("'premium'" in p or "'x'" in p for p in problems)


def test_lint_reports_syntax_errors(tmp_path: Path) -> None:
    tpl = make_template(tmp_path / "broken.docx", ["{% for x in items %}{{ x }}"])
    (problem,) = lint_template(tpl, {"items"})
    assert problem.startswith(f"{tpl}: word/document.xml: Jinja syntax error")


def test_lint_reports_tags_split_across_runs(tmp_path: Path) -> None:
    doc = Document()
    para = doc.add_paragraph()
    para.add_run("{{ cli")
    para.add_run("ent }}").bold = True
    doc.save(tmp_path / "split.docx")
    problems = lint_template(tmp_path / "split.docx", {"client"})
    expected = "word/document.xml: tag '{{ client }}' is split across Word runs; retype it in one go or clear its formatting"
    assert problems == [f"{tmp_path / 'split.docx'}: {expected}"]


def test_lint_loop_variables_are_not_unknown(tmp_path: Path) -> None:
    tpl = make_template(tmp_path / "loop.docx", ["{%p for row in rows %}", "{{ row.name }} {{ loop.index }}", "{%p endfor %}"])
    assert lint_template(tpl, {"rows"}) == []


def test_lint_unreadable_file(tmp_path: Path) -> None:
    bad = tmp_path / "bad.docx"
    bad.write_text("not a zip")
    (problem,) = lint_template(bad, set())
    assert problem.startswith(f"{bad}: cannot open as .docx")
