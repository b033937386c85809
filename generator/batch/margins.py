"""Headers and footers of a layout document: each section's page-count fields printed as its own document's count."""

from __future__ import annotations

import copy
from collections.abc import Sequence

from lxml import etree

W = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
_RELS = "http://schemas.openxmlformats.org/package/2006/relationships"
_TYPES = "http://schemas.openxmlformats.org/package/2006/content-types"
_COUNT_FIELDS = frozenset({"NUMPAGES", "SECTIONPAGES"})
_STRICT = etree.XMLParser(recover=False, resolve_entities=False, no_network=True, huge_tree=True)


def _w(tag: str) -> str:
    return f"{{{W}}}{tag}"


def print_counts(parts: dict[str, bytes], totals: Sequence[int]) -> dict[int, dict[str, str]]:
    """Print each of ``totals`` in a set of the headers and footers of a package's ``parts`` (changed in place): the
    first total in its own, every other in copies of them; for each total, the relationship id of its copy by the
    original's (a section showing that total refers to the copies)."""
    rels_name = "word/_rels/document.xml.rels"
    rels = etree.fromstring(parts.get(rels_name, b"<Relationships/>"), _STRICT)
    margins = [(r, r.get("Target", "")) for r in rels if r.tag == f"{{{_RELS}}}Relationship" and r.get("Type", "").endswith(("/header", "/footer"))]
    margins = [(r, t.lstrip("/") if t.startswith("/") else f"word/{t}") for r, t in margins]
    margins = [(r, name) for r, name in margins if name in parts]
    originals = {name: parts[name] for _, name in margins}
    if not totals:
        return {}
    first, *others = dict.fromkeys(totals)
    for _, name in margins:
        parts[name] = _print_count(originals[name], first)
    renamed: dict[int, dict[str, str]] = {first: {}}
    if not others:
        return renamed
    types = etree.fromstring(parts["[Content_Types].xml"], _STRICT)
    kinds = {o.get("PartName"): o.get("ContentType") for o in types}
    for total in others:
        renamed[total] = {}
        for rel, name in margins:
            stem, _, ext = name.rpartition(".")
            copy_name = f"{stem}-{total}.{ext}"
            parts[copy_name] = _print_count(originals[name], total)
            if _rels_of(name) in parts:  # its pictures and links
                parts[_rels_of(copy_name)] = parts[_rels_of(name)]
            renamed[total][rel.get("Id", "")] = new_id = f"{rel.get('Id')}p{total}"
            etree.SubElement(rels, rel.tag, {"Id": new_id, "Type": rel.get("Type", ""), "Target": copy_name.removeprefix("word/")})
            if kinds.get(f"/{name}") is not None:
                etree.SubElement(types, f"{{{_TYPES}}}Override", {"PartName": f"/{copy_name}", "ContentType": kinds[f"/{name}"]})
    parts["[Content_Types].xml"] = etree.tostring(types, xml_declaration=True, encoding="UTF-8", standalone=True)
    parts[rels_name] = etree.tostring(rels, xml_declaration=True, encoding="UTF-8", standalone=True)
    return renamed


def _rels_of(name: str) -> str:
    """The relationships part of the part ``name``.

    >>> _rels_of("word/footer1.xml")
    'word/_rels/footer1.xml.rels'
    """
    folder, _, base = name.rpartition("/")
    return f"{folder}/_rels/{base}.rels"


def _print_count(xml: bytes, total: int) -> bytes:
    """The part with every page-count field replaced by the number ``total`` in the field result's formatting."""
    root = etree.fromstring(xml, _STRICT)
    for simple in list(root.iter(_w("fldSimple"))):
        if _field_name(simple.get(_w("instr"), "")) in _COUNT_FIELDS:
            run = simple.find(_w("r"))
            simple.addprevious(_number_run(run, total))
            simple.getparent().remove(simple)
    for paragraph in root.iter(_w("p")):
        runs = [r for r in paragraph if r.tag == _w("r")]
        i = 0
        while i < len(runs):
            if _fld_char(runs[i]) != "begin":
                i += 1
                continue
            depth, j, instr, result = 0, i, [], None
            while j < len(runs):
                kind = _fld_char(runs[j])
                depth += {"begin": 1, "end": -1}.get(kind or "", 0)
                if kind == "separate" and depth == 1:
                    result = j + 1
                elif depth == 1 and result is None:
                    instr += [t.text or "" for t in runs[j].iter(_w("instrText"))]
                if depth == 0:
                    break
                j += 1
            if _field_name("".join(instr)) in _COUNT_FIELDS and j < len(runs):
                shown = runs[result] if result is not None and result < j else runs[i]
                runs[i].addprevious(_number_run(shown, total))
                for run in runs[i : j + 1]:
                    paragraph.remove(run)
            i = j + 1
    data: bytes = etree.tostring(root, xml_declaration=True, encoding="UTF-8", standalone=True)
    return data


def _fld_char(run: etree._Element) -> str | None:
    found = run.find(_w("fldChar"))
    return found.get(_w("fldCharType")) if found is not None else None


def _field_name(instr: str) -> str:
    words = instr.split()
    return words[0].upper() if words else ""


def _number_run(model: etree._Element | None, total: int) -> etree._Element:
    run = etree.Element(_w("r"))
    rpr = model.find(_w("rPr")) if model is not None else None
    if rpr is not None:
        run.append(copy.deepcopy(rpr))
    etree.SubElement(run, _w("t")).text = str(total)
    return run
