"""Client lists on a Dask cluster: ``docgen proposals LIST --scheduler tcp://host:8786 --out DEST`` (or ``--workers N``).

The client streams the list: it reads, checks and quotes row by row exactly as a local run (a bad row, a
refusal, a referral or a duplicate client is an error row with the same message), cuts the good rows into chunks
and keeps at most a small window of chunk tasks in flight (two per worker thread). Each task builds its chunk's
packs on a worker and writes them to DEST itself (generator.batch.worker); only a line per pack comes back.
Content, templates and the cached brochure go to the workers once per run, by hash. The batch manifest in DEST
(generator.batch.manifest) makes the same command, run again, finish whatever a killed client or worker left.

What the client keeps while it runs: the error rows (they are the report), and one 8-byte key per accepted row
for the duplicate-client check; never the rows, plans or packs themselves.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import datetime as dt
import heapq
import itertools
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from generator import __version__, settings
from generator.batch.clients import read_client_rows
from generator.batch.policy import IssuingPolicy
from generator.content.approvals import Approvals
from generator.content.request import RowError
from generator.errors import ClusterError, InputError

if TYPE_CHECKING:  # dask and the pack pipeline are imported when a cluster run starts
    from dask.typing import Key
    from distributed import Client, Future

    from generator.batch.storage import Destination
    from generator.content.model import Product
    from generator.content.revisions import Schedule
    from generator.site import Site

# dask, fsspec and the worker side are imported by the functions that use them: the CLI builds its parser from
# this module, and every other command would pay for importing them.

SCHEDULER_ENV = "DOCGEN_SCHEDULER"
DEFAULT_CHUNK = 100  # clients per task: a LibreOffice run each; big enough that start-up is small, small enough to retry
CLUSTER_MAX_ROWS = 1_000_000  # a cluster run streams the list: a renewal season in one file (a local run: clients.MAX_ROWS)
WINDOW_PER_THREAD = 2  # tasks in flight per worker thread: one running, one waiting, none piling up on the client
Progress = Callable[[int, int], None]
OnPack = Callable[[dict[str, Any]], None]


# --- options ----------------------------------------------------------------------------------


def add_options(parser: argparse.ArgumentParser) -> None:
    """``--scheduler``, ``--workers`` and ``--chunk`` for ``docgen proposals``."""
    group = parser.add_argument_group("on a Dask cluster")
    group.add_argument("--scheduler", default=None, metavar="ADDRESS",
                       help=f"build on an existing Dask cluster, e.g. tcp://host:8786 (default: ${SCHEDULER_ENV}; unset: on this machine)")
    group.add_argument("--workers", type=int, default=None, metavar="N", help="start a local Dask cluster of N worker processes for this run")
    group.add_argument("--chunk", type=int, default=DEFAULT_CHUNK, metavar="N", help="clients per cluster task (default: %(default)s)")


def scheduler_address(args: argparse.Namespace, chosen: settings.Settings | None = None) -> str | None:
    """``--scheduler``, else ``$DOCGEN_SCHEDULER`` (of ``chosen``, default: the current settings); None for a local run.

    >>> scheduler_address(argparse.Namespace(scheduler=None), settings.load({"DOCGEN_SCHEDULER": "tcp://10.0.0.5:8786"}))
    'tcp://10.0.0.5:8786'
    >>> scheduler_address(argparse.Namespace(scheduler="tcp://a:1"), settings.load({"DOCGEN_SCHEDULER": "tcp://b:2"}))
    'tcp://a:1'
    """
    given: str | None = getattr(args, "scheduler", None)
    return given or (chosen or settings.current()).scheduler or None


def wants_cluster(args: argparse.Namespace) -> bool:
    """Whether ``docgen proposals`` runs on Dask (a scheduler named, or ``--workers``)."""
    return bool(scheduler_address(args) or getattr(args, "workers", None))


def check_scheduler(address: str, option: str = "--scheduler") -> str:
    """``address`` if it is a Dask scheduler address (``[tcp://]HOST:PORT``); InputError (exit 2) naming ``option`` otherwise.

    Checked before connecting: Dask's own parser raises ValueError, which would read as a crash.

    >>> check_scheduler("tcp://10.0.0.5:8786"), check_scheduler("sched.example.jp:8786"), check_scheduler("tls://[::1]:8786")
    ('tcp://10.0.0.5:8786', 'sched.example.jp:8786', 'tls://[::1]:8786')
    >>> check_scheduler("not an address")
    Traceback (most recent call last):
    generator.errors.InputError: --scheduler: 'not an address': not a Dask scheduler address; allowed: [tcp://]HOST:PORT, e.g. tcp://10.0.0.5:8786
    >>> check_scheduler("tcp://host:99999", "DOCGEN_SCHEDULER")
    Traceback (most recent call last):
    generator.errors.InputError: DOCGEN_SCHEDULER: 'tcp://host:99999': port 99999 is out of range; allowed: [tcp://]HOST:PORT, e.g. tcp://10.0.0.5:8786
    """
    problem = settings.scheduler_problem(address)
    if problem:
        raise InputError(option, address, problem[0], allowed=problem[1])
    return address.strip()


def scheduler_option(args: argparse.Namespace) -> str:
    """Which setting named the scheduler, for messages: --scheduler or DOCGEN_SCHEDULER."""
    return "--scheduler" if getattr(args, "scheduler", None) else SCHEDULER_ENV


def check_options(args: argparse.Namespace) -> None:
    if getattr(args, "workers", None) is not None and args.workers < 1:
        raise InputError("--workers", args.workers, "must be at least 1")
    if getattr(args, "chunk", DEFAULT_CHUNK) < 1:
        raise InputError("--chunk", args.chunk, "must be at least 1")
    if scheduler_address(args) and getattr(args, "workers", None):
        raise InputError("--workers", args.workers, "starts a cluster on this machine; it cannot go with --scheduler")
    if scheduler_address(args):
        check_scheduler(scheduler_address(args) or "", scheduler_option(args))


@contextlib.contextmanager
def cluster(scheduler: str | None = None, workers: int | None = None, *, lease_timeout: str | None = None) -> Iterator[Client]:
    """A ``distributed.Client`` of the named scheduler, or of a LocalCluster of ``workers`` processes on 127.0.0.1.

    ``lease_timeout`` (local cluster only) is how soon the lock of a chunk whose worker died is freed (Dask: 30s).
    """
    import dask
    from distributed import Client, LocalCluster

    if scheduler:
        try:
            client = Client(scheduler, timeout=30)
        except ValueError as exc:  # an address Dask cannot parse that slipped past check_scheduler
            raise InputError("--scheduler", scheduler, f"not a Dask scheduler address ({exc})", allowed="[tcp://]HOST:PORT") from None
        except (OSError, TimeoutError) as exc:
            raise ClusterError(f"--scheduler {scheduler}: cannot reach the Dask scheduler ({exc}); is `dask scheduler` running there?") from None
        with client:
            yield client
        return
    settings = {"distributed.scheduler.locks.lease-timeout": lease_timeout,
                "distributed.scheduler.locks.lease-validation-interval": "1s"} if lease_timeout else {}
    with dask.config.set(settings), LocalCluster(n_workers=workers or 1, threads_per_worker=1, processes=True, host="127.0.0.1",
                                                 # None does not turn the dashboard off (dask/distributed#8136): it takes
                                                 # 8787, or warns when that is busy; a free port on loopback never collides
                                                 dashboard_address="127.0.0.1:0", memory_limit=0) as local, Client(local) as client:
        yield client


def run_command(args: argparse.Namespace, site: Site, product: Product, *, today: dt.date, progress: Progress | None = None,
                on_record: OnPack | None = None, schedule: Schedule | None = None, start: dt.date | None = None, renewal: bool = False,
                approvals: Approvals | None = None) -> ClusterSummary:
    """``docgen proposals`` with ``--scheduler``/``$DOCGEN_SCHEDULER`` or ``--workers``: the CLI's whole cluster run."""
    check_options(args)
    out = args.out or site.proposals
    with cluster(scheduler_address(args), args.workers) as client:
        return run_list(client, site, product, Path(args.file), out, today=today, chunk=args.chunk, timeout=getattr(args, "timeout", None),
                        progress=progress, on_record=on_record, schedule=schedule, start=start, renewal=renewal, approvals=approvals)


# --- the run ----------------------------------------------------------------------------------


@dataclass
class ClusterSummary:
    """What a list run on the cluster did, counted (the packs themselves are in DEST, not here)."""

    out: str
    built: int = 0
    skipped: int = 0
    errors: list[RowError] = field(default_factory=list)
    errors_file: str | None = None
    planned: int = 0
    total_premium: int = 0
    dry_run: bool = False
    chunks: int = 0
    resumed: int = 0  # chunks an earlier run had done (the manifest says) whose packs were all still there

    def line(self) -> str:
        """The same line a local run prints."""
        from generator.batch.building import summary_line

        return summary_line(self.out, self.built, self.skipped, len(self.errors), self.errors_file, dry_run=self.dry_run,
                            planned=self.planned, total_premium=self.total_premium)


def run_list(client: Client, site: Site, product: Product, path: Path, out: str | Path, *, today: dt.date, chunk: int = DEFAULT_CHUNK,
             timeout: float | None = None, progress: Progress | None = None, on_pack: OnPack | None = None,
             on_record: OnPack | None = None, dry_run: bool = False, window: int | None = None, schedule: Schedule | None = None,
             start: dt.date | None = None, renewal: bool = False, approvals: Approvals | None = None,
             policy: IssuingPolicy | None = None) -> ClusterSummary:
    """Every row of a client list, built on ``client``'s cluster into ``out`` (a folder or an fsspec URL).

    With a ``schedule`` (generator.content.revisions), each row goes to the revision in force on its 保険始期日
    (``start`` for rows without one): one bundle per revision, each chunk the rows of one revision.

    ``on_pack`` gets each pack's line as its chunk comes back; ``on_record`` gets every row's record (a pack's line
    or an error row, as ``docgen proposals --json`` prints them) in row order, held back only until the rows
    before it are done. ``approvals`` (generator.api.approvals): the approval each revision prints (None: as ``product``
    and ``schedule`` say); workers get each revision's number in its chunks.
    """
    from generator.batch.building import cached_brochure, error_record
    from generator.batch.manifest import Manifest, batch_key, chunk_id
    from generator.batch.runner import ERRORS_FILE
    from generator.batch.storage import Destination
    from generator.batch.worker import ChunkResult, ChunkSpec, DocgenPlugin, build_chunk, make_bundle

    if approvals is not None:
        product, schedule = approvals.printed(product), approvals.schedule(schedule) if schedule is not None else None
    dest = Destination(out)
    summary = ClusterSummary(dest.show(), dry_run=dry_run)
    total = sum(1 for _ in read_client_rows(Path(path), CLUSTER_MAX_ROWS))  # a first pass, row by row, so progress has a total
    done = 0
    ordered = InOrder(on_record)

    def advance(rows: int) -> None:
        nonlocal done
        done += rows
        if progress:
            progress(done, total)

    def bad_row(errors: list[RowError]) -> None:  # one row's problems
        for error in errors:
            summary.errors.append(error)
            ordered.add(error.row, error_record(error))
        advance(1)

    rows = _checked_rows(site, product, Path(path), bad_row, schedule=schedule, today=today, start=start, renewal=renewal, policy=policy)
    ordered.open(0)  # bad rows read while grouping wait for the chunks opened below (row 0 is before every row)
    if dry_run:
        for _row, _values, premium, _revision, _last in rows:
            summary.planned += 1
            summary.total_premium += premium
            advance(1)
        summary.errors.sort(key=lambda e: (e.row or 0, e.column))
        ordered.flush()
        return summary

    groups: dict[tuple[str, dt.date | None], list[tuple[int | None, dict[str, Any], int]]] = {}
    for row, values, premium, revision, last_day in rows:  # a list on one revision is one group, in row order as before
        groups.setdefault((revision, last_day), []).append((row, values, premium))
    run = f"{time.strftime('%Y%m%dT%H%M%S')}-{uuid.uuid4().hex[:6]}"
    specs: list[ChunkSpec] = []
    bundles: dict[str, bytes] = {}
    for (revision, last_day), group in groups.items():
        rev = schedule.by_name(revision) if schedule is not None and revision and revision != product.revision else None
        own, own_site = (rev.product, rev.on_site(site)) if rev is not None else (product, site)
        folder = rev.folder if rev is not None else site.content / product.key
        bundle_hash, data = make_bundle(folder, own_site.templates, cached_brochure(own, own_site), name=own.key)
        bundles[bundle_hash] = data
        approval = own.meta.approval_number or ""  # the caller's approvals, applied above; workers get the number here
        key = batch_key(f"{bundle_hash}|{approval}", __version__, today)
        Manifest(dest, key).describe({"content_hash": own.digest(), "bundle": bundle_hash, "approval": approval, "docgen": __version__,
                                      "today": today, "list": str(path), "run": run, "chunk": chunk, "revision": own.revision})
        for piece in _chunks(iter(group), chunk):
            specs.append(ChunkSpec(chunk_id(piece), key, run, dest.url, tuple(piece), today, bundle_hash, own.digest(), __version__, 0.0,
                                   timeout=timeout, approval=approval, revision=own.revision, last_day=last_day, start=start, renewal=renewal,
                                   policy=policy or IssuingPolicy.operator()))
    client.register_plugin(DocgenPlugin())
    shared = {h: client.scatter(d, broadcast=True, hash=False) for h, d in bundles.items()}  # once per run; each worker keeps its copy
    started = time.time()
    width = window or max(1, WINDOW_PER_THREAD * sum(client.nthreads().values()))

    from distributed import as_completed

    in_flight: dict[Key, ChunkSpec] = {}
    queue = as_completed()

    def collect(future: Future[ChunkResult]) -> None:
        spec = in_flight.pop(future.key)
        try:
            result: ChunkResult = future.result()
        except ClusterError:
            for other in list(queue.futures):
                other.cancel()
            raise
        except Exception as exc:  # noqa: BLE001 - a worker lost too often (KilledWorker) or a defect: its rows fail, the rest go on
            reason = f"chunk {spec.chunk} failed on the cluster ({type(exc).__name__}: {exc}); run the same command again to retry it"
            failed = [RowError(row, "client", values.get("client", ""), reason) for row, values in spec.rows]
            result = ChunkResult(spec.chunk, errors=[(e.row, e.column, e.value, e.reason) for e in failed])
        summary.chunks += 1
        summary.resumed += result.resumed
        for line in result.packs:
            if line.get("status") == "built":
                summary.built += 1
            else:
                summary.skipped += 1
            if on_pack:
                on_pack(line)
            ordered.add(line.get("row"), line)
        for e in result.errors:
            error = RowError(*e)
            summary.errors.append(error)
            ordered.add(error.row, error_record(error))
        ordered.close(spec.rows[0][0])
        advance(len(spec.rows))

    for spec in specs:  # every chunk open before any closes: rows of interleaved revisions still come out in row order
        ordered.open(spec.rows[0][0])
    ordered.close(0)
    for spec in specs:
        spec = dataclasses.replace(spec, started=started)
        future = client.submit(build_chunk, spec, shared[spec.bundle_hash], key=f"docgen-chunk-{spec.batch}-{spec.chunk}-{run}", pure=False)
        in_flight[future.key] = spec
        queue.add(future)
        while len(in_flight) >= width:
            collect(next(queue))
    for future in queue:
        collect(future)
    ordered.flush()
    summary.errors.sort(key=lambda e: (e.row or 0, e.column))
    summary.errors_file = _write_errors(dest, ERRORS_FILE, summary.errors)
    return summary


class InOrder:
    """Hands records on in row order although chunks finish in any order; holds only rows after an unfinished chunk.

    >>> got = []
    >>> o = InOrder(lambda r: got.append(r["row"]))
    >>> o.open(2); o.open(5); o.add(4, {"row": 4}); o.add(5, {"row": 5}); o.close(5); got
    []
    >>> o.add(1, {"row": 1}); o.add(2, {"row": 2}); o.close(2); got
    [1, 2, 4, 5]
    """

    def __init__(self, sink: OnPack | None):
        self.sink = sink
        self.held: list[tuple[int, int, dict[str, Any]]] = []
        self.open_chunks: list[int] = []  # first row of each chunk in flight (a heap)
        self.count = itertools.count()  # ties keep arrival order

    def open(self, first_row: int | None) -> None:
        heapq.heappush(self.open_chunks, first_row or 0)

    def add(self, row: int | None, record: dict[str, Any]) -> None:
        if self.sink:
            heapq.heappush(self.held, (row or 0, next(self.count), record))
            self._release()

    def close(self, first_row: int | None) -> None:
        self.open_chunks.remove(first_row or 0)
        heapq.heapify(self.open_chunks)
        self._release()

    def flush(self) -> None:
        self.open_chunks.clear()
        self._release()

    def _release(self) -> None:
        while self.sink and self.held and (not self.open_chunks or self.held[0][0] < self.open_chunks[0]):
            self.sink(heapq.heappop(self.held)[2])


def _checked_rows(site: Site, product: Product, path: Path, bad_row: Callable[[list[RowError]], None], *, schedule: Schedule | None = None,
                  today: dt.date | None = None, start: dt.date | None = None, renewal: bool = False,
                  policy: IssuingPolicy | None = None) -> Iterator[tuple[int | None, dict[str, str], int, str, dt.date | None]]:
    """(row, raw values, premium, revision, its last day) of each row a local run would plan, by the same planning step
    (generator.batch.planning); the others go to ``bad_row``. The revision is the one in force on the row's 保険始期日
    (else ``start``, else today). Streamed: the planner keeps 8 bytes per accepted row, never the rows."""
    from generator.batch.planning import Planner

    planner = Planner(site, product, today or dt.date.today(), policy, schedule=schedule, start=start, renewal=renewal)
    for row, values in read_client_rows(path, CLUSTER_MAX_ROWS):
        checked, errors = planner.check(row, values)
        if checked is None:
            bad_row(errors)
            continue
        yield row, values, checked.quote.premium, checked.revision_name, checked.last_day


def _chunks(rows: Iterator[tuple[int | None, dict[str, Any], int]], size: int) -> Iterator[list[tuple[int | None, dict[str, str]]]]:
    """Consecutive good rows, ``size`` at a time: the same list always cuts into the same chunks.

    >>> [len(c) for c in _chunks(iter([(i, {}, 0) for i in range(5)]), 2)]
    [2, 2, 1]
    """
    while piece := [(row, values) for row, values, *_ in itertools.islice(rows, size)]:
        yield piece


def _write_errors(dest: Destination, name: str, errors: list[RowError]) -> str | None:
    """errors.csv in DEST, exactly as a local run writes it (generator.batch.runner.write_errors)."""
    from generator.batch.runner import write_errors

    if dest.is_folder:
        written = write_errors(dest.local(name), errors)
        return str(written) if written else None
    with tempfile.TemporaryDirectory(prefix="docgen-errors-") as tmp:
        written = write_errors(Path(tmp) / name, errors)
        if written is None:
            if dest.exists(name):
                dest.fs.rm_file(dest.path(name))
            return None
        dest.write_bytes(name, written.read_bytes())
    return dest.show(name)
