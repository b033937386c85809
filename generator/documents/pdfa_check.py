"""The machine-checkable subset of PDF/A-2b and PDF/UA-1, checked offline with pikepdf (not a full validation: veraPDF)."""

from __future__ import annotations

import hashlib
import re
from collections import defaultdict
from pathlib import Path

import pikepdf
from pikepdf import Array, Dictionary, Name

# actions PDF/A-2 forbids (ISO 19005-2 6.5.1) or that reach outside the file: launching, scripts, other files, forms
FORBIDDEN_ACTIONS = {"/Launch", "/JavaScript", "/GoToR", "/GoToE", "/ImportData", "/SubmitForm", "/ResetForm", "/Sound",
                     "/Movie", "/Hide", "/Rendition", "/Trans", "/SetOCGState"}
_MCID = re.compile(rb"/MCID\s+(\d+)")
_XMP_MATCH = {"/Title": "dc:title", "/Author": "dc:creator", "/Subject": "dc:description", "/Keywords": "pdf:Keywords",
              "/Creator": "xmp:CreatorTool", "/Producer": "pdf:Producer"}


def check(path: Path) -> list[str]:
    """Every problem found in ``path``, one line each; empty when the checked subset holds."""
    try:
        pdf = pikepdf.open(path)
    except pikepdf.PasswordError:
        return ["encrypted (PDF/A forbids encryption)"]
    except pikepdf.PdfError as exc:
        return [f"not a readable PDF: {exc}"]
    with pdf:
        problems = []
        for part in (_identification, _output_intent, _fonts, _forbidden, _structure, _language_title):
            problems += part(pdf)
        return problems


def _identification(pdf: pikepdf.Pdf) -> list[str]:
    if pdf.is_encrypted:
        return ["encrypted (PDF/A forbids encryption)"]
    if "/Metadata" not in pdf.Root:
        return ["no XMP metadata stream (PDF/A identification)"]
    meta = pdf.open_metadata()
    problems = []
    if meta.get("pdfaid:part") != "2":
        problems.append(f"XMP pdfaid:part is {meta.get('pdfaid:part')!r}, not 2")
    if meta.get("pdfaid:conformance") != "B":
        problems.append(f"XMP pdfaid:conformance is {meta.get('pdfaid:conformance')!r}, not B")
    xml = pdf.Root.Metadata.read_bytes()
    described = re.search(rb'<pdfaSchema:namespaceURI(>| rdf:resource=")http://www.aiim.org/pdfua/ns/id/', xml)  # pyHanko writes the 2nd
    if b"http://www.aiim.org/pdfua/ns/id/" in xml and not described:
        problems.append("XMP uses pdfuaid without the PDF/A extension schema describing it")
    info = pdf.trailer.get("/Info", Dictionary())
    for key, prop in _XMP_MATCH.items():
        if key in info:
            value = meta.get(prop)
            value = value[0] if isinstance(value, list) and len(value) == 1 else value
            if str(info[key]) != (value or ""):
                problems.append(f"document info {key} does not match XMP {prop}")
    return problems


def _output_intent(pdf: pikepdf.Pdf) -> list[str]:
    intents = [i for i in pdf.Root.get("/OutputIntents", ()) if i.get("/S") == "/GTS_PDFA1"]
    if len(intents) != 1:
        return [f"{len(intents)} PDF/A OutputIntents (GTS_PDFA1); exactly one wanted"]
    profile = intents[0].get("/DestOutputProfile")
    if not isinstance(profile, pikepdf.Stream) or profile.read_bytes()[36:40] != b"acsp":
        return ["the OutputIntent has no ICC profile (DestOutputProfile)"]
    return []


def _fonts(pdf: pikepdf.Pdf) -> list[str]:
    problems, programs = [], defaultdict(set)
    for font in _all_fonts(pdf):
        name = str(font.get("/BaseFont", "?"))
        descendants = [font, *font.get("/DescendantFonts", ())]
        files = [d.FontDescriptor[k] for d in descendants if "/FontDescriptor" in d
                 for k in ("/FontFile", "/FontFile2", "/FontFile3") if k in d.FontDescriptor]
        if font.get("/Subtype") != "/Type3" and not files:
            problems.append(f"font {name} is not embedded")
        if re.match(r"^/[A-Z]{6}\+", name):  # one name, one font program: copies of the same bytes are the same font
            programs[name].add(tuple(hashlib.sha256(f.read_bytes()).hexdigest() for f in files))
    problems += [f"font subset name {name} is used by {len(found)} different font programs" for name, found in programs.items() if len(found) > 1]
    return problems


def _all_fonts(pdf: pikepdf.Pdf) -> list[pikepdf.Object]:
    found: list[pikepdf.Object] = []
    seen: set[tuple[int, int]] = set()

    def walk(res: pikepdf.Object | None) -> None:
        if res is None or (res.is_indirect and res.objgen in seen):
            return
        if res.is_indirect:
            seen.add(res.objgen)
        for font in res.get("/Font", {}).values():
            if font.objgen not in seen:
                seen.add(font.objgen)
                found.append(font)
                walk(font.get("/Resources"))  # a Type 3 font's glyphs
        for xobject in res.get("/XObject", {}).values():
            if xobject.get("/Subtype") == "/Form" and xobject.objgen not in seen:
                seen.add(xobject.objgen)
                walk(xobject.get("/Resources"))

    for page in pdf.pages:
        walk(page.obj.get("/Resources"))
        for annot in page.obj.get("/Annots", ()):
            for appearance in annot.get("/AP", {}).values():
                if isinstance(appearance, pikepdf.Stream):
                    walk(appearance.get("/Resources"))
    return found


def _forbidden(pdf: pikepdf.Pdf) -> list[str]:
    problems = []
    root = pdf.Root
    names = root.get("/Names", Dictionary())
    if "/JavaScript" in names:
        problems.append("document-level JavaScript (/Names /JavaScript)")
    if "/EmbeddedFiles" in names:
        problems.append("embedded files (/Names /EmbeddedFiles)")
    if "/AA" in root:
        problems.append("document additional actions (/AA)")
    for obj in pdf.objects:
        if isinstance(obj, Dictionary | pikepdf.Stream):
            kind = obj.get("/S") if obj.get("/Type") in (None, "/Action") and "/S" in obj and isinstance(obj.get("/S"), Name) else None
            if kind in FORBIDDEN_ACTIONS:
                problems.append(f"a {str(kind)[1:]} action (object {obj.objgen[0]})")
            if obj.get("/Type") == "/Filespec" or obj.get("/Subtype") in ("/FileAttachment", "/Movie", "/Sound", "/Screen"):
                problems.append(f"external or embedded content (object {obj.objgen[0]}: {obj.get('/Type') or obj.get('/Subtype')})")
            if isinstance(obj, pikepdf.Stream) and "/F" in obj.stream_dict:
                problems.append(f"a stream with its data in an external file (object {obj.objgen[0]})")
    return sorted(set(problems))


def _structure(pdf: pikepdf.Pdf) -> list[str]:
    marked: object = pdf.Root.get("/MarkInfo", Dictionary()).get("/Marked")  # pikepdf gives a PDF boolean as a Python bool
    if marked is not True:
        return ["not marked as tagged (/MarkInfo /Marked true)"]
    tree = pdf.Root.get("/StructTreeRoot")
    if tree is None:
        return ["no structure tree (/StructTreeRoot)"]
    nums = _number_tree(tree.get("/ParentTree"))
    reached: dict[tuple[int, int], set[int]] = defaultdict(set)  # page objgen -> MCIDs the tree's elements own
    _walk(tree, None, reached, set())
    problems = []
    for n, page in enumerate(pdf.pages, 1):
        used = {int(m) for m in _MCID.findall(_content(page))}
        if not used:
            continue
        key = page.obj.get("/StructParents")
        if key is None:
            problems.append(f"page {n}: marked content but no /StructParents")
            continue
        entry = nums.get(int(key))
        parents = set() if not isinstance(entry, Array) else {m for m, e in enumerate(entry) if isinstance(e, Dictionary)}
        if lost := used - parents:
            problems.append(f"page {n}: MCIDs {_few(lost)} have no parent in the ParentTree")
        if lost := used - reached[page.obj.objgen]:
            problems.append(f"page {n}: MCIDs {_few(lost)} are not reachable from the structure tree")
    return problems


def _few(numbers: set[int]) -> str:
    ordered = sorted(numbers)
    return ", ".join(map(str, ordered[:5])) + (f" … ({len(ordered)})" if len(ordered) > 5 else "")


def _content(page: pikepdf.Page) -> bytes:
    contents = page.obj.get("/Contents")
    streams = list(contents) if isinstance(contents, Array) else [contents] if contents is not None else []
    return b"\n".join(s.read_bytes() for s in streams)


def _walk(elem: pikepdf.Object, page: pikepdf.Object | None, reached: dict[tuple[int, int], set[int]], seen: set[tuple[int, int]]) -> None:
    if elem.objgen in seen and elem.objgen != (0, 0):
        return
    seen.add(elem.objgen)
    page = elem.get("/Pg", page)
    kids = elem.get("/K")
    for kid in (kids if isinstance(kids, Array) else [] if kids is None else [kids]):
        if isinstance(kid, int) and page is not None:
            reached[page.objgen].add(int(kid))
        elif isinstance(kid, Dictionary) and kid.get("/Type") == "/MCR":
            where = kid.get("/Pg", page)
            if where is not None and "/Stm" not in kid:
                reached[where.objgen].add(int(kid.MCID))
        elif isinstance(kid, Dictionary) and kid.get("/Type") != "/OBJR":
            _walk(kid, page, reached, seen)


def _number_tree(node: pikepdf.Object | None) -> dict[int, object]:
    out: dict[int, object] = {}
    if node is None:
        return out
    nums = node.get("/Nums", ())
    for i in range(0, len(nums) - 1, 2):
        out[int(nums[i])] = nums[i + 1]
    for kid in node.get("/Kids", ()):
        out |= _number_tree(kid)
    return out


def _language_title(pdf: pikepdf.Pdf) -> list[str]:
    problems = []
    if str(pdf.Root.get("/Lang", "")) != "ja-JP":
        problems.append(f"document language /Lang is {str(pdf.Root.get('/Lang', '')) or 'missing'}, not ja-JP")
    title = str(pdf.trailer.get("/Info", Dictionary()).get("/Title", ""))
    if not title:
        problems.append("no document title (/Title)")
    shown: object = pdf.Root.get("/ViewerPreferences", Dictionary()).get("/DisplayDocTitle")  # a Python bool, as above
    if shown is not True:
        problems.append("the title is not shown as the window title (/ViewerPreferences /DisplayDocTitle true)")
    return problems
