"""Last line of defence for the CLI: signals stop a run cleanly, OS errors read as one line, a bug leaves a crash log.

The CLI's ``main`` runs each command through :func:`guard`; docgen's own errors (:mod:`generator.errors`) pass
through it untouched to the CLI, which turns them into messages and exit codes. What is left is handled here:

==========  ==================================================================================
exit code   when
==========  ==================================================================================
2           an OS error about a path the user gave (missing, unreadable, read-only, not a folder)
5           the system ran out of something (disk full, quota, memory)
70          a bug: one line on stderr and the path of a crash log holding the traceback (EX_SOFTWARE)
130 / 143   stopped by Ctrl-C (SIGINT) / SIGTERM: staging removed, workers stopped, no traceback
==========  ==================================================================================
"""

from __future__ import annotations

import contextlib
import datetime as dt
import errno
import os
import signal
import sys
import tempfile
import threading
import traceback
from collections.abc import Callable, Iterator
from pathlib import Path
from types import FrameType
from typing import TypeVar

from generator import __version__, settings
from generator.errors import DiskFullError, Interrupted, OutputError, SettingError

T = TypeVar("T")
CRASH_EXIT = 70  # sysexits.h EX_SOFTWARE: an internal error
_SYSTEM = {errno.ENOSPC, errno.EDQUOT, errno.ENOMEM, errno.EMFILE, errno.ENFILE}
_REASONS = {
    errno.ENOENT: "no such file or folder",
    errno.EACCES: "permission denied",
    errno.EPERM: "operation not permitted",
    errno.EROFS: "the file system is read-only",
    errno.ENOSPC: "no space left on the disk",
    errno.EDQUOT: "disk quota exceeded",
    errno.EISDIR: "is a folder, not a file",
    errno.ENOTDIR: "a part of the path is a file, not a folder",
    errno.EEXIST: "already exists (as a file, where a folder is needed?)",
    errno.ENAMETOOLONG: "the name is too long for the file system",
    errno.ENOMEM: "out of memory",
}


def describe_os_error(exc: OSError) -> str:
    """One line naming the path and what went wrong, in words a user can act on.

    >>> describe_os_error(PermissionError(errno.EACCES, "Permission denied", "/srv/out"))
    '/srv/out: permission denied'
    >>> describe_os_error(OSError(errno.ENOSPC, "No space left on device", "outputs/x.pdf"))
    'outputs/x.pdf: no space left on the disk'
    >>> describe_os_error(FileExistsError(errno.EEXIST, "File exists", "a.txt", None, "b.txt"))
    'a.txt → b.txt: already exists (as a file, where a folder is needed?)'
    """
    reason = _REASONS.get(exc.errno or 0) or (exc.strerror or str(exc) or type(exc).__name__).lower()
    paths = [str(p) for p in (exc.filename, exc.filename2) if p is not None]
    return f"{' → '.join(paths)}: {reason}" if paths else reason


def os_error_exit(exc: OSError) -> int:
    """5 when the machine ran out of something, else 2 (a path the user gave is wrong)."""
    return 5 if exc.errno in _SYSTEM else 2


def crash_dir() -> Path:
    """Where crash logs go: ``$DOCGEN_CRASH_DIR``, else ``<temp>/docgen-crash``."""
    try:
        chosen = settings.current().crash_dir
    except SettingError:  # the bad setting is what is being reported: the log still gets written
        chosen = None
    return chosen or Path(tempfile.gettempdir()) / "docgen-crash"


def write_crash_log(exc: BaseException, command: str, argv: list[str] | None = None) -> Path:
    """The traceback and what was run, in a new file of its own; returns its path."""
    folder = crash_dir()
    folder.mkdir(parents=True, exist_ok=True)
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    fd, name = tempfile.mkstemp(dir=folder, prefix=f"crash-{stamp}-{os.getpid()}-", suffix=".log")
    text = (f"docgen {__version__} crashed in command {command!r}\n"
            f"argv: {argv if argv is not None else sys.argv}\n"
            f"python: {sys.version.split()[0]} on {sys.platform}; cwd: {os.getcwd()}\n\n"
            + "".join(traceback.format_exception(exc)))
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(text)
    return Path(name)


STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)
_stopped: list[int] = []  # the signal this process has reported stopping for: it is said once, whatever follows


def stop_message(command: str, signum: int) -> str:
    """The one line a stopped command leaves on the terminal.

    >>> stop_message("proposals", signal.SIGTERM)
    'docgen proposals: stopped by SIGTERM; unfinished work and staging folders were removed'
    """
    return f"docgen {command}: stopped by {signal.Signals(signum).name}; unfinished work and staging folders were removed"


def _say_stopped(command: str, signum: int) -> None:
    """Write the stop line straight to file descriptor 2: from a signal handler, a buffered ``print`` may be re-entered."""
    if not _stopped:
        _stopped.append(signum)
        with contextlib.suppress(OSError):
            os.write(2, (stop_message(command, signum) + "\n").encode())


def command_of(argv: list[str]) -> str:
    """The docgen command named in ``argv`` (before the parser exists): the first word that is not an option or its value.

    >>> command_of(["--content", "c", "proposals", "list.csv"]), command_of(["-h"]), command_of(["audit", "verify"])
    ('proposals', 'docgen', 'audit')
    """
    takes_value = {"--content", "--templates", "--outputs", "--cache"}
    skip = False
    for word in argv:
        if skip:
            skip = False
        elif word in takes_value:
            skip = True
        elif not word.startswith("-"):
            return word
    return "docgen"


def stop_from_the_start(argv: list[str] | None = None) -> None:
    """From the first instant of the docgen command: SIGINT or SIGTERM prints the one stop line and exits 130 / 143.

    Installed by the entry point before the CLI is even imported. Until :func:`stop_on_signals` takes over there is
    nothing to clean up (no file written, no process started), and once a command has finished there is nothing left
    either: a Ctrl-C while Python imports or shuts down ends quietly instead of with a KeyboardInterrupt traceback.
    """
    command = command_of(list(sys.argv[1:] if argv is None else argv))

    def handler(signum: int, frame: FrameType | None) -> None:
        _say_stopped(command, signum)
        os._exit(128 + signum)

    for s in STOP_SIGNALS:
        signal.signal(s, handler)


@contextlib.contextmanager
def stop_on_signals(command: str = "docgen") -> Iterator[None]:
    """SIGINT and SIGTERM raise :class:`Interrupted` in the main thread, so every ``finally`` cleans up.

    While that cleanup runs, a second signal ends the process at once (the user insists), with the same one line.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    received: list[int] = []

    def handler(signum: int, frame: FrameType | None) -> None:
        if received:
            _say_stopped(command, received[0])
            os._exit(128 + received[0])
        received.append(signum)
        raise Interrupted(signum)

    previous = {s: signal.signal(s, handler) for s in STOP_SIGNALS}
    try:
        yield
    finally:
        for s, h in previous.items():
            signal.signal(s, h)


@contextlib.contextmanager
def signals_held() -> Iterator[None]:
    """SIGINT and SIGTERM wait (blocked) while worker processes are forked, so none starts with the main process's handler.

    A fork copies the main process's Python handler, which would raise in the new worker before :func:`quiet_worker`
    has replaced it. A signal that arrives meanwhile is delivered here when the block ends; the workers unblock their
    own copy of the mask once their handlers are installed.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_UNBLOCK, STOP_SIGNALS)


_busy: list[bool] = []  # in a worker process: a batch is running (there is LibreOffice and a work folder to clean up)


def quiet_worker() -> None:
    """Initialiser of worker processes: Ctrl-C is the main process's to handle; SIGTERM unwinds quietly.

    The terminal sends Ctrl-C to every process of the group; a worker would print its own traceback. The main
    process stops the workers itself (:func:`stop_workers`). A worker in the middle of a batch unwinds (its ``finally``
    clauses kill LibreOffice and remove its files; the exception goes back to the main process, never to the terminal);
    a worker waiting for work, or still starting, has nothing to clean up and exits at once, silently: an exception
    raised there would reach multiprocessing's own traceback printing.
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)

    def handler(signum: int, frame: FrameType | None) -> None:
        # ignored from now on: the pool sends every worker SIGTERM again when one exits, which must not cut a cleanup short
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        if _busy:
            raise Interrupted(signum)
        os._exit(128 + signum)

    signal.signal(signal.SIGTERM, handler)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, STOP_SIGNALS)  # held while this process was forked (signals_held)


def in_worker(fn: Callable[..., T], *args: object) -> T:
    """Run ``fn(*args)`` in a worker process as a batch: SIGTERM meanwhile unwinds it, then ends the process.

    The main process is stopping and wants no result; once the batch's ``finally`` clauses have killed LibreOffice and
    removed its files, the worker exits at once rather than wait for more work on queues a sibling may have left locked.
    """
    _busy.append(True)
    try:
        return fn(*args)
    except Interrupted as exc:
        os._exit(128 + exc.signum)
    finally:
        _busy.pop()


def stop_workers(pool: object) -> None:
    """SIGTERM to each live worker of a ProcessPoolExecutor, so shutting it down does not wait for their batches.

    The batches not yet handed to a worker are not wanted either: the pool's queue may be part-way through writing one
    into its pipe, which no stopped worker will read, and closing the pool would wait for that write for ever
    (multiprocessing's ``cancel_join_thread``).
    """
    queue = getattr(pool, "_call_queue", None)
    if queue is not None:
        queue.cancel_join_thread()
    for process in list((getattr(pool, "_processes", None) or {}).values()):
        with contextlib.suppress(OSError, ValueError, AttributeError):
            if process.is_alive():
                process.terminate()


def guard(run: Callable[[], int], command: str, *, error: Callable[[str], None] | None = None, argv: list[str] | None = None) -> int:
    """Run one CLI command; docgen's own errors propagate, everything else ends as one line and an exit code."""
    say = error or (lambda line: print(line, file=sys.stderr, flush=True))
    try:
        with stop_on_signals(command):
            return run()
    except KeyboardInterrupt as exc:
        signum = getattr(exc, "signum", signal.SIGINT)
        if not _stopped:
            _stopped.append(signum)
            say(stop_message(command, signum))
        return 128 + signum
    except OSError as exc:
        say(f"docgen {command}: {describe_os_error(exc)}")
        return os_error_exit(exc)
    except MemoryError:
        say(f"docgen {command}: out of memory")
        return 5
    except Exception as exc:
        from generator.errors import DocgenError

        if isinstance(exc, DocgenError):
            raise  # the CLI's to report
        try:
            where = f"details in {write_crash_log(exc, command, argv)}"
        except OSError as log_error:
            where = f"no crash log could be written ({describe_os_error(log_error)})"
        say(f"docgen {command}: internal error ({type(exc).__name__}: {str(exc).splitlines()[0][:200] if str(exc) else ''}); "
            f"{where}; please report it")
        return CRASH_EXIT


def output_error(exc: OSError, path: Path) -> OutputError:
    """The docgen error for an OS error while writing ``path``: DiskFullError (exit 5) or OutputError (exit 2).

    >>> str(output_error(OSError(errno.ENOSPC, "No space left on device", "/o/.x.part"), Path("/o/x.pdf")))
    '/o/x.pdf: cannot write: no space left on the disk'
    """
    reason = _REASONS.get(exc.errno or 0) or (exc.strerror or str(exc)).lower()
    cls = DiskFullError if exc.errno in (errno.ENOSPC, errno.EDQUOT) else OutputError
    return cls(f"{path}: cannot write: {reason}")


def left_by_the_dead(folder: Path, pattern: str, prefix: str, sep: str) -> list[Path]:
    """Entries of ``folder`` matching ``pattern`` named ``<prefix><pid><sep>…`` whose process is gone on this host."""
    found = []
    for path in folder.glob(pattern) if folder.is_dir() else []:
        if not path.name.startswith(prefix):
            continue
        try:
            os.kill(int(path.name[len(prefix) :].split(sep)[0]), 0)
        except ProcessLookupError:
            found.append(path)
        except (ValueError, PermissionError):
            continue
    return found
