"""docgen: insurance product documents from YAML content, docxtpl templates and rate tables."""

import functools
import hashlib
from pathlib import Path

__version__ = "0.1.0"


@functools.cache
def code_stamp() -> str:
    """A hash of docgen's own source files: what a cache entry was made by, so other code never reuses it.

    Cached brochures, layouts and lint verdicts are keyed by it as well as by the version: a change to the watermark or
    the layout code makes new entries without a version bump (same inputs, same bytes, whatever the cache holds).
    """
    digest = hashlib.sha256(__version__.encode())
    root = Path(__file__).parent
    for path in sorted(root.rglob("*.py")):
        digest.update(path.relative_to(root).as_posix().encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:16]
