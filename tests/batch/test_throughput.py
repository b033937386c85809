"""A converter that is killed mid-batch, hangs past the timeout or fails on one client's document never stops the batch."""

# Each test points DOCGEN_SOFFICE at a wrapper around the real LibreOffice that misbehaves on purpose, builds the
# same eight clients (two batches, in worker processes) and compares every pack, page for page, with a normal build.

from __future__ import annotations

import datetime as dt
import os
import shutil
import stat
import sys
import time
import unicodedata
from pathlib import Path

import pytest
from pypdf import PdfReader

import generator.batch.assemble as assemble
from generator.batch.runner import build_packs
from generator.batch.typeset import typeset
from generator.content.model import Product
from generator.content.request import parse_client
from generator.documents.pack import outline_titles
from generator.documents.proposal import plan_pack

pytestmark = pytest.mark.libreoffice

CLIENTS = ["株式会社 一番", "株式会社 二番", "有限会社 三番", "学校法人 四番", "株式会社 五番", "株式会社 六番", "東都七番株式会社", "株式会社 八番"]
POISON = "株式会社 五番"
TOP_TITLES = ["ご案内状", "お見積書", "重要事項説明書", "パンフレット"]
WORD_FILES = ["01_ご案内状.docx", "02_お見積書.docx", "03_重要事項説明書.docx"]
PYTEST = os.getpid()  # worker processes are forked from this one

# Runs the real soffice, except: "poison" crashes on any document naming POISON; "hang" and "kill" misbehave once,
# on the first layout run (many clients in one document). One script for the module: the content-version cache is
# keyed by the soffice executable, so every build here shares one.
WRAPPER = """#!/bin/bash
real={real}
state="$DOCGEN_TEST_STATE"
mode="$DOCGEN_TEST_MODE"
if [ "$mode" = poison ]; then
  for f in "$@"; do
    case "$f" in *.docx) if {python} -c 'import sys, zipfile; sys.exit(sys.argv[2] not in zipfile.ZipFile(sys.argv[1]).read("word/document.xml").decode())' \\
        "$f" "{poison}"; then touch "$state/poisoned"; kill -9 0; fi ;; esac
  done
  exec "$real" "$@"
fi
case "$mode$*" in kill*layout-*|hang*layout-*) ;; *) exec "$real" "$@" ;; esac
mkdir "$state/once" 2>/dev/null || exec "$real" "$@"
if [ "$mode" = hang ]; then touch "$state/hung"; exec sleep 600; fi
# kill: let LibreOffice write its first PDF, then kill the whole process group (this script, soffice, soffice.bin)
args=("$@")
for ((i = 0; i < ${{#args[@]}}; i++)); do [ "${{args[i]}}" = --outdir ] && out="${{args[i+1]}}"; done
"$real" "$@" &
for _ in $(seq 600); do compgen -G "$out/*.pdf" > /dev/null && break; sleep 0.05; done
touch "$state/killed"
kill -9 0
"""

TEMPLATES = Path(__file__).resolve().parents[2] / "templates"
CACHE = Path(__file__).resolve().parents[2] / "outputs" / ".cache"  # layouts learnt once, shared by every test as by every run


def plans(product: Product) -> list:
    out = []
    for i, client in enumerate(CLIENTS):
        values = {"client": client, "contact": "" if i % 3 else "山田", "industry": ["製造業", "物流業", "印刷"][i % 3],
                  "revenue": ["4.5億", "12億", "80億"][i % 3], "limit": ["1億", "3000万", "3億"][i % 3], "date": "2026-11-26"}
        request, errors = parse_client(values)
        assert errors == []
        out.append(plan_pack(product, request, dt.date(2030, 1, 1), TEMPLATES))
    return out


def texts(pdf: Path) -> list[str]:
    """Page texts, NFKC and without whitespace: pypdf adds a space where glyphs sit a hair further apart, and how far
    apart they sit varies by a few thousandths of a point with the font subsets LibreOffice makes for each run."""
    return ["".join(unicodedata.normalize("NFKC", page.extract_text()).split()) for page in PdfReader(pdf).pages]


@pytest.fixture(scope="module")
def soffice(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(the wrapper, the content-version cache every build in this module shares)."""
    root = tmp_path_factory.mktemp("soffice")
    script = root / "bin" / "soffice"  # named soffice: messages cut the command line at it
    script.parent.mkdir()
    real = shutil.which("soffice") or shutil.which("libreoffice")
    script.write_text(WRAPPER.format(real=real, python=sys.executable, poison=POISON), encoding="utf-8")
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return script, root / "cache"


def build(product: Product, brochure, soffice, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, mode: str, timeout: float = 120.0):
    script, cache = soffice
    state = tmp_path / "state"
    state.mkdir()
    monkeypatch.setenv("DOCGEN_SOFFICE", str(script))
    monkeypatch.setenv("DOCGEN_TEST_MODE", mode)
    monkeypatch.setenv("DOCGEN_TEST_STATE", str(state))
    out = tmp_path / "out"
    started = time.monotonic()
    results, failures = build_packs(product, plans(product), out, brochure.pdf, jobs=2, timeout=timeout, cache=cache)
    return results, failures, state, out, time.monotonic() - started


@pytest.fixture(scope="module")
def reference(product: Product, brochure, soffice, tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[str]]:
    """Every client's pack built with LibreOffice left alone: page texts by client."""
    with pytest.MonkeyPatch.context() as mp:
        results, failures, *_ = build(product, brochure, soffice, tmp_path_factory.mktemp("reference"), mp, "none")
    assert failures == [] and len(results) == len(CLIENTS)
    return {r.plan.request.client: texts(r.pdf) for r in results}


def assert_whole(results, reference: dict[str, list[str]], out: Path) -> None:
    for r in results:
        assert sorted(p.name for p in r.folder.iterdir()) == sorted([*WORD_FILES, r.pdf.name, "pack.json"])
        assert outline_titles(r.pdf) == TOP_TITLES
        assert texts(r.pdf) == reference[r.plan.request.client], r.plan.request.client
    assert not [p for p in out.rglob("*") if p.name.startswith(".staging-") or p.name.endswith((".part", ".tmp"))]


def test_converter_killed_mid_batch_is_restarted_and_every_pack_completes(product, brochure, soffice, reference, tmp_path, monkeypatch) -> None:
    results, failures, state, out, _ = build(product, brochure, soffice, tmp_path, monkeypatch, "kill")
    assert (state / "killed").exists()  # it really was killed, after writing a PDF
    assert failures == [] and sorted(r.plan.request.client for r in results) == sorted(CLIENTS)
    assert_whole(results, reference, out)


def test_converter_hung_past_the_timeout_is_killed_and_its_documents_retried(product, brochure, soffice, reference, tmp_path, monkeypatch) -> None:
    results, failures, state, out, took = build(product, brochure, soffice, tmp_path, monkeypatch, "hang", timeout=30)
    assert (state / "hung").exists() and took >= 30
    assert failures == [] and sorted(r.plan.request.client for r in results) == sorted(CLIENTS)
    assert_whole(results, reference, out)


def test_a_document_that_fails_on_its_own_fails_only_its_client(product, brochure, soffice, reference, tmp_path, monkeypatch) -> None:
    results, failures, state, out, _ = build(product, brochure, soffice, tmp_path, monkeypatch, "poison")
    assert (state / "poisoned").exists()
    assert sorted(r.plan.request.client for r in results) == sorted(set(CLIENTS) - {POISON})
    assert_whole(results, reference, out)
    ((plan, error),) = failures
    assert (plan.request.client, error.column, error.value) == (POISON, "pack", POISON)
    # the part and its Word file are named, not a staging file; the exit code says "system"
    assert error.reason.startswith("ご案内状 (01_ご案内状.docx): LibreOffice could not convert it"), error.reason
    assert "staging" not in error.reason and str(tmp_path) not in error.reason
    assert error.as_error().exit_code == 5
    assert not (out / plan.folder).exists()


def dies_in_a_worker(jobs, folder, layout, timeout, converter=None):
    """typeset, except that a worker process given the first client dies on the spot (as if killed for its memory)."""
    if os.getpid() != PYTEST and jobs[0].index == 0:
        (Path(os.environ["DOCGEN_TEST_STATE"]) / "died").touch()
        os._exit(9)
    return typeset(jobs, folder, layout, timeout, converter)


def test_a_worker_process_that_dies_leaves_its_batch_to_be_built_here(product, brochure, soffice, reference, tmp_path, monkeypatch) -> None:
    monkeypatch.setattr(assemble, "typeset", dies_in_a_worker)  # what each worker runs (typeset_and_merge)
    results, failures, state, out, _ = build(product, brochure, soffice, tmp_path, monkeypatch, "none")
    assert (state / "died").exists()
    assert failures == [] and sorted(r.plan.request.client for r in results) == sorted(CLIENTS)
    assert_whole(results, reference, out)
