"""Expected values written out by their definitions, for tests that must not ask the code under test.

The seed brochure's text is in tests/seed.py; these are the rules the seed does not print.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

CONTENT = Path(__file__).resolve().parents[1] / "content" / "cyber_lite"


def content_hash(folder: Path = CONTENT) -> str:
    """The 管理番号 printed in every footer, by its definition: SHA-256 over 'file:sha256(bytes)' lines of every
    content file, sorted by name; the first 12 hex digits. Any byte changed in any content file changes it."""
    joined = "".join(f"{p.name}:{hashlib.sha256(p.read_bytes()).hexdigest()}\n" for p in sorted(folder.glob("*.yaml")))
    return hashlib.sha256(joined.encode()).hexdigest()[:12]
