"""Proposal packs for one client or a whole list: render, convert in batches, merge, install atomically."""

from __future__ import annotations

import contextlib
import csv
import datetime as dt
import hashlib
import io
import itertools
import json
import multiprocessing
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from pathlib import Path

from pypdf import PdfReader

from generator import __version__
from generator.batch.clients import RowError, parse_client, read_client_rows
from generator.batch.layout import forget_destinations
from generator.batch.typeset import Doc, Job, Layout, Typeset, learn_layout, typeset
from generator.compliance.provenance import provenance_metadata
from generator.content.load import OUTPUTS_ROOT
from generator.content.model import Product
from generator.documents.fonts import missing_glyphs
from generator.documents.pack import Part, merge_pdfs
from generator.documents.proposal import BROCHURE_TITLE, PARTS, TEMPLATES, PackPlan, plan_pack
from generator.documents.render import DocProperties, write_atomic
from generator.errors import DocgenError, InputError, QuoteRefused, ReferralRequired

MANIFEST = "pack.json"
ERRORS_FILE = "errors.csv"
CACHE = OUTPUTS_ROOT / ".cache"
MIN_BATCH = 4  # fewer clients than this per LibreOffice run: its start-up outweighs running two at once
Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class PackResult:
    """One installed pack: where it is and how many pages its PDF has."""

    plan: PackPlan
    folder: Path
    pdf: Path
    pages: int
    skipped: bool = False


def pack_metadata(product: Product, plan: PackPlan, provenance: dict[str, str] | None = None) -> dict[str, str]:
    """PDF document info: who it is for, and the provenance a later `docgen verify` reads.

    ``provenance`` is :func:`pack_provenance` of the product, when the caller already has it (it is the same for every client).
    """
    m = product.meta
    return {
        "/Title": plan.title,
        "/Subject": f"{m.display_name} ご提案書（ご案内状・お見積書・重要事項説明書・パンフレット）",
        "/Author": plan.request.agent_name or m.insurer.name,
        "/Keywords": f"content {m.content_version}; rates {product.rates.rates_version}; approval {m.approval_number or '未取得'}; "
                     f"content-hash {product.digest()}",
        "/Creator": "docgen",
        "/DocgenInputsHash": plan.digest,
        "/DocgenPremium": str(plan.quote.premium),
    } | (provenance or pack_provenance(product))


def pack_provenance(product: Product) -> dict[str, str]:
    """The clause and premium stamps of a pack (every clause hashed: worth computing once per run)."""
    return provenance_metadata(product, [f"proposal: {title}" for _, _, title, _ in PARTS] + [f"proposal: {BROCHURE_TITLE}"])


def is_up_to_date(folder: Path, plan: PackPlan) -> bool:
    """True when ``folder`` holds a complete pack built from exactly these inputs."""
    try:
        manifest = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    files = [plan.pdf_name] + [name for _, _, _, name in PARTS]
    return manifest.get("digest") == plan.digest and all((folder / f).is_file() for f in files)


def build_packs(
    product: Product,
    plans: Sequence[PackPlan],
    out_root: Path,
    brochure_pdf: Path,
    *,
    chunk: int = 50,
    jobs: int = 2,
    timeout: float = 120.0,
    progress: Progress | None = None,
    cache: Path = CACHE,
) -> tuple[list[PackResult], list[tuple[PackPlan, RowError]]]:
    """Build every plan's pack under ``out_root``; a failing client is reported and the rest go on.

    Clients are typeset in batches of at most ``chunk`` (generator.batch.typeset), ``jobs`` batches at once in worker
    processes, each batch one LibreOffice run of ``timeout`` seconds at most; a pack is merged and installed here
    as soon as its batch is back. One client or many, every pack is made the same way.
    """
    out_root.mkdir(parents=True, exist_ok=True)
    _remove_stale_staging(out_root)
    built: dict[int, PackResult] = {}
    failed: dict[int, RowError] = {}
    todo: list[Job] = []
    for i, plan in enumerate(plans):
        folder = out_root / plan.folder
        if is_up_to_date(folder, plan):
            built[i] = PackResult(plan, folder, folder / plan.pdf_name, len(PdfReader(folder / plan.pdf_name).pages), skipped=True)
        else:
            todo.append(_job(product, i, plan))
    if progress:
        progress(len(built), len(plans))
    staging = Path(tempfile.mkdtemp(prefix=f".staging-{os.getpid()}-", dir=out_root))
    try:
        if todo:
            # the shortest addressee is the least likely to push a part onto one more page than usual
            layout = learn_layout(min(todo, key=lambda j: len(plans[j.index].request.addressee)), cache, timeout)
            stamps = pack_provenance(product)
            shared = {brochure_pdf: PdfReader(brochure_pdf)} | {s.pdf: forget_destinations(PdfReader(s.pdf)) for s in layout.statics.values()}
            with contextlib.closing(_typeset_batches(todo, staging, layout, chunk, jobs, timeout)) as batches:
                for folder, typeset_batch in batches:
                    readers = dict(shared)  # the batch's layout PDFs are read once for all its clients
                    for done in typeset_batch:
                        plan = plans[done.index]
                        try:
                            if done.error:
                                raise done.error
                            built[done.index] = _assemble(product, plan, done, pack_metadata(product, plan, stamps), brochure_pdf, readers, staging, out_root)
                        except DocgenError as exc:
                            stage = done.stage if exc is done.error else "pack"
                            failed[done.index] = RowError(plan.request.row, stage, plan.request.client, str(exc), exc)
                        if progress:
                            progress(len(built) + len(failed), len(plans))
                    shutil.rmtree(folder, ignore_errors=True)  # packs stream out: a finished batch leaves nothing behind
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return [built[i] for i in sorted(built)], [(plans[i], failed[i]) for i in sorted(failed)]


def _job(product: Product, index: int, plan: PackPlan) -> Job:
    props = DocProperties(title=plan.title, subject=product.meta.display_name, author=plan.request.agent_name or product.meta.insurer.name,
                          keywords=f"content {product.meta.content_version}; rates {product.rates.rates_version}", date=plan.issued)
    return Job(index, tuple(Doc(key, title, name, TEMPLATES / tpl, plan.contexts[key], props) for key, tpl, title, name in PARTS))


def _batch_sizes(count: int, chunk: int, jobs: int) -> list[int]:
    """Batch sizes: whole rounds of ``jobs`` batches of at most ``chunk``, none needlessly small.

    Every LibreOffice run costs about a second to start, so few big batches are cheap; but each worker needs work.

    >>> _batch_sizes(200, 50, 2), _batch_sizes(8, 50, 2), _batch_sizes(3, 50, 2), _batch_sizes(1, 50, 2)
    ([50, 50, 50, 50], [4, 4], [3], [1])
    """
    rounds = -(-count // max(1, chunk * jobs))
    batches = max(1, min(rounds * max(1, jobs), count // MIN_BATCH))
    return [count // batches + (1 if i < count % batches else 0) for i in range(batches)]


def _typeset_batches(jobs: list[Job], staging: Path, layout: Layout, chunk: int, workers: int, timeout: float) -> Iterator[tuple[Path, list[Typeset]]]:
    """(work folder, results) per batch as each finishes; in worker processes when there is more than one batch."""
    batches, at = [], 0
    for size in _batch_sizes(len(jobs), chunk, workers):
        batches.append((staging / f"batch-{len(batches)}", jobs[at : at + size]))
        at += size
    if workers <= 1 or len(batches) == 1:
        for folder, batch in batches:
            yield folder, typeset(batch, folder, layout, timeout)
        return
    # fork: workers start at once with the modules and compiled templates already loaded
    pool = ProcessPoolExecutor(max_workers=min(workers, len(batches)), mp_context=multiprocessing.get_context("fork"))
    left = dict(batches)
    try:
        queue = iter(batches)
        pending = {}
        for folder, batch in itertools.islice(queue, 2 * workers):  # a few ahead, not all: results stream, staging stays small
            pending[pool.submit(typeset, batch, folder, layout, timeout)] = folder
        while pending:
            finished, _ = wait(pending, return_when=FIRST_COMPLETED)
            for future in finished:
                folder = pending.pop(future)
                for next_folder, batch in itertools.islice(queue, 1):
                    pending[pool.submit(typeset, batch, next_folder, layout, timeout)] = next_folder
                done = future.result()
                del left[folder]
                yield folder, done
    except BrokenProcessPool:
        pass  # a worker died (killed, out of memory): what it and the others had not finished is done here instead
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
    for folder, batch in left.items():
        shutil.rmtree(folder, ignore_errors=True)
        yield folder, typeset(batch, folder, layout, timeout)


def _assemble(product: Product, plan: PackPlan, done: Typeset, metadata: dict[str, str], brochure_pdf: Path, readers: dict[Path, PdfReader],
              staging: Path, out_root: Path) -> PackResult:
    parts = []
    for (_, _, title, _), pieces in zip(PARTS, done.parts, strict=True):
        for n, piece in enumerate(pieces):
            if piece.pdf not in readers:
                readers[piece.pdf] = forget_destinations(PdfReader(piece.pdf))
            parts.append(Part(title if n == 0 else "", piece.pdf, nested=False, pages=piece.pages))
    parts.append(Part(BROCHURE_TITLE, brochure_pdf, nested=True))
    new = staging / "packs" / plan.folder
    new.mkdir(parents=True)
    pages = merge_pdfs(parts, new / plan.pdf_name, metadata, readers=readers)
    for (_, _, _, name), source in zip(PARTS, done.docx, strict=True):
        os.replace(source, new / name)
    manifest = {"digest": plan.digest, "client": plan.request.client, "premium": plan.quote.premium, "pages": pages,
                "files": [plan.pdf_name] + [name for _, _, _, name in PARTS]}
    write_atomic(new / MANIFEST, json.dumps(manifest, ensure_ascii=False, indent=2).encode())
    final = out_root / plan.folder
    _install(new, final, staging)
    return PackResult(plan, final, final / plan.pdf_name, pages)


def _install(new: Path, final: Path, staging: Path) -> None:
    """Swap a finished folder into place; readers see the old pack or the new one, never a mix.

    If the new folder cannot be moved in (or the run is interrupted right then), the old pack is put
    back: the staging folder it waits in is deleted when the run ends.
    """
    if not final.exists():
        os.replace(new, final)
        return
    old = staging / "replaced" / final.name
    old.parent.mkdir(parents=True, exist_ok=True)
    os.replace(final, old)
    try:
        os.replace(new, final)
    except BaseException:
        os.replace(old, final)
        raise


def _remove_stale_staging(out_root: Path) -> None:
    """Staging folders of runs that were killed (the pid in the name is gone)."""
    for path in out_root.glob(".staging-*"):
        try:
            pid = int(path.name.split("-")[1])
            os.kill(pid, 0)
        except ProcessLookupError:
            shutil.rmtree(path, ignore_errors=True)
        except (ValueError, IndexError, PermissionError):
            continue



def cached_brochure(product: Product, cache_root: Path = CACHE) -> Path:
    """The brochure PDF for this content, templates and generator version, built at most once."""
    from generator.documents.brochure import build_brochure

    key = hashlib.sha256(
        f"{product.digest()}|{hashlib.sha256((TEMPLATES / 'brochure.docx').read_bytes()).hexdigest()}|{__version__}".encode()
    ).hexdigest()[:16]
    folder = cache_root / f"brochure-{product.meta.slug}-{key}"
    found = sorted(folder.glob("*.pdf")) if folder.is_dir() else []
    if found:
        return found[0]
    return build_brochure(product, folder).pdf


@dataclass
class ListSummary:
    """What a client-list run did: packs built or skipped, and every bad row."""

    out: Path
    built: list[PackResult] = field(default_factory=list)
    skipped: list[PackResult] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)
    errors_file: Path | None = None

    def line(self) -> str:
        text = f"packs: {len(self.built)} built, {len(self.skipped)} up to date, {len(self.errors)} failed row(s) → {self.out}"
        return text + (f" (errors: {self.errors_file})" if self.errors_file else "")


def run_client_list(product: Product, path: Path, out: Path, *, today: dt.date, jobs: int = 2,
                    progress: Progress | None = None) -> ListSummary:
    """Every row of a client list: bad rows are reported (row, column, reason); the rest get packs."""
    summary = ListSummary(out)
    plans: list[PackPlan] = []
    seen: dict[str, int | None] = {}
    for row, values in read_client_rows(path):
        request, errors = parse_client(values, row=row, missing_glyphs=missing_glyphs)
        if request is None:
            summary.errors += errors
            continue
        try:
            plan = plan_pack(product, request, today)
        except (QuoteRefused, ReferralRequired, InputError) as exc:
            column = getattr(exc, "field", "industry").lstrip("-")
            # the cell as typed (2億), not the quote's reformatted amount (2億円): the agent searches the sheet for it
            value = values.get(column, str(getattr(exc, "value", "")))
            summary.errors.append(RowError(row, column, value, str(exc), exc))
            continue
        if plan.folder in seen:
            summary.errors.append(RowError(row, "client", request.client, f"same client and contact as row {seen[plan.folder]}; one pack per client"))
            continue
        seen[plan.folder] = row
        plans.append(plan)
    results, failures = build_packs(product, plans, out, cached_brochure(product), jobs=jobs, progress=progress)
    summary.built = [r for r in results if not r.skipped]
    summary.skipped = [r for r in results if r.skipped]
    summary.errors += [e for _, e in failures]
    summary.errors.sort(key=lambda e: (e.row or 0, e.column))
    errors_file = out / ERRORS_FILE
    if summary.errors:
        buf = io.StringIO()
        writer = csv.writer(buf)
        writer.writerow(["row", "column", "value", "reason"])
        writer.writerows([e.row, e.column, e.value, e.reason] for e in summary.errors)
        write_atomic(errors_file, buf.getvalue().encode("utf-8-sig"))  # BOM: Excel opens it as UTF-8
        summary.errors_file = errors_file
    else:
        errors_file.unlink(missing_ok=True)
    return summary
