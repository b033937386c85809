"""PDF/A-2b: finish a merged PDF the way PDF/A and PDF/UA want it (XMP, OutputIntent, document info, font subset names) and save it."""

from __future__ import annotations

import functools
import hashlib
import html
import io
import re
from importlib import resources
from typing import Final

import pikepdf
from pikepdf import Array, Dictionary, Name, Object, Pdf

from generator.errors import ConversionError

ICC_PROFILE = "sRGB IEC61966-2.1"
# zlib level of every stream qpdf deflates in a PDF docgen writes, object streams above all: level 1 saves a pack in a
# fifth less time than qpdf's default (6), the file ~1% bigger. A process-wide qpdf setting, made when this module is
# first imported (every module that writes a PDF imports it): every PDF of a process is deflated alike, whatever ran first.
FLATE_LEVEL: Final = 1
pikepdf.settings.set_flate_compression_level(FLATE_LEVEL)
_SUBSET = re.compile(r"^/?[A-Z]{6}\+")
# what PDF/A-2 and PDF/UA want of the document info keys that have XMP equivalents (ISO 19005-2 6.6.2.3)
_XMP_KEYS = ("/Title", "/Author", "/Subject", "/Keywords", "/Creator", "/Producer")
ObjGen = tuple[int, int]  # a PDF object's (number, generation)
Stamps = dict[str, dict[tuple[float, float], Object]]  # the watermark's forms and drawings in one file, by size and origin


def rename_subsets(pdf: Pdf) -> None:
    """Give every font subset a tag derived from its font program: LibreOffice names each file's subsets alike.

    Two different subsets never share a name in a merged file, and the same inputs keep the same names.
    """
    seen: set[tuple[int, int]] = set()
    for page in pdf.pages:
        _rename_in(page.obj.get("/Resources"), seen)


def _rename_in(res: Object | None, seen: set[ObjGen]) -> None:
    if res is None or res.objgen in seen and res.objgen != (0, 0):
        return
    seen.add(res.objgen)
    for font in res.get("/Font", {}).values():
        if font.objgen in seen:
            continue
        seen.add(font.objgen)
        fonts = [font, *font.get("/DescendantFonts", ())]
        program = b""
        for f in fonts:
            desc = f.get("/FontDescriptor")
            if desc is not None:
                for key in ("/FontFile2", "/FontFile3", "/FontFile"):
                    if key in desc:
                        program = desc[key].read_raw_bytes()
        tag = _tag(program + str(font.get("/BaseFont", "")).encode())
        for f in fonts:
            if _SUBSET.match(str(f.get("/BaseFont", ""))):
                f.BaseFont = Name("/" + tag + str(f.BaseFont)[7:])
            desc = f.get("/FontDescriptor")
            if desc is not None and _SUBSET.match(str(desc.get("/FontName", ""))):
                desc.FontName = Name("/" + tag + str(desc.FontName)[7:])
    for xobject in res.get("/XObject", {}).values():
        if xobject.get("/Subtype") == "/Form":
            _rename_in(xobject.get("/Resources"), seen)


def _tag(data: bytes) -> str:
    digest = hashlib.sha256(data).digest()
    return "".join(chr(ord("A") + b % 26) for b in digest[:6])


def _xmp(info: dict[str, str], document_id: str) -> bytes:
    def e(key: str) -> str:
        return html.escape(info.get(key, ""), quote=False)

    def alt(tag: str, key: str) -> str:
        return f"<{tag}><rdf:Alt><rdf:li xml:lang=\"x-default\">{e(key)}</rdf:li></rdf:Alt></{tag}>" if info.get(key) else ""

    props = [
        "<pdfaid:part>2</pdfaid:part><pdfaid:conformance>B</pdfaid:conformance><pdfuaid:part>1</pdfuaid:part>",
        "<dc:format>application/pdf</dc:format>", alt("dc:title", "/Title"), alt("dc:description", "/Subject"),
        f"<dc:creator><rdf:Seq><rdf:li>{e('/Author')}</rdf:li></rdf:Seq></dc:creator>" if info.get("/Author") else "",
        f"<pdf:Keywords>{e('/Keywords')}</pdf:Keywords>" if info.get("/Keywords") else "",
        f"<pdf:Producer>{e('/Producer')}</pdf:Producer>" if info.get("/Producer") else "",
        f"<xmp:CreatorTool>{e('/Creator')}</xmp:CreatorTool>" if info.get("/Creator") else "",
        f"<xmpMM:DocumentID>uuid:{document_id}</xmpMM:DocumentID>",
        # PDF/A-2 admits only the schemas it names or ones described here: pdfuaid is not among them (6.6.2.3.2)
        "<pdfaExtension:schemas><rdf:Bag><rdf:li rdf:parseType=\"Resource\">"
        "<pdfaSchema:schema>PDF/UA Universal Accessibility Schema</pdfaSchema:schema>"
        "<pdfaSchema:namespaceURI>http://www.aiim.org/pdfua/ns/id/</pdfaSchema:namespaceURI>"
        "<pdfaSchema:prefix>pdfuaid</pdfaSchema:prefix>"
        "<pdfaSchema:property><rdf:Seq><rdf:li rdf:parseType=\"Resource\">"
        "<pdfaProperty:name>part</pdfaProperty:name><pdfaProperty:valueType>Integer</pdfaProperty:valueType>"
        "<pdfaProperty:category>internal</pdfaProperty:category>"
        "<pdfaProperty:description>Indicates, which part of ISO 14289 standard is followed</pdfaProperty:description>"
        "</rdf:li></rdf:Seq></pdfaSchema:property></rdf:li></rdf:Bag></pdfaExtension:schemas>",
    ]
    ns = {"pdfaid": "http://www.aiim.org/pdfa/ns/id/", "pdfuaid": "http://www.aiim.org/pdfua/ns/id/",
          "dc": "http://purl.org/dc/elements/1.1/", "pdf": "http://ns.adobe.com/pdf/1.3/", "xmp": "http://ns.adobe.com/xap/1.0/",
          "xmpMM": "http://ns.adobe.com/xap/1.0/mm/", "pdfaExtension": "http://www.aiim.org/pdfa/ns/extension/",
          "pdfaSchema": "http://www.aiim.org/pdfa/ns/schema#", "pdfaProperty": "http://www.aiim.org/pdfa/ns/property#"}
    declared = " ".join(f'xmlns:{k}="{v}"' for k, v in ns.items())
    return ("<?xpacket begin=\"\ufeff\" id=\"W5M0MpCehiHzreSzNTczkc9d\"?>\n<x:xmpmeta xmlns:x=\"adobe:ns:meta/\">"
            "<rdf:RDF xmlns:rdf=\"http://www.w3.org/1999/02/22-rdf-syntax-ns#\">"
            f"<rdf:Description rdf:about=\"\" {declared}>{''.join(props)}</rdf:Description></rdf:RDF></x:xmpmeta>\n"
            "<?xpacket end=\"w\"?>").encode()


@functools.cache
def icc_profile() -> bytes:
    """The sRGB profile shipped with docgen (Debian's icc-profiles-free, zlib licence: generator/documents/icc/LICENSE)."""
    return resources.files("generator.documents").joinpath("icc/sRGB.icc").read_bytes()


def finish(pdf: Pdf, info: dict[str, str]) -> None:
    """Make ``pdf`` the PDF/A-2b + PDF/UA-1 file docgen writes: XMP, OutputIntent, /Lang, title shown, info, no actions.

    The XMP's DocumentID comes from the document info (the content and the client), never from the clock; the file's
    /ID comes from its bytes when saved (:func:`save`).
    """
    info = {k: v for k, v in info.items() if v or k not in _XMP_KEYS}
    root = pdf.Root
    for key in ("/OpenAction", "/AA", "/Names", "/AcroForm", "/Metadata", "/OutputIntents"):
        if key in root:
            del root[key]
    root.Lang = pikepdf.String("ja-JP")
    root.MarkInfo = Dictionary(Marked=True)
    root.ViewerPreferences = Dictionary(DisplayDocTitle=True)
    root.PageMode = Name.UseOutlines
    profile = pdf.make_stream(icc_profile())
    profile.N = 3
    root.OutputIntents = Array([Dictionary(Type=Name.OutputIntent, S=Name.GTS_PDFA1, OutputConditionIdentifier=ICC_PROFILE,
                                           Info=ICC_PROFILE, DestOutputProfile=profile)])
    digest = hashlib.sha256("\n".join(f"{k}={v}" for k, v in sorted(info.items())).encode()).hexdigest()
    document_id = f"{digest[:8]}-{digest[8:12]}-5{digest[13:16]}-a{digest[17:20]}-{digest[20:32]}"
    meta = pdf.make_stream(_xmp(info, document_id))
    meta.Type, meta.Subtype = Name.Metadata, Name.XML
    root.Metadata = meta
    # the producer is said in XMP only: pyHanko, signing an approved pack, appends itself to an info /Producer but
    # replaces the XMP one, and PDF/A wants the two equal; with none in the info it changes only the XMP's
    pdf.trailer.Info = pdf.make_indirect(Dictionary({k: pikepdf.String(v) for k, v in info.items() if k != "/Producer"}))


def save(pdf: Pdf) -> bytes:
    """The file's bytes: /ID from its content (same inputs, same bytes), PDF 1.7.

    Object streams: the structure tree is thousands of small dictionaries; packed, a pack is a quarter smaller and
    written in half the time (PDF/A-2 allows them; the XMP stream is a stream, never inside one). Streams are
    written as they are (no decode level): qpdf's default decodes every Flate stream only to find it needs no change.

    The /ID is the first half of the SHA-256 of the file as written with qpdf's fixed placeholder in its place, as
    qpdf's own deterministic ID is the MD5 of the file before it: the same idea, a third of the time (SHA-256 runs in
    the CPU's SHA instructions, qpdf's MD5 at half their speed over a megabyte per pack).
    """
    pikepdf.settings.set_flate_compression_level(FLATE_LEVEL)  # as set on import, should anything have changed it
    if "/ID" in pdf.trailer:
        del pdf.trailer.ID  # qpdf would keep its first half: the placeholder would not be there to replace
    buf = io.BytesIO()
    pdf.save(buf, static_id=True, force_version="1.7", compress_streams=True, stream_decode_level=pikepdf.StreamDecodeLevel.none,
             object_stream_mode=pikepdf.ObjectStreamMode.generate)
    with buf.getbuffer() as data:
        end = max(0, len(data) - 65536)  # the trailer is at the end, before the cross-reference stream's data
        at = bytes(data[end:]).rfind(_PLACEHOLDER_ID)
        if at < 0:
            raise ConversionError("the PDF writer wrote no placeholder /ID to replace")
        digest = hashlib.sha256(data).digest()[:16].hex().encode()
        data[end + at : end + at + len(_PLACEHOLDER_ID)] = b"[<" + digest + b"><" + digest + b">]"
    return buf.getvalue()


# the /ID qpdf writes with static_id (its test-suite ID), both halves, as it writes them in the trailer
_PLACEHOLDER_ID = b"[<31415926535897932384626433832795><31415926535897932384626433832795>]"
