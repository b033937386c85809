"""The worker side of a distributed batch: one task builds one chunk of clients' packs and writes them to DEST.

A task gets a :class:`ChunkSpec` (the chunk's raw rows and where the packs go) and the run's content bundle
(content, templates and the cached brochure, by hash). It plans, typesets and assembles exactly as a local run
(generator.batch.runner and typeset), then installs each pack in DEST itself: nothing but a small
:class:`ChunkResult` goes back. The chunk's manifest record (generator.batch.manifest) makes it idempotent.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import errno
import hashlib
import io
import os
import shutil
import socket
import tarfile
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from distributed import Worker, WorkerPlugin

from generator import __version__, settings
from generator.batch.manifest import BATCH_DIR, STAGING, Manifest, worker_tag
from generator.batch.policy import IssuingPolicy
from generator.batch.storage import PACK_MANIFEST, Destination
from generator.content.approvals import printed
from generator.content.revisions import REVISIONS
from generator.errors import ClusterError, DocgenError, OutputConflict, SetupError

if TYPE_CHECKING:  # imported when a task runs (a worker imports this module to unpickle the plugin)
    from collections.abc import Iterator

    from generator.batch.assemble import Pack
    from generator.batch.typeset import Typeset
    from generator.content.model import Product
    from generator.documents.proposal import PackPlan
    from generator.documents.warm import ConverterPool
    from generator.site import Site

PLUGIN = "docgen"
DEFAULT_MAX_CONVERSIONS = 200  # documents per warm LibreOffice before it is replaced (JODConverter's default)
Row = tuple[int | None, dict[str, str]]


@dataclass(frozen=True)
class ChunkSpec:
    """One task: these rows' packs into ``dest``, built from the bundle named ``bundle_hash``."""

    chunk: str
    batch: str
    run: str
    dest: str
    rows: tuple[Row, ...]
    today: dt.date
    bundle_hash: str
    product_digest: str
    version: str
    started: float  # when the run began: a pack written since then was built by this run (a retried chunk finds it)
    timeout: float | None = None
    lock: bool = True  # hold a scheduler lock on the chunk while building (False outside a cluster)
    approval: str = ""  # the approval number the client's documents print ("" for a draft); not in the content hash
    revision: str = ""  # the product revision the bundle holds (every row of the chunk is priced by it)
    last_day: dt.date | None = None  # the last start date that revision prices: no quote is valid past it
    start: dt.date | None = None  # docgen proposals --start: the 保険始期日 of rows without a start cell
    renewal: bool = False  # docgen proposals --renewal
    policy: IssuingPolicy = IssuingPolicy()  # the asker's (generator.batch.policy): applied to every row, as on the client


@dataclass
class ChunkResult:
    """What goes back to the client: one small line per pack (as ``--json`` prints it) and every bad row."""

    chunk: str
    packs: list[dict[str, Any]] = field(default_factory=list)
    errors: list[tuple[int | None, str, str, str]] = field(default_factory=list)
    resumed: bool = False  # another run's manifest record said done and every pack was still there
    worker: str = ""


@dataclass
class WorkerContext:
    """A content bundle unpacked and loaded on this worker, checked against the hashes the client sent."""

    site: Site
    product: Product
    brochure: Path


def make_bundle(content: Path, templates: Path, brochure: Path, *, name: str | None = None) -> tuple[str, bytes]:
    """(sha256, tar bytes) of one revision's content folder (as ``content/<name>``, the product's key), the templates
    and the cached brochure PDF; the product folder's later revisions (revisions/) are not part of the first's bundle.

    Same inputs, same bytes: names sorted, no times or owners; the hash is what a worker checks before use.
    """
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        members = [(f"content/{name or content.name}/{p.relative_to(content).as_posix()}", p) for p in sorted(content.rglob("*"))
                   if p.is_file() and p.relative_to(content).parts[0] != REVISIONS]
        members += [(f"templates/{p.name}", p) for p in sorted(templates.glob("*.docx"))]
        members.append(("brochure.pdf", brochure))
        for name, path in members:
            data = path.read_bytes()
            info = tarfile.TarInfo(name)
            info.size, info.mode, info.mtime = len(data), 0o644, 0
            tar.addfile(info, io.BytesIO(data))
    data = buf.getvalue()
    return hashlib.sha256(data).hexdigest(), data


class DocgenPlugin(WorkerPlugin):
    """Per worker: its scratch folder, the unpacked bundles, and its own LibreOffice.

    With the warm converter (generator.documents.warm, when python3-uno is there) the worker keeps one supervised
    LibreOffice with its own profile, replaced after ``max_conversions`` documents or a crash and stopped with the
    worker; otherwise each LibreOffice run is a cold one with a throwaway profile (generator.documents.convert).
    Registered by the client for every worker, present and future.
    """

    name = PLUGIN
    idempotent = True  # a second run on the same cluster keeps the warm instances and unpacked bundles

    def __init__(self, max_conversions: int = DEFAULT_MAX_CONVERSIONS, warm: bool = True):
        self.max_conversions, self.warm = max_conversions, warm
        self._setup(None)

    def __getstate__(self) -> dict[str, Any]:
        return {"max_conversions": self.max_conversions, "warm": self.warm}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.max_conversions, self.warm = state["max_conversions"], state["warm"]
        self._setup(None)

    def _setup(self, root: Path | None) -> None:
        self.root = root
        self.contexts: dict[str, WorkerContext] = {}
        self.lock = threading.Lock()
        self.pool: ConverterPool | None = None
        self.pool_failed = ""
        self.conversions = 0  # LibreOffice runs this worker made (for tests and diagnostics)
        self.staging: set[Path] = set()

    def setup(self, worker: Worker | None = None) -> None:
        base = Path(worker.local_directory) if worker is not None else Path(tempfile.mkdtemp(prefix="docgen-worker-"))
        root = base / "docgen"
        self._setup(root)
        root.mkdir(parents=True, exist_ok=True)

    def teardown(self, worker: Worker | None = None) -> None:
        with self.lock:
            pool, self.pool = self.pool, None
        if pool is not None:
            pool.close()  # kills each instance's whole process group
        for folder in list(self.staging):
            shutil.rmtree(folder, ignore_errors=True)
        if self.root is not None:
            shutil.rmtree(self.root, ignore_errors=True)

    def scratch(self) -> Path:
        if self.root is None:
            self.setup()
        assert self.root is not None  # setup() made it
        return self.root

    def converter(self, timeout: float | None) -> ConverterPool | None:
        """The warm pool when it can run here, else None (typeset then runs cold LibreOffice)."""
        if not self.warm:
            return None
        with self.lock:
            if self.pool is None and not self.pool_failed:
                try:
                    from generator.documents.warm import ConverterPool

                    self.pool = ConverterPool(1, timeout=timeout or 120.0, max_conversions=self.max_conversions)
                except (ImportError, SetupError, DocgenError) as exc:
                    self.pool_failed = str(exc)  # cold path from now on; said once in the worker log
            return self.pool

    def context(self, spec: ChunkSpec, data: bytes) -> WorkerContext:
        """The bundle ``spec`` names, unpacked once per worker; refused if anything differs from the client's."""
        who = f"worker {socket.gethostname()} (pid {os.getpid()})"
        if spec.version != __version__:
            raise ClusterError(f"{who} runs docgen {__version__} but the client runs {spec.version}; install the same docgen on every worker")
        with self.lock:
            found = self.contexts.get(f"{spec.bundle_hash}|{spec.approval}")
            if found is not None:
                return found
            if hashlib.sha256(data).hexdigest() != spec.bundle_hash:
                raise ClusterError(f"{who} received content, templates and brochure whose hash is not the client's "
                                   f"({spec.bundle_hash[:12]}); refused: nothing was built")
            folder = self.scratch() / "bundles" / spec.bundle_hash[:16]
            if not folder.is_dir():
                folder.parent.mkdir(parents=True, exist_ok=True)
                new = Path(tempfile.mkdtemp(prefix=".bundle-", dir=folder.parent))  # beside its name: renamed in whole
                with tarfile.open(fileobj=io.BytesIO(data)) as tar:
                    tar.extractall(new, filter="data")
                os.replace(new, folder)
            self.contexts[f"{spec.bundle_hash}|{spec.approval}"] = found = _load_context(folder, spec, who, self.scratch())
            return found


def _load_context(folder: Path, spec: ChunkSpec, who: str, scratch: Path) -> WorkerContext:
    from generator.content.load import load_product
    from generator.content.validate import validate
    from generator.site import Site

    (content,) = [p for p in (folder / "content").iterdir() if p.is_dir()]
    product = validate(load_product(content))
    if product.digest() != spec.product_digest:
        raise ClusterError(f"{who} loads content {product.digest()} but the client sent {spec.product_digest}; refused: "
                           "the worker's docgen reads content differently (install the client's docgen version)")
    # the approval in force is an input the client decided (generator.api.approvals; its database): a worker has none
    product = printed(dataclasses.replace(product, revision=spec.revision), spec.approval)
    outputs = scratch / "outputs"
    cache = settings.current().cache or Path(tempfile.gettempdir()) / f"docgen-cache-{os.getuid()}"  # layout cache, per host (its DOCGEN_CACHE)
    site = Site(content=folder / "content", templates=folder / "templates", outputs=outputs, cache=cache, proposals=outputs / "proposals",
                storage=scratch / "storage")
    return WorkerContext(site, product, folder / "brochure.pdf")


_LOCAL = DocgenPlugin()  # outside a Dask worker (a direct call, a test): one per process


def _plugin() -> DocgenPlugin:
    try:
        from distributed import get_worker

        worker = get_worker()
    except (ImportError, ValueError):
        return _LOCAL
    plugin = worker.plugins.get(PLUGIN)
    return plugin if isinstance(plugin, DocgenPlugin) else _LOCAL


def _chunk_lock(spec: ChunkSpec) -> contextlib.AbstractContextManager[object]:
    """Held while a chunk builds: a chunk resubmitted while its first task still runs (its client was killed
    and the same command run again) waits, then finds it done. Released by the scheduler when the holder dies."""
    if not spec.lock:
        return contextlib.nullcontext()
    from distributed import Lock

    return Lock(f"docgen-{spec.batch}-{spec.chunk}")


def build_chunk(spec: ChunkSpec, data: bytes) -> ChunkResult:
    """The task: build one chunk's packs into DEST, or find them there; see the module docstring."""
    plugin = _plugin()
    ctx = plugin.context(spec, data)
    dest = Destination(spec.dest)
    manifest = Manifest(dest, spec.batch)
    me = worker_tag()
    with _chunk_lock(spec):
        record = manifest.read(spec.chunk)
        if record and record.get("state") == "done" and _still_there(dest, record):
            errors = [tuple(e) for e in record["errors"]]
            if record.get("run") == spec.run:  # this run's own attempt, done before its worker died: its packs are this run's
                return ChunkResult(spec.chunk, [p["line"] for p in record["packs"]], errors, worker=me)
            lines = [p["line"] | {"status": "up to date"} for p in record["packs"]]
            return ChunkResult(spec.chunk, lines, errors, resumed=True, worker=me)
        manifest.running(spec.chunk, spec.run, me)
        packs, errors = _build(plugin, ctx, dest, spec)
        manifest.done(spec.chunk, spec.run, me, packs, [list(e) for e in errors])
        return ChunkResult(spec.chunk, [p["line"] for p in packs], errors, worker=me)


def _still_there(dest: Destination, record: dict[str, Any]) -> bool:
    return all((dest.pack_state(p["folder"]) or {}).get("digest") == p["digest"] for p in record["packs"])


def _build(plugin: DocgenPlugin, ctx: WorkerContext, dest: Destination, spec: ChunkSpec) -> tuple[list[dict[str, Any]], list[tuple[int | None, str, str, str]]]:
    """The chunk through the same planning and building steps as a local run; packs installed in DEST by :class:`_Dest`."""
    from generator.batch.building import build_plans
    from generator.batch.planning import Planner
    from generator.documents.convert import given_timeout

    timeout = given_timeout(spec.timeout)  # None: each LibreOffice run's default is sized to its documents
    planner = Planner(ctx.site, ctx.product, spec.today, spec.policy, last_day=spec.last_day, start=spec.start, renewal=spec.renewal)
    plans, bad = planner.plan_rows(spec.rows)
    place = _Dest(plugin, dest, spec)
    built, failed = build_plans(ctx.product, plans, ctx.brochure, place, cache=ctx.site.cache, timeout=timeout,
                                converter=plugin.converter(timeout) if plans else None)
    plugin.conversions += place.built > 0
    errors = sorted(((e.row, e.column, e.value, e.reason) for e in [*bad, *(e for _, e in failed)]), key=lambda e: (e[0] or 0, e[1]))
    return [_entry(dest, pack) for pack in built], errors


class _Dest:
    """A chunk's place in DEST (generator.batch.building.Place): a pack found there was built by this run when it was
    written after the run began (a retried chunk's lost attempt); a folder gets each pack by one rename, a store by upload."""

    def __init__(self, plugin: DocgenPlugin, dest: Destination, spec: ChunkSpec) -> None:
        self.plugin, self.dest, self.spec = plugin, dest, spec
        self.staging: Path | None = None
        self.built = 0

    @contextlib.contextmanager
    def work(self) -> Iterator[Path]:
        from generator.batch.building import remove_dead_staging

        work = self.plugin.scratch() / "work" / f"{self.spec.run}-{self.spec.chunk}"
        shutil.rmtree(work, ignore_errors=True)
        work.mkdir(parents=True)
        if self.dest.is_folder:  # a dead worker process of this host (killed mid-chunk) left its staging: removed
            remove_dead_staging(self.dest.local(STAGING), f"{socket.gethostname()}@")
        self.staging = _staging(self.dest, self.spec, self.plugin)
        try:
            yield work
        finally:
            shutil.rmtree(work, ignore_errors=True)
            if self.staging is not None:
                shutil.rmtree(self.staging, ignore_errors=True)
                self.plugin.staging.discard(self.staging)

    def existing(self, plan: PackPlan) -> Pack | None:
        from generator.batch.assemble import MANIFEST, Pack

        state = self.dest.pack_state(plan.folder)
        if not state or state.get("digest") != plan.digest:
            return None
        written = self.dest.modified(f"{plan.folder}/{MANIFEST}") or 0
        return Pack(plan, Path(self.dest.show(plan.folder)), int(state.get("pages") or 0), skipped=written < self.spec.started)

    def install(self, plan: PackPlan, done: Typeset, work: Path) -> Pack:
        from generator.batch.assemble import Pack, seal

        _publish(self.dest, seal(plan, done), plan, self.staging, self.spec)
        self.built += 1
        return Pack(plan, Path(self.dest.show(plan.folder)), done.pages)


def _entry(dest: Destination, pack: Pack) -> dict[str, Any]:
    """The manifest's entry for one pack: its folder and inputs digest, and the line ``--json`` prints for it."""
    plan = pack.plan
    line = pack.as_dict()
    if not dest.is_folder:  # a URL is no path: spell it out
        line |= {"folder": dest.show(plan.folder), "pdf": dest.show(f"{plan.folder}/{plan.pdf_name}"),
                 "docx": [dest.show(f"{plan.folder}/{Path(p).name}") for p in line.get("docx", [])]}
    return {"folder": plan.folder, "digest": plan.digest, "line": line}


def _staging(dest: Destination, spec: ChunkSpec, plugin: DocgenPlugin) -> Path | None:
    """This worker's staging for this run and chunk, beside the packs (a rename from their place); folders only."""
    if not dest.is_folder:
        return None
    folder = dest.local(STAGING) / f"{worker_tag()}-{spec.run}-{spec.chunk}"
    folder.mkdir(parents=True, exist_ok=True)
    plugin.staging.add(folder)
    return folder


def _publish(dest: Destination, built: Path, plan: PackPlan, staging: Path | None, spec: ChunkSpec) -> None:
    """Into DEST: a folder swaps the pack in with one rename (as a local run); a store gets pack.json last.

    Never over another client's pack (OutputConflict, that client's row fails, as in a local run).
    """
    from generator.batch.assemble import check_owner, swap_in

    name, client, contact = plan.folder, plan.request.client, plan.request.contact
    if staging is None:
        # a store's folder without pack.json is one of ours interrupted while being replaced: taken over
        found = dest.read_json(f"{name}/{PACK_MANIFEST}")
        if found and (found.get("client") != client or found.get("contact", contact) != contact):
            owner = f"{found.get('client')} {found.get('contact', '')}".strip()
            raise OutputConflict(f"{dest.show(name)}: holds the pack of another client ({owner!r}); not replaced: move it away or use another --out")
        dest.upload_pack(built, name)
        return
    final = dest.local(name)
    check_owner(final, client, contact)
    new = staging / "packs" / name
    shutil.rmtree(new, ignore_errors=True)
    new.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.replace(built, new)  # the worker's scratch on the same file system as DEST: no copy
    except OSError as exc:
        if exc.errno != errno.EXDEV:
            raise
        shutil.copytree(built, new)  # a shared file system: copied beside its place, then renamed in
    swap_in(new, final, staging)
    # which worker installed which pack: a pack named twice across these logs was built twice
    log = dest.local(f"{BATCH_DIR}/{spec.batch}/installs/{worker_tag()}.log")
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("a", encoding="utf-8") as fh:
        fh.write(f"{name}\t{time.time():.3f}\t{spec.chunk}\n")
