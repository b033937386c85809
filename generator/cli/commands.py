"""The docgen command line's parser and its content, document and list commands; the only place errors become exit codes."""

from __future__ import annotations

import argparse
import datetime as dt
import logging
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from generator import __version__, api, i18n, settings
from generator.batch import distributed
from generator.cli.compliance import add_commands as add_compliance_commands
from generator.cli.compliance import disclosure_warnings, draft_notice
from generator.cli.output import EXIT_CODES, Output, Progress
from generator.cli.portal import add_commands as add_portal_commands
from generator.errors import ContentError, DocgenError, InputError, MissingExtra
from generator.jpformat import format_yen, format_yen_units, parse_date, parse_yen

if TYPE_CHECKING:
    from generator.compliance.impact import AffectedPack
    from generator.documents.brochure import BrochureResult

log = logging.getLogger("docgen")


def _site(args: argparse.Namespace) -> api.Site:
    return api.Site.from_env(content=args.content, templates=args.templates, outputs=args.outputs, cache=args.cache)


def _products(args: argparse.Namespace) -> list[api.Product]:
    site = _site(args)
    return [api.load(site, args.product)] if args.product else api.load_all(site)


def cmd_validate(args: argparse.Namespace, out: Output) -> int:
    products = _products(args)  # every revision of each: validated, linted, their dates checked
    disclosure_warnings(out, products)
    rows = []
    for p in products:
        sched = api.schedule(_site(args), p.key, lint=False)
        cells = sum(len(row) for c in p.rates.classes for row in c.premiums)
        exclusions = sum(len(g.items) for g in p.exclusions.groups)
        rows.append({"product": p.key, "name": p.meta.name, "content_version": p.meta.content_version, "rates_version": p.rates.rates_version,
                     "content_hash": p.digest(), "files": len(p.file_hashes), "exclusions": exclusions,
                     "risk_services": len(p.risk_services.services), "partners": len(p.emergency_support.partners), "premium_cells": cells,
                     "revisions": [{"name": r.name, "effective": r.effective.isoformat(), "renewal_effective": r.renewal_effective.isoformat(),
                                    "content_hash": r.product.digest(), "rates_version": r.product.rates.rates_version} for r in sched.revisions]})
        out.line(f"ok: {p.key} {p.meta.name} v{p.meta.content_version} (rates {p.rates.rates_version}): {len(p.file_hashes)} files, "
                 f"{exclusions} exclusions, {len(p.risk_services.services)} risk services, {len(p.emergency_support.partners)} partners, {cells} premium cells")
        if not sched.single:
            out.line(f"    revisions: {sched.periods()}")
    out.json({"status": "ok", "products": rows})
    return 0


def _publish(args: argparse.Namespace, out: Output, kind: str, build: Callable[..., BrochureResult]) -> int:
    """``docgen brochure`` / ``docgen wording``: one published document as Word and PDF."""
    site = _site(args)
    sched = api.schedule(site, args.product)
    product, approvals = api.revision_for(sched).product, api.approvals(site, sched)  # decided once, printed by the build
    draft_notice(out, [approvals.printed(product)])
    result = build(site, product, out=_path(args.out), timeout=args.timeout, approvals=approvals)
    out.line(f"built: {result.docx} and {result.pdf} ({result.pages} pages)")
    out.json({"status": "ok", "document": kind, "docx": str(result.docx), "pdf": str(result.pdf), "pages": result.pages})
    return 0


def cmd_brochure(args: argparse.Namespace, out: Output) -> int:
    return _publish(args, out, "brochure", api.brochure)


def cmd_wording(args: argparse.Namespace, out: Output) -> int:
    return _publish(args, out, "wording", api.wording)


def cmd_build(args: argparse.Namespace, out: Output) -> int:
    products = api.published(_site(args), args.product)  # the revision in force and every approved later one
    draft_notice(out, products)
    published, manifest = api.build(_site(args), products)
    for item in published:
        out.line(f"built: {item.path}")
    out.line(f"{len(published)} published outputs and {manifest}")
    out.json({"status": "ok", "outputs": [{"path": str(p.path), "product": p.product, "kind": p.kind} for p in published], "manifest": str(manifest)})
    return 0


def cmd_check(args: argparse.Namespace, out: Output) -> int:
    message = api.check(_site(args), api.published(_site(args), args.product))
    out.line(message)
    out.json({"status": "ok", "message": message})
    return 0


def cmd_diff(args: argparse.Namespace, out: Output) -> int:
    site = _site(args)
    d = api.diff(site, args.old, args.new, args.product, revision=args.revision)
    md, redline = api.diff_report(site, d, out=_path(args.out) or site.outputs / "diff", author=args.author)
    for line in d.summary_lines():
        out.line(line)
    from generator.compliance.impact import impact_lines, ledger_impact  # the ledger (SQLAlchemy) only for diff

    if d.old.revision and d.new.revision and d.old.revision != d.new.revision:  # two revisions: neither changed
        affected: list[AffectedPack] | None = []
        out.line(f"issued packs: none affected; each stays with the revision it was built from ({d.new.revision} applies to "
                 f"policies starting from {d.new.meta.effective_date})")
    else:
        affected = ledger_impact(site, d, api.other_revisions(site, d, args.product))  # packs of this revision with the old wording
        for line in impact_lines(affected):
            out.line(line)
    out.line(f"written: {md} and {redline} (tracked changes)")
    out.json({"status": "ok", **d.as_dict(), "markdown": str(md), "redline": str(redline),
              "affected_packs": None if affected is None else [p.as_dict() for p in affected]})
    return 0


def cmd_verify(args: argparse.Namespace, out: Output) -> int:
    sched = api.schedule(_site(args), args.product, lint=False)  # reads no template
    failed = 0
    for pdf in args.files:
        rev = api.built_from(sched, Path(pdf))  # the revision it was built from, also once a later one took effect
        result = api.verify(rev.product, Path(pdf))
        if not sched.single:
            out.line(f"{pdf}: verified against revision {rev.name} (from {rev.effective})")
        for line in result.lines():
            out.line(line)
        out.json(result.as_dict())
        failed += not result.matches
    return 1 if failed else 0


def _start(args: argparse.Namespace) -> dt.date | None:
    return parse_date(args.start, field="--start") if getattr(args, "start", None) else None


def _revision_json(sched: api.Schedule, rev: api.Revision, start: dt.date | None, renewal: bool, number: str) -> dict[str, Any]:
    last = sched.last_day(rev, renewal)
    return {"revision": {"name": rev.name, "effective": rev.effective.isoformat(), "renewal_effective": rev.renewal_effective.isoformat(),
                         "last_day": last.isoformat() if last else None, "approval": number or None},
            "start": start.isoformat() if start else None, "renewal": renewal}


def _from_today(sched: api.Schedule) -> list[api.Product]:  # the revisions a list may be built from: in force today and later
    revs = sched.revisions
    return [r.product for r in revs[revs.index(api.revision_for(sched)) :]]


def cmd_quote(args: argparse.Namespace, out: Output) -> int:
    start = _start(args)
    site = _site(args)
    sched = api.schedule(site, args.product, lint=False)  # reads no template
    rev = api.revision_for(sched, start, renewal=args.renewal)
    product, number = rev.product, api.approvals(site, sched).number(rev.product)
    revenue = parse_yen(args.revenue, field="--revenue")
    limit = parse_yen(args.limit, field="--limit")
    deductible = parse_yen(args.deductible, field="--deductible") if args.deductible else 0
    q = api.quote(product, args.industry, revenue, limit, deductible=deductible, options=tuple(args.option), payment=args.payment)
    out.json({"status": "ok", **q.as_dict(), **_revision_json(sched, rev, start, args.renewal, number)})
    out.line(f"{q.product} お見積り (rates {q.rates_version})")
    if start is not None or not sched.single:
        last = sched.last_day(rev, args.renewal)
        kind = "更新契約" if args.renewal else "新規契約"
        out.line(f"  保険始期日    {start.isoformat() if start else '指定なし（本日時点の改定）'} ({kind})")
        out.line(f"  適用改定      {rev.name} ({rev.starts(args.renewal)}〜{last or ''}; 承認番号 {number or '未取得'})")
    out.line(f"  業種区分      {q.class_code} ({q.industry})")
    out.line(f"  売上高        {format_yen_units(q.revenue)} → {q.band_label}")
    out.line(f"  賠償保険金額  {format_yen_units(q.limit)}")
    out.line(f"  費用保険金額  {format_yen_units(q.expense_limit)}")
    out.line(f"  年間保険料    {format_yen(q.premium)} ({q.payment_method})")
    out.line("  前提となる契約条件:")
    for text in q.premises:
        out.line(f"    ・{text}")
    return 0


def _client_values(args: argparse.Namespace) -> dict[str, str | None]:
    values = {k: getattr(args, k) for k in ("client", "contact", "industry", "revenue", "limit", "agent_name", "agent_contact", "date", "start")}
    return values | {"renewal": "更新" if args.renewal else ""}


def cmd_proposal(args: argparse.Namespace, out: Output) -> int:
    site = _site(args)
    sched = api.schedule(site, args.product)
    product, approvals = api.revision_for(sched).product, api.approvals(site, sched)
    try:
        request = api.client_request(**_client_values(args))
    except InputError as exc:  # named as the option typed on the command line: --agent-name, not agent_name
        raise InputError(f"--{exc.field.replace('_', '-')}", exc.value, exc.reason) from None
    # the revision the pack is built from, printing its approval
    draft_notice(out, [approvals.printed(api.revision_for(sched, request.start, renewal=request.renewal).product)])
    pack = api.build_pack(site, product, request, out=_path(args.out), timeout=args.timeout, schedule=sched, approvals=approvals,
                          policy=api.issuing_policy())  # a CLI user is the agency operator: what the options say is printed
    state = "up to date" if pack.skipped else "built"
    out.line(f"{state}: {pack.pdf} ({pack.pages} pages; premium {pack.premium:,}円; Word files beside it)")
    out.json(pack.as_dict())
    return 0


def cmd_proposals(args: argparse.Namespace, out: Output) -> int:
    if distributed.wants_cluster(args) and not args.dry_run:  # a dry run builds nothing: it needs no cluster
        return _proposals_on_cluster(args, out)
    site = _site(args)
    sched = api.schedule(site, args.product)
    product, approvals = api.revision_for(sched).product, api.approvals(site, sched)
    draft_notice(out, [approvals.printed(p) for p in _from_today(sched)])
    progress = None if args.dry_run or out.json_mode else Progress(out, "packs")
    summary = api.build_list(site, product, Path(args.file), out=_path(args.out), jobs=args.jobs, progress=progress,
                             timeout=args.timeout, dry_run=args.dry_run, schedule=sched, start=_start(args), renewal=args.renewal,
                             policy=api.issuing_policy(), approvals=approvals)
    if progress:
        progress.close()
    for error in summary.errors:
        out.error(str(error))
    if out.json_mode:
        for record in summary.records():
            out.json(record)
    elif args.dry_run:
        for plan in summary.planned:
            out.line(f"row {plan.request.row}: {plan.request.addressee}: {plan.quote.class_code} {plan.quote.band_label} "
                     f"{format_yen_units(plan.quote.limit)} → {format_yen(plan.quote.premium)} (revision {plan.revision})")
    out.line(summary.line())
    return 1 if summary.errors else 0


def _proposals_on_cluster(args: argparse.Namespace, out: Output) -> int:
    """``docgen proposals`` on Dask (generator/batch/distributed.py): the same report, --json records in row order."""
    import datetime as dt

    distributed.check_options(args)  # a bad --scheduler says so before anything is loaded
    site = _site(args)
    sched = api.schedule(site, args.product)
    product, approvals = api.revision_for(sched).product, api.approvals(site, sched)
    draft_notice(out, [approvals.printed(p) for p in _from_today(sched)])
    progress = None if out.json_mode else Progress(out, "packs")
    summary = distributed.run_command(args, site, product, today=dt.date.today(), progress=progress, schedule=sched, approvals=approvals,
                                      start=_start(args), renewal=args.renewal,
                                      on_record=out.json if out.json_mode else None)
    if progress:
        progress.close()
    for error in summary.errors:
        out.error(str(error))
    out.line(summary.line())
    return 1 if summary.errors else 0


def cmd_revisions(args: argparse.Namespace, out: Output) -> int:
    import datetime as dt

    today = dt.date.today()
    site = _site(args)
    sched = api.schedule(site, args.product, lint=False)
    current, approvals = api.revision_for(sched, today=today), api.approvals(site, sched, today=today)
    for rev in sched.revisions:
        last, renewal_last = sched.last_day(rev, False), sched.last_day(rev, True)
        number = approvals.number(rev.product)
        when = "in force" if rev is current else ("future" if rev.effective > today else "past")
        state = f"approved {number}" if number else "draft (no valid approval)"
        out.line(f"{rev.name}  new business {rev.effective}〜{last or ''}  renewals {rev.renewal_effective}〜{renewal_last or ''}  "
                 f"{when}  content {rev.product.digest()}  rates {rev.product.rates.rates_version}  {state}  {rev.folder}")
        out.json({"product": sched.product, "revision": rev.name, "folder": str(rev.folder), "effective": rev.effective.isoformat(),
                  "last_day": last.isoformat() if last else None, "renewal_effective": rev.renewal_effective.isoformat(),
                  "renewal_last_day": renewal_last.isoformat() if renewal_last else None, "in_force": rev is current, "when": when,
                  "content_hash": rev.product.digest(), "rates_version": rev.product.rates.rates_version,
                  "approval": number or None, "templates": str(rev.templates) if rev.templates else None})
    return 0


def cmd_revision_new(args: argparse.Namespace, out: Output) -> int:
    effective = parse_date(args.effective, field="--effective")
    renewal = parse_date(args.renewal_effective, field="--renewal-effective") if args.renewal_effective else None
    folder = api.start_revision(_site(args), effective, renewal_effective=renewal, product=args.product)
    out.line(str(folder))
    out.json({"status": "ok", "folder": str(folder), "effective": effective.isoformat(), "renewal_effective": renewal.isoformat() if renewal else None})
    return 0


# --- options ------------------------------------------------------------------------------------


def _path(value: str | None) -> Path | None:
    return Path(value) if value else None


def positive_int(text: str) -> int:
    """argparse type: a whole number ≥ 1 (``--jobs 0`` is nonsense)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} is too small; at least 1")
    return value


def positive_seconds(text: str) -> float:
    """argparse type: seconds > 0 (a timeout)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not 0 < value <= 3600:
        raise argparse.ArgumentTypeError(f"{value:g} is out of range; between 0 and 3600 seconds")
    return value


EXAMPLES = {
    "validate": "docgen validate\n  docgen validate --json",
    "brochure": "docgen brochure\n  docgen brochure --out /tmp/brochure",
    "wording": "docgen wording",
    "build": "docgen build          # then commit content/ and outputs/ together",
    "check": "docgen check          # exit 1 names each stale output, the clause or premium and its file:line",
    "diff": "docgen diff HEAD~1 content\n  docgen diff v1.0.0 HEAD --json\n  docgen diff 2026-12 2027-04   # two revisions by name",
    "verify": "docgen verify 'outputs/proposals/有限会社 伸和企画 上/サイバーLite_ご提案書.pdf'",
    "quote": "docgen quote --industry 製造業 --revenue 4.5億 --limit 1億\n  docgen quote --industry D02 --revenue 12億 --limit 3000万 --json",
    "proposal": "docgen proposal --client '有限会社 伸和企画' --contact 上 --industry 製造業 --revenue 4.5億 --limit 1億",
    "revisions": "docgen revisions      # every revision: dates, content hash, approval state",
    "revision": "docgen revision new --effective 2027-04-01 [--renewal-effective 2027-05-01]",
    "proposals": "docgen proposals clients.xlsx --dry-run     # check every row and total the premiums, in seconds\n"
                 "  docgen proposals clients.xlsx --out packs/",
}


def folder_options(parser: argparse.ArgumentParser, default: object) -> None:
    """--content, --templates, --outputs, --cache; a command's own copy keeps the main one's value when not given."""
    roots = parser.add_argument_group("folders (default: this checkout's, or DOCGEN_CONTENT, DOCGEN_TEMPLATES, …)")
    roots.add_argument("--content", default=default, help="content root: one folder per product")
    roots.add_argument("--templates", default=default, help="folder of the .docx templates")
    roots.add_argument("--outputs", default=default, help="published outputs and their manifest.json")
    roots.add_argument("--cache", default=default, help="where laid-out brochures and static pages are kept between runs")


def start_options(parser: argparse.ArgumentParser, *, list_: bool = False) -> None:
    """--start and --renewal: the policy's 保険始期日 picks the revision that prices it and provides its documents."""
    more = " for rows without a 保険始期日 (start) cell" if list_ else ""
    parser.add_argument("--start", help=f"保険始期日 (policy start date){more}: 2027-04-01 or 令和9年4月1日; default: the revision in force today")
    parser.add_argument("--renewal", action="store_true", help=f"a renewal{more}: priced by the revision in force for renewals on --start")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="docgen", epilog=EXIT_CODES, formatter_class=argparse.RawDescriptionHelpFormatter,
        description="サイバーLite and other products: brochures, proposal packs, policy wording and compliance checks "
                    "from the content in content/ and the Word templates in templates/.")
    parser.add_argument("--version", action="version", version=f"docgen {__version__}")
    parser.add_argument("--lang", choices=i18n.LANGUAGES, help=f"language of error messages (default: ${i18n.LANG_ENV}, else en)")
    folder_options(parser, default=None)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def add(name: str, func: Callable[[argparse.Namespace, Output], int], help_: str, *, converts: bool = False) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help_, description=help_, epilog=f"example:\n  {EXAMPLES[name]}\n\n{EXIT_CODES}",
                           formatter_class=argparse.RawDescriptionHelpFormatter)
        p.set_defaults(func=func)
        folder_options(p, default=argparse.SUPPRESS)  # before or after the command: docgen check --outputs DIR
        p.add_argument("--product", help="product folder under the content root (default: the only one)")
        p.add_argument("--json", action="store_true", help="machine-readable output on stdout (field names: README)")
        talk = p.add_mutually_exclusive_group()
        talk.add_argument("-q", "--quiet", action="store_true", help="only errors")
        talk.add_argument("-v", "--verbose", action="store_true", help="say what is being done, step by step")
        if converts:
            p.add_argument("--timeout", type=positive_seconds, help="seconds LibreOffice may take per run before it is killed (default: $DOCGEN_TIMEOUT, "
                           "else 20 + 1 per document of the run, 30 to 300; 180 for the brochure and wording)")
        return p

    add("validate", cmd_validate, "check all content, rates and templates; report every problem")
    b = add("brochure", cmd_brochure, "the product brochure as Word and PDF (marketing)", converts=True)
    b.add_argument("--out", help="output folder (default: outputs/brochure)")
    w = add("wording", cmd_wording, "the policy wording as Word and PDF: coverage, limits, conditions, every exclusion by ID", converts=True)
    w.add_argument("--out", help="output folder (default: outputs/wording)")
    add("build", cmd_build, "rebuild every published output (brochure, wording, sample pack) and outputs/manifest.json", converts=True)
    add("check", cmd_check, "rebuild every published output and fail if any drifted from content, rates or templates", converts=True)
    df = add("diff", cmd_diff, "wording and premium changes between two versions, where they print, as Markdown and a tracked-changes .docx")
    df.add_argument("old", help="old version: a git revision (HEAD~1, v1.0.0) or a content folder")
    df.add_argument("new", help="new version: a git revision or a content folder (e.g. content)")
    df.add_argument("--out", help="where the summary and the redline go (default: outputs/diff)")
    df.add_argument("--author", default="docgen", help="author of the tracked changes (default: %(default)s)")
    df.add_argument("--revision", help="compare this revision's folder in both versions (default: the first); "
                                       "or give two revision names as OLD and NEW (docgen diff 2026-12 2027-04)")
    vf = add("verify", cmd_verify, "does a PDF docgen made (e.g. one an agent sent) still match the current content?")
    vf.add_argument("files", nargs="+", help="PDF files")

    q = add("quote", cmd_quote, "the premium for an industry, revenue and limit from the published table")
    q.add_argument("--industry", required=True, help="industry as in the rate table (製造業, 小売業, …) or class code (D01)")
    q.add_argument("--revenue", required=True, help="annual revenue: 450000000, 4.5億, 4億5000万, 45000万円")
    q.add_argument("--limit", required=True, help="liability limit: 1000万, 3000万, 5000万, 1億, 3億")
    q.add_argument("--deductible", help="自己負担額 (anything but 0 is a referral)")
    q.add_argument("--option", action="append", default=[], help="利益損害 or 営業継続費用 (a referral)")
    q.add_argument("--payment", help="保険料払込方法 (anything but 一括払 is a referral)")
    start_options(q)

    pr = add("proposal", cmd_proposal, "one client's proposal pack: letter, quote, 重要事項説明書 and brochure in one PDF, plus Word files",
             converts=True)
    pr.add_argument("--client", required=True, help="client company name, e.g. '有限会社 伸和企画'")
    pr.add_argument("--contact", help="contact person (the letter says '… 様'); omit for '… 御中'")
    pr.add_argument("--industry", required=True, help="industry name or class code")
    pr.add_argument("--revenue", required=True, help="annual revenue, e.g. 4.5億")
    pr.add_argument("--limit", required=True, help="liability limit, e.g. 1億")
    pr.add_argument("--agent-name", help="agency name printed on the letter and quote")
    pr.add_argument("--agent-contact", help="agency contact line, e.g. '担当：山本'")
    pr.add_argument("--date", help="issue date (default today): 2026-11-26 or 令和8年11月26日")
    pr.add_argument("--out", help="proposals folder (default: outputs/proposals)")
    start_options(pr)

    ps = add("proposals", cmd_proposals, "proposal packs for every row of a client list (.csv or .xlsx)", converts=True)
    ps.add_argument("file", help="client list; content/samples/README.md describes the columns")
    ps.add_argument("--out", help="proposals folder (default: outputs/proposals)")
    ps.add_argument("--jobs", type=positive_int, default=2, help="LibreOffice processes at once, about one per core (default: %(default)s)")
    ps.add_argument("--dry-run", action="store_true", help="check and quote every row, total the premiums; build nothing (no LibreOffice)")
    start_options(ps, list_=True)
    distributed.add_options(ps)  # --scheduler, --workers, --chunk
    add("revisions", cmd_revisions, "the product's revisions: effective dates (new business, renewals), end, content hash, approval state")
    rv = add("revision", lambda args, out: 2, "start the next revision of a product (content/<product>/revisions/<month>/)")
    rv_sub = rv.add_subparsers(dest="revision_command", required=True, metavar="ACTION")
    rn = rv_sub.add_parser("new", help="copy the latest revision into a new folder effective --effective; prints the folder",
                           description="copy the latest revision into a new folder effective --effective; prints the folder")
    rn.set_defaults(func=cmd_revision_new)
    rn.add_argument("--effective", required=True, help="first start date of new business it prices, e.g. 2027-04-01")
    rn.add_argument("--renewal-effective", help="first start date of renewals it prices (default: --effective)")
    add_compliance_commands(sub)  # submit, approve, approvals, audit verify (generator/cli/compliance.py)
    add_portal_commands(sub)  # serve, db upgrade, users add (generator/cli/portal.py)
    return parser


def _run(args: argparse.Namespace, out: Output) -> int:
    settings.current()  # every DOCGEN_* variable checked before any command starts: a bad one is exit 2, naming it
    try:
        return int(args.func(args, out))
    except ModuleNotFoundError as exc:  # a library of an extra this install left out: say which, exit 2
        missing = MissingExtra.of(exc)
        if missing is None:
            raise
        raise missing from None


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    out = Output(json_mode=args.json, quiet=args.quiet, verbose=args.verbose)
    from generator.crash import guard  # signals, OS errors, crash log + exit 70 (docgen errors pass through to below)
    from generator.documents.convert import timeout_option  # --timeout reaches every stage that converts

    try:
        with timeout_option(getattr(args, "timeout", None)):
            return guard(lambda: _run(args, out), args.command, error=out.error)
    except ContentError as exc:
        for problem in exc.problems:
            out.error(str(problem))
        out.error(f"docgen: {len(exc.problems)} problem(s) found")
        out.json({"status": "problems", "exit_code": exc.exit_code, "problems": [p.as_dict() for p in exc.problems]})
        return exc.exit_code
    except DocgenError as exc:
        lang = args.lang or i18n.language()
        message = i18n.describe(exc, lang) if lang != "en" else str(exc)  # the catalog's words, fields named as options
        out.error(f"docgen {args.command}: {message}")
        out.json({"status": exc.status, "exit_code": exc.exit_code, "reason_code": getattr(exc, "field", None) or type(exc).__name__,
                  "message": message} | exc.details())
        return exc.exit_code
