"""Where a distributed batch puts finished packs: a folder every worker sees, or an fsspec URL (s3://…, memory://).

A folder gets the local run's guarantees (a pack folder is swapped in with one rename). An object store has no
rename: a pack's files are written first and its ``pack.json`` last, and a pack counts as there only when its
``pack.json`` names the right inputs digest and every file it lists exists; a replaced pack loses its ``pack.json``
before any of its files is overwritten. Readers therefore never take a half-written pack for a finished one.
"""

from __future__ import annotations

import glob
import json
import posixpath
import socket
from pathlib import Path
from typing import Any

import fsspec
from fsspec.implementations.local import LocalFileSystem

from generator.crash import left_by_the_dead
from generator.documents.render import write_atomic

PACK_MANIFEST = "pack.json"  # the runner's MANIFEST: written last, read first


class Destination:
    """One DEST of ``docgen proposals --out``: plain paths and URLs alike, addressed by paths relative to its root.

    >>> d = Destination("memory://docgen-doctest/out")
    >>> d.write_bytes("a/b.json", b'{"x": 1}'); d.read_json("a/b.json"), d.read_json("a/none.json"), d.is_folder
    ({'x': 1}, None, False)
    >>> Destination("/srv/packs").is_folder, Destination("file:///srv/packs").root
    (True, '/srv/packs')
    """

    def __init__(self, url: str | Path):
        self.url = str(url)
        self.fs, self.root = fsspec.core.url_to_fs(self.url)
        self.is_folder = isinstance(self.fs, LocalFileSystem)
        if self.is_folder:
            self.root = str(Path(self.root).absolute())

    def __repr__(self) -> str:
        return f"Destination({self.url!r})"

    def path(self, rel: str) -> str:
        return posixpath.join(self.root, rel) if rel else self.root

    def show(self, rel: str = "") -> str:
        """How a user sees ``rel``: a plain path for a folder, the URL otherwise."""
        if self.is_folder:
            return str(Path(self.root) / rel) if rel else self.root
        url: str = self.fs.unstrip_protocol(self.path(rel))  # fsspec has no annotations
        return url

    def local(self, rel: str = "") -> Path:
        """The local path of ``rel`` (a folder destination only)."""
        assert self.is_folder, self.url
        return Path(self.root) / rel

    def read_bytes(self, rel: str) -> bytes | None:
        try:
            data: bytes = self.fs.cat_file(self.path(rel))
            return data
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
            return None

    def read_json(self, rel: str) -> dict[str, Any] | None:
        data = self.read_bytes(rel)
        try:
            found = json.loads(data) if data is not None else None
        except ValueError:
            return None  # a torn write from another tool: as good as absent
        return found if isinstance(found, dict) else None

    def write_bytes(self, rel: str, data: bytes) -> None:
        """Whole or not at all: temp file and rename in a folder, one object PUT in a store."""
        if self.is_folder:
            write_atomic(self.local(rel), data)
            remove_dead_temps(self.local(rel))
        else:
            self.fs.makedirs(posixpath.dirname(self.path(rel)), exist_ok=True)
            self.fs.pipe_file(self.path(rel), data)

    def exists(self, rel: str) -> bool:
        return bool(self.fs.exists(self.path(rel)))

    def modified(self, rel: str) -> float | None:
        """Seconds since the epoch of the last write of ``rel``, when the store tells."""
        try:
            info = self.fs.info(self.path(rel))
        except FileNotFoundError:
            return None
        found = info.get("mtime") or info.get("created") or info.get("LastModified")
        return found.timestamp() if hasattr(found, "timestamp") else (float(found) if found is not None else None)

    def pack_state(self, folder: str) -> dict[str, Any] | None:
        """The pack.json of a complete pack in ``folder`` (every file it lists is there), else None."""
        state = self.read_json(posixpath.join(folder, PACK_MANIFEST))
        if not state or not isinstance(state.get("files"), list):
            return None
        if not all(self.exists(posixpath.join(folder, f)) for f in state["files"]):
            return None
        return state

    def upload_pack(self, built: Path, folder: str) -> None:
        """Copy a pack folder built on this worker into a store: old pack.json gone first, new one last."""
        target = self.path(folder)
        marker = posixpath.join(target, PACK_MANIFEST)
        if self.fs.exists(marker):
            self.fs.rm_file(marker)
        self.fs.makedirs(target, exist_ok=True)
        for path in sorted(built.iterdir()):
            if path.name != PACK_MANIFEST:
                self.fs.put_file(str(path), posixpath.join(target, path.name))
        self.fs.put_file(str(built / PACK_MANIFEST), marker)


def remove_dead_temps(path: Path) -> None:
    """The temp files of ``path`` that a writer on this host left when it was killed mid-write (its process is gone).

    A worker killed while it wrote a chunk's record (generator.batch.manifest) left one; the next writer of the same
    record, the chunk's retry, removes it. A writer on another host, or one still alive, is left alone.
    """
    for temp in left_by_the_dead(path.parent, f".{glob.escape(path.name)}.*.part", f".{path.name}.{socket.gethostname()}@", "."):
        temp.unlink(missing_ok=True)
