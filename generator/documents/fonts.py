"""The font gate: every font in a PDF embedded and on the allow-list."""

from __future__ import annotations

import bisect
import functools
import re
import struct
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeGuard

import pikepdf

from generator.errors import FontError, SetupError

# PostScript names of what fonts-ipaexfont installs (fc-list : postscriptname).
ALLOWED_FONTS: frozenset[str] = frozenset({"IPAexGothic", "IPAexMincho"})

_SUBSET_PREFIX = re.compile(r"^[A-Z]{6}\+")
_FONT_FILES = ("/FontFile", "/FontFile2", "/FontFile3")


@dataclass(frozen=True)
class FontUse:
    """One font a PDF uses: its name without subset prefix, raw /BaseFont, type, embedding, pages."""

    name: str
    base_name: str
    subtype: str
    embedded: bool
    pages: tuple[int, ...]


def pdf_fonts(pdf: Path) -> list[FontUse]:
    """Return every font used by the pages of ``pdf`` (Form XObjects, patterns, appearances included).

    Read with qpdf (pikepdf), which reads what it walks: pypdf parses every object of a tagged layout PDF first.
    Inherited resources are looked up the page tree here (``_inherited``), so qpdf need not push them down to every
    page first (a fifth of a second per layout PDF).
    """
    found: dict[tuple[str, str, bool], set[int]] = {}
    with pikepdf.open(pdf, inherit_page_attributes=False) as opened:
        for number, page in enumerate(opened.pages, start=1):
            seen: set[Any] = set()
            for font in _page_fonts(page.obj, seen):
                found.setdefault(_describe(font), set()).add(number)
    return [
        FontUse(_SUBSET_PREFIX.sub("", base), base, subtype, embedded, tuple(sorted(pages)))
        for (base, subtype, embedded), pages in sorted(found.items())
    ]


def check_fonts(pdf: Path, allowed: frozenset[str] = ALLOWED_FONTS) -> list[FontUse]:
    """Return the fonts of ``pdf``; raise FontError if any is not embedded or not allowed."""
    fonts = pdf_fonts(pdf)
    gate(fonts, str(pdf), allowed)
    return fonts


def gate(fonts: list[FontUse], where: str, allowed: frozenset[str] = ALLOWED_FONTS, pages: range | None = None) -> None:
    """Raise FontError naming ``where`` if a font on ``pages`` (0-based page indices; all when None) is not embedded
    or not allowed; the pages it reports are counted from the first of ``pages``."""
    problems = []
    for font in fonts:
        on = [n - pages.start for n in font.pages if n - 1 in pages] if pages is not None else list(font.pages)
        if not on:
            continue
        why = []
        if not font.embedded:
            why.append("not embedded")
        if font.name not in allowed:
            why.append("not on the allow-list")
        if why:
            problems.append(f"  {font.name} ({font.base_name}, {font.subtype}): {' and '.join(why)}; pages {', '.join(map(str, on))}")
    if problems:
        raise FontError(f"{where}: font gate failed (allowed: {', '.join(sorted(allowed))}):\n" + "\n".join(problems))


def _page_fonts(page: pikepdf.Dictionary, seen: set[Any]) -> Iterator[pikepdf.Dictionary | pikepdf.Stream]:
    yield from _resource_fonts(_inherited(page, "/Resources"), seen)
    # Annotation appearance streams are drawn with the page, so their fonts count too.
    annots = page.get("/Annots")
    for annot in annots if isinstance(annots, pikepdf.Array) else ():
        for form in _appearance_forms(annot):
            yield from _xobject_fonts(form, seen)


def _inherited(page: pikepdf.Dictionary, key: str) -> Any:
    """A page attribute, from the page or the nearest page-tree node above it that has it."""
    node: pikepdf.Object | None = page
    hops = 0
    while _is_dict(node) and hops < 64:
        if key in node:
            return node.get(key)
        node, hops = node.get("/Parent"), hops + 1
    return None


def _appearance_forms(annot: Any) -> Iterator[Any]:
    appearance = annot.get("/AP") if _is_dict(annot) else None
    if not _is_dict(appearance):
        return
    for key in ("/N", "/R", "/D"):
        entry = appearance.get(key)
        if _is_form(entry):
            yield entry
        elif _is_dict(entry):  # a dict of appearance state -> form
            yield from entry.values()


def _resource_fonts(resources: Any, seen: set[Any]) -> Iterator[pikepdf.Dictionary | pikepdf.Stream]:
    if not _is_dict(resources) or _visited(resources, seen):
        return
    fonts = resources.get("/Font")
    for font in fonts.values() if _is_dict(fonts) else ():
        if _is_dict(font):
            yield font
            if font.get("/Subtype") == "/Type3":  # glyph procedures may draw with other fonts
                yield from _resource_fonts(font.get("/Resources"), seen)
    for key in ("/XObject", "/Pattern"):
        group = resources.get(key)
        for obj in group.values() if _is_dict(group) else ():
            yield from _xobject_fonts(obj, seen)


def _xobject_fonts(obj: Any, seen: set[Any]) -> Iterator[pikepdf.Dictionary | pikepdf.Stream]:
    if _is_dict(obj) and not _visited(obj, seen) and "/Resources" in obj:
        yield from _resource_fonts(obj.get("/Resources"), seen)


def _describe(font: pikepdf.Dictionary | pikepdf.Stream) -> tuple[str, str, bool]:
    subtype = str(font.get("/Subtype", "/Unknown")).lstrip("/")
    base = str(font.get("/BaseFont") or font.get("/Name") or "(unnamed)").lstrip("/")
    if subtype == "Type3":
        return base, subtype, True  # its glyphs are content streams inside the PDF
    descriptor_owner: pikepdf.Dictionary | pikepdf.Stream = font
    if subtype == "Type0":
        descendants = font.get("/DescendantFonts")
        child = descendants[0] if isinstance(descendants, pikepdf.Array) and len(descendants) else None
        if _is_dict(child):
            descriptor_owner = child
            subtype += "/" + str(child.get("/Subtype", "/Unknown")).lstrip("/")
    descriptor = descriptor_owner.get("/FontDescriptor")
    embedded = _is_dict(descriptor) and any(descriptor.get(k) is not None for k in _FONT_FILES)
    return base, subtype, embedded


def _is_dict(obj: object) -> TypeGuard[pikepdf.Dictionary | pikepdf.Stream]:
    return isinstance(obj, pikepdf.Dictionary | pikepdf.Stream)


def _is_form(obj: Any) -> bool:
    return _is_dict(obj) and obj.get("/Subtype") == "/Form"


def _visited(obj: Any, seen: set[Any]) -> bool:
    """Record ``obj``; True if it was seen before (guards against reference cycles)."""
    # A direct object (object number 0) cannot form a cycle alone; pikepdf wraps it anew on each access, so neither
    # its identity nor id() would say it was seen
    key = obj.objgen
    if key == (0, 0):
        return False
    if key in seen:
        return True
    seen.add(key)
    return False


# --- glyph coverage: refuse text the allowed fonts cannot print, before any document is made ---


def font_file(family: str) -> Path:
    """Path of the installed font file for ``family`` (via fontconfig), or SetupError."""
    try:
        done = subprocess.run(["fc-match", "-f", "%{file}\n%{family}", family], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise SetupError(f"fontconfig (fc-match) is not usable: {exc}; run bash .ci/setup") from exc
    path, _, families = done.stdout.partition("\n")
    if done.returncode or family not in families.split(",") or not Path(path).is_file():
        raise SetupError(f"font {family} is not installed (fc-match gave {families or 'nothing'}); run bash .ci/setup (fonts-ipaexfont)")
    return Path(path)


@functools.cache
def _coverage(family: str) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """The font's code point ranges as (starts, ends), sorted by start for a binary search."""
    ranges = sorted(_cmap_ranges(font_file(family).read_bytes()))
    return tuple(lo for lo, _ in ranges), tuple(hi for _, hi in ranges)


@functools.lru_cache(maxsize=65536)
def _prints(cp: int, family: str) -> bool:
    starts, ends = _coverage(family)
    # the last range starting at or before cp; cmap ranges do not overlap
    at = bisect.bisect_right(starts, cp) - 1
    return at >= 0 and cp <= ends[at]


def _cmap_ranges(data: bytes) -> list[tuple[int, int]]:
    """Code point ranges a TrueType/OpenType font maps, from its cmap (formats 4 and 12)."""
    num_tables = struct.unpack_from(">H", data, 4)[0]
    tables = {data[12 + 16 * i : 16 + 16 * i]: struct.unpack_from(">I", data, 20 + 16 * i)[0] for i in range(num_tables)}
    cmap = tables[b"cmap"]
    subtables = {}
    for i in range(struct.unpack_from(">H", data, cmap + 2)[0]):
        platform, encoding, offset = struct.unpack_from(">HHI", data, cmap + 4 + 8 * i)
        subtables[(platform, encoding)] = cmap + offset
    if (3, 10) in subtables:  # format 12: full Unicode
        at = subtables[(3, 10)]
        groups = struct.unpack_from(">I", data, at + 12)[0]
        return [struct.unpack_from(">II", data, at + 16 + 12 * g) for g in range(groups)]
    at = subtables[(3, 1)]  # format 4: BMP segments
    segs = struct.unpack_from(">H", data, at + 6)[0] // 2
    ends = struct.unpack_from(f">{segs}H", data, at + 14)
    starts = struct.unpack_from(f">{segs}H", data, at + 16 + 2 * segs)
    return [(s, e) for s, e in zip(starts, ends, strict=True) if s != 0xFFFF]


def missing_glyphs(text: str, families: frozenset[str] = ALLOWED_FONTS) -> list[str]:
    """Characters of ``text`` that some allowed font cannot print (LibreOffice would swap fonts for them).

    >>> missing_glyphs("有限会社 髙﨑商店 & <株> ①㈱～￥")
    []
    >>> missing_glyphs("伸和企画😀")
    ['😀']
    """
    missing = []
    for ch in dict.fromkeys(text):
        cp = ord(ch)
        if ch.isspace():
            continue
        if not all(_prints(cp, f) for f in sorted(families)):
            missing.append(ch)
    return missing
