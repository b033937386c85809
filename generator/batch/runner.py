"""Proposal packs for one client or a whole list: render, convert in batches, merge, install atomically."""

from __future__ import annotations

import datetime as dt
import itertools
import logging
import multiprocessing
import shutil
from collections.abc import Callable, Generator, Iterable, Sequence
from concurrent.futures import FIRST_COMPLETED, Executor, Future, ProcessPoolExecutor, ThreadPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from generator.batch.assemble import MergeSpec, Pack, typeset_and_merge
from generator.batch.building import (  # noqa: F401 - cached_brochure, layout_job: where callers have found them
    Folder,
    Typesetter,
    build_plans,
    build_revisions,
    cached_brochure,
    error_record,
    layout_job,
    summary_line,
)
from generator.batch.clients import read_client_rows
from generator.batch.planning import Planner, Row
from generator.batch.policy import IssuingPolicy
from generator.batch.report import write_csv_report
from generator.batch.typeset import Converter, Job, Layout, Typeset
from generator.content.model import Product
from generator.content.request import ClientRequest, RowError
from generator.content.revisions import Schedule
from generator.crash import in_worker, quiet_worker, signals_held, stop_workers
from generator.documents.convert import given_timeout
from generator.documents.proposal import PackPlan
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
    """Build every plan's pack under ``out_root`` (generator.batch.building) with the local pool of :func:`local_pool`."""
    return build_plans(product, plans, brochure_pdf, Folder(out_root), cache=cache, timeout=timeout, converter=converter,
                       typesetter=local_pool(chunk, jobs, timeout, executor, converter), progress=progress)


def local_pool(chunk: int = DEFAULT_CHUNK, jobs: int = 2, timeout: float | None = None, executor: Executor | None = None,
               converter: Converter | None = None) -> Typesetter:
    """The local runner's typesetter: clients in batches of at most ``chunk``, ``jobs`` batches at once in worker
    processes (or on ``executor``; threads sharing ``converter`` when a warm pool is given), each batch one LibreOffice run."""
    timeout = given_timeout(timeout)

    def run(todo: list[Job], work: Path, layout: Layout, specs: dict[int, MergeSpec]) -> Generator[tuple[Path, list[Typeset]], None, None]:
        return _typeset_batches(todo, work, layout, chunk, jobs, timeout, specs, executor, converter)

    return run


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
        records += [error_record(e) for e in self.errors]
        return sorted(records, key=lambda r: (r["row"] or 0, r["status"]))

    def line(self) -> str:
        return summary_line(self.out, len(self.built), len(self.skipped), len(self.errors), self.errors_file, dry_run=self.dry_run,
                            planned=len(self.planned), total_premium=self.total_premium)


def plan_rows(site: Site, product: Product, rows: Iterable[Row], today: dt.date, summary: Summary, policy: IssuingPolicy | None = None,
              *, schedule: Schedule | None = None, last_day: dt.date | None = None, start: dt.date | None = None,
              renewal: bool = False) -> list[PackPlan]:
    """The planning step (generator.batch.planning.Planner) over ``rows``: the plans; bad rows go to ``summary.errors``."""
    planner = Planner(site, product, today, policy, schedule=schedule, last_day=last_day, start=start, renewal=renewal)
    plans, errors = planner.plan_rows(rows)
    summary.errors += errors
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
    planner = Planner(site, product, today, policy, schedule=schedule, start=start, renewal=renewal)
    summary.planned, summary.errors = planner.plan_rows(rows)
    if not dry_run:
        results, failures = build_revisions(site, product, summary.planned, Folder(out), schedule=planner.schedule, timeout=timeout,
                                            converter=converter, typesetter=local_pool(DEFAULT_CHUNK, jobs, timeout, executor, converter),
                                            progress=progress)
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
