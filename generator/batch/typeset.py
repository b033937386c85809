"""Typeset stage: many clients' documents rendered, laid out in a few LibreOffice runs, split into parts and font-gated."""

from __future__ import annotations

import contextlib
import hashlib
import itertools
import json
import os
import re
import shutil
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import docx
import docxtpl
import jinja2
import pikepdf
from lxml import etree
from pypdf import PdfReader

from generator import code_stamp
from generator.batch.layout import STATIC_MARK, Group, Piece, Source, compose, destination_pages, locate
from generator.documents.convert import convert_to_pdf, run_timeout
from generator.documents.fonts import check_fonts, gate, pdf_fonts
from generator.documents.render import DocProperties, render_parts, write_atomic
from generator.documents.soffice import find_soffice
from generator.documents.structure import Piece as PdfPiece
from generator.documents.structure import Source as PdfSource
from generator.documents.structure import merge
from generator.errors import ConversionError, ConversionTimeout, DocgenError, FontError, TemplateError

# Word bookmarks become named destinations, how each document is found again. Headings need no outline here (a
# personal part's bookmark is its title); the pages keep their tags, which the tagged merge (documents/structure.py) carries
# into each client's pack.
LAYOUT_OPTIONS = {"ExportBookmarksToPDFDestination": True, "ExportBookmarks": False}
# ``convert_to_pdf``'s signature and contract (files, out_dir, *, timeout, options) -> PDFs in input order; the default
# is that cold path, a generator.documents.warm.ConverterPool is the warm one the portal passes
Converter = Callable[..., list[Path]]


@dataclass(frozen=True)
class Doc:
    """One document of a client's pack to typeset: its template, context and Word properties."""

    key: str
    title: str
    file_name: str  # the Word file's name in the pack, for messages
    template: Path
    context: dict[str, Any]
    props: DocProperties


@dataclass(frozen=True)
class Job:
    """One client's documents; ``index`` tells the caller whose result comes back."""

    index: int
    docs: tuple[Doc, ...]


@dataclass(frozen=True)
class Pages:
    """Pages ``pages`` (0-based) of ``pdf``; ``shared``: the same pages in every pack (a static tail)."""

    pdf: Path
    pages: range
    shared: bool = False


@dataclass
class Typeset:
    """A client's outcome: per document its Word file and its pages in order, or the error and its stage."""

    index: int
    docx: list[Path] = field(default_factory=list)
    parts: list[list[Pages]] = field(default_factory=list)
    error: DocgenError | None = None
    stage: str = "pack"
    merged: Path | None = None  # the folder its pack was merged into (generator.batch.runner.typeset_and_merge)
    pages: int = 0


@dataclass(frozen=True)
class Static:
    """The client-independent tail of a document, laid out once: its PDF, and the pages before and in all."""

    pdf: Path
    personal: int
    total: int


@dataclass(frozen=True)
class Layout:
    """What one client's documents taught about this content: each document's usual page count, each static tail."""

    pages: dict[str, int] = field(default_factory=dict)
    statics: dict[str, Static] = field(default_factory=dict)
    hung: bool = False  # LibreOffice timed out on the made-up client's documents: that was a document's first timeout
    folder: str = field(default="", compare=False)  # its entry in the cache, by name (:func:`learn_layout`)


@dataclass
class _Entry:
    job: int
    doc: Doc
    path: Path
    expected: int = 0
    static: Static | None = None
    pages: list[Pages] = field(default_factory=list)
    error: DocgenError | None = None


# A document costs at most two LibreOffice timeouts: the layout run it hung in, and the run of documents on their own,
# which converts in order and so shows which one it hung on. After this many timeouts in a row with nothing converted
# in between, LibreOffice itself is stuck: what is left fails at once instead of one timeout each.
STUCK_AFTER = 2


def typeset(jobs: Sequence[Job], work: Path, layout: Layout, timeout: float | None, converter: Converter | None = None) -> list[Typeset]:
    """Typeset every job in ``work``: a client's failure is its own, the others' documents still come back.

    ``converter`` converts .docx to PDF like :func:`convert_to_pdf` (the default), e.g. a warm ConverterPool.
    ``timeout``: seconds per LibreOffice run, or None for a default sized to the run's documents (convert.sized_timeout).
    """
    work.mkdir(parents=True, exist_ok=True)
    out = {job.index: Typeset(job.index) for job in jobs}
    entries: list[_Entry] = []
    written: dict[Path, dict[str, bytes]] = {}  # each document's parts as rendered: laid out without reading it back
    for job in jobs:
        try:
            paths = [work / f"{job.index}-{d.key}.docx" for d in job.docs]
            for d, path in zip(job.docs, paths, strict=True):
                written[path] = render_parts(d.template, d.context, path, properties=d.props)
        except TemplateError as exc:
            out[job.index].error, out[job.index].stage = exc, "render"
            continue
        out[job.index].docx = paths
        entries += [_Entry(job.index, d, p) for d, p in zip(job.docs, paths, strict=True)]
    names = itertools.count()
    groups: list[Group[_Entry]] = []
    alone: list[_Entry] = []
    for entry in entries:
        source = Source.of(entry.path, written.pop(entry.path))
        if layout.hung or not source.combinable():  # after a hang on the same templates, no run of everything at once
            alone.append(entry)
            continue
        split = source.split_static()
        entry.static = layout.statics.get(source.fingerprint(split[1])) if split else None
        blocks, total = (split[0], entry.static.total) if entry.static and split else (source.blocks, layout.pages.get(entry.doc.key, 1))
        entry.expected = entry.static.personal if entry.static else total
        group = next((g for g in groups if g.frame.family == source.family and g.admits(source, total)), None)
        if group is None:
            group = Group[_Entry].starting(source, total)
            groups.append(group)
        group.members.append((entry, Piece(f"DocgenPiece{next(names)}", blocks, source.sect, total)))
    counter = itertools.count()
    clean: dict[Path, bool] = {}
    for entry, found in _lay_out(groups, work, timeout, counter, alone, converter):
        # a wrong page count, or a font the gate refuses somewhere in the run (LibreOffice shares one font list
        # between all pages, so whose page uses it cannot be told): that document is laid out on its own
        if found.pdf not in clean:
            clean[found.pdf] = _gate_passes(found.pdf)
        if len(found.pages) != entry.expected or not clean[found.pdf]:
            entry.static = None
            alone.append(entry)
            continue
        entry.pages = [found]
        if entry.static:
            entry.pages.append(Pages(entry.static.pdf, range(entry.static.total - entry.static.personal), shared=True))
    # a hang while learning the layout was the first of two timeouts in a row (generator.batch.typeset.STUCK_AFTER)
    _convert_alone(alone, work / f"alone-{next(counter)}", timeout, converter, stuck=int(layout.hung))
    for entry in entries:
        result = out[entry.job]
        if entry.error and not result.error:
            result.error = entry.error
    for result in out.values():
        result.parts = [] if result.error else [e.pages for e in entries if e.job == result.index]
    return [out[job.index] for job in jobs]


def _lay_out(groups: list[Group[_Entry]], work: Path, timeout: float | None, counter: itertools.count[int], alone: list[_Entry],
             converter: Converter | None = None) -> list[tuple[_Entry, Pages]]:
    """Convert the groups in one LibreOffice run; on failure narrow it down, down to documents laid out on their own."""
    if not groups:
        return []
    docs = [compose(g.frame, [p for _, p in g.members], work / f"layout-{next(counter)}.docx", g.others) for g in groups]
    try:
        pdfs = _convert(docs, work / "pdf", timeout, LAYOUT_OPTIONS, converter, documents=sum(len(g.members) for g in groups))
        found = []
        for group, pdf in zip(groups, pdfs, strict=True):
            ranges = locate(pdf, [p.name for _, p in group.members])
            found += [(entry, Pages(pdf, ranges[piece.name])) for entry, piece in group.members]
        return found
    except ConversionTimeout:
        # halving would cost one more timeout per level: the run of documents on their own finds the one that hangs
        alone += [entry for group in groups for entry, _ in group.members]
        return []
    except ConversionError:
        pass
    # halve every group (or, down to one document each, the list of groups) and try each half in one run
    if all(len(g.members) == 1 for g in groups):
        if len(groups) == 1:
            alone.append(groups[0].members[0][0])
            return []
        halves = [groups[: len(groups) // 2], groups[len(groups) // 2 :]]
    else:
        halves = [[], []]
        for g in groups:
            cut = (len(g.members) + 1) // 2
            halves[0].append(Group(g.frame, g.members[:cut], g.others))
            if g.members[cut:]:
                halves[1].append(Group(g.frame, g.members[cut:], g.others))
    return [hit for half in halves for hit in _lay_out(half, work, timeout, counter, alone, converter)]


def _convert_alone(entries: list[_Entry], out: Path, timeout: float | None, converter: Converter | None = None, stuck: int = 0) -> None:
    """Each .docx as it is (its own page count fields); one that fails even alone is its client's error."""
    if not entries:
        return
    pdfs = _convert_in_order(entries, out, timeout, converter, stuck)
    for entry in entries:
        pdf = pdfs.get(id(entry))
        if pdf is None:
            continue
        entry.pages = [Pages(pdf, range(len(PdfReader(pdf).pages)))]
        try:
            gate(pdf_fonts(pdf), f"{entry.doc.title} ({entry.doc.file_name})")
        except FontError as exc:
            entry.error = exc


def _convert_in_order(entries: list[_Entry], out: Path, timeout: float | None, converter: Converter | None, stuck: int = 0) -> dict[int, Path]:
    """PDFs by id(entry), in one LibreOffice run while it works; a failing document is its entry's error.

    On a hang, what was converted before it is kept, the document it hung on fails, and the rest go on in a new run.
    A converter that cannot say how far it got (``converted`` is None), or a crash, means one run per document.
    """
    pdfs: dict[int, Path] = {}
    todo, one_by_one = list(entries), False
    while todo:
        if stuck >= STUCK_AFTER:  # LibreOffice hangs on everything: fail the rest now
            for entry in todo:
                entry.error = ConversionError(f"{entry.doc.title} ({entry.doc.file_name}): not converted: LibreOffice timed out "
                                              f"{STUCK_AFTER} times in a row on the documents before it and seems stuck")
            return pdfs
        run = todo[:1] if one_by_one else todo
        try:
            pdfs.update(zip(map(id, run), _convert([e.path for e in run], out, timeout, None, converter), strict=True))
            todo, stuck = todo[len(run) :], 0
            continue
        except ConversionError as exc:
            got = getattr(exc, "converted", None) if isinstance(exc, ConversionTimeout) else None
            if got is None and len(run) > 1:  # who is to blame cannot be told: each document on its own from here
                one_by_one = True
                stuck += isinstance(exc, ConversionTimeout)
                continue
            got = list(got or [])
            pdfs.update(zip(map(id, run), got, strict=False))  # got: the prefix converted before the hang
            if len(got) >= len(run):  # it hung on its way out, after the last PDF: nothing is missing
                todo, stuck = todo[len(run) :], 0
                continue
            culprit = run[len(got)]
            culprit.error = ConversionError(f"{culprit.doc.title} ({culprit.doc.file_name}): LibreOffice could not convert it: {_why(exc, culprit)}")
            stuck = 0 if got or not isinstance(exc, ConversionTimeout) else stuck + 1
            # the client has failed: its other documents are not worth another possible hang
            todo = [e for e in todo[len(got) + 1 :] if e.job != culprit.job]
    return pdfs


def _convert(files: list[Path], out: Path, timeout: float | None, options: dict[str, Any] | None = None, converter: Converter | None = None,
             *, documents: int | None = None) -> list[Path]:
    """A LibreOffice that crashed or wrote no PDF is started afresh once for the same files; one that hung is not
    (the same input would hang again: a timeout is the costly failure, so it is never repeated).

    Without a ``timeout`` the run gets one sized to its ``documents`` (client documents; default: one per file).
    """
    run = converter or convert_to_pdf
    seconds = run_timeout(timeout, len(files) if documents is None else documents)
    try:
        return run(files, out, timeout=seconds, options=options)
    except ConversionTimeout:
        raise
    except ConversionError:
        return run(files, out, timeout=seconds, options=options)


def _gate_passes(pdf: Path) -> bool:
    try:
        gate(pdf_fonts(pdf), pdf.name)
    except FontError:
        return False
    return True


def _why(exc: ConversionError, entry: _Entry) -> str:
    """The first line without the command line, plus LibreOffice's own last words (the reason it gave, if any).

    >>> e = _Entry(0, Doc("quote", "お見積書", "02.docx", Path("t.docx"), {}, None), Path("/w/0-quote.docx"))
    >>> _why(ConversionError("/w/0-quote.docx: soffice wrote no PDF (expected 0-quote.pdf): /usr/bin/soffice -env:UserInstallation=file:///t -x\\n"
    ...                      "soffice output (last lines):\\nconvert /w/0-quote.docx\\nError: source file could not be loaded"), e)
    '02.docx: soffice wrote no PDF (expected 0-quote.pdf); LibreOffice said: Error: source file could not be loaded'
    """
    lines = str(exc).splitlines()
    first = re.sub(r": \S+ -env:UserInstallation=.*$", "", lines[0])  # the command line, not the reason before it
    said = [line.strip() for line in lines[1:] if line.strip() and not line.startswith("soffice output")]
    text = first + (f"; LibreOffice said: {said[-1]}" if said else "")
    return text.replace(str(entry.path.resolve()), entry.doc.file_name).replace(str(entry.path), entry.doc.file_name)


# --- once per content version: page counts and static tails -------------------------------------------


# learnt layouts of this process: a service building one pack per call would otherwise render the made-up client's
# documents again each time just to find the disk cache's key (a quarter of a warm pack's time)
_LEARNT: dict[str, Layout] = {}


def learn_layout(job: Job, cache_root: Path, timeout: float | None, converter: Converter | None = None) -> Layout:
    """Page counts and static tails of this content's documents, from one client's documents, cached on disk.

    A failure here only costs speed: without a layout every document is checked and, if need be, laid out alone.
    """
    memo = hashlib.sha256(json.dumps([str(Path(cache_root).resolve()), code_stamp(), _soffice_stamp(), _RENDERERS] + [
        [d.key, hashlib.sha256(d.template.read_bytes()).hexdigest(), d.context, d.props] for d in job.docs
    ], sort_keys=True, default=repr, ensure_ascii=False).encode()).hexdigest()
    found = _LEARNT.get(memo)
    if found is not None and all(s.pdf.is_file() for s in found.statics.values()):
        return found
    # another process learnt it from the same inputs: its entry is found without rendering the documents again (a
    # tenth of a second of a list run's planning, when the other core waits for the first batch)
    layout = _recalled(Path(cache_root), memo) or _learn_layout(job, cache_root, timeout, converter)
    if layout.pages:  # a failed run is tried again next time
        _LEARNT[memo] = layout
        _note(Path(cache_root), memo, layout)
    return layout


# what else makes a layout job's .docx bytes (the entry's key): the same inputs, rendered by other versions, may differ
_RENDERERS = [docxtpl.__version__, docx.__version__, jinja2.__version__, etree.__version__]


def _recalled(cache_root: Path, memo: str) -> Layout | None:
    try:
        name = (cache_root / "layout-memo" / memo).read_text(encoding="utf-8").strip()
        return _load(cache_root / name) if re.fullmatch(r"layout-[0-9a-f]{16}", name) else None
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _note(cache_root: Path, memo: str, layout: Layout) -> None:
    if not layout.folder:
        return
    with contextlib.suppress(OSError, DocgenError):  # only a later run's speed depends on it
        write_atomic(cache_root / "layout-memo" / memo, layout.folder.encode())


def _learn_layout(job: Job, cache_root: Path, timeout: float | None, converter: Converter | None) -> Layout:
    with tempfile.TemporaryDirectory(prefix="docgen-learn-") as tmp:
        work = Path(tmp)
        try:
            paths = [work / f"{d.key}.docx" for d in job.docs]
            sources = [Source.of(p, render_parts(d.template, d.context, p, properties=d.props)) for d, p in zip(job.docs, paths, strict=True)]
        except TemplateError:
            return Layout()
        splits = [s.split_static() if s.combinable() else None for s in sources]
        prints = [s.fingerprint(split[1]) if split else "" for s, split in zip(sources, splits, strict=True)]
        parts = [(d.key, s.shell, f) for d, s, f in zip(job.docs, sources, prints, strict=True)]
        # the static tails' bytes depend on every glyph of the documents they are cut from: those documents' bytes
        # are part of the key, so an entry is one function of its key (runner.layout_job makes them from content alone)
        learnt = [hashlib.sha256(p.read_bytes()).hexdigest() for p in paths]
        key = hashlib.sha256(json.dumps([code_stamp(), _soffice_stamp(), LAYOUT_OPTIONS, parts, learnt]).encode()).hexdigest()[:16]
        folder = cache_root / f"layout-{key}"
        try:
            return _load(folder)
        except (OSError, ValueError, KeyError, TypeError):
            pass
        try:
            pdfs = _convert(paths, work / "pdf", timeout, LAYOUT_OPTIONS, converter)
        except ConversionTimeout:  # not cached: the next run tries again
            return Layout(hung=True)
        except ConversionError:
            return Layout()
        folder.parent.mkdir(parents=True, exist_ok=True)
        new = Path(tempfile.mkdtemp(prefix=".layout-", dir=folder.parent))  # beside its final name: renamed in at once
        new.chmod(0o755)
        try:
            _save(new, job, splits, prints, pdfs)
            os.replace(new, folder)
        except OSError:  # another run cached it first
            pass
        finally:
            shutil.rmtree(new, ignore_errors=True)
        try:
            return _load(folder)
        except (OSError, ValueError, KeyError, TypeError):
            return Layout()


def _save(new: Path, job: Job, splits: list[tuple[list[Any], list[Any]] | None], prints: list[str], pdfs: list[Path]) -> None:
    """Page counts and, for a document with a static tail, that tail's pages cut from its whole layout."""
    saved: dict[str, Any] = {"pages": {}, "statics": {}}
    for doc, split, mark, pdf in zip(job.docs, splits, prints, pdfs, strict=True):
        reader = PdfReader(pdf)
        count = len(reader.pages)
        start = destination_pages(reader).get(STATIC_MARK, 0) if split else 0
        saved["pages"][doc.key] = count
        if not start:
            continue
        # pikepdf, not pypdf: the tail keeps its structure tree (its tags go into every pack); not its named destinations
        static = merge([PdfPiece(PdfSource.of(pikepdf.open(pdf)), range(start, count))])
        static.save(new / f"{doc.key}-static.pdf", deterministic_id=True)
        try:
            check_fonts(new / f"{doc.key}-static.pdf")
        except FontError:
            continue  # each client's whole document then meets the gate, and it names the client
        saved["statics"][mark] = {"pdf": f"{doc.key}-static.pdf", "personal": start, "total": count}
    (new / "layout.json").write_text(json.dumps(saved, ensure_ascii=False, indent=1), encoding="utf-8")


def _load(folder: Path) -> Layout:
    saved = json.loads((folder / "layout.json").read_text(encoding="utf-8"))
    statics = {mark: Static(folder / s["pdf"], int(s["personal"]), int(s["total"])) for mark, s in saved["statics"].items()}
    if not all(s.pdf.is_file() for s in statics.values()):
        raise OSError(f"{folder}: a static part is missing")
    return Layout({k: int(v) for k, v in saved["pages"].items()}, statics, folder=folder.name)


def _soffice_stamp() -> str:
    """Which LibreOffice lays out: another build may break lines differently, so it is another cache entry."""
    path = Path(find_soffice()).resolve()
    stat = path.stat()
    return f"{path}:{stat.st_size}:{stat.st_mtime_ns}"
