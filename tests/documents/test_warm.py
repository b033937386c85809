"""Tests for generator.documents.warm: the warm LibreOffice pool converts like the cold path and supervises itself.

Every test but the first two drives the real LibreOffice: crashes are real SIGKILLs of soffice.bin, hangs a real
SIGSTOP of the instance's process group.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from pypdf import PdfReader

from generator.documents.convert import convert_to_pdf, pdf_text
from generator.documents.fonts import ALLOWED_FONTS, check_fonts
from generator.documents.pdfa_check import check as pdfa_check
from generator.documents.warm import ConverterPool, find_uno_python, group_members
from generator.errors import ConversionError, ConversionTimeout, SetupError
from tests.documents.test_convert import BODY, HEADING, make_docx, squash


def _soffice_bin(pgid: int) -> int:
    """The pid of the soffice.bin in that group (the process that does the work, under oosplash)."""
    for pid in group_members(pgid):
        try:
            if Path(f"/proc/{pid}/comm").read_text().strip() == "soffice.bin":
                return pid
        except OSError:
            continue
    raise AssertionError(f"no soffice.bin in process group {pgid}: {group_members(pgid)}")


def _docs(tmp_path: Path, count: int) -> list[Path]:
    return [make_docx(tmp_path / f"doc{i}.docx", f"{HEADING} {i}", f"{BODY} 第{i}号") for i in range(count)]


def _has(pdf: Path, text: str) -> bool:
    return squash(text) in squash("".join(pdf_text(pdf)))


def test_uno_python_override_must_import_uno(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    fake = tmp_path / "python-without-uno"
    fake.write_text("#!/bin/sh\nexit 1\n")
    fake.chmod(0o755)
    monkeypatch.setenv("DOCGEN_UNO_PYTHON", str(fake))
    with pytest.raises(SetupError, match=r"DOCGEN_UNO_PYTHON=.*python-without-uno.*import uno.*python3-uno"):
        find_uno_python()


def test_max_conversions_must_be_positive() -> None:
    with pytest.raises(ValueError, match="max_conversions"):
        ConverterPool(1, max_conversions=0)


@pytest.mark.libreoffice
def test_converts_like_the_cold_path(tmp_path: Path) -> None:
    first = make_docx(tmp_path / f"{HEADING}.docx", HEADING, BODY)
    second = make_docx(tmp_path / "proposal.docx", "契約概要", "保険期間 1年 保険料 12,300円")
    with ConverterPool(1) as pool:
        pdfs = pool.convert([first, second], tmp_path / "warm")
    assert pdfs == [tmp_path / "warm" / f"{HEADING}.pdf", tmp_path / "warm" / "proposal.pdf"]
    assert sorted((tmp_path / "warm").iterdir()) == sorted(pdfs)  # no staging litter beside them
    assert _has(pdfs[0], BODY) and _has(pdfs[0], HEADING) and _has(pdfs[1], "保険料 12,300円")
    # the same export options as the cold path: heading bookmarks, a tagged PDF, embedded allowed fonts
    reader = PdfReader(pdfs[0])
    assert [item["/Title"] for item in reader.outline] == [HEADING]
    assert "/StructTreeRoot" in reader.trailer["/Root"]
    for pdf in pdfs:
        fonts = check_fonts(pdf)
        assert fonts and all(f.embedded for f in fonts) and {f.name for f in fonts} <= ALLOWED_FONTS
    cold = convert_to_pdf([first, second], tmp_path / "cold")
    assert [pdf_text(p) for p in pdfs] == [pdf_text(p) for p in cold]


@pytest.mark.libreoffice
def test_options_reach_the_export_filter(tmp_path: Path) -> None:
    (src,) = _docs(tmp_path, 1)
    with ConverterPool(1) as pool:
        (pdf,) = pool.convert([src], tmp_path / "out", options={"ExportBookmarks": False, "UseTaggedPDF": False,
                                                                         "SelectPdfVersion": 0, "PDFUACompliance": False})
    reader = PdfReader(pdf)
    assert not reader.outline and "/StructTreeRoot" not in reader.trailer["/Root"]


@pytest.mark.libreoffice
def test_corrupt_docx_is_an_error_and_the_instance_goes_on(tmp_path: Path) -> None:
    bad = tmp_path / "bad.docx"
    bad.write_bytes(b"this is not a zip")
    (good,) = _docs(tmp_path, 1)
    with ConverterPool(1) as pool:
        pgid = pool.instances()[0].pgid
        with pytest.raises(ConversionError, match="bad.docx"):
            pool.convert([good, bad], tmp_path / "out")
        assert not (tmp_path / "out").exists() or list((tmp_path / "out").iterdir()) == []  # all or nothing
        (pdf,) = pool.convert([good], tmp_path / "out")
        assert _has(pdf, BODY)
        assert pool.restarts == 0 and pool.instances()[0].pgid == pgid


@pytest.mark.libreoffice
def test_killed_soffice_is_restarted_and_the_conversion_retried(tmp_path: Path) -> None:
    docs = _docs(tmp_path, 2)
    with ConverterPool(1) as pool:
        pool.convert(docs[:1], tmp_path / "a")
        old = pool.instances()[0]
        os.kill(_soffice_bin(old.pgid), signal.SIGKILL)  # a crash between two requests: the helper does not know yet
        pdfs = pool.convert(docs, tmp_path / "b")
        assert [_has(p, f"第{i}号") for i, p in enumerate(pdfs)] == [True, True]
        assert pool.restarts == 1
        new = pool.instances()[0]
        assert new.pgid != old.pgid and group_members(old.pgid) == []
        # the whole instance gone (helper too): started afresh before the request, nothing to retry
        os.killpg(new.pgid, signal.SIGKILL)
        new.proc.wait()
        (pdf,) = pool.convert(docs[1:], tmp_path / "c")
        assert _has(pdf, "第1号") and pool.restarts == 2


@pytest.mark.libreoffice
def test_hang_is_killed_after_the_timeout_and_the_next_conversion_works(tmp_path: Path) -> None:
    (src,) = _docs(tmp_path, 1)
    with ConverterPool(1, timeout=3) as pool:
        hung = pool.instances()[0]
        os.killpg(hung.pgid, signal.SIGSTOP)  # helper and soffice stop answering, as LibreOffice at 100% CPU would
        start = time.monotonic()
        with pytest.raises(ConversionTimeout, match=r"timed out after 3s and was killed \(doc0.docx\)") as exc:
            pool.convert([src], tmp_path / "out")
        assert exc.value.converted == []  # nothing finished before the hang (the cold path's contract)
        assert 3 <= time.monotonic() - start < 15
        assert group_members(hung.pgid) == [], "a stopped process survived the kill"
        (pdf,) = pool.convert([src], tmp_path / "out")
        assert _has(pdf, BODY) and pool.restarts == 1


@pytest.mark.libreoffice
def test_restart_after_max_conversions(tmp_path: Path) -> None:
    docs = _docs(tmp_path, 3)
    with ConverterPool(1, max_conversions=2) as pool:
        first = pool.instances()[0].pgid
        pool.convert(docs[:1], tmp_path / "out")
        assert pool.restarts == 0 and pool.instances()[0].pgid == first  # one document: not yet
        pool.convert(docs[1:2], tmp_path / "out")  # the second: replaced in the background
        (pdf,) = pool.convert(docs[2:], tmp_path / "out")  # waits for the replacement
        assert _has(pdf, "第2号")
        assert pool.restarts == 1 and pool.instances()[0].pgid != first
        assert group_members(first) == []


@pytest.mark.libreoffice
def test_concurrent_callers_share_the_instances(tmp_path: Path) -> None:
    docs = _docs(tmp_path, 6)
    results: dict[int, Path] = {}
    errors: list[BaseException] = []
    with ConverterPool(2) as pool:
        def work(i: int) -> None:
            try:
                (results[i],) = pool.convert([docs[i]], tmp_path / f"out{i}")
            except BaseException as exc:  # reported by the assertion below
                errors.append(exc)

        threads = [threading.Thread(target=work, args=(i,)) for i in range(len(docs))]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=120)
        counts = sorted(i.conversions for i in pool.instances())
    assert errors == [] and sorted(results) == list(range(6))
    assert all(_has(results[i], f"第{i}号") for i in results)
    assert sum(counts) == 6 and len(counts) == 2


@pytest.mark.libreoffice
def test_one_call_spreads_over_the_idle_instances(tmp_path: Path) -> None:
    docs = _docs(tmp_path, 3)
    with ConverterPool(2) as pool:
        pdfs = pool.convert(docs, tmp_path / "out")
        counts = sorted(i.conversions for i in pool.instances())
    assert pdfs == [tmp_path / "out" / f"doc{i}.pdf" for i in range(3)]  # input order whoever converted them
    assert [_has(p, f"第{i}号") for i, p in enumerate(pdfs)] == [True, True, True]
    assert counts == [1, 2]


@pytest.mark.libreoffice
def test_close_leaves_no_process_and_no_profile(tmp_path: Path) -> None:
    (src,) = _docs(tmp_path, 1)
    pool = ConverterPool(2)
    pool.convert([src], tmp_path / "out")
    instances = pool.instances()
    groups = [i.pgid for i in instances]
    assert all(len(group_members(g)) >= 3 for g in groups)  # helper, oosplash, soffice.bin each
    profiles = [i.tmp for i in instances]
    pool.close()
    assert [group_members(g) for g in groups] == [[], []]
    assert not any(p.exists() for p in profiles)
    # nothing anywhere still runs with one of those profiles (a straggler outside the group would show here)
    running = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                cmdline = (entry / "cmdline").read_bytes().decode(errors="replace")
            except OSError:
                continue
            running += [entry.name for p in profiles if str(p) in cmdline]
    assert running == []
    with pytest.raises(ConversionError, match="closed"):
        pool.convert([src], tmp_path / "out")
    pool.close()  # twice is fine


@pytest.mark.libreoffice
def test_typeset_with_the_pool_lays_out_like_the_cold_path(product, tmp_path: Path) -> None:
    from generator.batch.typeset import Layout, learn_layout, typeset
    from tests.batch.test_layout import footers, jobs

    cold_layout = learn_layout(jobs(product, tmp_path)[0], tmp_path / "cold-cache", 120)
    with ConverterPool(1) as pool:
        # learning needs the named destinations of LAYOUT_OPTIONS: the options reach the warm export filter
        layout = learn_layout(jobs(product, tmp_path)[0], tmp_path / "cache", 120, converter=pool)
        warm = typeset(jobs(product, tmp_path), tmp_path / "warm", layout, 120, converter=pool)
        # a wrong page-count guess (one page more for the letter) is caught and the letter laid out on its own
        guess = dict(layout.pages, letter=layout.pages["letter"] + 1)
        wrong = typeset(jobs(product, tmp_path), tmp_path / "wrong", Layout(pages=guess), 120, converter=pool)
        assert pool.instances()[0].conversions >= 4 and pool.restarts == 0
    assert layout.pages == cold_layout.pages and layout.pages["disclosure"] > 1
    ((static,), (cold_static,)) = layout.statics.values(), cold_layout.statics.values()
    assert (static.personal, static.total) == (cold_static.personal, cold_static.total)
    assert pdf_text(static.pdf) == pdf_text(cold_static.pdf)
    cold = typeset(jobs(product, tmp_path), tmp_path / "cold", cold_layout, 120)
    total, letter_pages = layout.pages["disclosure"], layout.pages["letter"]
    for w, c, x in zip(warm, cold, wrong, strict=True):
        assert w.error is None and c.error is None and x.error is None
        (letter,), (personal, tail) = w.parts
        assert footers(letter.pdf, letter.pages) == [f"{k}/{letter_pages}" for k in range(1, letter_pages + 1)]
        assert footers(personal.pdf, personal.pages) == [f"{k}/{total}" for k in range(1, static.personal + 1)]
        assert tail.pdf == static.pdf
        texts = [[pdf_text(p.pdf)[i] for p in doc for i in p.pages] for doc in w.parts]
        assert texts == [[pdf_text(p.pdf)[i] for p in doc for i in p.pages] for doc in c.parts]
        (wrong_letter,), _ = x.parts
        assert "alone" in wrong_letter.pdf.parent.name
        assert footers(wrong_letter.pdf, wrong_letter.pages) == [f"{k}/{letter_pages}" for k in range(1, letter_pages + 1)]


@pytest.mark.libreoffice
def test_a_learnt_layout_is_remembered_in_process_until_its_files_go(product, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import shutil

    from generator.batch import typeset as ts
    from tests.batch.test_layout import jobs

    first = ts.learn_layout(jobs(product, tmp_path)[0], tmp_path / "cache", 120)
    assert first.pages and first.statics

    def no_render(*_a, **_k):
        raise AssertionError("rendered again although this process learnt the layout already")

    monkeypatch.setattr(ts, "render_parts", no_render)
    assert ts.learn_layout(jobs(product, tmp_path)[0], tmp_path / "cache", 120) is first
    # the cache folder deleted under us (its static PDFs gone): learnt again
    monkeypatch.undo()
    (static,) = first.statics.values()
    shutil.rmtree(static.pdf.parent)
    again = ts.learn_layout(jobs(product, tmp_path)[0], tmp_path / "cache", 120)
    assert again is not first and again.pages == first.pages and all(s.pdf.is_file() for s in again.statics.values())


@pytest.mark.libreoffice
def test_build_pack_with_the_pool_is_the_cold_pack(site, tmp_path: Path) -> None:
    import datetime as dt

    from generator import api

    product = api.load(site)
    request = api.client_request(client="有限会社 伸和企画", contact="上", industry="製造業", revenue="4.5億", limit="1億")
    today = dt.date(2026, 11, 26)
    cold_site = api.Site(site.content, site.templates, tmp_path / "o1", tmp_path / "cache1", tmp_path / "p1", tmp_path / "s1")
    warm_site = api.Site(site.content, site.templates, tmp_path / "o2", tmp_path / "cache2", tmp_path / "p2", tmp_path / "s2")
    cold = api.build_pack(cold_site, product, request, out=tmp_path / "cold", today=today)
    with ConverterPool(2) as pool:
        warm = api.build_pack(warm_site, product, request, out=tmp_path / "warm", today=today, converter=pool)
        used = sum(i.conversions for i in pool.instances())
    assert used >= 3  # the layout runs went to the pool (and the cold path started its own soffice)
    assert warm.premium == cold.premium == 149_000 and warm.pages == cold.pages  # README: 製造業, 4.5億, 1億 → 149,000円
    assert pdf_text(warm.pdf) == pdf_text(cold.pdf)
    assert pdfa_check(warm.pdf) == [] and pdfa_check(cold.pdf) == []  # the portal's pack and `docgen proposal`'s: PDF/A-2b, tagged
    assert _has(warm.pdf, "有限会社 伸和企画 上 様") and _has(warm.pdf, "149,000円")


_ORPHAN_PARENT = """
import sys, time
from pathlib import Path
from generator.documents.warm import ConverterPool
from tests.documents.test_convert import BODY, HEADING, make_docx
work = Path(sys.argv[1])
docs = [make_docx(work / f"doc{i}.docx", f"{HEADING} {i}", f"{BODY} 第{i}号") for i in range(12)]
pool = ConverterPool(1)
print(pool.instances()[0].pgid if pool.instances() else "", flush=True)
pool.convert(docs[:1], work / "first")
print(pool.instances()[0].pgid, flush=True)
while True:  # killed from outside in the middle of one of these
    pool.convert(docs, work / "loop")
"""


@pytest.mark.libreoffice
@pytest.mark.parametrize("moment", ["converting", "idle"])
def test_a_parent_killed_outright_leaves_no_libreoffice_behind(tmp_path: Path, moment: str) -> None:
    """A server or test process SIGKILLed never closes its pool: its helpers must still take soffice down with them."""
    script = _ORPHAN_PARENT if moment == "converting" else _ORPHAN_PARENT.replace("while True:", "while False:") + "time.sleep(60)\n"
    parent = subprocess.Popen([sys.executable, "-c", script, str(tmp_path)], stdout=subprocess.PIPE, text=True,
                              cwd=Path(__file__).resolve().parents[2])
    assert parent.stdout is not None
    parent.stdout.readline()
    pgid = int(parent.stdout.readline())
    assert any(_comm(pid) == "soffice.bin" for pid in group_members(pgid))
    if moment == "converting":
        time.sleep(0.5)  # twelve documents take seconds: the kill lands while soffice works and the helper waits on it
    parent.kill()
    parent.wait()
    parent.stdout.close()
    deadline = time.monotonic() + 20
    while group_members(pgid) and time.monotonic() < deadline:
        time.sleep(0.2)
    left = [(pid, _comm(pid)) for pid in group_members(pgid)]
    if left:
        os.killpg(pgid, signal.SIGKILL)
    assert left == []


def _comm(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        return "?"
