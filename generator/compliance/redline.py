"""Redline: a .docx of changed wording as native Word tracked changes (w:ins / w:del), acceptable one by one."""

from __future__ import annotations

import datetime as dt
import io
from pathlib import Path

from docx import Document
from docx.document import Document as DocxDocument
from docx.oxml import OxmlElement
from docx.oxml.ns import qn
from docx.oxml.xmlchemy import BaseOxmlElement

from generator.compliance.diff import ContentDiff, markdown, report_stem, segments
from generator.documents.render import DocProperties, reproducible_docx, write_atomic
from generator.jpformat import format_yen

TEMPLATE = "redline.docx"  # under the site's templates folder: styles and page setup of the redline


_AFTER_TRACK_REVISIONS = {qn(f"w:{t}") for t in (
    "doNotTrackMoves", "doNotTrackFormatting", "documentProtection", "autoFormatOverride", "styleLockTheme", "styleLockQFSet",
    "defaultTabStop", "autoHyphenation", "characterSpacingControl", "compat", "rsids", "themeFontLang", "clrSchemeMapping",
    "shapeDefaults", "decimalSymbol", "listSeparator")} | {"{http://schemas.openxmlformats.org/officeDocument/2006/math}mathPr"}


class _Revisions:
    """Numbers tracked changes in document order, all by one author at one time."""

    def __init__(self, author: str, when: dt.datetime):
        self.author, self.date, self.next_id = author, when.strftime("%Y-%m-%dT%H:%M:%SZ"), 1

    def mark(self, kind: str) -> BaseOxmlElement:
        el = OxmlElement(f"w:{kind}")
        el.set(qn("w:id"), str(self.next_id))
        el.set(qn("w:author"), self.author)
        el.set(qn("w:date"), self.date)
        self.next_id += 1
        return el


def _run(text: str, deleted: bool = False) -> BaseOxmlElement:
    r = OxmlElement("w:r")
    t = OxmlElement("w:delText" if deleted else "w:t")
    t.set(qn("xml:space"), "preserve")
    t.text = text
    r.append(t)
    return r


def _tracked_paragraph(doc: DocxDocument, style: str, old: str | None, new: str | None, rev: _Revisions, whole: bool = False) -> None:
    """One paragraph: unchanged text as plain runs, removed text in w:del, added text in w:ins.

    ``whole`` replaces the text as one unit (amounts: 149,000円 → 150,000円, not 49 → 50).
    """
    p = doc.add_paragraph(style=style)._p
    ops = [op for op in (("-", old or ""), ("+", new or "")) if op[1]] if whole else segments(old or "", new or "")
    for op, text in ops:
        for i, line in enumerate(text.split("\n")):
            parts: list[BaseOxmlElement] = []
            if i:
                br = OxmlElement("w:r")
                br.append(OxmlElement("w:br"))
                parts.append(br)
            if line:
                parts.append(_run(line, deleted=op == "-"))
            for part in parts:
                if op == "=":
                    p.append(part)
                else:
                    if op == "-" and part.find(qn("w:br")) is not None:
                        continue  # a deleted line break is shown by the deleted text around it
                    wrapper = rev.mark("del" if op == "-" else "ins")
                    wrapper.append(part)
                    p.append(wrapper)


def write_redline(d: ContentDiff, out: Path, *, templates: Path, author: str = "docgen", when: dt.datetime | None = None) -> Path:
    """Write the redline of ``d`` to ``out`` (atomically); Word and LibreOffice show each change for review."""
    when = when or dt.datetime.now(dt.UTC).replace(microsecond=0)
    rev = _Revisions(author, when)
    doc = Document(str(Path(templates) / TEMPLATE))
    body = doc.element.body
    for child in list(body):
        if child.tag != qn("w:sectPr"):
            body.remove(child)
    doc.add_paragraph(f"{d.new.meta.name} 変更箇所（見え消し）", style="Document Title")
    doc.add_paragraph(
        f"{d.old_label}（第{d.old.meta.content_version}版・料率 {d.old.rates.rates_version}）→ "
        f"{d.new_label}（第{d.new.meta.content_version}版・料率 {d.new.rates.rates_version}）", style="Section Subtitle")
    if d.empty:
        doc.add_paragraph("文言・保険料の変更はありません。", style="Normal")
    for kind, heading in (("changed", "変更された条項"), ("added", "追加された条項"), ("removed", "削除された条項")):
        items = [c for c in d.clauses if c.kind == kind]
        if not items:
            continue
        doc.add_paragraph(f"{heading}（{len(items)}件）", style="heading 1")
        for c in items:
            label = f"{c.id}　{c.present.label}".rstrip()
            doc.add_paragraph(label, style="heading 2")
            doc.add_paragraph(f"{c.path}　使用文書：{'、'.join(c.used_by) or 'なし'}", style="Section Subtitle")
            _tracked_paragraph(doc, "Normal", c.old.text if c.old else None, c.new.text if c.new else None, rev)
    if d.cells:
        doc.add_paragraph(f"保険料の変更（{len(d.cells)}件）", style="heading 1")
        for cell in d.cells:
            doc.add_paragraph(cell.present.label, style="heading 2")
            _tracked_paragraph(doc, "Normal", format_yen(cell.old.premium) if cell.old else None,
                               format_yen(cell.new.premium) if cell.new else None, rev, whole=True)
    settings = doc.settings.element
    if settings.find(qn("w:trackRevisions")) is None:  # further edits by the reviewer are tracked too
        # CT_Settings is a sequence: Word rejects trackRevisions after defaultTabStop and the rest
        later = next((el for el in settings if el.tag in _AFTER_TRACK_REVISIONS), None)
        track = OxmlElement("w:trackRevisions")
        later.addprevious(track) if later is not None else settings.append(track)
    buf = io.BytesIO()
    doc.save(buf)
    props = DocProperties(title=f"{d.new.meta.name} redline {d.old_label} → {d.new_label}", author=author, date=when.date())
    return reproducible_docx(buf.getvalue(), out, props)


def write_report(d: ContentDiff, out: Path, *, templates: Path, author: str = "docgen") -> tuple[Path, Path]:
    """A diff's Markdown summary and its tracked-changes .docx redline, written into ``out``; both paths."""
    stem = report_stem(d)
    md = write_atomic(Path(out) / f"{stem}.md", markdown(d).encode("utf-8"))
    return md, write_redline(d, Path(out) / f"{stem}_redline.docx", templates=templates, author=author)
