"""Compiled templates: a .docx template opened, patched and compiled once; each render runs Jinja on its own parts only."""

from __future__ import annotations

import hashlib
import io
import re
import threading
import zipfile
from collections.abc import MutableMapping
from pathlib import Path
from typing import Any

import jinja2
from docx.opc.constants import CONTENT_TYPE as CT
from docx.opc.oxml import serialize_part_xml
from docx.oxml.parser import parse_xml
from docxtpl import DocxTemplate
from jinja2 import nodes
from lxml import etree

from generator.documents.budget import BudgetedSandbox

STRICT = dict(recover=False, resolve_entities=False, no_network=True, huge_tree=True)
# the core properties docxtpl renders as Jinja (docxtpl.DocxTemplate.render_properties)
_LISTING = re.compile("[\t\n\a\f]")
_RENDERED_PROPERTIES = ("author", "comments", "identifier", "language", "subject", "title")


class _CompilingEnv(BudgetedSandbox):
    """make_env()'s settings, keeping what it compiled.

    docxtpl compiles the whole document as a new Jinja template on every render (over half the render time);
    a compiled template depends only on its source and this environment, so rendering a template again reuses it.
    """

    LIMIT = 64

    def __init__(self) -> None:
        super().__init__(autoescape=True, undefined=jinja2.StrictUndefined)
        self._compiled: dict[str, jinja2.Template] = {}

    def from_string(self, source: str | nodes.Template, globals: MutableMapping[str, Any] | None = None,
                    template_class: type[jinja2.Template] | None = None) -> jinja2.Template:
        if globals is not None or template_class is not None or not isinstance(source, str):
            return super().from_string(source, globals, template_class)
        found = self._compiled.get(source)
        if found is None:
            found = super().from_string(source)  # a syntax error is raised here and never cached
            if len(self._compiled) >= self.LIMIT:
                self._compiled.pop(next(iter(self._compiled)))
            self._compiled[source] = found
        return found


RENDER_ENV = _CompilingEnv()
_PATCHED: dict[str, str] = {}


class Malformed(Exception):
    """Rendered XML that is not well-formed; carries the part name."""

    def __init__(self, part: str, error: Exception):
        self.part, self.error = part, error
        super().__init__(f"{part}: {error}")


class StrictTemplate(DocxTemplate):  # type: ignore[misc]  # docxtpl has no annotations: the class is Any to mypy
    def patch_xml(self, src_xml: str) -> str:
        # ~20 regex passes over the whole part, the same result for the same template part every time
        found = _PATCHED.get(src_xml)
        if found is None:
            found = super().patch_xml(src_xml)
            if len(_PATCHED) >= _CompilingEnv.LIMIT:
                _PATCHED.pop(next(iter(_PATCHED)))
            _PATCHED[src_xml] = found
        return found

    # docxtpl parses the rendered body in recover mode, which silently drops broken paragraphs;
    # check it strictly first so a defect surfaces instead of vanishing.
    def fix_tables(self, xml: str) -> Any:
        try:
            etree.fromstring(xml.encode("utf-8"), etree.XMLParser(**STRICT))
        except etree.XMLSyntaxError as exc:
            raise Malformed("word/document.xml", exc) from exc
        return super().fix_tables(xml)

    def resolve_listing(self, xml: str) -> str:
        # docxtpl turns tabs, newlines, \a and \f in rendered text into Word runs by three nested regex passes
        # over every paragraph; a part without any of them comes out as it went in
        return super().resolve_listing(xml) if _LISTING.search(xml) else xml

    def reset(self) -> None:
        """docxtpl's render_init without reopening the package: the state each render starts from."""
        self.pic_map: dict[str, Any] = {}
        self.current_rendering_part, self.docx_ids_index, self.is_saved = None, 1000, False


class Compiled:
    """A template as docxtpl sees it after opening: the patched Jinja source of each part it renders, every other part saved.

    docxtpl opens the package with python-docx on every render and saves every part again: two thirds of a render.
    Here that is done once; a render takes docxtpl's own steps (render_xml_part, fix_tables, fix_docpr_ids, headers and
    footers re-parsed, properties, footnotes once per section) on the parts it renders, so the bytes are the same
    (tests/documents/test_compiled.py compares them with docxtpl's own render and save).
    """

    def __init__(self, data: bytes) -> None:
        self.tpl = tpl = StrictTemplate(io.BytesIO(data))
        doc = tpl.get_docx()
        # made when missing, as by docxtpl; one without "{" holds no Jinja and renders as it is (core.xml is replaced anyway)
        self.properties = [value for value in (getattr(doc.core_properties, name) for name in _RENDERED_PROPERTIES)
                           if not isinstance(value, str) or "{" in value]
        self.body = tpl.patch_xml(tpl.get_xml())
        self.document = doc.part.partname.lstrip("/")
        self.headers = []  # (part name, encoding, patched source)
        for uri in (tpl.HEADER_URI, tpl.FOOTER_URI):
            for _, part in tpl.get_headers_footers(uri):
                xml = tpl.get_part_xml(part)
                self.headers.append((part.partname.lstrip("/"), tpl.get_headers_footers_encoding(xml), tpl.patch_xml(xml)))
        self.sections = len(doc.sections)
        self.footnotes = [(part.partname.lstrip("/"), part.blob.decode("utf-8")) for part in doc.part.package.parts
                          if part.content_type == CT.WML_FOOTNOTES]
        saved = io.BytesIO()
        doc.save(saved)
        with zipfile.ZipFile(saved) as z:
            self.parts = {info.filename: z.read(info) for info in z.infolist()}
        rendered = {self.document, *(h[0] for h in self.headers), *(f[0] for f in self.footnotes)}
        static = frozenset(self.parts) - rendered
        # parts a render serialises from an lxml tree are well-formed by construction; footnotes are rendered text
        self.checked = frozenset(self.parts) - {f[0] for f in self.footnotes}
        for name in static:  # once here, not on every render (generator.documents.render checks the rest)
            if name.endswith((".xml", ".rels")):
                try:
                    etree.fromstring(self.parts[name], etree.XMLParser(**STRICT))
                except etree.XMLSyntaxError as exc:
                    raise Malformed(name, exc) from exc
        # only the document element is kept (docxtpl swaps its body): the package's other parsed parts are megabytes
        self.root = doc.element
        tpl.docx = None
        self._lock = threading.Lock()  # the document element and docxtpl's counters are this template's own

    def render(self, context: dict[str, Any]) -> dict[str, bytes]:
        """Every part of the rendered package by name, as docxtpl's render and save would write them."""
        tpl, env = self.tpl, RENDER_ENV
        with self._lock:
            tpl.reset()
            xml = tpl.render_xml_part(self.body, None, context, env)  # the part: for images, which plain data has none of
            tree = tpl.fix_tables(xml)
            tpl.fix_docpr_ids(tree)
            root, blank = self.root, self.root.body
            root.replace(blank, tree)  # docxtpl's map_tree
            try:
                parts = dict(self.parts)
                parts[self.document] = serialize_part_xml(root)
            finally:  # the template's own body back: a big rendered one is not kept alive by this cache
                root.replace(tree, blank)
            for name, encoding, source in self.headers:
                parts[name] = serialize_part_xml(parse_xml(tpl.render_xml_part(source, None, context, env).encode(encoding)))
            for prop in self.properties:  # rendered as docxtpl does (an undefined name fails); core.xml is replaced anyway
                env.from_string(prop).render(context)
            for name, source in self.footnotes:
                for _ in range(self.sections):
                    source = tpl.render_xml_part(tpl.patch_xml(source), None, context, env)
                parts[name] = source.encode("utf-8")
        return parts


_COMPILED: dict[tuple[str, str], Compiled] = {}
_COMPILED_LOCK = threading.Lock()


def compiled(template: Path, data: bytes) -> Compiled:
    """The compiled template for ``data``, the bytes of ``template``, made on first use (a changed file is compiled again)."""
    key = (str(Path(template).resolve()), hashlib.sha256(data).hexdigest())
    found = _COMPILED.get(key)
    if found is None:
        found = Compiled(data)
        with _COMPILED_LOCK:
            if len(_COMPILED) >= 32:
                _COMPILED.pop(next(iter(_COMPILED)))
            _COMPILED[key] = found
    return found
