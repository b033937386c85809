"""The font gate: every font in a PDF embedded and on the allow-list."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pypdf import PdfReader
from pypdf.generic import ArrayObject, DictionaryObject, IndirectObject

from generator.errors import FontError

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
    problems = []
    for font in fonts:
        why = []
        if not font.embedded:
            why.append("not embedded")
        if font.name not in allowed:
            why.append("not on the allow-list")
        if why:
            pages = ", ".join(map(str, font.pages))
            problems.append(f"  {font.name} ({font.base_name}, {font.subtype}): {' and '.join(why)}; pages {pages}")
    if problems:
        raise FontError(f"{pdf}: font gate failed (allowed: {', '.join(sorted(allowed))}):\n" + "\n".join(problems))
    return fonts


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
