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
from typing import Any

from pypdf import PdfReader
from pypdf.generic import ArrayObject, DictionaryObject, IndirectObject

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
    """Return every font used by the pages of ``pdf`` (Form XObjects, patterns, appearances included)."""
    reader = PdfReader(pdf, strict=False)
    found: dict[tuple[str, str, bool], set[int]] = {}
    for number, page in enumerate(reader.pages, start=1):
        seen: set[Any] = set()
        for font in _page_fonts(page, seen):
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


def _page_fonts(page: DictionaryObject, seen: set[Any]) -> Iterator[DictionaryObject]:
    yield from _resource_fonts(page.get("/Resources"), seen)
    # Annotation appearance streams are drawn with the page, so their fonts count too.
    annots = _resolve(page.get("/Annots"))
    for annot in annots if isinstance(annots, ArrayObject) else ():
        for form in _appearance_forms(_resolve(annot)):
            yield from _xobject_fonts(form, seen)


def _appearance_forms(annot: Any) -> Iterator[Any]:
    appearance = _resolve(annot.get("/AP")) if isinstance(annot, dict) else None
    if not isinstance(appearance, dict):
        return
    for key in ("/N", "/R", "/D"):
        entry = _resolve(appearance.get(key))
        if _is_form(entry):
            yield entry
        elif isinstance(entry, dict):  # a dict of appearance state -> form
            yield from entry.values()


def _resource_fonts(resources: Any, seen: set[Any]) -> Iterator[DictionaryObject]:
    resources = _resolve(resources)
    if not isinstance(resources, dict) or _visited(resources, seen):
        return
    fonts = _resolve(resources.get("/Font"))
    for font in (fonts or {}).values() if isinstance(fonts, dict) else ():
        font = _resolve(font)
        if isinstance(font, dict):
            yield font
            if font.get("/Subtype") == "/Type3":  # glyph procedures may draw with other fonts
                yield from _resource_fonts(font.get("/Resources"), seen)
    for key in ("/XObject", "/Pattern"):
        group = _resolve(resources.get(key))
        for obj in (group or {}).values() if isinstance(group, dict) else ():
            yield from _xobject_fonts(obj, seen)


def _xobject_fonts(obj: Any, seen: set[Any]) -> Iterator[DictionaryObject]:
    obj = _resolve(obj)
    if isinstance(obj, dict) and not _visited(obj, seen) and "/Resources" in obj:
        yield from _resource_fonts(obj.get("/Resources"), seen)


def _describe(font: DictionaryObject) -> tuple[str, str, bool]:
    subtype = str(font.get("/Subtype", "/Unknown")).lstrip("/")
    base = str(font.get("/BaseFont") or font.get("/Name") or "(unnamed)").lstrip("/")
    if subtype == "Type3":
        return base, subtype, True  # its glyphs are content streams inside the PDF
    descriptor_owner = font
    if subtype == "Type0":
        descendants = _resolve(font.get("/DescendantFonts"))
        child = _resolve(descendants[0]) if isinstance(descendants, ArrayObject) and descendants else None
        if isinstance(child, dict):
            descriptor_owner = child
            subtype += "/" + str(child.get("/Subtype", "/Unknown")).lstrip("/")
    descriptor = _resolve(descriptor_owner.get("/FontDescriptor"))
    embedded = isinstance(descriptor, dict) and any(descriptor.get(k) is not None for k in _FONT_FILES)
    return base, subtype, embedded


def _is_form(obj: Any) -> bool:
    return isinstance(obj, dict) and obj.get("/Subtype") == "/Form"


def _visited(obj: DictionaryObject, seen: set[Any]) -> bool:
    """Record ``obj``; True if it was seen before (guards against reference cycles)."""
    # Direct objects have no reference (pypdf omits the attribute) and cannot form a cycle alone.
    ref = getattr(obj, "indirect_reference", None)
    key = (ref.idnum, ref.generation) if ref is not None else id(obj)
    if key in seen:
        return True
    seen.add(key)
    return False


def _resolve(obj: Any) -> Any:
    return obj.get_object() if isinstance(obj, IndirectObject) else obj


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
