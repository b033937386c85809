"""Convert .docx files to PDF with LibreOffice headless."""

from __future__ import annotations

import contextlib
import json
import os
import shlex
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from generator import settings
from generator.documents.soffice import (
    FILTER_OPTIONS,
    FLAGS,
    IN_FILTER,
    check_inputs,
    child_env,
    find_soffice,
    page_count,
    publish,
    salvage,
    write_profile,
)
from generator.errors import ConversionError, ConversionTimeout, SetupError

if TYPE_CHECKING:
    from pypdf import PageObject

TIMEOUT_ENV = "DOCGEN_TIMEOUT"  # seconds one LibreOffice run may take (every converting command; --timeout overrides)
DEFAULT_TIMEOUT = 120.0  # one conversion of unknown size (convert_to_pdf called without a timeout)
# A run laying out client documents, by default: 20 s plus 1 s per document, at least 30 s, at most 300 s. One pack's
# three documents took 2-3 s on the 2-core machine, a batch of 100 clients' 300 documents about 15 s: each default is ten
# times that or more, while a hung one-pack run is given up after 30 s instead of two minutes.
RUN_BASE, RUN_PER_DOCUMENT, RUN_FLOOR, RUN_CAP = 20.0, 1.0, 30.0, 300.0
STDERR_TAIL_LINES = 20
# soffice asks for a restart after initialising a fresh profile on some builds.
_EXIT_RESTART = 81

# glibc gives the top of its heap back to the kernel whenever it is free, and LibreOffice's start-up frees and regrows it
# so often that converting a one-page letter took 296k page faults and a second of kernel time (of 2.0 CPU-s). Keeping
# 256 MB when trimming (M_TOP_PAD) cut that to 49k faults and 1.2 CPU-s, the PDFs unchanged; a one-shot run exits and
# gives everything back. A GLIBC_TUNABLES of the caller's own is left as it is. The warm pool's long-lived instances
# keep glibc's defaults: a warm conversion took the same time with it (0.51 against 0.52 s) and they would hold the memory.
# LibreOffice frees and reallocates small blocks by the million while it lays out: glibc's per-thread cache holds 7 blocks
# of a size, and every other free went through the slow, locking path (malloc, _int_free and malloc_consolidate were
# 14% of its CPU). Holding 2,000 per size cut a 100-client layout run's CPU by about 4% (4.83 against 4.62 CPU-s, four
# alternated pairs, 2026-12-06); a one-shot run exits, so what the cache holds is given back at once.
ONE_SHOT_TUNABLES = "glibc.malloc.top_pad=268435456:glibc.malloc.tcache_count=2000"

def env_timeout(fallback: float = DEFAULT_TIMEOUT) -> float:
    """``$DOCGEN_TIMEOUT`` seconds (checked with every setting: generator.settings), else ``fallback``."""
    return settings.current().timeout or fallback


def sized_timeout(documents: int) -> float:
    """Default seconds for one LibreOffice run of ``documents`` documents: 20 + 1 each, within 30 … 300.

    >>> sized_timeout(3), sized_timeout(60), sized_timeout(300), sized_timeout(1000)
    (30.0, 80.0, 300.0, 300.0)
    """
    return min(RUN_CAP, max(RUN_FLOOR, RUN_BASE + RUN_PER_DOCUMENT * max(0, documents)))


def given_timeout(timeout: float | None = None) -> float | None:
    """The timeout the user chose: ``timeout`` (--timeout), else ``$DOCGEN_TIMEOUT``; None leaves each run its sized default."""
    if timeout:
        return timeout
    return settings.current().timeout


def run_timeout(timeout: float | None, documents: int) -> float:
    """Seconds for one run of ``documents`` documents: the user's timeout if one was given, else :func:`sized_timeout`."""
    return given_timeout(timeout) or sized_timeout(documents)


@contextlib.contextmanager
def timeout_option(seconds: float | None) -> Iterator[None]:
    """``--timeout``: for the run of one command, every conversion's default (``$DOCGEN_TIMEOUT``) is ``seconds``.

    Through the environment, so that worker processes, the warm pool and every stage that converts see it.
    """
    if not seconds:
        yield
        return
    with settings.exported(TIMEOUT_ENV, f"{float(seconds):g}"):
        yield


def convert_to_pdf(docx_files: Sequence[Path], out_dir: Path, *, timeout: float | None = None, options: Mapping[str, bool | int] | None = None) -> list[Path]:
    """Convert every file in one soffice run and return ``out_dir/<stem>.pdf`` in input order.

    ``timeout`` defaults to ``$DOCGEN_TIMEOUT`` or 120 seconds; past it soffice is killed and ConversionTimeout raised.

    ``options`` adds PDF export filter options (``ExportBookmarksToPDFDestination``: Word bookmarks become
    named destinations). Nothing is written to ``out_dir`` unless every PDF was produced and opens with >= 1 page.
    """
    inputs = [Path(p).resolve() for p in docx_files]
    check_inputs(inputs)
    timeout = timeout or env_timeout()
    if not inputs:
        return []
    soffice = find_soffice()
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="docgen-soffice-") as tmp_name:
        tmp = Path(tmp_name)
        profile, staging = tmp / "profile", tmp / "out"
        staging.mkdir()
        write_profile(profile)
        cmd = [
            soffice,
            f"-env:UserInstallation={profile.as_uri()}",
            *FLAGS,
            f"--infilter={IN_FILTER}",
            "--convert-to",
            "pdf:writer_pdf_Export:" + _filter_json(options or {}),
            "--outdir",
            str(staging),
            *(str(p) for p in inputs),
        ]
        try:
            log = _run(cmd, {"GLIBC_TUNABLES": ONE_SHOT_TUNABLES} | child_env(tmp), tmp, timeout)
        except ConversionTimeout as exc:
            exc.converted = salvage(inputs, staging, out_dir)  # the caller goes on after the document it hung on
            raise
        produced = [_verified(staging / f"{p.stem}.pdf", p, cmd, log) for p in inputs]
        return [publish(pdf, out_dir) for pdf in produced]


def pdf_text(pdf: Path) -> list[str]:
    """Return the extracted text of each page of ``pdf``."""
    return [page.extract_text() or "" for page in _pages(pdf)]


def _pages(pdf: Path) -> Sequence[PageObject]:
    from pypdf import PdfReader  # imported here: every CLI command imports this module (--timeout), few read a PDF

    return PdfReader(pdf, strict=False).pages


def _filter_json(options: Mapping[str, bool | int]) -> str:
    props = {k: {"type": "boolean", "value": "true" if v else "false"} if isinstance(v, bool) else {"type": "long", "value": str(v)}
             for k, v in (FILTER_OPTIONS | dict(options)).items()}
    return json.dumps(props, separators=(",", ":"))


def _run(cmd: list[str], env: dict[str, str], tmp: Path, timeout: float) -> Path:
    """Run soffice within ``timeout`` seconds in all; return the file holding its output."""
    deadline = time.monotonic() + timeout
    log = tmp / "soffice.log"
    code = _run_once(cmd, env, log, deadline, timeout)
    if code == _EXIT_RESTART:
        log = tmp / "soffice-retry.log"
        code = _run_once(cmd, env, log, deadline, timeout)
    if code != 0:
        raise ConversionError(f"soffice exited with code {code}: {_show(cmd)}\n{_tail(log)}".rstrip())
    return log


def _run_once(cmd: list[str], env: dict[str, str], log: Path, deadline: float, timeout: float) -> int:
    # Output goes to a file, not a pipe: a straggling child holding the pipe open would
    # otherwise block us after the leader has exited.
    with log.open("wb") as out:
        try:
            proc = subprocess.Popen(
                cmd,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                env=env,
                start_new_session=True,
            )
        except OSError as exc:
            raise SetupError(f"cannot start {cmd[0]}: {exc}") from exc
        try:
            code = proc.wait(timeout=max(0.0, deadline - time.monotonic()))
            # A straggler would keep burning CPU on a deleted profile. The group id cannot be
            # recycled while any member lives, so this reaches only soffice's own leftovers.
            _killpg(proc.pid)
            return code
        except subprocess.TimeoutExpired:
            # soffice -> oosplash -> soffice.bin: killing only the leader leaves the rest running.
            _killpg(proc.pid)
            proc.wait()
            raise ConversionTimeout(f"soffice timed out after {timeout:g}s and was killed: {_show(cmd)}\n{_tail(log)}".rstrip()) from None
        finally:
            if proc.returncode is None:  # interrupted (e.g. KeyboardInterrupt): don't leak it
                _killpg(proc.pid)
                proc.wait()


def _killpg(pgid: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pgid, signal.SIGKILL)


def _verified(pdf: Path, source: Path, cmd: list[str], log: Path) -> Path:
    if not pdf.is_file():
        raise ConversionError(f"{source}: soffice wrote no PDF (expected {pdf.name}): {_show(cmd)}\n{_tail(log)}".rstrip())
    try:
        pages = page_count(pdf)
    except Exception as exc:  # qpdf raises several types on garbage input
        raise ConversionError(f"{source}: soffice wrote an unreadable PDF: {exc}") from exc
    if pages < 1:
        raise ConversionError(f"{source}: soffice wrote a PDF with no pages")
    return pdf


def _tail(log: Path, lines: int = STDERR_TAIL_LINES) -> str:
    try:
        text = log.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""
    tail = text.splitlines()[-lines:]
    return "soffice output (last lines):\n" + "\n".join(tail) if tail else ""


def _show(cmd: list[str]) -> str:
    return shlex.join(cmd)
