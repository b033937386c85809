"""What the CLI shows: lines for people, JSON for programs, errors on stderr, progress with rate and time left."""

from __future__ import annotations

import json
import logging
import sys
import time
from typing import Any, TextIO

EXIT_CODES = """exit codes: 0 ok · 1 content/check problems, drift or failed rows · 2 bad option or input ·
3 要見積 (referral to the insurer) · 4 引受不可 (refused) · 5 system (LibreOffice, fonts)"""


class Output:
    """Where a command's results go: text lines (unless --quiet or --json), JSON objects (with --json), errors."""

    def __init__(self, *, json_mode: bool = False, quiet: bool = False, verbose: bool = False,
                 stdout: TextIO | None = None, stderr: TextIO | None = None) -> None:
        self.json_mode, self.quiet, self.verbose = json_mode, quiet, verbose
        self.stdout, self.stderr = stdout or sys.stdout, stderr or sys.stderr
        handler = logging.StreamHandler(self.stderr)
        handler.setFormatter(logging.Formatter("docgen: %(message)s"))
        root = logging.getLogger("generator")
        root.handlers[:] = [handler]
        root.setLevel(logging.ERROR if quiet else logging.INFO if verbose else logging.WARNING)
        root.propagate = False
        # pypdf logs what it repairs in a damaged PDF ("EOF marker not found") as warnings; docgen says in its own words
        # what it could not read, so those lines would only be third-party noise on the user's terminal
        logging.getLogger("pypdf").setLevel(logging.ERROR)

    def line(self, text: str) -> None:
        if not (self.json_mode or self.quiet):
            print(text, file=self.stdout)

    def json(self, obj: Any) -> None:
        """One JSON value on one line: a stream of them is JSON Lines."""
        if self.json_mode:
            print(json.dumps(obj, ensure_ascii=False, default=str), file=self.stdout, flush=True)

    def error(self, text: str) -> None:
        print(text, file=self.stderr, flush=True)

    @property
    def shows_progress(self) -> bool:
        return not (self.quiet or self.json_mode)


class Progress:
    """``progress(done, total)``: a tqdm bar on a terminal; elsewhere a plain line every 10 % or 30 seconds."""

    def __init__(self, out: Output, unit: str, *, every: float = 30.0) -> None:
        self.out, self.unit, self.every = out, unit, every
        self.bar: Any = None  # a tqdm bar once drawn (tqdm has no annotations)
        self.started = time.monotonic()
        self.last_line = 0.0
        self.last_tenth = -1
        self.tty = out.stderr.isatty()

    def __call__(self, done: int, total: int) -> None:
        if not self.out.shows_progress:
            return
        if self.tty:
            self._bar(done, total)
            return
        now = time.monotonic()
        tenth = 10 * done // max(total, 1)
        if done == total or tenth > self.last_tenth or now - self.last_line >= self.every:
            self.last_tenth, self.last_line = tenth, now
            self.out.error(f"docgen: {self.unit} {done}/{total} {rate_text(done, total, now - self.started)}")

    def _bar(self, done: int, total: int) -> None:
        from tqdm import tqdm

        if self.bar is None:
            self.bar = tqdm(total=total, unit=f" {self.unit}", file=self.out.stderr, dynamic_ncols=True, leave=True)
        self.bar.total = total
        self.bar.update(done - self.bar.n)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def rate_text(done: int, total: int, elapsed: float) -> str:
    """``(25%, 12.5/s, about 6 s left)``: the rate so far and what it means for the rest.

    >>> rate_text(50, 200, 4.0)
    '(25%, 12.5/s, about 12 s left)'
    >>> rate_text(0, 10, 0.0)
    '(0%)'
    """
    percent = f"{100 * done // max(total, 1)}%"
    if done == 0 or elapsed <= 0:
        return f"({percent})"
    rate = done / elapsed
    left = (total - done) / rate
    return f"({percent}, {rate:.1f}/s, about {left:.0f} s left)"
