"""Time and size budgets for untrusted templates: Jinja's sandbox stops escapes, this stops exhaustion.

The sandbox keeps a template from reaching Python, but not from asking for ``'x' * 10**9``, a billion-column
``center``, a namespace doubling a string in a loop, or loops nested deep enough to run for hours. Here:

* sizes are checked *before* the work is done: ``*``, ``+``, ``%``, ``**`` on big operands, integer arguments of
  calls and filters, values stored in a ``namespace``, and every concatenation of output;
* time is a wall-clock budget enforced by a watchdog thread that raises :class:`OverTime` in the rendering
  thread (CPython checks for it between bytecodes, so a loop that calls nothing is stopped too).
"""

from __future__ import annotations

import contextlib
import ctypes
import functools
import heapq
import io
import itertools
import re
import threading
import time
import zipfile
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from types import TracebackType
from typing import Any

from jinja2.exceptions import SecurityError
from jinja2.runtime import Context
from jinja2.sandbox import SandboxedEnvironment
from jinja2.utils import Namespace

from generator import settings

MAX_TEXT = 5_000_000  # characters one string or one rendered part may have (documents here are < 1 MB of XML)
MAX_ITEMS = 100_000  # items one list may have (also Jinja's MAX_RANGE)
MAX_NUMBER = 1_000_000  # an integer argument past this (a width, a count) is refused: no layout needs it
MAX_POWER = 10_000  # exponent bound for ``**``: 10**10**10 would run in C, where no watchdog can stop it
TIMEOUT_ENV = "DOCGEN_TEMPLATE_TIMEOUT"
DEFAULT_SECONDS = 30.0  # a whole brochure renders in well under a second here
_FORMAT_WIDTH = re.compile(r"%[-#0 +]*(\d+)|%[-#0 +]*\d*\.(\d+)|\{[^{}]*:[^{}]*?(\d{6,})[^{}]*\}")


class OverTime(Exception):
    """Raised inside the rendering thread by the watchdog when the time budget is spent."""


def seconds() -> float:
    """The template time budget: ``$DOCGEN_TEMPLATE_TIMEOUT`` seconds, else 30 (a bad value is a SettingError naming it)."""
    return settings.current().template_timeout


def _size(value: Any) -> int:
    return len(value) if isinstance(value, (str, bytes, list, tuple)) else 0


def _refuse(message: str) -> SecurityError:
    return SecurityError(message)


def check_binop(operator: str, left: Any, right: Any) -> None:
    """SecurityError if the operation would build something past the budget; otherwise nothing.

    >>> check_binop("*", "x", 3)
    >>> check_binop("*", "x", 10**9)
    Traceback (most recent call last):
    ...
    jinja2.exceptions.SecurityError: 'x' * 1000000000 would be 1,000,000,000 characters; a template may build at most 5,000,000
    """
    if operator == "*":
        for seq, count in ((left, right), (right, left)):
            if isinstance(seq, (str, bytes, list, tuple)) and isinstance(count, int) and not isinstance(count, bool):
                total = _size(seq) * count
                limit = MAX_TEXT if isinstance(seq, (str, bytes)) else MAX_ITEMS
                if total > limit:
                    kind = "characters" if isinstance(seq, (str, bytes)) else "items"
                    raise _refuse(f"{_short(seq)} * {count} would be {total:,} {kind}; a template may build at most {limit:,}")
    elif operator == "+":
        if isinstance(left, (str, list, tuple)) and isinstance(right, (str, list, tuple)) and _size(left) + _size(right) > MAX_TEXT:
            raise _refuse(f"joining {_size(left):,} and {_size(right):,} would pass {MAX_TEXT:,}")
    elif operator == "**":
        if isinstance(left, (int, float)) and isinstance(right, (int, float)) and abs(left) > 1 and right > MAX_POWER:
            raise _refuse(f"{left!r} ** {right!r} is too large a power; exponents up to {MAX_POWER:,}")
    elif operator == "%" and isinstance(left, str):
        for m in _FORMAT_WIDTH.finditer(left):
            width = int(next(g for g in m.groups() if g))
            if width > MAX_NUMBER:
                raise _refuse(f"format width {width:,} in {_short(left)}; widths up to {MAX_NUMBER:,}")


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def check_args(what: str, args: Iterable[Any]) -> None:
    """SecurityError for an integer argument past MAX_NUMBER (``center(10**9)``, ``ljust``, ``indent`` ...)."""
    for arg in args:
        if isinstance(arg, int) and not isinstance(arg, bool) and abs(arg) > MAX_NUMBER:
            raise _refuse(f"{what}: argument {arg:,} is too large; numbers up to {MAX_NUMBER:,}")
        if isinstance(arg, str) and len(arg) > MAX_TEXT:
            raise _refuse(f"{what}: a {len(arg):,}-character argument; at most {MAX_TEXT:,}")


def check_replace(what: str, text: Any, old: Any, new: Any) -> None:
    """SecurityError if replacing would build more than MAX_TEXT characters (measured before replacing).

    >>> check_replace("replace", "x" * 1000, "x", "y" * 10_000)
    Traceback (most recent call last):
    ...
    jinja2.exceptions.SecurityError: replace would make 10,000,000 characters; at most 5,000,000
    """
    if isinstance(text, str) and isinstance(old, str) and isinstance(new, str) and len(new) > len(old):
        hits = text.count(old) if old else len(text) + 1
        total = len(text) + hits * (len(new) - len(old))
        if total > MAX_TEXT:
            raise _refuse(f"{what} would make {total:,} characters; at most {MAX_TEXT:,}")


def _checked_result(what: str, value: Any) -> Any:
    if _size(value) > (MAX_TEXT if isinstance(value, str) else MAX_ITEMS):
        raise _refuse(f"{what} made {_size(value):,} characters or items; at most {MAX_TEXT:,}")
    return value


def bounded_concat(parts: Iterable[str]) -> str:
    """Jinja's ``concat`` for output, macros and blocks: stops as soon as the text passes MAX_TEXT."""
    out: list[str] = []
    total = 0
    for part in parts:
        total += len(part)
        if total > MAX_TEXT:
            raise _refuse(f"the rendered text passed {MAX_TEXT:,} characters; a loop or macro repeats too much")
        out.append(part)
    return "".join(out)


class BoundedNamespace(Namespace):
    """``namespace()`` whose attributes cannot grow past the budget (``ns.s = ns.s ~ ns.s`` in a loop)."""

    def __setitem__(self, name: str, value: Any) -> None:
        _checked_result(f"namespace attribute {name!r}", value)
        super().__setitem__(name, value)


def _bounded_filter(name: str, func: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(func)
    def run(*args: Any, **kwargs: Any) -> Any:
        values = [*args[1:], *kwargs.values()] if getattr(func, "jinja_pass_arg", None) else [*args, *kwargs.values()]
        check_args(f"filter {name!r}", values)
        if name == "replace" and len(values) >= 3:
            check_replace("filter 'replace'", *values[:3])
        return _checked_result(f"filter {name!r}", func(*args, **kwargs))

    return run


class BudgetedSandbox(SandboxedEnvironment):
    """The sandbox, plus size limits on what a template can build."""

    intercepted_binops = frozenset(["*", "+", "**", "%"])
    concat = staticmethod(bounded_concat)

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self.globals["namespace"] = BoundedNamespace
        self.filters = {name: _bounded_filter(name, f) for name, f in self.filters.items()}

    def call_binop(self, context: Context, operator: str, left: Any, right: Any) -> Any:
        check_binop(operator, left, right)
        return super().call_binop(context, operator, left, right)

    def wrap_str_format(self, value: Any) -> Callable[..., str] | None:
        wrapped = super().wrap_str_format(value)
        if wrapped is not None:
            check_binop("%", value.__self__, None)  # widths in str.format fields, e.g. '{:>1000000000}'
        return wrapped

    def call(__self, __context: Context, __obj: Any, *args: Any, **kwargs: Any) -> Any:  # noqa: N805 - Jinja's signature
        name = getattr(__obj, "__name__", type(__obj).__name__)
        check_args(f"{name}()", [*args, *kwargs.values()])
        owner = getattr(__obj, "__self__", None)
        if isinstance(owner, str) and name == "replace" and len(args) >= 2:
            check_replace("replace()", owner, args[0], args[1])
        return _checked_result(f"{name}()", super().call(__context, __obj, *args, **kwargs))


class _Watchdog:
    """Raises OverTime in the thread that started it once ``limit`` seconds pass, unless stopped first."""

    def __init__(self, limit: float):
        self.limit = limit
        self.thread_id = threading.get_ident()
        self.lock = threading.Lock()
        self.running = False
        self.fired = False
        self.deadline = 0.0

    def _fire(self) -> None:
        with self.lock:
            if self.running:
                self.fired = True
                ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(self.thread_id), ctypes.py_object(OverTime))

    def __enter__(self) -> _Watchdog:
        self.running = True
        self.deadline = time.monotonic() + self.limit
        _CLOCK.watch(self)
        return self

    def __exit__(self, *exc: type[BaseException] | BaseException | TracebackType | None) -> None:
        with self.lock:
            self.running = False
            if self.fired:  # fired but perhaps not yet delivered: clear it, the caller sees OverTime below instead
                ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(self.thread_id), None)
        if self.fired and not (exc and isinstance(exc[0], type) and issubclass(exc[0], OverTime)):
            raise OverTime()


class _Clock:
    """One thread per process fires every watchdog whose time is up (a threading.Timer per render was a thread started
    and stopped per document: ~105 us of CPU and ~0.37 ms of wall clock each, six per pack). A stopped watchdog stays
    in the heap until it comes to the top, where it is dropped unfired."""

    def __init__(self) -> None:
        self.cond = threading.Condition()
        self.heap: list[tuple[float, int, _Watchdog]] = []
        self.order = itertools.count()
        self.thread: threading.Thread | None = None

    def watch(self, dog: _Watchdog) -> None:
        with self.cond:
            heapq.heappush(self.heap, (dog.deadline, next(self.order), dog))
            if self.thread is None or not self.thread.is_alive():  # the first budget, or a forked child (no threads)
                self.thread = threading.Thread(target=self._run, name="docgen-time-budget", daemon=True)
                self.thread.start()
            elif self.heap[0][2] is dog:  # sooner than what the thread waits for
                self.cond.notify()

    def _run(self) -> None:
        with self.cond:
            while True:
                while self.heap and not self.heap[0][2].running:
                    heapq.heappop(self.heap)
                if not self.heap:
                    self.cond.wait()
                    continue
                left = self.heap[0][0] - time.monotonic()
                if left > 0:
                    self.cond.wait(left)
                    continue
                heapq.heappop(self.heap)[2]._fire()


_CLOCK = _Clock()


@contextlib.contextmanager
def time_budget(limit: float | None = None) -> Iterator[None]:
    """Run the block within ``limit`` seconds (default :func:`seconds`), else raise OverTime."""
    with _Watchdog(limit or seconds()):
        yield


MAX_PACKAGE = 50_000_000  # bytes of XML a template may unpack to; ours are < 1 MB (a zip bomb is refused unopened)


def package_problem(template: Path | bytes) -> str:
    """Why ``template`` (a path, or the file's bytes) is refused unopened (its parts unpack to more than MAX_PACKAGE bytes), or ``""``."""
    try:
        with zipfile.ZipFile(io.BytesIO(template) if isinstance(template, bytes) else template) as zf:
            size = sum(info.file_size for info in zf.infolist())
    except (OSError, zipfile.BadZipFile):
        return ""  # not a zip at all: the caller's own reading reports it as such
    if size > MAX_PACKAGE:
        return f"unpacks to {size:,} bytes; a template may have at most {MAX_PACKAGE:,}"
    return ""
