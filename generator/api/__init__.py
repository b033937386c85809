"""The service API: plain functions with typed results under the CLI, the portal and the distributed runner.

Every function takes a :class:`~generator.site.Site` (where content, templates and outputs live) and returns plain
data; failures are exceptions from :mod:`generator.errors`. Nothing here parses options, prints or exits.

Building one client's pack from Python:

>>> import datetime as dt, tempfile
>>> from pathlib import Path
>>> from generator import api
>>> site = api.Site.from_env()
>>> product = api.load(site)
>>> request = api.client_request(client="有限会社 伸和企画", contact="上", industry="製造業", revenue="4.5億", limit="1億")
>>> api.quote_request(product, request).premium
149000
>>> with tempfile.TemporaryDirectory() as out:  # runs LibreOffice: collected with the libreoffice mark
...     pack = api.build_pack(site, product, request, out=Path(out), today=dt.date(2026, 11, 26))
...     pack.premium, pack.pdf.name, [p.name for p in pack.docx]
(149000, 'サイバーLite_ご提案書.pdf', ['01_ご案内状.docx', '02_お見積書.docx', '03_重要事項説明書.docx'])
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Executor
from contextlib import AbstractContextManager
from pathlib import Path
from typing import TYPE_CHECKING

from generator.api.review import Submitted, approve, reject, review_database, reviewer, submit
from generator.batch.policy import IssuingPolicy
from generator.content.approvals import Approvals
from generator.content.load import product_dirs
from generator.content.model import Product
from generator.content.request import ClientRequest, RowError, parse_client
from generator.content.revisions import Revision, Schedule, load_revisions, new_revision, timeline_problems
from generator.content.validate import validate
from generator.errors import ContentError, InputError, Problem
from generator.rating.rate import Quote
from generator.site import Site

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from generator.batch.assemble import Pack
    from generator.batch.building import OnDone, Typesetter
    from generator.batch.planning import Planner
    from generator.batch.runner import Summary
    from generator.batch.typeset import Converter
    from generator.compliance.check import Published
    from generator.compliance.diff import ContentDiff
    from generator.documents.brochure import BrochureResult
    from generator.documents.proposal import PackPlan
    from generator.documents.provenance import Verification

# Pack, Summary and Converter are imported on first use (PEP 562 __getattr__ below): the pack pipeline (pypdf, docx,
# the layout engine) costs half a second, which `docgen quote`, `validate` and `users add` would otherwise pay at start.
_LAZY = {"Pack": "generator.batch.assemble", "Summary": "generator.batch.runner", "Converter": "generator.batch.typeset"}


def __getattr__(name: str) -> object:
    if name in _LAZY:
        import importlib

        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "Site", "IssuingPolicy", "Approvals", "Pack", "Summary", "Converter", "load", "load_all", "products", "schedule", "approvals", "revision_for",
    "start_revision",
    "client_request", "quote", "quote_request",
    "plan", "planner", "build_planned", "build_pack", "build_packs", "build_list",
    "brochure", "wording", "published", "build", "check", "diff", "diff_report", "verify",
    "review_database", "reviewer", "submit", "approve", "reject", "Submitted",
    # the typed results and inputs the faces name
    "Product", "Schedule", "Revision", "Quote", "ClientRequest",
]

Progress = Callable[[int, int], None]
Sessions = Callable[[], AbstractContextManager["Session"]]  # a session factory: the portal's own database


# --- content ----------------------------------------------------------------------------------


def products(site: Site) -> list[str]:
    """The product keys under the site's content root."""
    return [p.name for p in product_dirs(site.content)]


def _folder(site: Site, key: str | None) -> Path:
    known = products(site)
    if key is None:
        if not known:
            raise InputError("--content", str(site.content), "holds no product (a product is a folder with product.yaml)")
        if len(known) > 1:
            raise InputError("--product", None, "several products exist; say which", allowed=", ".join(known))
        return site.content / known[0]
    if key not in known:  # also refuses '..', absolute paths and anything with a separator
        raise InputError("--product", key, "no such product", allowed=", ".join(known) or "none")
    return site.content / key


def load(site: Site, product: str | None = None, *, lint: bool = True, start: dt.date | None = None, renewal: bool = False,
         today: dt.date | None = None) -> Product:
    """Load, type-check and cross-check one product (the only one when ``product`` is None); lint its templates.

    Returns the revision in force on ``start`` (for a renewal when ``renewal``), by default the one in force today;
    InputError (``start``) when no revision prices that date. Every revision is validated. The product is its content
    alone: the approval its documents print is :func:`approvals`' to decide, and a build's ``approvals`` input.
    """
    return revision_for(schedule(site, product, lint=lint, today=today), start, renewal=renewal, today=today).product


def schedule(site: Site, product: str | None = None, *, lint: bool = True, today: dt.date | None = None,
             approvals: Approvals | None = None, sessions: Sessions | None = None) -> Schedule:
    """Every revision of one product, validated and linted; overlaps, gaps and a draft dated before an approved revision
    (by ``approvals``, default those in the database :func:`approvals` reads) are ContentError with file:line. Load it
    once per list: picking a revision is then a lookup. Its products print no approval: a build takes ``approvals``."""
    today = today or dt.date.today()
    folder = _folder(site, product)
    problems: list[Problem] = []
    checked: list[Revision] = []
    for rev in load_revisions(folder):
        try:
            loaded = validate(rev.product)
            if lint:  # the documents stage costs a quote half a second to import: only when templates are linted
                from generator.documents.product_lint import lint_templates

                found = lint_templates(loaded, rev.on_site(site))
                if found:
                    raise ContentError(found)
        except ContentError as exc:
            problems += exc.problems
            continue
        checked.append(dataclasses.replace(rev, product=loaded))
    if problems:
        raise ContentError(problems)
    sched = Schedule(checked[0].product.key, tuple(sorted(checked, key=lambda r: r.effective)))
    numbers = approvals if approvals is not None else _in_force(site, sched, today=today, sessions=sessions)
    approved = {r.name: numbers.number(r.product) for r in checked if numbers.number(r.product)}
    problems = timeline_problems(checked, approved, today)
    if problems:
        raise ContentError(problems)
    return sched


def approvals(site: Site, sched: Schedule, *, today: dt.date | None = None, sessions: Sessions | None = None) -> Approvals:
    """The approvals in force for a schedule's revisions, each on the day its documents are used (today, or the day a
    later revision takes effect): from the site's database (none yet: every document a draft), or from ``sessions``
    (the portal's own database). A face's caller decides them once and passes them to every build."""
    from generator.compliance.in_force import dated, in_sessions, in_site

    days = dated(sched, today or dt.date.today())
    return in_sessions(sessions, days) if sessions is not None else in_site(site, days)


_in_force = approvals  # what schedule() calls: its parameter of the same name hides the function there


def _printed(approvals: Approvals | None, product: Product, sched: Schedule | None) -> tuple[Product, Schedule | None]:
    """What a build prints: the products with ``approvals`` applied (None: as given, a loaded product being a draft)."""
    if approvals is None:
        return product, sched
    return approvals.printed(product), (approvals.schedule(sched) if sched is not None else None)


def revision_for(sched: Schedule, start: dt.date | None = None, *, renewal: bool = False, today: dt.date | None = None) -> Revision:
    """The revision in force on ``start`` (a renewal's when ``renewal``); without one, the one in force today."""
    return sched.pick(start, renewal, today or dt.date.today())


def start_revision(site: Site, effective: dt.date, *, renewal_effective: dt.date | None = None, product: str | None = None,
                   today: dt.date | None = None) -> Path:
    """``docgen revision new``: the next revision as a copy of the latest, effective ``effective``; its folder."""
    return new_revision(load_revisions(_folder(site, product)), effective, renewal_effective, today=today or dt.date.today())


def load_all(site: Site, *, lint: bool = True) -> list[Product]:
    """Every product of the site, all problems of all of them reported at once."""
    return _each_product(site, products(site), lambda key: [load(site, key, lint=lint)])


def _each_product(site: Site, keys: list[str], one: Callable[[str], list[Product]]) -> list[Product]:
    """What ``one`` gives for every product key, the problems of all of them reported at once (ContentError)."""
    if not keys:
        raise InputError("--content", str(site.content), "holds no product (a product is a folder with product.yaml)")
    problems: list[Problem] = []
    found: list[Product] = []
    for key in keys:
        try:
            found += one(key)
        except ContentError as exc:
            problems += exc.problems
    if problems:
        raise ContentError(problems)
    return found


# --- quotes and packs -------------------------------------------------------------------------


def client_request(**values: str | None) -> ClientRequest:
    """A checked client request from raw text values (client, contact, industry, revenue, limit, agent_name, …).

    Raises InputError for the first bad value; the others are in its ``problems`` attribute.
    """
    from generator.documents.fonts import missing_glyphs

    raw = {k: (v or "") for k, v in values.items()}
    request, errors = parse_client(raw, missing_glyphs=missing_glyphs)
    if request is None:
        first = errors[0]
        exc = first.error if isinstance(first.error, InputError) else InputError(first.column, first.value, first.reason)
        exc.problems = errors
        raise exc
    return request


def issuing_policy(*, agency: str | None = None, agent: str = "", today: dt.date | None = None) -> IssuingPolicy:
    """The issuing policy for the person asking: with ``agency``, a portal agent's (their agency and name, dated
    ``today``); without, the agency operator's (the CLI: what the request says is printed)."""
    if agency is None:
        return IssuingPolicy.operator()
    return IssuingPolicy.for_agent(agency, agent, today or dt.date.today())


def quote(product: Product, industry: str, revenue: int, limit: int, *, deductible: int = 0, options: tuple[str, ...] = (),
          payment: str | None = None) -> Quote:
    """Price one risk from the published table; QuoteRefused (引受不可) or ReferralRequired (要見積) otherwise."""
    from generator.rating.rate import quote as rate_quote

    return rate_quote(product, industry, revenue, limit, deductible=deductible, options=options, payment=payment)


def quote_request(product: Product, request: ClientRequest) -> Quote:
    """The quote a client request's pack would carry."""
    return quote(product, request.industry, request.revenue, request.limit)


def plan(site: Site, product: Product, request: ClientRequest, *, today: dt.date | None = None, schedule: Schedule | None = None,
         approvals: Approvals | None = None) -> PackPlan:
    """Everything one pack is built from (quote, contexts, folder, digest), decided before anything is written.

    With a ``schedule``, the revision in force on the request's start date plans it (InputError ``start`` when none is).
    ``approvals`` (:func:`approvals`): the approval each revision prints.
    """
    from generator.documents.proposal import plan_pack

    today = today or dt.date.today()
    product, schedule = _printed(approvals, product, schedule)
    if schedule is None:
        return plan_pack(product, request, today, site.templates)
    rev = schedule.pick(request.start, request.renewal, today)
    return plan_pack(rev.product, request, today, rev.on_site(site).templates, last_day=schedule.last_day(rev, request.renewal))


def planner(site: Site | None, product: Product, *, today: dt.date | None = None, policy: IssuingPolicy | None = None,
            schedule: Schedule | None = None, start: dt.date | None = None, renewal: bool = False,
            approvals: Approvals | None = None) -> Planner:
    """The one planning step every face uses (generator.batch.planning.Planner): rows or requests held to ``policy``,
    priced by the revision in force on their start date, one pack per client; ``site`` may be None to check only.
    ``approvals`` (:func:`approvals`): the approval each revision prints."""
    from generator.batch.planning import Planner

    product, schedule = _printed(approvals, product, schedule)
    return Planner(site, product, today or dt.date.today(), policy, schedule=schedule, start=start, renewal=renewal)


def build_planned(site: Site, product: Product, plans: Sequence[PackPlan], *, outs: Sequence[Path], work: Path,
                  schedule: Schedule | None = None, jobs: int = 1, timeout: float | None = None, converter: Converter | None = None,
                  progress: Progress | None = None, on_done: OnDone | None = None, approvals: Approvals | None = None,
                  typesetter: Typesetter | None = None) -> tuple[list[Pack], list[tuple[PackPlan, RowError]]]:
    """The one building step for plans (:func:`planner`) that go to different folders: each plan's pack into its
    ``outs`` folder, all of them laid out in one LibreOffice run per revision; ``work`` is on the same file system.
    ``on_done`` gets each plan's pack or error as soon as it is installed or failed; one failure never stops the others.
    ``jobs`` above 1: a long list in batches, that many at once (generator.batch.runner.local_pool). ``approvals``: the
    same the plans were made with (:func:`planner`), for the pages every pack shares (the brochure). ``typesetter``:
    where the run is laid out and merged instead (e.g. a warm lane's process, generator.batch.lanes)."""
    from generator.batch.building import Folders, build_revisions
    from generator.batch.runner import DEFAULT_CHUNK, local_pool

    product, schedule = _printed(approvals, product, schedule)

    place = Folders(work, {id(p): Path(o) for p, o in zip(plans, outs, strict=True)})
    pool = local_pool(DEFAULT_CHUNK, jobs, timeout, None, converter) if jobs > 1 else None
    return build_revisions(site, product, plans, place, schedule=schedule, timeout=timeout, converter=converter, typesetter=typesetter or pool,
                           progress=progress, on_done=on_done)


def build_pack(site: Site, product: Product, request: ClientRequest, *, out: Path | None = None, today: dt.date | None = None,
               timeout: float | None = None, executor: Executor | None = None, converter: Converter | None = None,
               policy: IssuingPolicy | None = None, schedule: Schedule | None = None, approvals: Approvals | None = None) -> Pack:
    """Build (or find up to date) one client's pack under ``out`` (default: the site's proposals folder).

    ``converter`` turns .docx into PDF like ``convert_to_pdf`` (the default, a cold LibreOffice per run); the portal
    passes its :class:`generator.documents.warm.ConverterPool`. With a ``schedule`` (:func:`schedule`), the revision in
    force on the request's start date builds it; ``product`` is then the one for requests without a start date.
    """
    summary = build_packs(site, product, [request], out=out, today=today, jobs=1, timeout=timeout, executor=executor, converter=converter,
                          policy=policy, schedule=schedule, approvals=approvals)
    if summary.errors:
        raise summary.errors[0].as_error()
    return (summary.built or summary.skipped)[0]


def build_packs(site: Site, product: Product, requests: Iterable[ClientRequest], *, out: Path | None = None,
                today: dt.date | None = None, jobs: int = 2, executor: Executor | None = None, progress: Progress | None = None,
                timeout: float | None = None, converter: Converter | None = None, policy: IssuingPolicy | None = None,
                schedule: Schedule | None = None, approvals: Approvals | None = None) -> Summary:
    """Build every request's pack; a request that is refused, referred or fails is an error row, the rest go on.

    ``policy`` (:func:`issuing_policy`) is the agency, contact and dates the asker may put on a document;
    ``approvals`` (:func:`approvals`) the approval each revision prints (None: as ``product`` and ``schedule`` say).

    ``executor`` (any ``concurrent.futures.Executor``) runs the LibreOffice batches; by default ``jobs`` worker processes,
    or ``jobs`` threads sharing ``converter`` (a warm pool) when one is given.
    """
    from generator.batch.runner import run_requests

    product, schedule = _printed(approvals, product, schedule)
    return run_requests(site, product, requests, out=out or site.proposals, today=today or dt.date.today(), jobs=jobs,
                        executor=executor, progress=progress, timeout=timeout, converter=converter, policy=policy, schedule=schedule)


def build_list(site: Site, product: Product, path: Path, *, out: Path | None = None, today: dt.date | None = None, jobs: int = 2,
               executor: Executor | None = None, progress: Progress | None = None, timeout: float | None = None,
               dry_run: bool = False, converter: Converter | None = None, policy: IssuingPolicy | None = None,
               schedule: Schedule | None = None, start: dt.date | None = None, renewal: bool = False,
               approvals: Approvals | None = None) -> Summary:
    """Every row of a client list (.csv/.xlsx): bad rows reported with row, column and reason; the rest get packs.

    ``dry_run`` checks and quotes every row and totals the premiums without LibreOffice and without writing anything.
    ``schedule``: each row is built from the revision in force on its 保険始期日 (its ``start`` cell, else ``start``).
    """
    from generator.batch.runner import run_client_list

    product, schedule = _printed(approvals, product, schedule)
    return run_client_list(site, product, Path(path), out=out or site.proposals, today=today or dt.date.today(), jobs=jobs,
                           executor=executor, progress=progress, timeout=timeout, dry_run=dry_run, converter=converter, policy=policy,
                           schedule=schedule, start=start, renewal=renewal)


# --- published documents and compliance -------------------------------------------------------


def brochure(site: Site, product: Product, *, out: Path | None = None, timeout: float | None = None,
             approvals: Approvals | None = None) -> BrochureResult:
    """The brochure as Word and PDF (default: the site's outputs/brochure), printing ``approvals``' number."""
    from generator.documents.brochure import build_brochure

    product, _ = _printed(approvals, product, None)
    return build_brochure(product, out or site.outputs / "brochure", templates=site.templates, timeout=timeout)


def wording(site: Site, product: Product, *, out: Path | None = None, timeout: float | None = None,
            approvals: Approvals | None = None) -> BrochureResult:
    """The policy wording as Word and PDF (default: the site's outputs/wording), printing ``approvals``' number."""
    from generator.documents.wording import build_wording

    product, _ = _printed(approvals, product, None)
    return build_wording(product, out or site.outputs / "wording", templates=site.templates, timeout=timeout)


def published(site: Site, product: str | None = None, *, today: dt.date | None = None) -> list[Product]:
    """The product revisions whose outputs are published, each printing its approval: the one in force today and every
    later one already approved (in the site's database on its effective date, or as the committed manifest records for
    its exact content) or published before (a change to it is then drift, named with its file:line)."""
    import json

    from generator.compliance.check import MANIFEST
    from generator.compliance.in_force import from_manifest, is_draft

    path = site.outputs / MANIFEST
    manifest = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}
    known = manifest.get("facts", {})

    def of(key: str) -> list[Product]:
        sched = schedule(site, key, today=today)
        in_db = approvals(site, sched, today=today)
        current = revision_for(sched, today=today)
        later = [r.product for r in sched.revisions[sched.revisions.index(current) + 1 :]]
        # a later revision once published stays in the check after a change, so the drift is named, not just dropped
        either = in_db.merged(from_manifest(later, manifest))
        return [in_db.printed(current.product)] + [p for p in map(either.printed, later) if not is_draft(p) or p.manifest_key in known]

    return _each_product(site, [product] if product else products(site), of)


def build(site: Site, products: list[Product]) -> tuple[list[Published], Path]:
    """Rebuild every published output and the manifest; the outputs folder changes only once all of them built."""
    from generator.compliance.check import build_all

    return build_all(site, products)


def check(site: Site, products: list[Product]) -> str:
    """Regenerate every published output and compare; DriftError names each stale output and why."""
    from generator.compliance.check import check as run_check

    return run_check(site, products)


def diff(site: Site, old: str, new: str, product: str | None = None, *, revision: str | None = None) -> ContentDiff:
    """Clause and premium changes between two versions (git revisions or content folders) of one revision (``revision``,
    default the first), or between two revisions named as ``docgen revisions`` lists them (``2026-12 2027-04``)."""
    from generator.compliance.diff import compare, load_pair

    revs = {r.name: r for r in load_revisions(_folder(site, product))}
    if old in revs and new in revs:
        return compare(revs[old].product, revs[new].product, old, new)
    if revision is not None and revision not in revs:
        raise InputError("--revision", revision, "no such revision", allowed=", ".join(revs))
    a, b = load_pair(site, old, new, product, revs[revision].product.revision_path if revision else "")
    return compare(a, b, old, new)


def other_revisions(site: Site, d: ContentDiff, product: str | None = None) -> frozenset[str]:
    """Content hashes of the product's current revisions other than the one ``d`` compares (its ledger impact skips them)."""
    revs = load_revisions(_folder(site, product))
    return frozenset(r.product.digest() for r in revs if r.name != (d.new.revision or revs[0].name)) - {d.old.digest()}


def diff_report(site: Site, d: ContentDiff, *, out: Path, author: str = "docgen") -> tuple[Path, Path]:
    """Write a diff's Markdown summary and its tracked-changes .docx redline into ``out``; return both paths."""
    from generator.compliance.redline import write_report

    return write_report(d, Path(out), templates=site.templates, author=author)


def verify(product: Product, pdf: Path) -> Verification:
    """Whether a PDF docgen made still matches the current content, clause by clause."""
    from generator.documents.provenance import verify_pdf

    return verify_pdf(Path(pdf), product)


def built_from(sched: Schedule, pdf: Path, *, today: dt.date | None = None) -> Revision:
    """The revision a PDF docgen made was built from (its stamped content hash), so it verifies against that revision
    also after a later one took effect; a hash no current revision has (older content): the revision in force today."""
    from generator.documents.provenance import stamped_content_hash

    digest = stamped_content_hash(Path(pdf))
    for rev in sched.revisions:
        if rev.product.digest() == digest:
            return rev
    return revision_for(sched, today=today)
