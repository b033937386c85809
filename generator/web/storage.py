"""Archived portal files under ``Site.storage``: named by ledger ids, written to a temp name then ``os.replace``d.

``packs/<record id>/`` holds the pack PDF as built and ``pack.zip`` (the PDF and its Word files); ``uploads/<id><suffix>``
the client list as uploaded; ``jobs/<id>/`` a list job's ``packs.zip`` and ``errors.csv``. Nothing here takes a path a
user typed: the names inside zips are the names docgen gave the files.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
import zipfile
from collections.abc import Iterable
from pathlib import Path

ZIP_TIME = (2000, 1, 1, 0, 0, 0)  # fixed, so that the same files give the same zip bytes
PACK_PDF = "pack.pdf"
PACK_ZIP = "pack.zip"


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _tmp(root: Path) -> Path:
    folder = root / "tmp"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def write_zip(path: Path, members: Iterable[tuple[str, Path]]) -> Path:
    """A zip of ``(name inside, file)`` pairs, with fixed timestamps; written whole or not at all."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".zip-", dir=path.parent)
    os.close(fd)
    try:
        with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as archive:
            for name, source in members:
                info = zipfile.ZipInfo(name, ZIP_TIME)
                info.compress_type = zipfile.ZIP_DEFLATED
                info.external_attr = 0o644 << 16
                with open(source, "rb") as f:
                    archive.writestr(info, f.read())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def write_bytes(root: Path, key: str, data: bytes) -> Path:
    """``data`` stored at ``root/key`` atomically."""
    final = root / key
    final.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".part-", dir=final.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, final)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return final


def pack_key(record_id: int) -> str:
    return f"packs/{record_id}"


def archive_pack(root: Path, record_id: int, pdf: Path, docx: Iterable[Path]) -> str:
    """Copy a built pack into ``packs/<record_id>/`` (PDF + zip of PDF and Word files) in one rename; its key."""
    key = pack_key(record_id)
    final = root / key
    staging = Path(tempfile.mkdtemp(prefix=f"pack-{record_id}-", dir=_tmp(root)))
    try:
        shutil.copyfile(pdf, staging / PACK_PDF)
        write_zip(staging / PACK_ZIP, [(pdf.name, pdf), *((d.name, d) for d in docx)])
        final.parent.mkdir(parents=True, exist_ok=True)
        if final.exists():  # left by a run that died before its ledger row was committed: no record points at it
            shutil.rmtree(final)
        os.replace(staging, final)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return key


def remove(root: Path, key: str) -> None:
    if key:
        shutil.rmtree(root / key, ignore_errors=True)


def staging_dir(root: Path, name: str) -> Path:
    """A fresh scratch folder for one job's build (emptied if a previous run of the job left one)."""
    folder = _tmp(root) / name
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    return folder
