"""Proposal packs for one client or a whole list: render, convert in batches, merge, install atomically."""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import json
import os
import shutil
import tempfile
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from pypdf import PdfReader

from generator import __version__
from generator.clients import RowError, parse_client, read_client_rows
from generator.convert import convert_to_pdf
from generator.errors import ConversionError, DocgenError, InputError, QuoteRefused, ReferralRequired, TemplateError
from generator.fonts import check_fonts, missing_glyphs
from generator.load import REPO_ROOT
from generator.model import Product
from generator.pack import Part, merge_pdfs
from generator.proposal import BROCHURE_TITLE, PARTS, TEMPLATES, PackPlan, plan_pack
from generator.provenance import provenance_metadata
from generator.render import DocProperties, render_docx, write_atomic

MANIFEST = "pack.json"
ERRORS_FILE = "errors.csv"
CACHE = REPO_ROOT / "outputs" / ".cache"
Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class PackResult:
    """One installed pack: where it is and how many pages its PDF has."""

    plan: PackPlan
    folder: Path
    pdf: Path
    pages: int
    skipped: bool = False


def pack_metadata(product: Product, plan: PackPlan) -> dict[str, str]:
    """PDF document info: who it is for, and the provenance a later `docgen verify` reads."""
    m = product.meta
    return {
        "/Title": plan.title,
        "/Subject": f"{m.display_name} ご提案書（ご案内状・お見積書・重要事項説明書・パンフレット）",
        "/Author": plan.request.agent_name or m.insurer.name,
        "/Keywords": f"content {m.content_version}; rates {product.rates.rates_version}; approval {m.approval_number or '未取得'}; "
                     f"content-hash {product.digest()}",
        "/Creator": "docgen",
        "/DocgenContentVersion": m.content_version,
        "/DocgenRatesVersion": product.rates.rates_version,
        "/DocgenApprovalNumber": m.approval_number or "未取得",
        "/DocgenContentHash": product.digest(),
        "/DocgenInputsHash": plan.digest,
        "/DocgenPremium": str(plan.quote.premium),
    } | provenance_metadata(product, [f"proposal: {title}" for _, _, title, _ in PARTS] + [f"proposal: {BROCHURE_TITLE}"])


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
    chunk: int = 30,
    jobs: int = 2,
    timeout: float = 300.0,
    progress: Progress | None = None,
) -> tuple[list[PackResult], list[tuple[PackPlan, RowError]]]:
    """Build every plan's pack under ``out_root``; a failing client is reported and the rest go on."""
    out_root.mkdir(parents=True, exist_ok=True)
    _remove_stale_staging(out_root)
    results: list[PackResult] = []
    failures: list[tuple[PackPlan, RowError]] = []
    todo: list[PackPlan] = []
    for plan in plans:
        folder = out_root / plan.folder
        if is_up_to_date(folder, plan):
            results.append(PackResult(plan, folder, folder / plan.pdf_name, len(PdfReader(folder / plan.pdf_name).pages), skipped=True))
        else:
            todo.append(plan)
    done = len(results)
    if progress:
        progress(done, len(plans))
    staging = Path(tempfile.mkdtemp(prefix=f".staging-{os.getpid()}-", dir=out_root))
    try:
        docx = _render_all(product, todo, staging / "docx", failures)
        pdfs = _convert_all([d for files in docx.values() for d in files], staging / "pdf", chunk, jobs, timeout)
        brochure = PdfReader(brochure_pdf)
        for i, plan in enumerate(todo):
            if i not in docx:
                continue
            try:
                results.append(_assemble(product, plan, docx[i], pdfs, brochure_pdf, brochure, staging, out_root))
            except DocgenError as exc:
                failures.append((plan, RowError(plan.request.row, "pack", plan.request.client, str(exc), exc)))
            done += 1
            if progress:
                progress(done, len(plans))
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return results, failures


def _render_all(product: Product, plans: Sequence[PackPlan], where: Path, failures: list) -> dict[int, list[Path]]:
    where.mkdir(parents=True)
    rendered: dict[int, list[Path]] = {}
    for i, plan in enumerate(plans):
        props = DocProperties(title=plan.title, subject=product.meta.display_name, author=plan.request.agent_name or product.meta.insurer.name,
                              keywords=f"content {product.meta.content_version}; rates {product.rates.rates_version}", date=plan.issued)
        try:
            # unique stems: LibreOffice names each PDF after its input, and one call converts many clients
            rendered[i] = [render_docx(TEMPLATES / tpl, plan.contexts[key], where / f"p{i:05d}-{key}.docx", properties=props)
                           for key, tpl, _, _ in PARTS]
        except TemplateError as exc:
            failures.append((plan, RowError(plan.request.row, "render", plan.request.client, str(exc), exc)))
    return rendered


def _convert_all(files: list[Path], out: Path, chunk: int, jobs: int, timeout: float) -> dict[Path, Path | DocgenError]:
    """PDF (or the error) for every .docx; a failing batch is retried file by file to isolate the culprit."""
    out.mkdir(parents=True)
    batches = [files[i : i + chunk] for i in range(0, len(files), chunk)]

    def run(batch: list[Path]) -> dict[Path, Path | DocgenError]:
        try:
            return dict(zip(batch, convert_to_pdf(batch, out, timeout=timeout), strict=True))
        except ConversionError:
            if len(batch) == 1:
                raise
        found: dict[Path, Path | DocgenError] = {}
        for f in batch:
            try:
                found[f] = convert_to_pdf([f], out, timeout=timeout)[0]
            except ConversionError as exc:
                found[f] = exc
        return found

    results: dict[Path, Path | DocgenError] = {}
    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        for batch, future in [(b, pool.submit(run, b)) for b in batches]:
            try:
                results.update(future.result())
            except ConversionError as exc:
                results.update(dict.fromkeys(batch, exc))
    return results


def _assemble(product: Product, plan: PackPlan, docx: list[Path], pdfs: dict, brochure_pdf: Path, brochure: PdfReader,
              staging: Path, out_root: Path) -> PackResult:
    parts = []
    for (_, _, title, _), source in zip(PARTS, docx, strict=True):
        pdf = pdfs.get(source)
        if not isinstance(pdf, Path):
            raise pdf if isinstance(pdf, DocgenError) else ConversionError(f"{source.name}: no PDF was produced")
        check_fonts(pdf)
        parts.append(Part(title, pdf, nested=False))
    parts.append(Part(BROCHURE_TITLE, brochure_pdf, nested=True))
    new = staging / "packs" / plan.folder
    new.mkdir(parents=True)
    pages = merge_pdfs(parts, new / plan.pdf_name, pack_metadata(product, plan), readers={brochure_pdf: brochure})
    for (_, _, _, name), source in zip(PARTS, docx, strict=True):
        shutil.copyfile(source, new / name)
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
    from generator.brochure import build_brochure

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
