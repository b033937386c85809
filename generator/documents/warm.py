"""Warm LibreOffice for interactive work: a supervised pool of pre-started instances, one per core.

A cold ``soffice --convert-to`` spends most of a small document's second starting up. Here each instance is
started once (its own throwaway profile and its own named pipe) and then converts over UNO, driven by
:mod:`generator.documents.warm_worker` under the system Python, which has Debian's ``python3-uno``. The pool
supervises: an instance is restarted after ``max_conversions`` documents (LibreOffice grows in memory), when it
crashed (the conversion is retried once on a fresh one) and when a conversion outlives ``timeout`` (its whole
process group is killed; the caller gets a ConversionError). ``close()`` (also run at exit) leaves no process.

:meth:`ConverterPool.convert` keeps the contract of :func:`generator.documents.convert.convert_to_pdf`: the PDFs
are ``out_dir/<stem>.pdf`` in input order, each opens with at least one page, and nothing is written to
``out_dir`` unless all of them were produced. Fonts are the caller's to check, as there.
"""

from __future__ import annotations

import atexit
import contextlib
import functools
import json
import os
import secrets
import select
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from generator import settings
from generator.documents.convert import env_timeout
from generator.documents.soffice import FILTER_OPTIONS, FLAGS, IN_FILTER, check_inputs, child_env, find_soffice, page_count, publish, salvage, write_profile
from generator.errors import ConversionError, ConversionTimeout, SetupError

PYTHON_ENV = "DOCGEN_UNO_PYTHON"
WORKER = Path(__file__).with_name("warm_worker.py")
DEFAULT_MAX_CONVERSIONS = 200  # JODConverter's default; Gotenberg uses 10
_PYTHONS = ("/usr/bin/python3", "python3")
_SETUP_HINT = "run `bash .ci/setup` (installs python3-uno), or set DOCGEN_UNO_PYTHON to a Python that can `import uno`"
_LOG_TAIL = 15


@functools.cache
def _can_import_uno(python: str) -> bool:
    try:
        return subprocess.run([python, "-c", "import uno"], capture_output=True, timeout=30).returncode == 0
    except (OSError, subprocess.SubprocessError):
        return False


def find_uno_python() -> str:
    """The Python that runs the UNO helper: ``$DOCGEN_UNO_PYTHON``, else the system python3 if it has ``uno``."""
    override = settings.current().uno_python
    if override:
        found = shutil.which(override)
        if found is None or not _can_import_uno(found):
            raise SetupError(f"{PYTHON_ENV}={override!r} is not a Python that can `import uno`; fix or unset it, or {_SETUP_HINT}")
        return found
    for candidate in _PYTHONS:
        found = shutil.which(candidate)
        if found and _can_import_uno(found):
            return found
    raise SetupError(f"no Python with LibreOffice's 'uno' module for the warm converter; {_SETUP_HINT}")


class _Crashed(Exception):
    """The instance died under a request (or answered nonsense): it is to be replaced."""


class _Hung(Exception):
    """A request outlived its timeout."""


class _Instance:
    """One soffice and its UNO helper, both in one new session (so one killpg reaches soffice.bin too)."""

    def __init__(self, python: str, soffice: str, start_timeout: float) -> None:
        self.tmp = Path(tempfile.mkdtemp(prefix="docgen-warm-"))
        self.conversions = 0
        self.soffice_pid = 0
        profile = self.tmp / "profile"
        write_profile(profile)
        pipe = f"docgen-warm-{os.getpid()}-{secrets.token_hex(8)}"
        cmd = [soffice, f"-env:UserInstallation={profile.as_uri()}", *FLAGS, f"--accept=pipe,name={pipe};urp;StarOffice.ComponentContext"]
        spec = {"cmd": cmd, "pipe": pipe, "log": str(self.tmp / "soffice.log"), "start_timeout": start_timeout}
        env = child_env(self.tmp)
        for name in ("PYTHONPATH", "PYTHONHOME", "PYTHONSTARTUP"):  # our venv's settings are not the system Python's
            env.pop(name, None)
        with (self.tmp / "worker.log").open("wb") as err:
            self.proc = subprocess.Popen([python, str(WORKER), json.dumps(spec)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                         stderr=err, env=env, cwd=self.tmp, start_new_session=True)
        assert self.proc.stdin is not None and self.proc.stdout is not None  # both pipes (PIPE above)
        self.stdin, self.stdout = self.proc.stdin, self.proc.stdout
        try:
            reply = self._read(time.monotonic() + start_timeout + 5)
        except (_Crashed, _Hung) as exc:
            reply = {"ready": False, "error": f"no answer ({type(exc).__name__.strip('_').lower()})"}
        if not reply.get("ready"):
            self.close()
            raise ConversionError(f"warm LibreOffice did not start: {reply.get('error', reply)}\n{self.log_tail()}".rstrip())
        self.soffice_pid = int(reply["soffice"])

    @property
    def pgid(self) -> int:
        return self.proc.pid

    def alive(self) -> bool:
        return self.proc.poll() is None

    def processes(self) -> list[int]:
        """Its live processes: the helper, oosplash, soffice.bin."""
        return group_members(self.pgid)

    def request(self, jobs: list[tuple[str, str]], filter_options: dict[str, bool | int], timeout: float) -> dict[str, Any]:
        line = json.dumps({"jobs": jobs, "filter": filter_options, "in_filter": IN_FILTER}) + "\n"
        try:
            self.stdin.write(line.encode())
            self.stdin.flush()
        except (BrokenPipeError, OSError, ValueError) as exc:
            raise _Crashed(f"the instance is gone ({exc})") from None
        reply = self._read(time.monotonic() + timeout)
        if reply.get("crashed"):
            raise _Crashed(reply.get("error", "LibreOffice crashed"))
        return reply

    def _read(self, deadline: float) -> dict[str, Any]:
        out = self.stdout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise _Hung()
            ready, _, _ = select.select([out], [], [], left)
            if ready:
                break
        line = out.readline()
        if not line:
            raise _Crashed("the instance exited")
        try:
            reply = json.loads(line)
        except ValueError:
            raise _Crashed(f"the instance answered {line[:200]!r}") from None
        if not isinstance(reply, dict):
            raise _Crashed(f"the instance answered {line[:200]!r}")
        return reply

    def log_tail(self) -> str:
        lines: list[str] = []
        for name in ("worker.log", "soffice.log"):
            with contextlib.suppress(OSError):
                lines += (self.tmp / name).read_text(encoding="utf-8", errors="replace").splitlines()
        tail = [line for line in lines if line.strip()][-_LOG_TAIL:]
        return "LibreOffice output (last lines):\n" + "\n".join(tail) if tail else ""

    def close(self, *, kill: bool = False) -> None:
        """Ask it to quit (end of input) unless ``kill``, then kill the whole group whatever it did; delete the profile."""
        with contextlib.suppress(OSError, ValueError):
            self.stdin.close()
        if not kill:
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(timeout=5)
        # soffice.bin outlives a helper that was killed or stopped; the group id stays ours while any member lives
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.pgid, signal.SIGKILL)
        self.proc.wait()
        with contextlib.suppress(OSError, ValueError):
            self.stdout.close()
        _wait_group_gone(self.pgid)
        shutil.rmtree(self.tmp, ignore_errors=True)


def group_members(pgid: int) -> list[int]:
    """Live (not zombie) processes of process group ``pgid``, read from /proc."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue  # exited while we looked
        if fields[2] == str(pgid) and fields[0] != "Z":  # state, ppid, pgrp, ...
            found.append(int(entry.name))
    return found


def _wait_group_gone(pgid: int, limit: float = 5.0) -> None:
    """SIGKILL is asynchronous; wait until no member runs. Zombies do not count: an init that reaps lazily keeps them."""
    end = time.monotonic() + limit
    while group_members(pgid) and time.monotonic() < end:
        time.sleep(0.02)


@dataclass
class _Slot:
    instance: _Instance | None = None
    busy: bool = False


class ConverterPool:
    """``size`` warm LibreOffice instances (default: one per core), started now; see the module docstring.

    ``timeout`` bounds each :meth:`convert` call (all its files; default ``$DOCGEN_TIMEOUT`` or 120 s, as the cold
    path); ``max_conversions`` documents after which an instance is replaced (in the background, so no caller waits).
    A call with several files spreads them over the instances idle at that moment: one pack's documents are laid
    out side by side when the portal is quiet, and nobody waits for an instance another caller has.
    """

    def __init__(self, size: int | None = None, *, timeout: float | None = None, max_conversions: int = DEFAULT_MAX_CONVERSIONS,
                 start_timeout: float = 60.0) -> None:
        if max_conversions < 1:
            raise ValueError("max_conversions must be at least 1")
        self.size = max(1, size or os.cpu_count() or 1)
        self.timeout = timeout
        self.max_conversions = max_conversions
        self.start_timeout = start_timeout
        self.restarts = 0  # instances replaced (crash, hang or max_conversions), for tests and the bench
        self._python = find_uno_python()
        self._soffice = find_soffice()
        self._cond = threading.Condition()
        self._closed = False
        self._threads: list[threading.Thread] = []
        self._slots = [_Slot() for _ in range(self.size)]
        atexit.register(self.close)
        try:
            with ThreadPoolExecutor(self.size) as ex:
                for slot, instance in zip(self._slots, ex.map(lambda _: self._start(), self._slots), strict=True):
                    slot.instance = instance
        except BaseException:
            self.close()
            raise

    def __enter__(self) -> ConverterPool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def instances(self) -> list[_Instance]:
        """The live instances (for supervision tests and diagnostics)."""
        with self._cond:
            return [s.instance for s in self._slots if s.instance is not None]

    def convert(self, docx_files: Sequence[Path], out_dir: Path, *, timeout: float | None = None,
                options: Mapping[str, bool | int] | None = None) -> list[Path]:
        """Convert every file and return ``out_dir/<stem>.pdf`` in input order (see :func:`convert_to_pdf`).

        On a hang the instance is killed and ConversionTimeout raised, its ``converted`` the PDFs finished before
        the first file that did not finish (published in ``out_dir``, as the cold path does).
        """
        inputs = [Path(p).resolve() for p in docx_files]
        check_inputs(inputs)
        timeout = timeout or self.timeout or env_timeout()
        if not inputs:
            return []
        out_dir = Path(out_dir)
        out_dir.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(prefix="docgen-warm-out-") as tmp:
            staging = Path(tmp)
            jobs = [(str(p), str(staging / f"{p.stem}.pdf")) for p in inputs]
            try:
                self._run(jobs, FILTER_OPTIONS | dict(options or {}), timeout)
            except ConversionTimeout as exc:
                exc.converted = salvage(inputs, staging, out_dir)
                raise
            produced = [_verified(staging / f"{p.stem}.pdf", p) for p in inputs]
            return [publish(pdf, out_dir) for pdf in produced]

    __call__ = convert  # a pool is a drop-in ``converter`` for typeset()/build_packs()

    def _run(self, jobs: list[tuple[str, str]], filter_options: dict[str, bool | int], timeout: float) -> None:
        slots = self._acquire(len(jobs))
        chunks = _split(jobs, len(slots))
        if len(slots) == 1:
            self._run_on(slots[0], jobs, filter_options, timeout)
            return
        errors: list[BaseException | None] = [None] * len(slots)

        def run(i: int) -> None:
            try:
                self._run_on(slots[i], chunks[i], filter_options, timeout)
            except BaseException as exc:  # re-raised below, in this caller's thread
                errors[i] = exc

        helpers = [threading.Thread(target=run, args=(i,), name="docgen-warm-part", daemon=True) for i in range(1, len(slots))]
        for t in helpers:
            t.start()
        run(0)
        for t in helpers:
            t.join()
        # the first failing file in input order, as one instance converting them in turn would have reported
        first = next((e for e in errors if e is not None), None)
        if first is not None:
            raise first

    def _run_on(self, slot: _Slot, jobs: list[tuple[str, str]], filter_options: dict[str, bool | int], timeout: float) -> None:
        """Convert ``jobs`` on this slot's instance (released afterwards); a crash is retried once on a fresh one."""
        try:
            for attempt in (1, 2):
                instance = self._ready(slot)
                try:
                    reply = instance.request(jobs, filter_options, timeout)
                except _Hung:
                    tail = instance.log_tail()
                    self._retire(slot, kill=True)
                    raise ConversionTimeout(f"warm LibreOffice timed out after {timeout:g}s and was killed ({_names(jobs)})\n{tail}".rstrip()) from None
                except _Crashed as exc:
                    tail = instance.log_tail()
                    self._retire(slot, kill=True)
                    if attempt == 2 or self._closed:
                        raise ConversionError(f"warm LibreOffice crashed twice ({_names(jobs)}): {exc}\n{tail}".rstrip()) from None
                    continue  # a crash is the instance's fault until it happens again on a fresh one
                instance.conversions += len(jobs)
                if not reply.get("ok"):
                    raise ConversionError(f"LibreOffice could not convert {_names(jobs)}: {reply.get('error', reply)}")
                return
        finally:
            self._release(slot)

    def _start(self) -> _Instance:
        return _Instance(self._python, self._soffice, self.start_timeout)

    def _acquire(self, wanted: int = 1) -> list[_Slot]:
        """One slot, waited for; and up to ``wanted - 1`` more if they are idle right now."""
        with self._cond:
            while True:
                if self._closed:
                    raise ConversionError("the warm LibreOffice pool is closed")
                free = [s for s in self._slots if not s.busy][: max(1, wanted)]
                if free:
                    for s in free:
                        s.busy = True
                    return free
                self._cond.wait()

    def _ready(self, slot: _Slot) -> _Instance:
        """The slot's instance, started afresh (here, by the caller) when it is missing or dead."""
        if slot.instance is not None and not slot.instance.alive():
            self._retire(slot, kill=True)
        if slot.instance is None:
            slot.instance = self._start()
            with self._cond:
                self.restarts += 1
            if self._closed:  # close() ran while it started: do not leave it behind
                self._retire(slot)
                raise ConversionError("the warm LibreOffice pool is closed")
        return slot.instance

    def _retire(self, slot: _Slot, *, kill: bool = False) -> None:
        instance, slot.instance = slot.instance, None
        if instance is not None:
            instance.close(kill=kill)

    def _release(self, slot: _Slot) -> None:
        instance = slot.instance
        if instance is not None and instance.conversions >= self.max_conversions and not self._closed:
            # the replacement starts while other slots serve; the slot stays busy until it is ready
            thread = threading.Thread(target=self._replace, args=(slot,), name="docgen-warm-restart", daemon=True)
            with self._cond:
                self._threads.append(thread)
            thread.start()
            return
        with self._cond:
            slot.busy = False
            self._cond.notify()

    def _replace(self, slot: _Slot) -> None:
        try:
            self._retire(slot)
            if not self._closed:
                self._ready(slot)
        except (ConversionError, SetupError):
            slot.instance = None  # the next caller of this slot tries again and gets the error itself
        finally:
            with self._cond:
                slot.busy = False
                self._cond.notify()

    def close(self) -> None:
        """Stop every instance (waiting for a restart under way); safe to call twice."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()
            threads = list(self._threads)
        for thread in threads:
            thread.join()
        for slot in self._slots:
            self._retire(slot)
        atexit.unregister(self.close)


def _verified(pdf: Path, source: Path) -> Path:
    if not pdf.is_file():
        raise ConversionError(f"{source}: warm LibreOffice wrote no PDF (expected {pdf.name})")
    try:
        pages = page_count(pdf)
    except Exception as exc:  # garbage input raises more than PdfError
        raise ConversionError(f"{source}: warm LibreOffice wrote an unreadable PDF: {exc}") from exc
    if pages < 1:
        raise ConversionError(f"{source}: warm LibreOffice wrote a PDF with no pages")
    return pdf


def _split(jobs: list[tuple[str, str]], parts: int) -> list[list[tuple[str, str]]]:
    """``parts`` consecutive runs of about equal size in bytes (layout time grows with the document), none empty.

    >>> import os, tempfile
    >>> d = tempfile.mkdtemp()
    >>> jobs = []
    >>> for name, size in (("a", 10), ("b", 10), ("c", 25)):
    ...     with open(os.path.join(d, name), "wb") as f:
    ...         _ = f.write(b"x" * size)
    ...     jobs.append((os.path.join(d, name), name + ".pdf"))
    >>> [[os.path.basename(src) for src, _ in run] for run in _split(jobs, 2)]
    [['a', 'b'], ['c']]
    >>> [len(run) for run in _split(jobs, 3)], [len(run) for run in _split(jobs, 1)]
    ([1, 1, 1], [3])
    """
    sizes = [max(1, os.path.getsize(src)) for src, _ in jobs]
    total, out, at = sum(sizes), [], 0
    for part in range(parts - 1):
        left = parts - part - 1  # runs still to fill after this one: each needs a file
        end, acc, goal = at + 1, sizes[at], total * (part + 1) / parts - sum(sizes[:at])
        while end < len(jobs) - left and acc + sizes[end] / 2 <= goal:
            acc += sizes[end]
            end += 1
        out.append(jobs[at:end])
        at = end
    out.append(jobs[at:])
    return out


def _names(jobs: list[tuple[str, str]]) -> str:
    names = [Path(src).name for src, _ in jobs]
    return ", ".join(names[:3]) + (f" and {len(names) - 3} more" if len(names) > 3 else "")
