"""Cluster benchmark (``nox -s bench -- --dask``): `docgen proposals` locally against a Dask LocalCluster, same run.

1. The same N-client list (default 2,000) built by a local run (``--jobs W``) and by ``--scheduler`` on a
   LocalCluster of W worker processes started here: time ratio (the overhead of the cluster path, limit 15 %),
   packs/s, the client process's peak RSS, and the packs compared (same folders, pack.json, page text of a sample).
2. The client's memory against the list's length: a streamed dry run (read, check, quote, de-duplicate every row,
   as the client of a real run does) of N and of a 10x longer list (default 20,000); the peak RSS of the longer
   must be within 10 % of the shorter. ``--real-big M`` also streams a real run of the first M rows of the long list.
3. The projected time for 100,000 clients on more workers, from the measured per-worker rate.

Named cluster.py, not dask.py: run as a script its folder comes first on sys.path, where a dask.py would shadow Dask.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))
sys.path.insert(1, str(Path(__file__).resolve().parent))

from throughput import SITE, TreeMemory, client_rows, page_texts, run_docgen, write_list  # noqa: E402

from generator import api  # noqa: E402
from tests.bench.common import finish_work  # noqa: E402

TODAY = "2026-12-01"


class PeakRSS(threading.Thread):
    """The peak RSS (VmHWM) of one process, read every 100 ms until it exits: the client alone, not its children."""

    def __init__(self, pid: int):
        super().__init__(daemon=True)
        self.pid, self.peak_kb, self.stop = pid, 0, threading.Event()

    def run(self) -> None:
        while not self.stop.is_set():
            try:
                with open(f"/proc/{self.pid}/status", encoding="utf-8") as fh:
                    for line in fh:
                        if line.startswith("VmHWM:"):
                            self.peak_kb = max(self.peak_kb, int(line.split()[1]))
            except OSError:
                return
            self.stop.wait(0.1)


def timed(cmd: list[str]) -> tuple[float, int, subprocess.CompletedProcess]:
    """(seconds, client peak RSS in kB, result) of one command run from the repository."""
    started = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONPATH": str(REPO)})
    peak = PeakRSS(proc.pid)
    peak.start()
    out, err = proc.communicate()
    took = time.perf_counter() - started
    peak.stop.set()
    peak.join()
    return took, peak.peak_kb, subprocess.CompletedProcess(cmd, proc.returncode, out, err)


def proposals(listing: Path, out: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "generator", "proposals", str(listing), "--out", str(out), *extra]


def dry_stream(listing: Path) -> None:
    """Child mode: the cluster client's streamed pass over a list, without a cluster (what --dry-run plans)."""
    import datetime as dt

    from generator.batch.distributed import run_list

    product = api.load(SITE, "cyber_lite", lint=False)
    summary = run_list(None, SITE, product, listing, tempfile.gettempdir(), today=dt.date.fromisoformat(TODAY), dry_run=True)
    print(summary.line())


def folders(out: Path) -> dict[str, dict]:
    return {p.parent.name: json.loads(p.read_text(encoding="utf-8")) for p in out.glob("*/pack.json")}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dask", action="store_true", help="(how nox -s bench picks this benchmark)")
    parser.add_argument("--n", type=int, default=2000, help="clients built locally and on the cluster (default: %(default)s)")
    parser.add_argument("--big", type=int, default=20000, help="clients of the long list for the memory check (default: %(default)s)")
    parser.add_argument("--real-big", type=int, default=0, help="also build the first M rows of the long list on the cluster")
    parser.add_argument("--workers", type=int, default=2, help="worker processes of the LocalCluster = local --jobs (default: %(default)s)")
    parser.add_argument("--chunk", type=int, default=100, help="clients per cluster task (default: %(default)s)")
    parser.add_argument("--compare", type=int, default=20, help="packs whose page text is compared (default: %(default)s)")
    parser.add_argument("--seed", type=int, default=6)
    parser.add_argument("--keep", action="store_true", help="keep the work folder")
    parser.add_argument("--dry-stream", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.dry_stream:
        dry_stream(args.dry_stream)
        return 0
    from generator.batch.distributed import cluster

    product = api.load(SITE, "cyber_lite")
    work = Path(tempfile.mkdtemp(prefix="docgen-bench-dask-"))
    failed = False
    try:
        rows = client_rows(product, args.big, args.seed)
        small = write_list(work / "small.csv", rows[: args.n])
        big = write_list(work / "big.csv", rows)
        print(f"lists: {args.n} and {args.big} clients; {os.cpu_count()} cores; LocalCluster of {args.workers} worker processes, "
              f"chunks of {args.chunk}", flush=True)
        with cluster(workers=args.workers) as client:
            address = client.scheduler.address
            # caches per content version (brochure, layout; the workers' per host) are filled once, not timed
            one = write_list(work / "one.csv", rows[:1])
            for cmd in (proposals(one, work / "warm-local"), proposals(one, work / "warm-dask", "--scheduler", address)):
                took, _, done = timed(cmd)
                assert done.returncode == 0, done.stderr
            print("warm-up (1 client each way): done", flush=True)

            # both runs timed while their RSS is sampled alike, from statm: PSS (smaps_rollup) took the 2 cores a sixth of
            # their CPU and made the local run of 2,000 clients 16 packs/s against 19 unsampled (2026-12-06)
            local_s, tree, done = run_docgen(small, work / "local", args.workers, sample=True, pss=False)
            assert done.returncode == 0, done.stderr[-2000:]
            print(f"local run (--jobs {args.workers}): {args.n} packs in {local_s:.1f}s = {args.n / local_s:.1f} packs/s; "
                  f"peak RSS of its process tree {tree.peak_rss // 1024} MB", flush=True)
            sampler = TreeMemory(os.getpid(), pss=False)  # this process holds the scheduler and the workers' nannies
            sampler.start()
            dask_s, client_kb, done = timed(proposals(small, work / "dask", "--scheduler", address, "--chunk", str(args.chunk)))
            sampler.stop.set()
            sampler.join()
            assert done.returncode == 0, done.stderr[-2000:]
            print(f"cluster run (--scheduler, {args.workers} workers): {args.n} packs in {dask_s:.1f}s = {args.n / dask_s:.1f} packs/s; "
                  f"client peak RSS {client_kb // 1024} MB; scheduler+workers+LibreOffice peak RSS {sampler.peak_rss // 1024} MB", flush=True)
            overhead = dask_s / local_s - 1
            ok_time = overhead <= 0.15
            print(f"cluster/local time ratio {dask_s / local_s:.3f} (overhead {overhead:+.1%}; limit +15%): {'ok' if ok_time else 'OVER'}")

            ours, theirs = folders(work / "dask"), folders(work / "local")
            same = ours == theirs and len(ours) == args.n
            pick = random.Random(args.seed).sample(sorted(theirs), min(args.compare, len(theirs)))
            pdf = next(iter(theirs.values()))["files"][0]
            text_same = all(page_texts(work / "dask" / f / pdf) == page_texts(work / "local" / f / pdf) for f in pick)
            print(f"packs: {len(ours)} on the cluster, {len(theirs)} locally; folders and pack.json {'identical' if same else 'DIFFERENT'}; "
                  f"page text of {len(pick)} sampled packs {'identical' if text_same else 'DIFFERENT'}", flush=True)

            peaks = {}
            for label, listing in ((args.n, small), (args.big, big)):
                took, kb, done = timed([sys.executable, __file__, "--dry-stream", str(listing)])
                assert done.returncode == 0, done.stderr[-2000:]
                peaks[label] = kb
                print(f"client streamed pass, {label} rows: {took:.1f}s ({label / took:.0f} rows/s), peak RSS {kb / 1024:.1f} MB; "
                      f"{done.stdout.strip()}", flush=True)
            growth = peaks[args.big] / peaks[args.n] - 1
            ok_memory = growth <= 0.10
            print(f"client peak RSS {args.big} vs {args.n} rows: {growth:+.1%} (limit +10%): {'ok' if ok_memory else 'OVER'}")

            if args.real_big:
                subset = write_list(work / "big-real.csv", rows[: args.real_big])
                took, kb, done = timed(proposals(subset, work / "dask-big", "--scheduler", address, "--chunk", str(args.chunk)))
                assert done.returncode == 0, done.stderr[-2000:]
                growth_real = kb / client_kb - 1
                ok_memory = ok_memory and growth_real <= 0.10
                print(f"cluster run of {args.real_big} clients: {took:.1f}s = {args.real_big / took:.1f} packs/s; client peak RSS "
                      f"{kb // 1024} MB ({growth_real:+.1%} against the {args.n}-client run; limit +10%)", flush=True)

        per_worker = args.n / dask_s / args.workers
        projections = ", ".join(f"{w} workers {100_000 / (per_worker * w) / 60:.0f} min" for w in (2, 8, 16, 32, 64))
        print(f"projected 100,000 clients at {per_worker:.1f} packs/s per worker (1 core each, DEST not the bottleneck): {projections}")
        print(f"packs={args.n} local={args.n / local_s:.1f}/s dask={args.n / dask_s:.1f}/s overhead={overhead:+.1%} "
              f"client_rss_{args.n}={peaks[args.n] // 1024}MB client_rss_{args.big}={peaks[args.big] // 1024}MB growth={growth:+.1%}")
        failed = not (ok_time and ok_memory and same and text_same)
        return 1 if failed else 0
    finally:
        finish_work(work, args.keep)


if __name__ == "__main__":
    sys.exit(main())
