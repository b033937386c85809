"""Throughput benchmark (nox -s bench): `docgen proposals` on an N-client list against the naive pipeline, same machine, same run."""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import os
import random
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import unicodedata
from collections.abc import Callable
from pathlib import Path
from unittest import mock

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

import pikepdf  # noqa: E402
from docxtpl import DocxTemplate  # noqa: E402
from jinja2.sandbox import SandboxedEnvironment  # noqa: E402
from pypdf import PdfReader  # noqa: E402

from generator import api  # noqa: E402
from generator.content.model import Product  # noqa: E402
from generator.documents.context import brochure_context  # noqa: E402
from generator.documents.convert import ONE_SHOT_TUNABLES, convert_to_pdf  # noqa: E402
from generator.documents.proposal import PackPlan  # noqa: E402
from generator.documents.registry import BROCHURE, PERSONALISED  # noqa: E402
from generator.documents.watermark import stamp_pages  # noqa: E402
from tests.bench.common import finish_work  # noqa: E402

SITE = api.Site.at(REPO)
PAGE_KB = os.sysconf("SC_PAGE_SIZE") // 1024

HEADER = ["会社名", "担当者", "業種", "売上高", "賠償保険金額", "代理店名", "代理店連絡先", "日付"]
FORMS = ["株式会社 {}", "有限会社 {}", "{}株式会社", "学校法人 {}", "合同会社 {}", "株式会社 {}ホールディングス"]
FIRST = ["東都", "伸和", "髙﨑", "桜ヶ丘", "ミナト", "北斗", "青葉", "大和", "富士見", "湘南", "&アンド", "みらい", "第一", "丸の内"]
SECOND = ["商事", "印刷", "ロジスティクス", "建設", "製作所", "企画", "システムズ", "工業", "学園", "電機", "食品", "サービス"]
CONTACTS = ["", "山田", "佐藤 花子", "鈴木", "髙橋 一郎", "", "田中", "渡辺 美咲"]
AGENTS = [("さくら保険サービス株式会社", "担当：山本"), ("", ""), ("みどり総合保険代理店", "")]


def client_rows(product: Product, n: int, seed: int) -> list[list[str]]:
    """N distinct, insurable clients: every rate class and band, every published limit, varied names and agents."""
    rng = random.Random(seed)
    rates = product.rates
    industries = [name for c in rates.classes for name in c.industries]
    rows = []
    for i in range(n):
        band = rates.bands[i % len(rates.bands)]
        revenue = rng.randrange(band.over // 100_000 + 1, band.up_to // 100_000 + 1) * 100_000
        oku, man = divmod(revenue // 10_000, 10_000)
        shown = [str(revenue), f"{revenue:,}", f"{oku}億{man}万" if oku else f"{man}万"][i % 3]  # as agents type amounts
        limit = rates.limits[(i // len(rates.bands)) % len(rates.limits)]
        limit_shown = f"{limit // 100_000_000}億" if limit % 100_000_000 == 0 else f"{limit // 10_000}万"
        name = rng.choice(FORMS).format(rng.choice(FIRST) + rng.choice(SECOND) + f"{i + 1:03d}")
        agent, agent_contact = AGENTS[i % len(AGENTS)]
        rows.append([name, CONTACTS[i % len(CONTACTS)], industries[i % len(industries)], shown, limit_shown, agent, agent_contact, "2026-11-26"])
    return rows


def write_list(path: Path, rows: list[list[str]]) -> Path:
    with path.open("w", encoding="utf-8", newline="") as fh:
        csv.writer(fh).writerows([HEADER, *rows])
    return path


def plan_for(product: Product, row: list[str]) -> PackPlan:
    keys = ["client", "contact", "industry", "revenue", "limit", "agent_name", "agent_contact", "date"]
    request = api.client_request(**dict(zip(keys, row, strict=True)))
    return api.plan(SITE, product, request, today=dt.date.today())  # as `docgen proposals` plans; each row carries its date


# --- memory of a process tree -----------------------------------------------------------------------


def _tree(root: int) -> list[int]:
    parents: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", encoding="utf-8") as fh:
                fields = fh.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        parents.setdefault(int(fields[1]), []).append(int(entry))
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo += parents.get(pid, [])
    return found


def _memory(pid: int, pss: bool = True) -> tuple[int, int]:
    """(RSS, PSS) in kB from smaps_rollup; PSS splits pages shared by forked workers and soffice instances.

    Without ``pss``: (RSS, 0) from statm, the kernel's counters. smaps_rollup walks every page table of the process
    instead: sampling a 2,000-client run's tree every 50 ms that way cost 35 CPU-s of this process (34 of them in the
    kernel), which the run, on 2 cores, lost (16.3 against 19.0 packs/s, 2026-12-06).
    """
    if not pss:
        try:
            with open(f"/proc/{pid}/statm", encoding="utf-8") as fh:
                return int(fh.read().split()[1]) * PAGE_KB, 0
        except (OSError, IndexError, ValueError):
            return 0, 0
    rss = pss_kb = 0
    try:
        with open(f"/proc/{pid}/smaps_rollup", encoding="utf-8") as fh:
            for line in fh:
                if line.startswith("Rss:"):
                    rss = int(line.split()[1])
                elif line.startswith("Pss:"):
                    pss_kb = int(line.split()[1])
    except OSError:
        pass
    return rss, pss_kb


class TreeMemory(threading.Thread):
    """Samples the summed RSS and PSS of a process and all its descendants (LibreOffice included) every 50 ms.

    ``pss=False``: RSS alone (peak_pss stays 0), cheap enough to sample a timed run (see :func:`_memory`).
    """

    def __init__(self, pid: int, pss: bool = True):
        super().__init__(daemon=True)
        self.pid, self.pss, self.peak_rss, self.peak_pss, self.stop = pid, pss, 0, 0, threading.Event()

    def run(self) -> None:
        while not self.stop.is_set():
            rss = pss = 0
            for pid in _tree(self.pid):
                r, p = _memory(pid, self.pss)
                rss, pss = rss + r, pss + p
            self.peak_rss, self.peak_pss = max(self.peak_rss, rss), max(self.peak_pss, pss)
            self.stop.wait(0.05)


def run_docgen(clients: Path, out: Path, jobs: int, sample: bool = False, module: str = "generator",
               pss: bool = True) -> tuple[float, TreeMemory | None, subprocess.CompletedProcess]:
    """One `docgen proposals` run; ``sample`` samples its process tree's memory every 50 ms. With ``pss`` (RSS and PSS,
    reading /proc/*/smaps_rollup of every process) that costs a sixth of the machine's CPU on 2 cores, so such a run
    is not a timed one; without, RSS alone is sampled at a cost of about 2 %. ``module``: tests.bench.plain runs it
    without PDF/A and tags."""
    cmd = [sys.executable, "-m", module, "proposals", str(clients), "--out", str(out), "--jobs", str(jobs)]
    started = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONPATH": str(REPO)})
    sampler = TreeMemory(proc.pid, pss) if sample else None
    if sampler:
        sampler.start()
    stdout, stderr = proc.communicate()
    took = time.perf_counter() - started
    if sampler:
        sampler.stop.set()
        sampler.join()
    return took, sampler, subprocess.CompletedProcess(cmd, proc.returncode, stdout, stderr)


def tree_cpu(run: Callable[[], tuple[float, TreeMemory | None, subprocess.CompletedProcess]]) -> tuple[float, float]:
    """(wall seconds, CPU seconds) of one run's whole process tree: docgen, its workers and every LibreOffice it waited for."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    took, _, done = run()
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(done.args)} failed:\n{done.stdout}\n{done.stderr}")
    return took, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def pdfa_cost(rows: list[list[str]], work: Path, jobs: int, rounds: int = 2) -> tuple[float, float]:
    """CPU seconds per pack of the same clients built as docgen builds them (PDF/A-2b, tagged) and without PDF/A and tags
    (tests/bench/plain.py: untagged LibreOffice export, the pre-issue-26 merge); rounds alternate, the least of each kept.

    CPU of the process tree rather than wall time: on a shared machine it is what the two runs can be compared by.
    """
    clients = write_list(work / "pdfa-sample.csv", rows)
    cpu: dict[str, list[float]] = {"generator": [], "tests.bench.plain": []}
    for n in range(rounds):
        for module in cpu:
            out = work / f"pdfa-{module}-{n}"
            cpu[module].append(tree_cpu(lambda module=module, out=out: run_docgen(clients, out, jobs, module=module))[1] / len(rows))
            shutil.rmtree(out, ignore_errors=True)
    return min(cpu["generator"]), min(cpu["tests.bench.plain"])


# --- the naive pipeline -----------------------------------------------------------------------------


def naive_pack(product: Product, plan: PackPlan, work: Path) -> Path:
    """What the common approach does: docxtpl renders every part (the brochure too), one soffice run per document, pypdf merges."""
    work.mkdir(parents=True)
    sources = [(d.template_path(SITE.templates), plan.contexts[d.id], d.id) for d in PERSONALISED]
    sources.append((BROCHURE.template_path(SITE.templates), brochure_context(product), BROCHURE.id))
    merged = pikepdf.new()  # the watermark stamps a pikepdf file (the naive merge keeps no tags: it need not)
    for template, context, key in sources:
        doc = DocxTemplate(str(template))
        doc.render(context, jinja_env=SandboxedEnvironment(autoescape=True), autoescape=True)
        doc.save(str(work / f"{key}.docx"))
        (pdf,) = convert_to_pdf([work / f"{key}.docx"], work, timeout=300)
        merged.pages.extend(pikepdf.open(pdf).pages)
    if not product.meta.approval_number:  # a draft: the same 社内検討用 watermark every draft page carries
        stamp_pages(merged)
    merged.save(work / "pack.pdf")
    return work / "pack.pdf"


def page_texts(pdf: Path, fold: bool = True) -> list[str]:
    """Text per page, NFKC, whitespace folded away: pypdf adds a space where two glyphs sit a hair apart, and LibreOffice
    places glyphs a few thousandths of a point differently with the font subsets it makes for each document it lays out."""
    texts = [unicodedata.normalize("NFKC", page.extract_text()) for page in PdfReader(pdf).pages]
    return ["".join(t.split()) for t in texts] if fold else texts


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=200, help="clients in the list (default: %(default)s)")
    parser.add_argument("--naive", type=int, default=None, help="clients the naive pipeline builds (default: min(n, 8))")
    parser.add_argument("--jobs", type=int, default=2, help="docgen --jobs (default: %(default)s)")
    parser.add_argument("--runs", type=int, default=1, help="docgen runs; the median rate is reported (default: %(default)s)")
    parser.add_argument("--seed", type=int, default=6)
    parser.add_argument("--pdfa-sample", type=int, default=100,
                        help="clients built with and without PDF/A + tags for the cost ratio; 0: skip (default: %(default)s)")
    parser.add_argument("--keep", action="store_true", help="keep the work folder")
    args = parser.parse_args(argv)
    product = api.load(SITE, "cyber_lite")
    work = Path(tempfile.mkdtemp(prefix="docgen-bench-"))
    try:
        rows = client_rows(product, args.n, args.seed)
        clients = write_list(work / "clients.csv", rows)
        print(f"client list: {args.n} clients ({clients}); {os.cpu_count()} cores", flush=True)

        # Content-version caches (brochure PDF, static 重要事項説明書 pages): built once per content, never per client.
        took, _, done = run_docgen(write_list(work / "one.csv", rows[:1]), work / "warm-up", args.jobs)
        assert done.returncode == 0, done.stderr
        print(f"warm-up (1 client; fills the per-content-version caches if empty): {took:.1f}s", flush=True)

        rates, cpus = [], []
        for run in range(args.runs):
            out = work / f"docgen-{run}"
            took, cpu = tree_cpu(lambda out=out: run_docgen(clients, out, args.jobs))
            packs = [p for p in out.iterdir() if (p / "pack.json").is_file()]
            assert len(packs) == args.n, f"{len(packs)} packs for {args.n} clients"
            rates.append(args.n / took)
            cpus.append(cpu / args.n)
            print(f"docgen run {run + 1}: {args.n} packs in {took:.2f}s = {args.n / took:.1f} packs/s; "
                  f"CPU of the process tree {cpu:.1f}s = {cpu / args.n:.3f} CPU-s per pack", flush=True)
        _, sampler, done = run_docgen(clients, work / "docgen-memory", args.jobs, sample=True)
        assert done.returncode == 0, done.stderr
        print(f"memory run (sampled every 50 ms, not timed): peak of the process tree (docgen, workers, LibreOffice): "
              f"RSS {sampler.peak_rss // 1024} MB, PSS {sampler.peak_pss // 1024} MB", flush=True)

        pdfa_ratio = None
        if args.pdfa_sample:
            tagged, plain = pdfa_cost(rows[: args.pdfa_sample], work, args.jobs)
            pdfa_ratio = tagged / plain
            print(f"PDF/A-2b + tags, {min(args.n, args.pdfa_sample)} clients built both ways (least CPU of 2 alternating rounds): "
                  f"{tagged:.3f} CPU-s per pack against {plain:.3f} without (untagged export, pre-PDF/A merge: "
                  f"tests/bench/plain.py) = {pdfa_ratio:.2f}x the CPU", flush=True)

        sample = args.naive if args.naive is not None else min(args.n, 8)
        picks = sorted({round(i * (args.n - 1) / max(1, sample - 1)) for i in range(sample)})
        plans = [plan_for(product, rows[i]) for i in picks]
        # The baseline is LibreOffice as the common approach runs it: glibc's own heap trimming. docgen's one-shot runs keep
        # 256 MB when trimming (convert.ONE_SHOT_TUNABLES), which makes every small conversion cheaper, the naive
        # pipeline's included: that run is reported beside it, so the ratio of the architecture alone is there too.
        rates_naive = {}
        # a GLIBC_TUNABLES of the caller's own is what convert_to_pdf passes on: "" is glibc's defaults
        for setting, tunables in (("stock", {"GLIBC_TUNABLES": ""}), ("tuned", {})):
            with mock.patch.dict(os.environ, tunables):
                started = time.perf_counter()
                naive = [naive_pack(product, plan, work / f"naive-{setting}" / str(i)) for i, plan in zip(picks, plans, strict=True)]
                rates_naive[setting] = len(plans) / (time.perf_counter() - started)
        naive_rate = rates_naive["stock"]
        print(f"naive pipeline (one process, docxtpl for all 4 parts, one soffice run per document, pypdf merge): "
              f"{len(plans)} of the {args.n} clients, evenly spread, {naive_rate:.2f} packs/s; with docgen's allocator setting "
              f"for LibreOffice (GLIBC_TUNABLES {ONE_SHOT_TUNABLES}): {rates_naive['tuned']:.2f} packs/s", flush=True)

        differ, pages, spaced = [], 0, 0
        for plan, naive_pdf in zip(plans, naive, strict=True):
            ours_pdf = work / "docgen-0" / plan.folder / plan.pdf_name
            ours, theirs = page_texts(ours_pdf), page_texts(naive_pdf)
            if ours != theirs:
                at = [i + 1 for i, (a, b) in enumerate(zip(ours, theirs, strict=False)) if a != b]
                differ.append(f"{plan.request.client}: {len(ours)} vs {len(theirs)} pages; differing pages {at}")
            pages += len(ours)
            spaced += sum(a != b for a, b in zip(page_texts(ours_pdf, fold=False), page_texts(naive_pdf, fold=False), strict=False))
        print(f"text per page (NFKC, whitespace folded away), docgen vs naive, {len(plans)} packs, {pages} pages: "
              + ("identical" if not differ else "DIFFERENT") + f" (before folding, {spaced} pages differ)")
        for line in differ:
            print("  " + line)

        rate = statistics.median(rates)
        peak = sampler.peak_rss // 1024
        print(f"packs={args.n} docgen={rate:.1f}/s naive={naive_rate:.2f}/s speedup={rate / naive_rate:.1f}x "
              f"(naive with docgen's allocator setting {rates_naive['tuned']:.2f}/s: {rate / rates_naive['tuned']:.1f}x) peak_rss={peak}MB "
              f"cpu_per_pack={statistics.median(cpus):.3f}s" + (f" pdfa_cost={pdfa_ratio:.2f}x" if pdfa_ratio else ""))
        return 1 if differ else 0
    finally:
        finish_work(work, args.keep)


if __name__ == "__main__":
    sys.exit(main())
