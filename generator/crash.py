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

from generator import __version__
from generator.errors import DiskFullError, Interrupted, OutputError

CRASH_EXIT = 70  # sysexits.h EX_SOFTWARE: an internal error
CRASH_DIR_ENV = "DOCGEN_CRASH_DIR"
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
    return Path(os.environ.get(CRASH_DIR_ENV) or Path(tempfile.gettempdir()) / "docgen-crash")


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


@contextlib.contextmanager
def stop_on_signals() -> Iterator[None]:
    """SIGINT and SIGTERM raise :class:`Interrupted` in the main thread, so every ``finally`` cleans up.

    While that cleanup runs, a second signal ends the process at once (the user insists).
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    received: list[int] = []

    def handler(signum: int, frame) -> None:  # noqa: ANN001 - signal handler signature
        if received:
            os._exit(128 + signum)
        received.append(signum)
        raise Interrupted(signum)

    previous = {s: signal.signal(s, handler) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for s, h in previous.items():
            signal.signal(s, h)


def quiet_worker() -> None:
    """Initialiser of worker processes: Ctrl-C is the main process's to handle; SIGTERM unwinds quietly.

    The terminal sends Ctrl-C to every process of the group; a worker would print its own traceback. The main
    process stops the workers itself (:func:`stop_workers`), and their ``finally`` clauses kill LibreOffice.
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)

    def handler(signum: int, frame) -> None:  # noqa: ANN001
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        raise Interrupted(signum)

    signal.signal(signal.SIGTERM, handler)


def stop_workers(pool: object) -> None:
    """SIGTERM to each live worker of a ProcessPoolExecutor, so shutting it down does not wait for their batches."""
    for process in list((getattr(pool, "_processes", None) or {}).values()):
        with contextlib.suppress(OSError, ValueError, AttributeError):
            if process.is_alive():
                process.terminate()


def guard(run: Callable[[], int], command: str, *, error: Callable[[str], None] | None = None, argv: list[str] | None = None) -> int:
    """Run one CLI command; docgen's own errors propagate, everything else ends as one line and an exit code."""
    say = error or (lambda line: print(line, file=sys.stderr, flush=True))
    try:
        with stop_on_signals():
            return run()
    except KeyboardInterrupt as exc:
        signum = getattr(exc, "signum", signal.SIGINT)
        name = signal.Signals(signum).name
        say(f"docgen {command}: stopped by {name}; unfinished work and staging folders were removed")
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
