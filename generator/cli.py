"""The docgen command line: the only place where exceptions become messages and exit codes."""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from generator import __version__
from generator.content.load import CONTENT_ROOT, OUTPUTS_ROOT, load_product, product_dirs
from generator.content.model import Product
from generator.content.validate import validate
from generator.errors import ContentError, DocgenError, InputError, Problem
from generator.jpformat import format_yen, format_yen_units, parse_yen

OUTPUTS = OUTPUTS_ROOT
EXIT_CODES = """exit codes: 0 ok · 1 content/check problems or failed rows · 2 bad option or input ·
3 要見積 (referral to the insurer) · 4 引受不可 (refused) · 5 system (LibreOffice, fonts)"""


def _products(args: argparse.Namespace, lint: bool = True) -> list[Product]:
    """Load and cross-check the selected product(s), and lint the templates when the command renders them."""
    root = Path(args.content)
    folders = [root / args.product] if args.product else product_dirs(root)
    if not folders:
        raise ContentError([Problem(str(root), 0, "", "no product here: a product is a folder holding product.yaml")])
    problems, products = [], []
    for folder in folders:
        try:
            products.append(validate(load_product(folder)))
        except ContentError as exc:
            problems += exc.problems
    if lint and not problems:
        from generator.compliance.check import lint_templates

        for product in products:
            problems += lint_templates(product)
    if problems:
        raise ContentError(problems)
    return products


def _product(args: argparse.Namespace, lint: bool = True) -> Product:
    if not args.product:
        args.product = _default_product(Path(args.content))
    return _products(args, lint)[0]


def _default_product(root: Path) -> str:
    folders = product_dirs(root)
    if len(folders) != 1:
        names = ", ".join(f.name for f in folders) or "none"
        raise InputError("--product", None, "several products exist; say which", allowed=names)
    return folders[0].name


def cmd_validate(args: argparse.Namespace) -> int:
    products = _products(args)
    for p in products:
        cells = sum(len(row) for c in p.rates.classes for row in c.premiums)
        exclusions = sum(len(g.items) for g in p.exclusions.groups)
        print(
            f"ok: {p.key} {p.meta.name} v{p.meta.content_version} (rates {p.rates.rates_version}): "
            f"{len(p.file_hashes)} files, {exclusions} exclusions, {len(p.risk_services.services)} risk services, "
            f"{len(p.emergency_support.partners)} partners, {cells} premium cells"
        )
    return 0


def cmd_brochure(args: argparse.Namespace) -> int:
    from generator.documents.brochure import build_brochure

    result = build_brochure(_product(args), Path(args.out))
    print(f"built: {result.docx} and {result.pdf} ({result.pages} pages)")
    return 0


def cmd_wording(args: argparse.Namespace) -> int:
    from generator.documents.wording import build_wording

    result = build_wording(_product(args), Path(args.out))
    print(f"built: {result.docx} and {result.pdf} ({result.pages} pages)")
    return 0


def cmd_build(args: argparse.Namespace) -> int:
    from generator.compliance.check import build_all

    published, manifest = build_all(_products(args), Path(args.outputs))
    for item in published:
        print(f"built: {item.path}")
    print(f"{len(published)} published outputs and {manifest}")
    return 0


def cmd_check(args: argparse.Namespace) -> int:
    from generator.compliance.check import check

    print(check(_products(args), Path(args.outputs)))
    return 0


def cmd_diff(args: argparse.Namespace) -> int:
    from generator.compliance.diff import compare, load_pair, markdown, summary_lines
    from generator.compliance.redline import write_redline
    from generator.documents.render import write_atomic

    old, new = load_pair(args.old, args.new, args.product)
    d = compare(old, new, args.old, args.new)
    for line in summary_lines(d):
        print(line)
    out = Path(args.out)
    stem = f"{new.meta.slug}_changes_{_label(args.old)}_{_label(args.new)}"
    write_atomic(out / f"{stem}.md", markdown(d).encode("utf-8"))
    write_redline(d, out / f"{stem}_redline.docx", author=args.author)
    print(f"written: {out / f'{stem}.md'} and {out / f'{stem}_redline.docx'} (tracked changes)")
    return 0


def _label(spec: str) -> str:
    from generator.documents.proposal import safe_name

    return safe_name(Path(spec).name if Path(spec).is_dir() else spec, 40).replace(" ", "_")


def cmd_verify(args: argparse.Namespace) -> int:
    from generator.compliance.provenance import verify_pdf

    product = _product(args, lint=False)  # reads no template
    failed = 0
    for pdf in args.files:
        result = verify_pdf(Path(pdf), product)
        for line in result.lines():
            print(line)
        failed += not result.matches
    return 1 if failed else 0


def cmd_quote(args: argparse.Namespace) -> int:
    from generator.rating.rate import quote

    product = _product(args, lint=False)  # reads no template
    revenue = parse_yen(args.revenue, field="--revenue")
    limit = parse_yen(args.limit, field="--limit")
    deductible = parse_yen(args.deductible, field="--deductible") if args.deductible else 0
    q = quote(product, args.industry, revenue, limit, deductible=deductible, options=tuple(args.option), payment=args.payment)
    if args.json:
        print(json.dumps(q.as_dict(), ensure_ascii=False, indent=2))
        return 0
    print(f"{q.product} お見積り (rates {q.rates_version})")
    print(f"  業種区分      {q.class_code} ({q.industry})")
    print(f"  売上高        {format_yen_units(q.revenue)} → {q.band_label}")
    print(f"  賠償保険金額  {format_yen_units(q.limit)}")
    print(f"  費用保険金額  {format_yen_units(q.expense_limit)}")
    print(f"  年間保険料    {format_yen(q.premium)} ({q.payment_method})")
    print("  前提となる契約条件:")
    for text in q.premises:
        print(f"    ・{text}")
    return 0


def _progress(done: int, total: int) -> None:
    if sys.stderr.isatty():
        width = 30
        filled = width * done // max(total, 1)
        print(f"\r[{'#' * filled}{'.' * (width - filled)}] {done}/{total}", end="" if done < total else "\n", file=sys.stderr, flush=True)


def cmd_proposal(args: argparse.Namespace) -> int:
    from generator.batch.clients import parse_client
    from generator.batch.runner import build_packs, cached_brochure
    from generator.documents.fonts import missing_glyphs
    from generator.documents.proposal import plan_pack

    product = _product(args)
    raw = {k: getattr(args, k) or "" for k in ("client", "contact", "industry", "revenue", "limit", "agent_name", "agent_contact", "date")}
    request, errors = parse_client(raw, missing_glyphs=missing_glyphs)
    if errors:
        first = errors[0]
        for e in errors[1:]:
            print(f"docgen proposal: --{e.column.replace('_', '-')}: {e.value!r}: {e.reason}", file=sys.stderr)
        raise InputError(f"--{first.column.replace('_', '-')}", first.value, first.reason)
    plan = plan_pack(product, request, dt.date.today())
    out = Path(args.out)
    results, failures = build_packs(product, [plan], out, cached_brochure(product), jobs=1)
    if failures:
        raise failures[0][1].as_error()
    r = results[0]
    state = "up to date" if r.skipped else "built"
    print(f"{state}: {r.pdf} ({r.pages} pages; premium {plan.quote.premium:,}円; Word files beside it)")
    return 0


def cmd_proposals(args: argparse.Namespace) -> int:
    from generator.batch.runner import run_client_list

    product = _product(args)
    summary = run_client_list(product, Path(args.file), Path(args.out), jobs=args.jobs, today=dt.date.today(), progress=_progress)
    for error in summary.errors:
        print(error, file=sys.stderr)
    print(summary.line())
    return 1 if summary.errors else 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="docgen", description=__doc__, epilog=EXIT_CODES)
    parser.add_argument("--version", action="version", version=f"docgen {__version__}")
    parser.add_argument("--content", default=str(CONTENT_ROOT), help="content root (default: %(default)s)")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def add(name: str, func: Callable[[argparse.Namespace], int], help_: str) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help_, description=help_, epilog=EXIT_CODES)
        p.set_defaults(func=func)
        p.add_argument("--product", help="product folder under content/ (default: the only one)")
        return p

    add("validate", cmd_validate, "check all content, rates and templates; report every problem")

    b = add("brochure", cmd_brochure, "the product brochure as Word and PDF (marketing)")
    b.add_argument("--out", default=str(OUTPUTS / "brochure"), help="output folder (default: %(default)s)")
    w = add("wording", cmd_wording, "the policy wording document as Word and PDF: coverage, limits, conditions, exclusions by ID")
    w.add_argument("--out", default=str(OUTPUTS / "wording"), help="output folder (default: %(default)s)")

    bl = add("build", cmd_build, "rebuild every published output (brochure, wording, sample pack) and outputs/manifest.json")
    bl.add_argument("--outputs", default=str(OUTPUTS), help="published outputs folder (default: %(default)s)")
    ck = add("check", cmd_check, "regenerate every published output and fail if any drifted from content, rates or templates")
    ck.add_argument("--outputs", default=str(OUTPUTS), help="published outputs folder (default: %(default)s)")
    df = add("diff", cmd_diff, "wording and premium changes between two versions, with impact, as Markdown and a tracked-changes .docx")
    df.add_argument("old", help="old version: a git revision (HEAD~1, v1.0.0) or a content folder")
    df.add_argument("new", help="new version: a git revision or a content folder (e.g. content)")
    df.add_argument("--out", default=str(OUTPUTS / "diff"), help="where the redline and summary go (default: %(default)s)")
    df.add_argument("--author", default="docgen", help="author of the tracked changes (default: %(default)s)")
    vf = add("verify", cmd_verify, "does a PDF docgen made (e.g. one an agent sent) still match the current content?")
    vf.add_argument("files", nargs="+", help="PDF files")

    q = add("quote", cmd_quote, "premium for an industry, revenue and limit from the published table")
    q.add_argument("--industry", required=True, help="industry name as in the rate table (製造業…) or class code (D01)")
    q.add_argument("--revenue", required=True, help="annual revenue: 450000000, 4.5億, 4億5000万, 45000万円")
    q.add_argument("--limit", required=True, help="liability limit: 1000万, 3000万, 5000万, 1億, 3億")
    q.add_argument("--deductible", help="自己負担額 (anything but 0 is a referral)")
    q.add_argument("--option", action="append", default=[], help="利益損害 or 営業継続費用 (a referral)")
    q.add_argument("--payment", help="保険料払込方法 (anything but 一括払 is a referral)")
    q.add_argument("--json", action="store_true", help="one JSON object; premium as an integer")

    pr = add("proposal", cmd_proposal, "one client's proposal pack: letter, quote, 重要事項説明書 and brochure in one PDF, plus Word files")
    pr.add_argument("--client", required=True, help="client company name, e.g. '有限会社 伸和企画'")
    pr.add_argument("--contact", help="contact person (the letter says '… 様'); omit for '… 御中'")
    pr.add_argument("--industry", required=True, help="industry name or class code")
    pr.add_argument("--revenue", required=True, help="annual revenue, e.g. 4.5億")
    pr.add_argument("--limit", required=True, help="liability limit, e.g. 1億")
    pr.add_argument("--agent-name", help="agency name printed on the letter and quote")
    pr.add_argument("--agent-contact", help="agency contact line")
    pr.add_argument("--date", help="issue date (default today): 2026-11-26 or 令和8年11月26日")
    pr.add_argument("--out", default=str(OUTPUTS / "proposals"), help="proposals folder (default: %(default)s)")

    ps = add("proposals", cmd_proposals, "proposal packs for every row of a client list (.csv or .xlsx)")
    ps.add_argument("file", help="client list; see content/samples/README.md for the columns")
    ps.add_argument("--out", default=str(OUTPUTS / "proposals"), help="proposals folder (default: %(default)s)")
    ps.add_argument("--jobs", type=int, default=2, help="LibreOffice processes at once (default: %(default)s)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except ContentError as exc:
        for problem in exc.problems:
            print(problem, file=sys.stderr)
        print(f"docgen: {len(exc.problems)} problem(s) found", file=sys.stderr)
        return exc.exit_code
    except DocgenError as exc:
        print(f"docgen {args.command}: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("docgen: interrupted; no partial files were left", file=sys.stderr)
        return 130
