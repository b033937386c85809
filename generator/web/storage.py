"""Archived portal files under ``Site.storage``: named by ledger ids, written to a temp name then ``os.replace``d.

``packs/<record id>/`` holds the pack PDF as built and ``pack.zip`` (the PDF and its Word files); ``uploads/<id><suffix>``
the client list as uploaded; ``jobs/<id>/`` a list job's ``packs.zip`` and ``errors.csv``. Nothing here takes a path a
user typed: the names inside zips are the names docgen gave the files.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import shutil
import tempfile
import unicodedata
import zipfile
from collections.abc import Iterable, Iterator
from pathlib import Path

ZIP_TIME = (2000, 1, 1, 0, 0, 0)  # fixed, so that the same files give the same zip bytes
PACK_PDF = "pack.pdf"
PACK_ZIP = "pack.zip"
# what Windows cannot hold in a file name (plus both separators); and the device names it reserves, with any extension
_UNSAFE = re.compile(r'[<>:"/\\|?*]')
_RESERVED = re.compile(r"(con|prn|aux|nul|com[0-9¹²³]|lpt[0-9¹²³])(\..*)?", re.IGNORECASE)
MAX_MEMBER = 100  # characters of one path part: Windows' 260-character paths leave room for the extraction folder


def safe_part(name: str) -> str:
    r"""One path part of a zip member from any text (a client's name): extracts as itself on Windows, macOS and Linux.

    Separators, ``<>:"|?*``, control and format characters become ``_``; a run of dots becomes one (no ``..``); dots
    and spaces are trimmed at both ends (no hidden file, nothing Windows drops); reserved device names get a ``_`` in
    front; long names are cut.

    >>> safe_part("x/../../../../x"), safe_part('A<B>:"C"|?*'), safe_part("..\\..\\boot"), safe_part("CON.txt")
    ('x_._._._._x', 'A_B___C____', '_._boot', '_CON.txt')
    >>> safe_part("有限会社 伸和企画 上"), safe_part(" .. "), safe_part("a\x00b\u202ec"), safe_part("nul")
    ('有限会社 伸和企画 上', '_', 'a_b_c', '_nul')
    """
    text = unicodedata.normalize("NFC", name)
    text = "".join("_" if unicodedata.category(ch) in ("Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp") else ch for ch in text)
    text = re.sub(r"\.{2,}", ".", _UNSAFE.sub("_", text)).strip(" .")[:MAX_MEMBER].strip(" .")
    if not text:
        return "_"
    if _RESERVED.fullmatch(text):
        text = "_" + text
    return text


def member_names(names: Iterable[str]) -> list[str]:
    """:func:`safe_part` of each name, made unique as Windows and macOS compare names (case and NFKC folded).

    >>> member_names(["A社", "a社", "A社", "x/y"])
    ['A社', 'a社 (2)', 'A社 (3)', 'x_y']
    """
    seen: set[str] = set()
    out: list[str] = []
    for name in names:
        base = safe_part(name)
        candidate, n = base, 1
        while unicodedata.normalize("NFKC", candidate).casefold() in seen:
            n += 1
            candidate = f"{base} ({n})"
        seen.add(unicodedata.normalize("NFKC", candidate).casefold())
        out.append(candidate)
    return out


def check_member(name: str) -> str:
    """``name`` if every part of it is already a safe part (what :func:`write_zip` writes); ValueError otherwise."""
    parts = name.split("/")
    if not name or any(part != safe_part(part) for part in parts):
        raise ValueError(f"unsafe zip member name {name!r}")
    return name


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


@contextlib.contextmanager
def _zip_at(path: Path) -> Iterator[zipfile.ZipFile]:
    """A zip written to a temp file beside ``path`` and renamed over it when the block ends: whole or not at all."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".zip-", dir=path.parent)
    os.close(fd)
    try:
        with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as archive:
            yield archive
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_zip(path: Path, members: Iterable[tuple[str, Path]]) -> Path:
    """A zip of ``(name inside, file)`` pairs, with fixed timestamps; written whole or not at all."""
    with _zip_at(path) as archive:
        for name, source in members:
            with open(source, "rb") as f:
                _add(archive, name, f.read())
    return path


def _add(archive: zipfile.ZipFile, name: str, data: bytes) -> None:
    info = zipfile.ZipInfo(check_member(name), ZIP_TIME)  # a name that could climb out or not extract is a bug here
    # a PDF's streams are compressed already: deflating a 1 MB pack again saved 0.6 % and cost ~55 ms a pack; a Word file
    # is a zip of deflated parts: deflating a pack's three again saved 8 % of their 42 KB and cost ~0.6 ms of the server
    info.compress_type = zipfile.ZIP_STORED if name.lower().endswith((".pdf", ".docx")) else zipfile.ZIP_DEFLATED
    info.external_attr = 0o644 << 16
    archive.writestr(info, data)


def write_packs_zip(path: Path, packs: Iterable[tuple[str, Path]]) -> Path:
    """The all-packs zip of a list: per ``(folder, pack.zip)`` the pack's own files under ``folder/`` (no zip in a zip);
    written whole or not at all. ``folder`` comes from :func:`member_names`."""
    with _zip_at(path) as archive:
        for folder, pack_zip in packs:
            with zipfile.ZipFile(pack_zip) as pack:
                for member in pack.infolist():
                    _add(archive, f"{folder}/{safe_part(member.filename.rsplit('/', 1)[-1])}", pack.read(member))
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


def stage_pack(root: Path, pdf: Path, docx: Iterable[Path]) -> Path:
    """A built pack's archive folder (PDF + zip of PDF and Word files), made in storage's temp folder: the slow part of
    archiving, done before the ledger's transaction (generator.web.ledger), which then only renames it (:func:`install_pack`)."""
    staging = Path(tempfile.mkdtemp(prefix="pack-", dir=_tmp(root)))
    try:
        _link_or_copy(pdf, staging / PACK_PDF)
        write_zip(staging / PACK_ZIP, [(pdf.name, pdf), *((d.name, d) for d in docx)])
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return staging


def discard(staging: Path) -> None:
    """A staged archive folder that was never installed (its ledger entry failed); nothing when it was."""
    shutil.rmtree(staging, ignore_errors=True)


def install_pack(root: Path, staging: Path, record_id: int) -> str:
    """A staged archive folder moved to ``packs/<record_id>/`` in one rename; its key (the staging folder is gone
    either way)."""
    key = pack_key(record_id)
    final = root / key
    try:
        final.parent.mkdir(parents=True, exist_ok=True)
        if final.exists():  # left by a run that died before its ledger row was committed: no record points at it
            shutil.rmtree(final)
        os.replace(staging, final)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return key


def _link_or_copy(source: Path, target: Path) -> None:
    """``target`` as a hard link to ``source`` (a built pack's PDF, in the same storage, which nothing writes again: its
    job's folder is removed once the pack is archived), a copy where linking is refused (another file system)."""
    try:
        os.link(source, target)
    except OSError:
        shutil.copyfile(source, target)


def remove(root: Path, key: str) -> None:
    if key:
        shutil.rmtree(root / key, ignore_errors=True)


def staging_dir(root: Path, name: str) -> Path:
    """A fresh scratch folder for one job's build (emptied if a previous run of the job left one)."""
    folder = _tmp(root) / name
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    return folder
