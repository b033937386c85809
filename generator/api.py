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
from collections.abc import Callable, Iterable
from concurrent.futures import Executor
from pathlib import Path
from typing import TYPE_CHECKING

from generator.batch.clients import ClientRequest, parse_client
from generator.batch.policy import IssuingPolicy
from generator.content.load import product_dirs
from generator.content.model import Product
from generator.content.revisions import Revision, Schedule, load_revisions, new_revision, timeline_problems
from generator.content.validate import validate
from generator.errors import ContentError, InputError, Problem
from generator.rating.rate import Quote
from generator.site import Site

if TYPE_CHECKING:
    from generator.batch.assemble import Pack
    from generator.batch.runner import Summary
    from generator.batch.typeset import Converter

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
    "Site", "IssuingPolicy", "Pack", "Summary", "Converter", "load", "load_all", "products", "schedule", "revision_for", "start_revision",
    "client_request", "quote", "quote_request",
    "plan", "build_pack", "build_packs", "build_list", "brochure", "wording", "published", "build", "check", "diff", "diff_report", "verify",
]

Progress = Callable[[int, int], None]


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
    InputError (``start``) when no revision prices that date. Every revision is validated.
    """
    return revision_for(schedule(site, product, lint=lint, today=today), start, renewal=renewal, today=today).product


def schedule(site: Site, product: str | None = None, *, lint: bool = True, today: dt.date | None = None) -> Schedule:
    """Every revision of one product, validated, linted, each printing the approval it has on the day it is used
    (today, or its effective date for a revision still to come); overlaps, gaps and a draft dated before an approved
    revision are ContentError with file:line. Load it once per list: picking a revision is then a lookup."""
    from generator.compliance.in_force import for_build

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
        # documents print the approval valid on the day they are used: today, or the day a later revision takes effect
        checked.append(dataclasses.replace(rev, product=for_build(site, loaded, max(today, rev.effective))))
    if problems:
        raise ContentError(problems)
    approved = {r.name: r.product.meta.approval_number for r in checked if r.product.meta.approval_number}
    problems = timeline_problems(checked, approved, today)
    if problems:
        raise ContentError(problems)
    return Schedule(checked[0].product.key, tuple(sorted(checked, key=lambda r: r.effective)))


def revision_for(sched: Schedule, start: dt.date | None = None, *, renewal: bool = False, today: dt.date | None = None) -> Revision:
    """The revision in force on ``start`` (a renewal's when ``renewal``); without one, the one in force today."""
    return sched.pick(start, renewal, today or dt.date.today())


def start_revision(site: Site, effective: dt.date, *, renewal_effective: dt.date | None = None, product: str | None = None,
                   today: dt.date | None = None) -> Path:
    """``docgen revision new``: the next revision as a copy of the latest, effective ``effective``; its folder."""
    return new_revision(load_revisions(_folder(site, product)), effective, renewal_effective, today=today or dt.date.today())


def load_all(site: Site, *, lint: bool = True) -> list[Product]:
    """Every product of the site, all problems of all of them reported at once."""
    keys = products(site)
    if not keys:
        raise InputError("--content", str(site.content), "holds no product (a product is a folder with product.yaml)")
    problems: list[Problem] = []
    loaded: list[Product] = []
    for key in keys:
        try:
            loaded.append(load(site, key, lint=lint))
        except ContentError as exc:
            problems += exc.problems
    if problems:
        raise ContentError(problems)
    return loaded


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
        exc.problems = errors  # type: ignore[attr-defined]
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


def plan(site: Site, product: Product, request: ClientRequest, *, today: dt.date | None = None, schedule: Schedule | None = None):
    """Everything one pack is built from (quote, contexts, folder, digest), decided before anything is written.

    With a ``schedule``, the revision in force on the request's start date plans it (InputError ``start`` when none is).
    """
    from generator.documents.proposal import plan_pack

    today = today or dt.date.today()
    if schedule is None:
        return plan_pack(product, request, today, site.templates)
    rev = schedule.pick(request.start, request.renewal, today)
    return plan_pack(rev.product, request, today, rev.on_site(site).templates, last_day=schedule.last_day(rev, request.renewal))


def build_pack(site: Site, product: Product, request: ClientRequest, *, out: Path | None = None, today: dt.date | None = None,
               timeout: float | None = None, executor: Executor | None = None, converter: Converter | None = None,
               policy: IssuingPolicy | None = None, schedule: Schedule | None = None) -> Pack:
    """Build (or find up to date) one client's pack under ``out`` (default: the site's proposals folder).

    ``converter`` turns .docx into PDF like ``convert_to_pdf`` (the default, a cold LibreOffice per run); the portal
    passes its :class:`generator.documents.warm.ConverterPool`. With a ``schedule`` (:func:`schedule`), the revision in
    force on the request's start date builds it; ``product`` is then the one for requests without a start date.
    """
    summary = build_packs(site, product, [request], out=out, today=today, jobs=1, timeout=timeout, executor=executor, converter=converter,
                          policy=policy, schedule=schedule)
    if summary.errors:
        raise summary.errors[0].as_error()
    return (summary.built or summary.skipped)[0]


def build_packs(site: Site, product: Product, requests: Iterable[ClientRequest], *, out: Path | None = None,
                today: dt.date | None = None, jobs: int = 2, executor: Executor | None = None, progress: Progress | None = None,
                timeout: float | None = None, converter: Converter | None = None, policy: IssuingPolicy | None = None,
                schedule: Schedule | None = None) -> Summary:
    """Build every request's pack; a request that is refused, referred or fails is an error row, the rest go on.

    ``policy`` (:func:`issuing_policy`) is the agency, contact and dates the asker may put on a document.

    ``executor`` (any ``concurrent.futures.Executor``) runs the LibreOffice batches; by default ``jobs`` worker processes,
    or ``jobs`` threads sharing ``converter`` (a warm pool) when one is given.
    """
    from generator.batch.runner import run_requests

    return run_requests(site, product, requests, out=out or site.proposals, today=today or dt.date.today(), jobs=jobs,
                        executor=executor, progress=progress, timeout=timeout, converter=converter, policy=policy, schedule=schedule)


def build_list(site: Site, product: Product, path: Path, *, out: Path | None = None, today: dt.date | None = None, jobs: int = 2,
               executor: Executor | None = None, progress: Progress | None = None, timeout: float | None = None,
               dry_run: bool = False, converter: Converter | None = None, policy: IssuingPolicy | None = None,
               schedule: Schedule | None = None, start: dt.date | None = None, renewal: bool = False) -> Summary:
    """Every row of a client list (.csv/.xlsx): bad rows reported with row, column and reason; the rest get packs.

    ``dry_run`` checks and quotes every row and totals the premiums without LibreOffice and without writing anything.
    ``schedule``: each row is built from the revision in force on its 保険始期日 (its ``start`` cell, else ``start``).
    """
    from generator.batch.runner import run_client_list

    return run_client_list(site, product, Path(path), out=out or site.proposals, today=today or dt.date.today(), jobs=jobs,
                           executor=executor, progress=progress, timeout=timeout, dry_run=dry_run, converter=converter, policy=policy,
                           schedule=schedule, start=start, renewal=renewal)


# --- published documents and compliance -------------------------------------------------------


def brochure(site: Site, product: Product, *, out: Path | None = None, timeout: float | None = None):
    """The brochure as Word and PDF (default: the site's outputs/brochure)."""
    from generator.documents.brochure import build_brochure

    return build_brochure(product, out or site.outputs / "brochure", templates=site.templates, timeout=timeout)


def wording(site: Site, product: Product, *, out: Path | None = None, timeout: float | None = None):
    """The policy wording as Word and PDF (default: the site's outputs/wording)."""
    from generator.documents.wording import build_wording

    return build_wording(product, out or site.outputs / "wording", templates=site.templates, timeout=timeout)


def published(site: Site, product: str | None = None, *, today: dt.date | None = None) -> list[Product]:
    """The product revisions whose outputs are published: the one in force today and every later one already approved
    (in the site's database on its effective date, or as the committed manifest records for its exact content) or
    published before (a change to it is then drift, named with its file:line)."""
    import json

    from generator.compliance.check import MANIFEST
    from generator.compliance.in_force import from_manifest, is_draft

    path = site.outputs / MANIFEST
    manifest = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}
    keys = [product] if product else products(site)
    if not keys:
        raise InputError("--content", str(site.content), "holds no product (a product is a folder with product.yaml)")
    found: list[Product] = []
    problems: list[Problem] = []
    for key in keys:
        try:
            sched = schedule(site, key, today=today)
        except ContentError as exc:
            problems += exc.problems
            continue
        current = revision_for(sched, today=today)
        later = sched.revisions[sched.revisions.index(current) + 1 :]
        # a later revision once published stays in the check after a change, so the drift is named, not just dropped
        known = manifest.get("facts", {})
        found += [current.product] + [p for p in (from_manifest(r.product, manifest) for r in later) if not is_draft(p) or p.manifest_key in known]
    if problems:
        raise ContentError(problems)
    return found


def build(site: Site, products: list[Product]):
    """Rebuild every published output and the manifest; the outputs folder changes only once all of them built."""
    from generator.compliance.check import build_all

    return build_all(site, products)


def check(site: Site, products: list[Product]) -> str:
    """Regenerate every published output and compare; DriftError names each stale output and why."""
    from generator.compliance.check import check as run_check

    return run_check(site, products)


def diff(site: Site, old: str, new: str, product: str | None = None, *, revision: str | None = None):
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


def other_revisions(site: Site, d, product: str | None = None) -> frozenset[str]:
    """Content hashes of the product's current revisions other than the one ``d`` compares (its ledger impact skips them)."""
    revs = load_revisions(_folder(site, product))
    return frozenset(r.product.digest() for r in revs if r.name != (d.new.revision or revs[0].name)) - {d.old.digest()}


def diff_report(site: Site, d, *, out: Path, author: str = "docgen") -> tuple[Path, Path]:
    """Write a diff's Markdown summary and its tracked-changes .docx redline into ``out``; return both paths."""
    from generator.compliance.diff import markdown, report_stem
    from generator.compliance.redline import write_redline
    from generator.documents.render import write_atomic

    stem = report_stem(d)
    md = write_atomic(Path(out) / f"{stem}.md", markdown(d).encode("utf-8"))
    redline = write_redline(d, Path(out) / f"{stem}_redline.docx", templates=site.templates, author=author)
    return md, redline


def verify(product: Product, pdf: Path):
    """Whether a PDF docgen made still matches the current content, clause by clause."""
    from generator.compliance.provenance import verify_pdf

    return verify_pdf(Path(pdf), product)


def built_from(sched: Schedule, pdf: Path, *, today: dt.date | None = None) -> Revision:
    """The revision a PDF docgen made was built from (its stamped content hash), so it verifies against that revision
    also after a later one took effect; a hash no current revision has (older content): the revision in force today."""
    from generator.compliance.provenance import stamped_content_hash

    digest = stamped_content_hash(Path(pdf))
    for rev in sched.revisions:
        if rev.product.digest() == digest:
            return rev
    return revision_for(sched, today=today)


# --- content drafts (the portal's editor) -----------------------------------------------------------------------------
# A draft is a git branch of the content repository (generator.compliance.drafts); these functions read it, check it
# with the same rules as `docgen validate`, and take it through submit / approve / reject.


def content_repo(site: Site):  # type: ignore[no-untyped-def]
    from generator.compliance.drafts import ContentRepo

    return ContentRepo(site.content)


def start_draft(site: Site, revision: str, title: str, author: tuple[str, str], product: str | None = None):  # type: ignore[no-untyped-def]
    """A new draft of the revision named ``revision`` (as `docgen revisions` lists them), at the content's HEAD."""
    folder = _folder(site, product)
    revs = {r.name: r for r in load_revisions(folder)}
    if revision not in revs:
        raise InputError("revision", revision, "no such revision", allowed=", ".join(revs))
    repo = content_repo(site)
    inside = f"{repo.inside}/{folder.name}" + (f"/{revs[revision].product.revision_path}" if revs[revision].product.revision_path else "")
    return repo.start(folder.name, revision, inside, title, author)


def draft_state(session, draft):  # type: ignore[no-untyped-def]
    """open, pending, approved or rejected, and the draft's latest submission (generator.compliance.drafts.state)."""
    from generator.compliance.drafts import state

    return state(session, draft)


def save_draft(site: Site, draft, file_name: str, changes: dict[str, str], opened_at: str, author: tuple[str, str]):  # type: ignore[no-untyped-def]
    """Save a section's form as the person's commit on the draft; EditConflict names a field someone else saved since."""
    from generator.compliance.drafts import save

    return save(content_repo(site), draft, file_name, changes, opened_at, author)


def add_draft_clause(site: Site, draft, file_name: str, list_path: str, author: tuple[str, str]) -> tuple[str, str]:  # type: ignore[no-untyped-def]
    """A new clause with the next never-used ID at the end of a list of the draft; the commit and the ID."""
    from generator.compliance.drafts import add_clause

    return add_clause(content_repo(site), draft, file_name, list_path, author)


def _draft_site(site: Site, root: Path) -> Site:
    return dataclasses.replace(site, content=root)


def _draft_revision(site: Site, root: Path, draft) -> Revision:  # type: ignore[no-untyped-def]
    for rev in load_revisions(root / draft.product):
        if rev.name == draft.revision:
            return rev
    raise InputError("revision", draft.revision, "the draft's revision is no longer in its content")


def check_draft(site: Site, draft, file_name: str, changes: dict[str, str]):  # type: ignore[no-untyped-def]
    """What saving ``changes`` to the draft's ``file_name`` would meet: the inputs that cannot be taken (by field), and
    every problem `docgen validate` finds in the draft with them (types, cross-references, templates, glyphs, lengths)."""
    from generator.compliance.diff import content_root
    from generator.content import edit
    from generator.documents.fonts import missing_glyphs
    from generator.i18n import N_

    repo = content_repo(site)
    path = f"{draft.folder}/{file_name}"
    new_text, changed, field_problems = edit.apply(file_name, repo.read(draft.head, path), changes)
    for where, value in changed.items():  # what the documents' fonts cannot print (LibreOffice would swap in another font)
        missing = missing_glyphs(value) if isinstance(value, str) else []
        if missing:
            field_problems.append(edit.FieldProblem(where, N_("holds characters the documents' fonts cannot print: {chars}"),
                                                    {"chars": " ".join(missing[:10])}))
    problems: list[Problem] = []
    with content_root(draft.head, site.content) as root:
        (root / path.removeprefix(repo.inside + "/")).write_text(new_text, encoding="utf-8")
        try:
            schedule(_draft_site(site, root), draft.product)
        except ContentError as exc:
            problems = exc.problems
    return field_problems, problems


def draft_diff(site: Site, draft):  # type: ignore[no-untyped-def]
    """The draft's revision as it was when the draft started against the draft: clauses and premium cells changed (while
    the draft can be merged, the content's HEAD is that start: submit and approve refuse otherwise)."""
    from generator.compliance.diff import compare, content_root

    with content_root(draft.base or "HEAD", site.content) as old_root, content_root(draft.head, site.content) as new_root:
        old, new = _draft_revision(site, old_root, draft).product, _draft_revision(site, new_root, draft).product
    return compare(validate(old), validate(new), "下書き作成時の内容", f"下書き {draft.number}")


def preview_draft(site: Site, draft, d, out: Path, converter=None) -> dict[str, list[int]]:  # type: ignore[no-untyped-def]
    """The draft's brochure (``out``/brochure.pdf, laid out once per draft head) and the pages each change of ``d`` is on."""
    from generator.compliance.diff import content_root
    from generator.documents.preview import brochure_pdf, pages_with
    from generator.jpformat import format_yen

    pdf = out / "brochure.pdf"
    if not pdf.is_file():
        with content_root(draft.head, site.content) as root:
            rev = _draft_revision(site, root, draft)
            brochure_pdf(validate(rev.product), (rev.templates or site.templates), pdf, converter)
    needles = {c.id: c.new.text for c in d.clauses if c.new is not None}
    needles |= {c.key: format_yen(c.new.premium).removesuffix("円") for c in d.cells if c.new is not None}
    return pages_with(pdf, needles)


def submit_draft(site: Site, session, draft, user):  # type: ignore[no-untyped-def]
    """Put the draft up for review as it is now: the submission of its exact content, with the redline against HEAD."""
    from generator.compliance import approval as ap
    from generator.compliance.diff import content_root
    from generator.errors import DraftError
    from generator.i18n import N_
    from generator.store.audit import record

    repo = content_repo(site)
    if not repo.is_ancestor("HEAD", draft.head):
        raise DraftError("draft", draft.number, N_("the content changed since this draft was started; start a new draft from today's content"))
    d = draft_diff(site, draft)
    if d.empty:
        raise DraftError("draft", draft.number, N_("changes nothing yet; edit it before submitting"))
    with content_root(draft.head, site.content) as root:  # every check of `docgen validate`, templates and glyphs included
        schedule(_draft_site(site, root), draft.product)
    sub = ap.submit(session, d.new, user, revision=f"{draft.branch}@{draft.head}")
    out = Path(site.storage) / "submissions" / str(sub.id)
    md, redline = diff_report(site, d, out=out, author=user.email)
    sub.summary, sub.redline_key = md.read_text(encoding="utf-8"), str(redline.relative_to(site.storage))
    record(session, user, "draft.submit", draft.branch, {"submission": sub.id, "commit": draft.head, "content_hash": d.new.digest()})
    return sub


def approve_draft(site: Site, session, draft, user, *, number: str | None = None, note: str = ""):  # type: ignore[no-untyped-def]
    """Approve the draft's pending submission and merge it into the content (fast-forward): what builds is what was approved."""
    from generator.compliance import approval as ap
    from generator.compliance.drafts import submission_of
    from generator.errors import DraftError
    from generator.i18n import N_
    from generator.store.audit import record

    sub = submission_of(session, draft)
    if sub is None or sub.state != "pending" or not sub.revision.endswith("@" + draft.head):
        raise DraftError("draft", draft.number, N_("has no pending submission of its current content; submit it again"))
    d = draft_diff(site, draft)
    approval = ap.approve(session, d.new, user, number=number, note=note)
    content_repo(site).merge(draft)
    record(session, user, "draft.merge", draft.branch, {"commit": draft.head, "approval": approval.approval_number})
    return approval


def reject_draft(site: Site, session, draft, user, reason: str):  # type: ignore[no-untyped-def]
    """Send the draft back to its author with ``reason`` (the submission is rejected; the draft stays editable)."""
    from generator.compliance import approval as ap
    from generator.compliance.drafts import submission_of
    from generator.errors import DraftError
    from generator.i18n import N_

    sub = submission_of(session, draft)
    if sub is None or sub.state != "pending":
        raise DraftError("draft", draft.number, N_("has no pending submission of its current content; submit it again"))
    return ap.reject(session, sub.product, sub.content_hash, user, reason)
