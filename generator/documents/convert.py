"""Convert .docx files to PDF with LibreOffice headless."""

from __future__ import annotations

import contextlib
import errno
import functools
import json
import os
import shlex
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

from generator.errors import ConversionError, ConversionTimeout, InputError, SetupError

SOFFICE_ENV = "DOCGEN_SOFFICE"
TIMEOUT_ENV = "DOCGEN_TIMEOUT"  # seconds one LibreOffice run may take (every converting command; --timeout overrides)
DEFAULT_TIMEOUT = 120.0  # one conversion of unknown size (convert_to_pdf called without a timeout)
# A run laying out client documents, by default: 20 s plus 1 s per document, at least 30 s, at most 300 s. One pack's
# three documents took 2-3 s on the 2-core machine, a batch of 100 clients' 300 documents about 15 s: each default is ten
# times that or more, while a hung one-pack run is given up after 30 s instead of two minutes.
RUN_BASE, RUN_PER_DOCUMENT, RUN_FLOOR, RUN_CAP = 20.0, 1.0, 30.0, 300.0
STDERR_TAIL_LINES = 20
# soffice asks for a restart after initialising a fresh profile on some builds.
_EXIT_RESTART = 81

_FLAGS = ("--headless", "--invisible", "--norestore", "--nolockcheck", "--nodefault", "--nologo", "--nofirststartwizard")
_FILTER_OPTIONS: dict[str, bool | int] = {
    "ExportBookmarks": True,
    "ExportNotes": False,
    "UseTaggedPDF": True,
    "EmbedStandardFonts": True,
    # PDF/A-2b and PDF/UA-1 (issue 26): a structure tree, /Lang from the templates' default language (ja-JP), every
    # font embedded, no encryption. generator/documents/pdfa.py keeps both through the merge and fixes what 7.4 misses.
    "SelectPdfVersion": 2,
    "PDFUACompliance": True,
}
# Forcing the Word import filter makes a corrupt .docx fail to load; without it LibreOffice
# falls back to plain-text import and "successfully" prints the zip bytes.
_IN_FILTER = "MS Word 2007 XML"

# glibc gives the top of its heap back to the kernel whenever it is free, and LibreOffice's start-up frees and regrows it
# so often that converting a one-page letter took 296k page faults and a second of kernel time (of 2.0 CPU-s). Keeping
# 256 MB when trimming (M_TOP_PAD) cut that to 49k faults and 1.2 CPU-s, the PDFs unchanged; a one-shot run exits and
# gives everything back. A GLIBC_TUNABLES of the caller's own is left as it is. The warm pool's long-lived instances
# keep glibc's defaults: a warm conversion took the same time with it (0.51 against 0.52 s) and they would hold the memory.
ONE_SHOT_TUNABLES = "glibc.malloc.top_pad=268435456"

# Paths and names come from officecfg's schema (share/registry/main.xcd of LO 7.4); an unknown
# path is silently dropped by LibreOffice, so keep them exact.
_HARDENING = [
    ("/org.openoffice.Office.Common/Security/Scripting", "MacroSecurityLevel", "3"),
    ("/org.openoffice.Office.Common/Security/Scripting", "DisableMacrosExecution", "true"),
    ("/org.openoffice.Office.Common/Security/Scripting", "BlockUntrustedRefererLinks", "true"),
    ("/org.openoffice.Office.Writer/Content/Update", "Link", "2"),  # 2 = never update links
    ("/org.openoffice.Office.Common/Misc", "FirstRun", "false"),
    ("/org.openoffice.Office.Common/Misc", "ShowTipOfTheDay", "false"),
    ("/org.openoffice.Setup/Office", "ooSetupInstCompleted", "true"),
]


def find_soffice() -> str:
    """Return the soffice executable: ``$DOCGEN_SOFFICE``, else ``soffice``/``libreoffice`` on PATH."""
    hint = "run `bash .ci/setup` (installs libreoffice-writer-nogui and fonts-ipaexfont)"
    override = os.environ.get(SOFFICE_ENV)
    if override:
        found = shutil.which(override)
        if found is None:
            raise SetupError(f"{SOFFICE_ENV}={override!r} is not an executable; fix or unset it, or {hint}")
        return found
    for name in ("soffice", "libreoffice"):
        found = shutil.which(name)
        if found:
            return found
    raise SetupError(f"LibreOffice (soffice) not found on PATH; {hint}, or set {SOFFICE_ENV}")


def env_timeout(fallback: float = DEFAULT_TIMEOUT) -> float:
    """``$DOCGEN_TIMEOUT`` seconds, else ``fallback``; InputError naming the variable when it is not a positive number.

    >>> env_timeout(120.0) if "DOCGEN_TIMEOUT" not in os.environ else 120.0
    120.0
    """
    raw = os.environ.get(TIMEOUT_ENV, "").strip()
    if not raw:
        return fallback
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not (0 < value < float("inf")):
        raise InputError(TIMEOUT_ENV, raw, "is not a number of seconds", allowed="a number > 0, e.g. 120")
    return value


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
    return env_timeout() if os.environ.get(TIMEOUT_ENV, "").strip() else None


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
    before = os.environ.get(TIMEOUT_ENV)
    os.environ[TIMEOUT_ENV] = f"{float(seconds):g}"
    try:
        yield
    finally:
        if before is None:
            os.environ.pop(TIMEOUT_ENV, None)
        else:
            os.environ[TIMEOUT_ENV] = before


def convert_to_pdf(docx_files: Sequence[Path], out_dir: Path, *, timeout: float | None = None, options: Mapping[str, bool | int] | None = None) -> list[Path]:
    """Convert every file in one soffice run and return ``out_dir/<stem>.pdf`` in input order.

    ``timeout`` defaults to ``$DOCGEN_TIMEOUT`` or 120 seconds; past it soffice is killed and ConversionTimeout raised.

    ``options`` adds PDF export filter options (``ExportBookmarksToPDFDestination``: Word bookmarks become
    named destinations). Nothing is written to ``out_dir`` unless every PDF was produced and opens with >= 1 page.
    """
    inputs = [Path(p).resolve() for p in docx_files]
    _check_inputs(inputs)
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
        _write_profile(profile)
        cmd = [
            soffice,
            f"-env:UserInstallation={profile.as_uri()}",
            *_FLAGS,
            f"--infilter={_IN_FILTER}",
            "--convert-to",
            "pdf:writer_pdf_Export:" + _filter_json(options or {}),
            "--outdir",
            str(staging),
            *(str(p) for p in inputs),
        ]
        try:
            log = _run(cmd, {"GLIBC_TUNABLES": ONE_SHOT_TUNABLES} | _child_env(tmp), tmp, timeout)
        except ConversionTimeout as exc:
            exc.converted = _salvage(inputs, staging, out_dir)  # the caller goes on after the document it hung on
            raise
        produced = [_verified(staging / f"{p.stem}.pdf", p, cmd, log) for p in inputs]
        return [_publish(pdf, out_dir) for pdf in produced]


def pdf_text(pdf: Path) -> list[str]:
    """Return the extracted text of each page of ``pdf``."""
    return [page.extract_text() or "" for page in _pages(pdf)]


def page_count(pdf: Path) -> int:
    """The number of pages of ``pdf``, read with qpdf (pikepdf): it reads a tagged layout run of a hundred clients'
    documents lazily, where pypdf parses every one of its hundreds of thousands of objects (a third of a second each).
    Without qpdf's pushing of inherited page attributes down the page tree: a fifth of a second per layout PDF, for
    a count that needs none."""
    import pikepdf

    with pikepdf.open(pdf, inherit_page_attributes=False) as opened:
        return len(opened.pages)


def _pages(pdf: Path) -> Sequence:
    from pypdf import PdfReader  # imported here: every CLI command imports this module (--timeout), few read a PDF

    return PdfReader(pdf, strict=False).pages


def _check_inputs(inputs: list[Path]) -> None:
    seen: dict[str, Path] = {}
    for path in inputs:
        if path.suffix.lower() != ".docx":
            raise ValueError(f"{path}: not a .docx file")
        if path.stem in seen:
            raise ValueError(f"{seen[path.stem]} and {path} would both become {path.stem}.pdf")
        seen[path.stem] = path
        if not path.is_file():
            raise ConversionError(f"{path}: input file not found")


def _filter_json(options: Mapping[str, bool | int]) -> str:
    props = {k: {"type": "boolean", "value": "true" if v else "false"} if isinstance(v, bool) else {"type": "long", "value": str(v)}
             for k, v in (_FILTER_OPTIONS | dict(options)).items()}
    return json.dumps(props, separators=(",", ":"))


def _write_profile(profile: Path) -> None:
    items = "".join(
        f'<item oor:path="{path}"><prop oor:name="{name}" oor:op="fuse"><value>{value}</value></prop></item>\n'
        for path, name, value in _HARDENING
    )
    xcu = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<oor:items xmlns:oor="http://openoffice.org/2001/registry" '
        'xmlns:xs="http://www.w3.org/2001/XMLSchema" '
        'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">\n'
        f"{items}</oor:items>\n"
    )
    (profile / "user").mkdir(parents=True)
    (profile / "user" / "registrymodifications.xcu").write_text(xcu, encoding="utf-8")


@functools.cache
def _utf8_locale() -> str:
    try:
        listed = subprocess.run(["locale", "-a"], capture_output=True, text=True, timeout=10).stdout
    except (OSError, subprocess.SubprocessError):
        listed = ""
    names = {line.strip().lower().replace("-", "") for line in listed.splitlines()}
    return "ja_JP.UTF-8" if "ja_jp.utf8" in names else "C.UTF-8"


def _child_env(tmp: Path) -> dict[str, str]:
    env = dict(os.environ)
    loc = _utf8_locale()
    env.update(
        # A private HOME and TMPDIR keep soffice from touching ~/.config and leave its lu*.tmp
        # litter inside the directory we delete.
        HOME=str(tmp),
        TMPDIR=str(tmp),
        SAL_USE_VCLPLUGIN="svp",
        LANG=loc,
        LC_ALL=loc,
    )
    env.pop("LANGUAGE", None)
    return env


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


def _salvage(inputs: list[Path], staging: Path, out_dir: Path) -> list[Path]:
    """The PDFs soffice finished before it hung: the longest prefix of the inputs with a readable PDF each."""
    done = []
    for source in inputs:
        pdf = staging / f"{source.stem}.pdf"
        try:
            if not pdf.is_file() or page_count(pdf) < 1:
                break
        except Exception:  # a PDF cut off by the kill: pypdf raises many types
            break
        done.append(pdf)
    return [_publish(pdf, out_dir) for pdf in done]


def _publish(pdf: Path, out_dir: Path) -> Path:
    target = out_dir / pdf.name
    try:
        os.replace(pdf, target)
    except OSError as exc:
        if exc.errno != errno.EXDEV:
            raise
        # Different filesystem: copy next to the target first so the final rename stays atomic.
        fd, part = tempfile.mkstemp(dir=out_dir, prefix=f".{pdf.stem}.", suffix=".part")
        try:
            with os.fdopen(fd, "wb") as dst, pdf.open("rb") as src:
                shutil.copyfileobj(src, dst)
            os.replace(part, target)
        except BaseException:
            Path(part).unlink(missing_ok=True)
            raise
    return target


def _tail(log: Path, lines: int = STDERR_TAIL_LINES) -> str:
    try:
        text = log.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""
    tail = text.splitlines()[-lines:]
    return "soffice output (last lines):\n" + "\n".join(tail) if tail else ""


def _show(cmd: list[str]) -> str:
    return shlex.join(cmd)
