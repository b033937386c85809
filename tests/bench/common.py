"""What every bench script shares: its work folder, kept on request (or on failure) and removed otherwise."""

from __future__ import annotations

import shutil
from pathlib import Path


def finish_work(work: Path, keep: bool) -> None:
    """Say where ``work`` is when it is kept (``--keep``, or a failed run worth looking at); remove it otherwise."""
    if keep:
        print(f"kept: {work}")
    else:
        shutil.rmtree(work, ignore_errors=True)
