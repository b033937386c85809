"""The one building step: plans typeset together, merged, stamped and installed where the face wants its packs.

Every face builds through :func:`build_plans` (one revision) or :func:`build_revisions` (a list that spans several):
the local runner, the Dask worker and the portal (one job, or many agents' packs coalesced into one run). They differ
only in the :class:`Place` the packs go to (a folder, a Dask destination, each portal job's own folder) and in the
typesetter that runs the LibreOffice batches (in this process, a pool of workers).
"""

from __future__ import annotations

import contextlib
import glob
import hashlib
import logging
import os
import shutil
import tempfile
from collections.abc import Callable, Generator, Iterator, Sequence
from pathlib import Path
from typing import Any, Protocol

from pypdf import PdfReader

from generator import code_stamp
from generator.batch.assemble import MergeSpec, Pack, install_pack, is_up_to_date, merge_spec, pack_metadata, typeset_and_merge
from generator.batch.typeset import Converter, Doc, Job, Layout, Typeset, learn_layout
from generator.content.model import Product
from generator.content.request import ClientRequest, RowError
from generator.content.revisions import Schedule
from generator.crash import left_by_the_dead
from generator.documents.convert import given_timeout
from generator.documents.proposal import PackPlan, plan_pack
from generator.documents.registry import BROCHURE, PERSONALISED
from generator.documents.render import DocProperties
from generator.documents.signing import check_signing_settings
from generator.errors import DocgenError
from generator.site import Site

log = logging.getLogger("generator.batch.runner")
Progress = Callable[[int, int], None]
Outcome = Pack | RowError
OnDone = Callable[[PackPlan, Outcome], None]  # each plan's pack (built or up to date) or error, as soon as it is known
# (jobs, work folder, layout, merge specs) -> (batch folder, typeset and merged results) per batch, as each finishes
Batches = Generator[tuple[Path, list[Typeset]], None, None]  # closed early when a run stops: its pool is shut down
Typesetter = Callable[[list[Job], Path, Layout, dict[int, MergeSpec]], Batches]


class Place(Protocol):
    """Where packs are installed: a work folder beside them, what is there already, and the install itself."""

    def work(self) -> contextlib.AbstractContextManager[Path]: ...

    def existing(self, plan: PackPlan) -> Pack | None: ...

    def install(self, plan: PackPlan, done: Typeset, work: Path) -> Pack: ...


class Folder:
    """Packs in ``root``/<client folder> (the CLI's proposals folder, a portal job's folder)."""

    def __init__(self, root: Path) -> None:
        self.root = root

    @contextlib.contextmanager
    def work(self) -> Iterator[Path]:
        """A staging folder in ``root`` (a rename away from each pack's place); killed runs' are removed first."""
        with _staging(self.root) as folder:
            yield folder

    def existing(self, plan: PackPlan) -> Pack | None:
        folder = self.root / plan.folder
        if not is_up_to_date(folder, plan):
            return None
        return Pack(plan, folder, len(PdfReader(folder / plan.pdf_name).pages), skipped=True)

    def install(self, plan: PackPlan, done: Typeset, work: Path) -> Pack:
        return install_pack(plan, done, work, self.root)


class Folders:
    """Each plan's pack in its own root (the portal: every coalesced job has its folder); work under ``work_root``,
    which is on the roots' file system."""

    def __init__(self, work_root: Path, roots: dict[int, Path]) -> None:
        self.work_root, self.roots = work_root, roots  # roots by id() of the plan

    @contextlib.contextmanager
    def work(self) -> Iterator[Path]:
        with _staging(self.work_root) as folder:
            yield folder

    def existing(self, plan: PackPlan) -> Pack | None:
        return Folder(self.roots[id(plan)]).existing(plan)

    def install(self, plan: PackPlan, done: Typeset, work: Path) -> Pack:
        return install_pack(plan, done, work, self.roots[id(plan)])


@contextlib.contextmanager
def _staging(root: Path) -> Iterator[Path]:
    root.mkdir(parents=True, exist_ok=True)
    remove_dead_staging(root, ".staging-")
    folder = Path(tempfile.mkdtemp(prefix=f".staging-{os.getpid()}-", dir=root))
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def remove_dead_staging(root: Path, prefix: str) -> None:
    """Staging folders ``<prefix><pid>-…`` in ``root`` of runs that were killed (that pid is gone on this host)."""
    for path in left_by_the_dead(root, f"{glob.escape(prefix)}*", prefix, "-"):
        shutil.rmtree(path, ignore_errors=True)


# A warm LibreOffice (generator.documents.warm) saves a one-shot run's start, about 0.8 CPU-s, but lays a long run out
# dearer: 100-pack runs cost 0.100-0.106 CPU-s per pack on a warm instance against 0.088-0.097 one-shot (alternated in
# one process, 2026-12-06; it also closes every document it opened, which a one-shot run leaves to its exit). From
# this many packs a run is one-shot, as the local runner's batches are, so a Dask chunk of 100 costs what a local
# batch does. A portal's coalesced run (a dozen packs) stays warm.
ONE_SHOT_FROM = 50


def in_one_run(timeout: float | None, converter: Converter | None) -> Typesetter:
    """All jobs in one LibreOffice run in this process (a Dask task's chunk, a portal's coalesced packs): on the warm
    ``converter`` when there is one and the run is shorter than ONE_SHOT_FROM packs, else a one-shot LibreOffice."""

    def run(jobs: list[Job], work: Path, layout: Layout, specs: dict[int, MergeSpec]) -> Batches:
        folder = work / "batch-0"
        yield folder, typeset_and_merge(jobs, folder, layout, timeout, specs, converter if len(jobs) < ONE_SHOT_FROM else None)

    return run


def build_plans(product: Product, plans: Sequence[PackPlan], brochure_pdf: Path, place: Place, *, cache: Path,
                timeout: float | None = None, converter: Converter | None = None, typesetter: Typesetter | None = None,
                progress: Progress | None = None, on_done: OnDone | None = None) -> tuple[list[Pack], list[tuple[PackPlan, RowError]]]:
    """Build every plan's pack (one revision: ``product``) into ``place``; a failing client is reported, the rest go on.

    Packs already there and up to date are kept. The others are typeset by ``typesetter`` (default: one LibreOffice
    run here, :func:`in_one_run`) with the layout learnt once per content version in ``cache``, merged, stamped and
    installed as each batch comes back. Each run of LibreOffice lasts ``timeout`` seconds at most (default: sized to
    its documents, generator.documents.convert.sized_timeout).
    """
    timeout = given_timeout(timeout)  # --timeout, else $DOCGEN_TIMEOUT, else None: each run's own sized default
    if not plans:  # nothing to build (every row refused or bad): leave no folder behind
        return [], []
    built: dict[int, Pack] = {}
    failed: dict[int, RowError] = {}

    def finish(i: int, outcome: Outcome) -> None:
        if isinstance(outcome, Pack):
            built[i] = outcome
        else:
            failed[i] = outcome
        if on_done:
            on_done(plans[i], outcome)

    with place.work() as work:
        todo: list[Job] = []
        for i, plan in enumerate(plans):
            found = place.existing(plan)
            if found is None:
                todo.append(job_of(product, i, plan))
            else:
                finish(i, found)
        log.info("%d pack(s) to build, %d up to date", len(todo), len(built))
        if progress:
            progress(len(built), len(plans))
        if todo:
            layout = learn_layout(layout_job(product, plans[todo[0].index].templates), cache, timeout, converter)
            specs = {job.index: merge_spec(product, plans[job.index], pack_metadata(product, plans[job.index]), brochure_pdf) for job in todo}
            with contextlib.closing((typesetter or in_one_run(timeout, converter))(todo, work, layout, specs)) as batches:
                for folder, typeset_batch in batches:
                    for done in typeset_batch:
                        plan = plans[done.index]
                        try:
                            if done.error:
                                raise done.error
                            pack = place.install(plan, done, work)
                        except DocgenError as exc:
                            stage = done.stage if exc is done.error else "pack"
                            finish(done.index, RowError(plan.request.row, stage, plan.request.client, str(exc), exc))
                        else:
                            finish(done.index, pack)
                        if progress:
                            progress(len(built) + len(failed), len(plans))
                    log.info("batch of %d client(s) installed (%d built, %d failed so far)", len(typeset_batch), len(built), len(failed))
                    shutil.rmtree(folder, ignore_errors=True)  # packs stream out: a finished batch leaves nothing behind
    return [built[i] for i in sorted(built)], [(plans[i], failed[i]) for i in sorted(failed)]


def build_revisions(site: Site, product: Product, plans: Sequence[PackPlan], place: Place, *, schedule: Schedule | None = None,
                    timeout: float | None = None, converter: Converter | None = None, typesetter: Typesetter | None = None,
                    progress: Progress | None = None, on_done: OnDone | None = None) -> tuple[list[Pack], list[tuple[PackPlan, RowError]]]:
    """:func:`build_plans` for plans of several revisions, one revision at a time (its product, templates, brochure);
    ``product`` is the revision of plans planned without a schedule. Issued packs are signed: a bad key setting stops
    the run before any pack."""
    groups: dict[str, list[PackPlan]] = {}
    for plan in plans:
        groups.setdefault(plan.revision, []).append(plan)
    revisions = {name: schedule.by_name(name) if schedule is not None and name and name != product.revision else None for name in groups}
    products = {name: revision.product if revision is not None else product for name, revision in revisions.items()}
    if any(p.meta.approval_number for p in products.values()):
        check_signing_settings()
    built: list[Pack] = []
    failed: list[tuple[PackPlan, RowError]] = []
    for name, group in groups.items():
        revision, own = revisions[name], products[name]
        own_site = revision.on_site(site) if revision is not None else site
        step = _offset(progress, len(built) + len(failed), len(plans)) if progress else None
        packs, errors = build_plans(own, group, cached_brochure(own, own_site), place, cache=site.cache, timeout=timeout, converter=converter,
                                    typesetter=typesetter, progress=step, on_done=on_done)
        built += packs
        failed += errors
    return built, failed


def _offset(progress: Progress, before: int, total: int) -> Progress:
    return lambda done, _total: progress(before + done, total)


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
    return job_of(product, -1, plan_pack(product, request, product.meta.effective_date, templates))


def job_of(product: Product, index: int, plan: PackPlan) -> Job:
    """One client's documents to typeset: each template with its context and Word properties."""
    props = DocProperties(title=plan.title, subject=product.meta.display_name, author=plan.request.agent_name or product.meta.insurer.name,
                          keywords=f"content {product.meta.content_version}; rates {product.rates.rates_version}", date=plan.issued)
    return Job(index, tuple(Doc(d.id, d.part_title, d.word_name, d.template_path(plan.templates), plan.contexts[d.id], props) for d in PERSONALISED))


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


def error_record(error: RowError) -> dict[str, Any]:
    """An error row as ``docgen proposals --json`` prints it (local and cluster runs alike)."""
    return {"row": error.row, "status": getattr(error.error, "status", "error"), "column": error.column, "value": error.value,
            "reason": error.reason}


def summary_line(out: object, built: int, skipped: int, errors: int, errors_file: object = None, *, dry_run: bool = False,
                 planned: int = 0, total_premium: int = 0) -> str:
    """The line a list run ends with (local and cluster runs alike).

    >>> summary_line("out", 3, 1, 2, "out/errors.csv")
    'packs: 3 built, 1 up to date, 2 failed row(s) → out (errors: out/errors.csv)'
    >>> summary_line("out", 0, 0, 1, dry_run=True, planned=4, total_premium=600000)
    'dry run: 4 pack(s) would be built, 1 failed row(s); total premium 600,000円; nothing was written'
    """
    if dry_run:
        return f"dry run: {planned} pack(s) would be built, {errors} failed row(s); total premium {total_premium:,}円; nothing was written"
    text = f"packs: {built} built, {skipped} up to date, {errors} failed row(s) → {out}"
    return text + (f" (errors: {errors_file})" if errors_file else "")
