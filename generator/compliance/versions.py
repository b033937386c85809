"""Content versions of a product: the git history of its content folder plus the working tree, each with its hash.

The hash is ``Product.digest()`` computed from the files' bytes alone (no loading or validating every revision), so
the compliance pages can list many versions quickly and match them with approvals.
"""

from __future__ import annotations

import hashlib
import subprocess
from dataclasses import dataclass
from pathlib import Path

import yaml

from generator.content.model import CONTENT_FILES

WORKING = "working"


@dataclass(frozen=True)
class Version:
    """One content version: ``spec`` is a commit id, or ``working`` for the files on disk."""

    spec: str
    label: str
    date: str
    subject: str
    digest: str
    content_version: str


def digest_of(files: dict[str, bytes]) -> str:
    """``Product.digest()`` from file name → bytes (only content files count, as the loader reads them).

    >>> digest_of({"product.yaml": b"x"}) == digest_of({"product.yaml": b"x", "notes.txt": b"y"})
    True
    """
    hashes = {name: hashlib.sha256(data).hexdigest() for name, data in files.items() if name in CONTENT_FILES}
    joined = "".join(f"{name}:{digest}\n" for name, digest in sorted(hashes.items()))
    return hashlib.sha256(joined.encode()).hexdigest()[:12]


def _content_version(product_yaml: bytes | None) -> str:
    try:
        data = yaml.safe_load(product_yaml or b"") or {}
    except yaml.YAMLError:
        return "?"
    return str(data.get("content_version", "?")) if isinstance(data, dict) else "?"


def _git(repo: Path, *args: str, data: bytes | None = None) -> bytes:
    done = subprocess.run(["git", "-C", str(repo), *args], input=data, capture_output=True, timeout=60)
    return done.stdout if done.returncode == 0 else b""


def _blobs(repo: Path, rev: str, inside: str) -> dict[str, bytes]:
    """The content files of ``inside`` at ``rev``, read through one ``git cat-file --batch``."""
    names = list(CONTENT_FILES)
    out = _git(repo, "cat-file", "--batch", data="".join(f"{rev}:{inside}/{n}\n" for n in names).encode())
    found: dict[str, bytes] = {}
    at = 0
    for name in names:
        end = out.index(b"\n", at)
        header = out[at:end].split()
        at = end + 1
        if len(header) == 3 and header[1] == b"blob":
            size = int(header[2])
            found[name] = out[at : at + size]
            at += size + 1
    return found


def content_versions(content: Path, product: str, limit: int = 20) -> list[Version]:
    """The working tree first, then the last ``limit`` commits that changed ``content/<product>``, newest first."""
    folder = Path(content) / product
    files = {p.name: p.read_bytes() for p in folder.glob("*.yaml")}
    found = [Version(WORKING, "作業中（未コミット）", "", "未コミットの内容", digest_of(files), _content_version(files.get("product.yaml")))]
    top = _git(folder, "rev-parse", "--show-toplevel").decode().strip()
    if not top:
        return found
    repo = Path(top)
    inside = folder.resolve().relative_to(repo.resolve()).as_posix()
    log = _git(repo, "log", f"-n{limit}", "--format=%H%x09%cs%x09%s", "--", inside).decode("utf-8", "replace")
    for line in log.splitlines():
        rev, date, subject = (line.split("\t", 2) + ["", ""])[:3]
        blobs = _blobs(repo, rev, inside)
        if "product.yaml" not in blobs:
            continue
        found.append(Version(rev, rev[:10], date, subject, digest_of(blobs), _content_version(blobs.get("product.yaml"))))
    return found
