"""Proposal packs for one client or a whole list: render, convert in batches, merge, install atomically."""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import hashlib
import itertools
import logging
import multiprocessing
import os
import shutil
import tempfile
from collections.abc import Callable, Generator, Iterable, Sequence
from concurrent.futures import FIRST_COMPLETED, Executor, Future, ProcessPoolExecutor, ThreadPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pypdf import PdfReader

from generator import code_stamp
from generator.batch.assemble import MergeSpec, Pack, install_pack, is_up_to_date, merge_spec, pack_metadata, typeset_and_merge
from generator.batch.clients import read_client_rows
from generator.batch.policy import IssuingPolicy
from generator.batch.report import write_csv_report
from generator.batch.typeset import Converter, Doc, Job, Layout, Typeset, learn_layout
from generator.content.model import Product
from generator.content.request import ClientRequest, RowError, parse_client
from generator.content.revisions import Revision, Schedule
from generator.crash import in_worker, quiet_worker, signals_held, stop_workers
from generator.documents.convert import given_timeout
from generator.documents.fonts import missing_glyphs
from generator.documents.proposal import PackPlan, plan_pack
from generator.documents.registry import BROCHURE, PERSONALISED
from generator.documents.render import DocProperties
from generator.documents.signing import check_signing_settings
from generator.errors import DocgenError, InputError, QuoteRefused, ReferralRequired
from generator.i18n import N_
from generator.site import Site

log = logging.getLogger(__name__)
ERRORS_FILE = "errors.csv"
MIN_BATCH = 4  # fewer clients than this per LibreOffice run: its start-up outweighs running two at once
# Clients per LibreOffice run: a run cost about 2 CPU-s to start (1.2 since convert.ONE_SHOT_TUNABLES), and a client
# about 0.12 CPU-s to lay out (measured on 10 to 100 clients); 200 clients on 2 cores were built about a tenth faster
# in batches of 100 than of 50.
DEFAULT_CHUNK = 100
Progress = Callable[[int, int], None]


def build_packs(
    product: Product,
    plans: Sequence[PackPlan],
    out_root: Path,
    brochure_pdf: Path,
    *,
    cache: Path,
    chunk: int = DEFAULT_CHUNK,
    jobs: int = 2,
    timeout: float | None = None,
    progress: Progress | None = None,
    executor: Executor | None = None,
    converter: Converter | None = None,
) -> tuple[list[Pack], list[tuple[PackPlan, RowError]]]:
    """Build every plan's pack under ``out_root``; a failing client is reported and the rest go on.

    Clients are typeset in batches of at most ``chunk`` (generator.batch.typeset), ``jobs`` batches at once in worker
    processes (or on ``executor``), each batch one LibreOffice run of ``timeout`` seconds at most (default: sized to the
    run's documents, generator.documents.convert.sized_timeout); a pack is merged and
    installed here as soon as its batch is back. One client or many, every pack is made the same way. ``cache`` holds
    the layout learnt once per content version (generator.batch.typeset.learn_layout).
    """
    timeout = given_timeout(timeout)  # --timeout, else $DOCGEN_TIMEOUT, else None: each run's own sized default
    if not plans:  # nothing to build (every row refused or bad): leave no folder behind
        return [], []
    out_root.mkdir(parents=True, exist_ok=True)
    _remove_stale_staging(out_root)
    built: dict[int, Pack] = {}
    failed: dict[int, RowError] = {}
    todo: list[Job] = []
    for i, plan in enumerate(plans):
        folder = out_root / plan.folder
        if is_up_to_date(folder, plan):
            built[i] = Pack(plan, folder, len(PdfReader(folder / plan.pdf_name).pages), skipped=True)
        else:
            todo.append(_job(product, i, plan))
    log.info("%d pack(s) to build, %d up to date, under %s", len(todo), len(built), out_root)
    if progress:
        progress(len(built), len(plans))
    staging = Path(tempfile.mkdtemp(prefix=f".staging-{os.getpid()}-", dir=out_root))
    try:
        if todo:
            layout = learn_layout(layout_job(product, plans[todo[0].index].templates), cache, timeout, converter)
            specs = {job.index: merge_spec(product, plans[job.index], pack_metadata(product, plans[job.index]), brochure_pdf) for job in todo}
            with contextlib.closing(_typeset_batches(todo, staging, layout, chunk, jobs, timeout, specs, executor, converter)) as batches:
                for folder, typeset_batch in batches:
                    for done in typeset_batch:
                        plan = plans[done.index]
                        try:
                            if done.error:
                                raise done.error
                            built[done.index] = install_pack(plan, done, staging, out_root)
                        except DocgenError as exc:
                            stage = done.stage if exc is done.error else "pack"
                            failed[done.index] = RowError(plan.request.row, stage, plan.request.client, str(exc), exc)
                        if progress:
                            progress(len(built) + len(failed), len(plans))
                    log.info("batch of %d client(s) installed (%d built, %d failed so far)", len(typeset_batch), len(built), len(failed))
                    shutil.rmtree(folder, ignore_errors=True)  # packs stream out: a finished batch leaves nothing behind
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return [built[i] for i in sorted(built)], [(plans[i], failed[i]) for i in sorted(failed)]


def layout_job(product: Product, templates: Path) -> Job:
    """The made-up client, from content alone, whose documents a layout is learnt from.

    The static tails cut from its layout go into every pack, and their bytes depend on every glyph of the
    document they were cut from (LibreOffice numbers a font subset's glyphs in order of first use across the
    whole document). Learnt from a run's own first client, the cache made the same pack differ by a few
    hundred bytes between a cold and a warm outputs/.cache. A short addressee is the least likely to push a
    part onto one more page than usual.
    """
    rates = product.rates
    request = ClientRequest(client="見本", contact="", industry=rates.classes[0].industries[0], revenue=rates.bands[0].up_to,
                            limit=rates.limits[0], date=product.meta.effective_date)
    return _job(product, -1, plan_pack(product, request, product.meta.effective_date, templates))


def _job(product: Product, index: int, plan: PackPlan) -> Job:
    props = DocProperties(title=plan.title, subject=product.meta.display_name, author=plan.request.agent_name or product.meta.insurer.name,
                          keywords=f"content {product.meta.content_version}; rates {product.rates.rates_version}", date=plan.issued)
    return Job(index, tuple(Doc(d.id, d.part_title, d.word_name, d.template_path(plan.templates), plan.contexts[d.id], props) for d in PERSONALISED))


def _batch_sizes(count: int, chunk: int, jobs: int) -> list[int]:
    """Batch sizes: whole rounds of ``jobs`` batches of at most ``chunk``, none needlessly small.

    Every LibreOffice run costs about a second to start, so few big batches are cheap; but each worker needs work.

    >>> _batch_sizes(200, 50, 2), _batch_sizes(8, 50, 2), _batch_sizes(3, 50, 2), _batch_sizes(1, 50, 2)
    ([50, 50, 50, 50], [4, 4], [3], [1])
    """
    rounds = -(-count // max(1, chunk * jobs))
    batches = max(1, min(rounds * max(1, jobs), count // MIN_BATCH))
    return [count // batches + (1 if i < count % batches else 0) for i in range(batches)]


def _specs(specs: dict[int, MergeSpec], batch: Sequence[Job]) -> dict[int, MergeSpec]:
    return {job.index: specs[job.index] for job in batch}  # a worker is sent its own clients' specs only


def _typeset_batches(jobs: list[Job], staging: Path, layout: Layout, chunk: int, workers: int, timeout: float | None, specs: dict[int, MergeSpec],
                     executor: Executor | None = None, converter: Converter | None = None) -> Generator[tuple[Path, list[Typeset]], None, None]:
    """(work folder, results) per batch as each finishes, packs merged; on ``executor`` or in worker processes when there is more than one batch.

    A caller's executor is used as it is and left running; without one, a fork pool of ``workers`` lives for this run.
    """
    batches: list[tuple[Path, Sequence[Job]]] = []
    at = 0
    for size in _batch_sizes(len(jobs), chunk, workers):
        batches.append((staging / f"batch-{len(batches)}", jobs[at : at + size]))
        at += size
    if executor is None and (workers <= 1 or len(batches) == 1):
        for folder, batch in batches:
            yield folder, typeset_and_merge(batch, folder, layout, timeout, _specs(specs, batch), converter)
        return
    # fork: workers start at once with the modules and compiled templates already loaded
    # quiet_worker: Ctrl-C reaches the whole process group, but only this process reports it and stops the workers
    forked = executor is None and converter is None
    if executor is None and converter is not None:  # a warm pool lives in this process: threads share it, a fork would copy it
        pool: Executor = ThreadPoolExecutor(max_workers=min(workers, len(batches)), thread_name_prefix="docgen-typeset")
    else:
        pool = executor or ProcessPoolExecutor(max_workers=min(workers, len(batches)), mp_context=multiprocessing.get_context("fork"),
                                               initializer=quiet_worker)

    def submit(batch: Sequence[Job], folder: Path) -> Future[list[Typeset]]:
        chosen = _specs(specs, batch)
        # in a worker process of ours, SIGTERM unwinds a running batch and ends an idle worker silently (generator.crash)
        if forked:
            return pool.submit(in_worker, typeset_and_merge, batch, folder, layout, timeout, chosen, converter)
        return pool.submit(typeset_and_merge, batch, folder, layout, timeout, chosen, converter)

    left = dict(batches)
    pending: dict[Future[list[Typeset]], Path] = {}
    finished_all = False
    try:
        queue = iter(batches)
        with signals_held():  # the first submit forks the workers: none may start with this process's signal handler
            for folder, batch in itertools.islice(queue, 2 * workers):  # a few ahead, not all: results stream, staging stays small
                pending[submit(batch, folder)] = folder
        while pending:
            finished, _ = wait(pending, return_when=FIRST_COMPLETED)
            for future in finished:
                folder = pending.pop(future)
                for next_folder, batch in itertools.islice(queue, 1):
                    pending[submit(batch, next_folder)] = next_folder
                done = future.result()
                del left[folder]
                yield folder, done
        finished_all = True
    except BrokenProcessPool:
        # a worker died (killed, out of memory): what it and the others had not finished is done here instead
        log.warning("a worker process died; its unfinished batches are built in this process")
    finally:
        if executor is None:
            # Ctrl-C or SIGTERM (generator.crash), here or while the caller installed a pack (which closes this generator):
            # don't wait for the workers' batches. Once only: a second SIGTERM would end a worker before its cleanup.
            if not finished_all:
                stop_workers(pool)
            try:
                pool.shutdown(wait=True, cancel_futures=True)
            except KeyboardInterrupt:  # the signal came while the finished pool was closing: stop what is left of it
                stop_workers(pool)
                pool.shutdown(wait=True, cancel_futures=True)
                raise
        else:
            for future in pending:
                future.cancel()
    for folder, batch in left.items():
        shutil.rmtree(folder, ignore_errors=True)
        yield folder, typeset_and_merge(batch, folder, layout, timeout, _specs(specs, batch), converter)


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



def cached_brochure(product: Product, site: Site) -> Path:
    """The brochure PDF for this content, template and generator code, built at most once per site cache."""
    from generator.documents.brochure import build_brochure

    template = BROCHURE.template_path(site.templates)
    # the approval number is printed in the footer (and its absence stamps the draft watermark): part of the key
    stamp = f"{product.digest()}|{product.meta.approval_number}|{hashlib.sha256(template.read_bytes()).hexdigest()}|{code_stamp()}"
    key = hashlib.sha256(stamp.encode()).hexdigest()[:16]
    folder = site.cache / f"brochure-{product.meta.slug}-{key}"
    found = sorted(folder.glob("*.pdf")) if folder.is_dir() else []
    if found:
        return found[0]
    return build_brochure(product, folder, templates=site.templates).pdf


@dataclass
class Summary:
    """What a list run did: packs built or up to date, what a dry run would build, and every bad row."""

    out: Path
    built: list[Pack] = field(default_factory=list)
    skipped: list[Pack] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)
    errors_file: Path | None = None
    planned: list[PackPlan] = field(default_factory=list)  # every pack to build or keep (a dry run stops here)
    dry_run: bool = False

    @property
    def total_premium(self) -> int:
        """年間保険料 of every pack the list yields, in yen."""
        return sum(p.quote.premium for p in self.planned)

    def records(self) -> list[dict[str, Any]]:
        """One JSON-ready record per row, in row order: built, up to date, would build (dry run) or error."""
        records = [p.as_dict() for p in (*self.built, *self.skipped)]
        if self.dry_run:
            records += [{"row": p.request.row, "client": p.request.client, "contact": p.request.contact, "status": "would build",
                         "quote_number": p.quote_number, "class": p.quote.class_code, "band": p.quote.band_label,
                         "limit": p.quote.limit, "premium": p.quote.premium} for p in self.planned]
        records += [{"row": e.row, "status": getattr(e.error, "status", "error"), "column": e.column, "value": e.value, "reason": e.reason}
                    for e in self.errors]
        return sorted(records, key=lambda r: (r["row"] or 0, r["status"]))

    def line(self) -> str:
        if self.dry_run:
            return (f"dry run: {len(self.planned)} pack(s) would be built, {len(self.errors)} failed row(s); "
                    f"total premium {self.total_premium:,}円; nothing was written")
        text = f"packs: {len(self.built)} built, {len(self.skipped)} up to date, {len(self.errors)} failed row(s) → {self.out}"
        return text + (f" (errors: {self.errors_file})" if self.errors_file else "")


Row = tuple[int | None, dict[str, str] | ClientRequest]  # (spreadsheet row, raw cell values or a checked request)


def plan_rows(site: Site, product: Product, rows: Iterable[Row], today: dt.date,
              summary: Summary, policy: IssuingPolicy | None = None, *, schedule: Schedule | None = None,
              last_day: dt.date | None = None, start: dt.date | None = None, renewal: bool = False) -> list[PackPlan]:
    """Check and quote every row: a bad value, a refusal or a referral becomes an error row; the rest are planned.

    ``policy`` (default: the operator's, which prints what the row says) decides the agency, contact and date each
    document may carry; a row it refuses is an error row. With a ``schedule`` (resolved once per list), each row is
    priced and documented by the revision in force on its start date (:meth:`Schedule.pick`); without one, by
    ``product``, valid at most until ``last_day``. ``start`` and ``renewal`` apply to rows that give no start date
    (``docgen proposals --start D --renewal``).
    """
    policy = policy or IssuingPolicy.operator()
    if schedule is None:  # a caller that knows one revision only: a start date must still fall within it
        schedule = Schedule(product.key, (Revision(product.revision, site.content / product.key, product),)) if product.revision else None
    plans: list[PackPlan] = []
    seen: dict[str, int | None] = {}
    request: ClientRequest | None
    for row, values in rows:
        if isinstance(values, ClientRequest):  # checked already (the API, the portal)
            request, values = values, {}
        else:
            request, errors = parse_client(values, row=row, missing_glyphs=missing_glyphs)
            if request is None:
                summary.errors += errors
                continue
        request, refused = policy.apply(request)
        if request is None:
            summary.errors += refused
            continue
        if (start and request.start is None) or (renewal and not request.renewal):
            request = dataclasses.replace(request, start=request.start or start, renewal=request.renewal or renewal)
        try:
            if schedule is None or (schedule.single and request.start is None):  # one revision, no date asked: as before revisions
                plan = plan_pack(product, request, today, site.templates, last_day=last_day)
            else:
                revision = schedule.pick(request.start, request.renewal, today)
                plan = plan_pack(revision.product, request, today, revision.on_site(site).templates,
                                 last_day=schedule.last_day(revision, request.renewal) if last_day is None else last_day)
        except (QuoteRefused, ReferralRequired, InputError) as exc:
            column = getattr(exc, "field", "industry").lstrip("-")
            # the cell as typed (2億), not the quote's reformatted amount (2億円): the agent searches the sheet for it
            value = values.get(column, str(getattr(exc, "value", "")))
            summary.errors.append(RowError(row, column, value, str(exc), exc))
            continue
        if plan.folder in seen:
            twin = InputError("client", request.client, N_("same client and contact as row {row}; one pack per client"), params={"row": seen[plan.folder]})
            summary.errors.append(RowError(row, "client", request.client, twin.reason, twin))
            continue
        seen[plan.folder] = row
        plans.append(plan)
    return plans


def run_rows(site: Site, product: Product, rows: Iterable[Row], *, out: Path, today: dt.date,
             jobs: int = 2, executor: Executor | None = None, progress: Progress | None = None, timeout: float | None = None,
             converter: Converter | None = None, policy: IssuingPolicy | None = None,
             schedule: Schedule | None = None, start: dt.date | None = None, renewal: bool = False,
             dry_run: bool = False, errors_file: bool = True) -> Summary:
    """Plan every row, then build the packs (unless ``dry_run``); errors.csv in ``out`` lists the bad rows.

    Rows of several revisions are built one revision at a time (its product, templates and brochure); a list on one
    revision is built exactly as before.
    """
    summary = Summary(out, dry_run=dry_run)
    summary.planned = plan_rows(site, product, rows, today, summary, policy, schedule=schedule, start=start, renewal=renewal)
    if not dry_run:
        groups: dict[str, list[PackPlan]] = {}
        for plan in summary.planned:
            groups.setdefault(plan.revision, []).append(plan)
        revisions = {name: schedule.by_name(name) if schedule is not None and name and name != product.revision else None for name in groups}
        products = {name: revision.product if revision is not None else product for name, revision in revisions.items()}
        if any(p.meta.approval_number for p in products.values()):
            check_signing_settings()  # issued packs are signed: a bad key setting stops the run before any pack
        done_before = 0
        for name, plans in groups.items():
            revision, group_product = revisions[name], products[name]
            group_site = revision.on_site(site) if revision is not None else site
            step = (lambda done, _total, at=done_before: progress(at + done, len(summary.planned))) if progress else None
            results, failures = build_packs(group_product, plans, out, cached_brochure(group_product, group_site), cache=site.cache, jobs=jobs,
                                            progress=step, executor=executor, timeout=timeout, converter=converter)
            done_before += len(plans)
            summary.built += [r for r in results if not r.skipped]
            summary.skipped += [r for r in results if r.skipped]
            summary.errors += [e for _, e in failures]
    summary.errors.sort(key=lambda e: (e.row or 0, e.column))
    if errors_file and not dry_run:
        summary.errors_file = write_errors(out / ERRORS_FILE, summary.errors)
    return summary


def run_client_list(site: Site, product: Product, path: Path, *, out: Path, today: dt.date, **options: Any) -> Summary:
    """Every row of a client list (.csv/.xlsx): bad rows are reported (row, column, reason); the rest get packs."""
    return run_rows(site, product, read_client_rows(path), out=out, today=today, **options)


def run_requests(site: Site, product: Product, requests: Iterable[ClientRequest], *, out: Path, today: dt.date, **options: Any) -> Summary:
    """Packs for already checked requests (the API and the portal); no errors.csv is written."""
    return run_rows(site, product, ((r.row, r) for r in requests), out=out, today=today, errors_file=False, **options)


def write_errors(path: Path, errors: list[RowError]) -> Path | None:
    """errors.csv (row, column, value, reason) for the agent to open in Excel; removed when there is none."""
    if not errors:
        path.unlink(missing_ok=True)
        return None
    # values are what agents typed: neutralised against formula injection (generator.batch.report)
    return write_csv_report(path, ["row", "column", "value", "reason"], ([e.row, e.column, e.value, e.reason] for e in errors))
