"""Render stage: docxtpl templates → .docx, sandboxed, escaped, strict and byte-reproducible; reading rendered .docx back."""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import io
import os
import re
import socket
import struct
import tempfile
import zipfile
import zlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jinja2
from docx import Document
from docx.opc import exceptions as docx_opc_exc
from docx.opc.constants import RELATIONSHIP_TYPE as RT
from jinja2.sandbox import SandboxedEnvironment
from lxml import etree

from generator.content.load import display_path
from generator.documents.budget import BudgetedSandbox, OverTime, package_problem, seconds, time_budget
from generator.documents.compiled import STRICT, Malformed, compiled
from generator.errors import TemplateError

# The earliest time a zip entry can carry; any fixed value makes saves byte-identical.
ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)

# XML 1.0 Char excludes C0 controls but tab/LF/CR, lone surrogates and U+FFFE/U+FFFF.
_ILLEGAL_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
_W = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
_NS = {"w": _W}
# In Jinja ``x.items`` finds dict.items before the key "items": such keys silently never print.
_SHADOWED = frozenset(name for name in dir(dict) if not name.startswith("_"))


@dataclass(frozen=True)
class DocProperties:
    """Core properties stamped into a rendered .docx; ``date`` is the content's effective date."""

    title: str = ""
    subject: str = ""
    author: str = ""
    keywords: str = ""
    date: dt.date = dt.date(1980, 1, 1)


def make_env() -> SandboxedEnvironment:
    """The only Jinja environment templates run in: sandboxed, size-budgeted, autoescaping, strict about undefined names."""
    return BudgetedSandbox(autoescape=True, undefined=jinja2.StrictUndefined)


def illegal_values(value: Any, path: str = "") -> Iterator[str]:
    """Describe every string in ``value`` holding an XML-illegal character, or a non-plain value.

    >>> list(illegal_values({"a": ["ok", "bad\\x01"]}))
    ['a[1]: contains U+0001, which XML (and so Word) does not allow; normalise input before rendering']
    """
    if isinstance(value, str):
        if m := _ILLEGAL_XML.search(value):
            yield f"{path or 'value'}: contains U+{ord(m.group()):04X}, which XML (and so Word) does not allow; normalise input before rendering"
    elif isinstance(value, Mapping):
        for key, item in value.items():
            if not isinstance(key, str):
                yield f"{path or 'context'}: key {key!r} is not a string"
                continue
            if key in _SHADOWED:
                yield f"{path or 'context'}: key {key!r} is shadowed by dict.{key} in templates; rename it"
            yield from illegal_values(item, f"{path}.{key}" if path else key)
    elif isinstance(value, (list, tuple)):
        for i, item in enumerate(value):
            yield from illegal_values(item, f"{path}[{i}]")
    elif value is not None and not isinstance(value, (bool, int, float)):
        # Only plain data reaches templates: objects bring methods the sandbox would have to vet,
        # and markup objects (RichText, Markup) would bypass autoescape.
        yield f"{path or 'value'}: {type(value).__name__} is not plain data (str, int, list, dict)"


def render_docx(template: Path, context: dict[str, Any], out: Path, *, properties: DocProperties | None = None) -> Path:
    """Render ``template`` with ``context`` into ``out`` atomically; the same inputs give the same bytes.

    Raises TemplateError naming the template for undefined variables, sandbox violations,
    Jinja errors, XML-illegal characters in the context and any malformed rendered part.
    """
    render_parts(template, context, out, properties=properties)
    return out


def render_parts(template: Path, context: dict[str, Any], out: Path, *, properties: DocProperties | None = None) -> dict[str, bytes]:
    """:func:`render_docx`, returning the package's parts by name in the order written (what reading ``out`` back gives):
    the batch lays out the documents it has just written without unzipping them again."""
    template, out = Path(template), Path(out)
    shown = display_path(template)
    problems = list(illegal_values(context))
    if problems:
        raise TemplateError(shown, "refused context: " + "; ".join(problems))
    try:
        data = template.read_bytes()  # read once: checked here, compiled (or found compiled) from the same bytes
    except OSError:
        raise TemplateError(shown, "template file not found") from None
    if too_big := package_problem(data):
        raise TemplateError(shown, too_big)
    try:
        with time_budget():  # a template is untrusted input: nested loops are stopped, not waited for
            template_parts = compiled(template, data)
            parts = template_parts.render(context)
    except OverTime:
        raise TemplateError(shown, f"rendering stopped after {seconds():g}s (the time budget; DOCGEN_TEMPLATE_TIMEOUT sets it): "
                                   "a loop runs too long") from None
    except jinja2.exceptions.SecurityError as exc:
        raise TemplateError(shown, f"sandbox refused: {exc}{_near(exc)}") from exc
    except jinja2.exceptions.UndefinedError as exc:
        raise TemplateError(shown, f"undefined variable: {exc}{_near(exc)}") from exc
    except jinja2.exceptions.TemplateSyntaxError as exc:
        raise TemplateError(shown, f"Jinja syntax error: {exc.message}{_near(exc)}") from exc
    except jinja2.exceptions.TemplateError as exc:
        raise TemplateError(shown, f"{type(exc).__name__}: {exc}{_near(exc)}") from exc
    except Malformed as exc:
        raise TemplateError(shown, f"rendered {exc.part} is not well-formed XML: {exc.error}") from exc
    except etree.XMLSyntaxError as exc:  # header/footer parts are re-parsed by python-docx
        raise TemplateError(shown, f"rendered header/footer is not well-formed XML: {exc}") from exc
    except (KeyError, zipfile.BadZipFile, docx_opc_exc.PackageNotFoundError) as exc:
        raise TemplateError(shown, f"cannot read the template as .docx: {exc}") from exc
    except Exception as exc:  # template code can raise anything Python can (TypeError on a bad loop, ...)
        raise TemplateError(shown, f"{type(exc).__name__} while rendering: {exc}{_near(exc)}") from exc
    data = _package(parts, properties or DocProperties(), shown, checked=template_parts.checked, same=template_parts.parts)
    write_atomic(out, data)
    return {name: parts[name] for name in _order(parts)}


def reproducible_docx(data: bytes, out: Path, properties: DocProperties | None = None) -> Path:
    """Write a .docx saved by python-docx to ``out`` atomically, with fixed zip stamps and core properties.

    For documents built in code rather than from a template; every XML part is still parsed strictly.
    """
    out = Path(out)
    write_atomic(out, _reproducible(data, properties or DocProperties(), display_path(out)))
    return out


def _near(exc: Exception) -> str:
    # docxtpl attaches the template text around a syntax error; show it to the designer.
    lines = [s.strip() for s in getattr(exc, "docx_context", ()) if s.strip()]
    return f" (near: {' / '.join(lines)[:200]})" if lines else ""


def _reproducible(data: bytes, props: DocProperties, shown: str) -> bytes:
    with zipfile.ZipFile(io.BytesIO(data)) as src:
        return _package({info.filename: src.read(info) for info in src.infolist()}, props, shown)


def _package(parts: dict[str, bytes], props: DocProperties, shown: str, checked: frozenset[str] = frozenset(),
             same: Mapping[str, bytes] | None = None) -> bytes:
    """The package with fixed timestamps, stable order and fixed core properties; every part not ``checked`` is checked.

    A part that is the very bytes object of ``same`` (the compiled template's part, the same in every render: styles,
    theme, fonts, settings) is deflated once and its deflated bytes reused (:func:`_zip`).
    """
    core = _core_part_name(parts.get("_rels/.rels", b""))
    if core:
        parts[core] = _core_xml(props)
    for name, blob in parts.items():
        if name.endswith((".xml", ".rels")) and name not in checked:
            try:
                etree.fromstring(blob, etree.XMLParser(**STRICT))
            except etree.XMLSyntaxError as exc:
                raise TemplateError(shown, f"rendered part {name} is not well-formed XML: {exc}") from exc
    if sum(map(len, parts.values())) >= _SMALL_ZIP:  # ZIP64 records, as zipfile writes them; docgen's packages are far smaller
        out = io.BytesIO()
        with zipfile.ZipFile(out, "w") as dst:
            for name in _order(parts):
                dst.writestr(_zip_info(name), parts[name], compresslevel=ZIP_LEVEL)
        return out.getvalue()
    return _zip(parts, same or {})


ZIP_LEVEL = 6
_SMALL_ZIP = 1 << 30  # well below where zipfile would write ZIP64 records


def _zip_info(name: str) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name, date_time=ZIP_EPOCH)
    info.compress_type = zipfile.ZIP_DEFLATED
    info.create_system = 3
    info.external_attr = 0o644 << 16
    return info


def _zip(parts: dict[str, bytes], same: Mapping[str, bytes]) -> bytes:
    """The bytes zipfile writes for ``parts`` (:func:`_zip_info`, level ZIP_LEVEL, to a seekable file: no data
    descriptors; tests/documents/test_compiled.py compares the two), the parts in ``same`` deflated once per process.

    Deflating the template's own parts again for every client was half of a batch document's packaging time.
    """
    body, central = bytearray(), bytearray()
    dosdate = (ZIP_EPOCH[0] - 1980) << 9 | ZIP_EPOCH[1] << 5 | ZIP_EPOCH[2]
    dostime = ZIP_EPOCH[3] << 11 | ZIP_EPOCH[4] << 5 | ZIP_EPOCH[5] // 2
    order = _order(parts)
    for name in order:
        data = parts[name]
        deflated, crc = _deflated_once(data) if same.get(name) is data else _deflate(data)
        try:
            encoded, flags = name.encode("ascii"), 0
        except UnicodeEncodeError:
            encoded, flags = name.encode("utf-8"), 0x800  # as zipfile marks a UTF-8 name
        at = len(body)
        # zip format version 2.0, Unix (3), deflate (8); as zipfile writes them (ZipInfo's defaults, _zip_info)
        body += struct.pack("<4s2B4HL2L2H", b"PK\x03\x04", 20, 0, flags, 8, dostime, dosdate, crc, len(deflated), len(data), len(encoded), 0)
        body += encoded + deflated
        central += struct.pack("<4s4B4HL2L5H2L", b"PK\x01\x02", 20, 3, 20, 0, flags, 8, dostime, dosdate, crc, len(deflated), len(data),
                               len(encoded), 0, 0, 0, 0, 0o644 << 16, at)
        central += encoded
    end = struct.pack("<4s4H2LH", b"PK\x05\x06", 0, 0, len(order), len(order), len(central), len(body), 0)
    return bytes(body + central + end)


def _deflate(data: bytes) -> tuple[bytes, int]:
    """Raw deflate at ZIP_LEVEL (as zipfile's ZIP_DEFLATED) and the CRC-32 of ``data``."""
    packer = zlib.compressobj(ZIP_LEVEL, zlib.DEFLATED, -15)
    return packer.compress(data) + packer.flush(), zlib.crc32(data)


_deflated_once = functools.lru_cache(maxsize=256)(_deflate)  # a template's own parts: the same bytes in every render


def _order(parts: dict[str, bytes]) -> list[str]:
    """Word expects [Content_Types].xml first; the rest in a fixed order so bytes never depend on dict history."""
    return sorted(parts, key=lambda n: (n != "[Content_Types].xml", n))


@functools.lru_cache(maxsize=64)
def _core_part_name(rels: bytes) -> str:  # the same template's package relationships on every render: parsed once
    if not rels:
        return ""
    root = etree.fromstring(rels, etree.XMLParser(**STRICT))
    for rel in root:
        if rel.get("Type") == RT.CORE_PROPERTIES:
            return str(rel.get("Target", "")).lstrip("/")
    return ""


def _core_xml(props: DocProperties) -> bytes:
    ns = {
        "cp": "http://schemas.openxmlformats.org/package/2006/metadata/core-properties",
        "dc": "http://purl.org/dc/elements/1.1/",
        "dcterms": "http://purl.org/dc/terms/",
        "xsi": "http://www.w3.org/2001/XMLSchema-instance",
    }
    def q(prefix: str, tag: str) -> str:
        return f"{{{ns[prefix]}}}{tag}"

    root = etree.Element(q("cp", "coreProperties"), nsmap=ns)
    for prefix, tag, text in (
        ("dc", "title", props.title),
        ("dc", "subject", props.subject),
        ("dc", "creator", props.author),
        ("cp", "keywords", props.keywords),
        ("cp", "lastModifiedBy", props.author),
        ("cp", "revision", "1"),
    ):
        etree.SubElement(root, q(prefix, tag)).text = text
    stamp = f"{props.date.isoformat()}T00:00:00Z"
    for tag in ("created", "modified"):
        el = etree.SubElement(root, q("dcterms", tag))
        el.set(q("xsi", "type"), "dcterms:W3CDTF")
        el.text = stamp
    data: bytes = etree.tostring(root, xml_declaration=True, encoding="UTF-8", standalone=True)
    return data


def write_atomic(out: Path, data: bytes) -> Path:
    """Write ``data`` through a temp file in the destination folder, then rename: readers never see half a file.

    The temp file is ``.<name>.<host>@<pid>.<random>.part``: one a killed writer left behind can be told by the next
    writer on its host (generator.batch.storage).
    """
    from generator.crash import output_error

    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=out.parent, prefix=f".{out.name}.{socket.gethostname()}@{os.getpid()}.", suffix=".part")
    except OSError as exc:  # read-only or unwritable folder, a file where the folder should be
        raise output_error(exc, out) from None
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.chmod(tmp, 0o644)  # mkstemp's 0600 would make published files private
        os.replace(tmp, out)
    except BaseException as exc:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        if isinstance(exc, OSError):  # full disk, or ``out`` is a folder: one line naming it, not a traceback
            raise output_error(exc, out) from None
        raise
    return out


# --- reading rendered documents -------------------------------------------------------------


def _para_text(p: etree._Element) -> str:
    out = []
    for el in p.iter(f"{{{_W}}}t", f"{{{_W}}}tab", f"{{{_W}}}br", f"{{{_W}}}cr"):
        out.append(el.text or "" if el.tag.endswith("}t") else ("\t" if el.tag.endswith("}tab") else "\n"))
    return "".join(out)


def docx_text(path: Path) -> list[str]:
    """Text of every paragraph: the body in document order (table cells included), then headers and footers."""
    doc = Document(str(path))
    paras = [_para_text(p) for p in doc.element.body.iter(f"{{{_W}}}p")]
    for rel in sorted(doc.part.rels.values(), key=lambda r: r.rId):
        if not rel.is_external and rel.reltype in (RT.HEADER, RT.FOOTER):
            paras += [_para_text(p) for p in etree.fromstring(rel.target_part.blob).iter(f"{{{_W}}}p")]
    return paras


def docx_tables(path: Path) -> list[list[list[str]]]:
    """Every top-level body table as rows of cell texts (paragraphs joined by newlines); merged cells repeat."""
    doc = Document(str(path))
    return [[["\n".join(_para_text(p._p) for p in cell.paragraphs) for cell in row.cells] for row in table.rows] for table in doc.tables]
