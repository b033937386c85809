"""Service latency bench (``nox -s bench -- --service``): one pack at a time through the portal's HTTP API, then a load test.

Same machine, same run, same caches:

1. the cold CLI: ``docgen proposal`` as a subprocess, ``--cold`` clients one after another (a fresh LibreOffice each);
2. the service API directly: ``api.build_pack`` with a warm :class:`~generator.documents.warm.ConverterPool` and
   without one (the converter's own effect, no HTTP, no database);
3. the portal: ``docgen serve`` on 127.0.0.1 with a temp SQLite database and temp storage, throwaway users made
   through the store's models; an agent logs in over HTTP (httpx) and builds ``--packs`` packs one after another
   (submit the form, poll the job, download the PDF): p50/p95 against the cold CLI's;
4. a bounded load test: ``--agents`` simulated agents (threads), ``--per-agent`` packs each (asking for progress as the
   page does: the fragment's hx-get, when its hx-trigger says; the server holds it until the job changes), a fixed
   number of requests and an overall time limit; it reports errors, throughput and p95 and stops by itself.

Every downloaded PDF must start with ``%PDF``; a sample is read back for the client's name and premium. The exit code
is 1 when a request failed or a PDF was wrong; the latency goal (p50 <= 0.6 s, p95 <= 1.2 s) is reported, not enforced.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import html
import io
import os
import re
import secrets
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

import httpx  # noqa: E402
import psutil  # noqa: E402
from pypdf import PdfReader  # noqa: E402

from generator import api  # noqa: E402
from generator.settings import load as load_settings  # noqa: E402
from tests.bench.common import finish_work  # noqa: E402
from tests.netkit import free_port  # noqa: E402

DOCGEN = [sys.executable, "-m", "generator"]
TODAY = "2026-11-26"
# (industry, revenue, limit) as an agent types them; the premium each must print comes from the published table
RISKS = [("製造業", "4.5億", "1億"), ("小売業", "8000万", "5000万"), ("建設業", "2億", "3億"), ("学校", "12億", "1億")]
GOAL_P50, GOAL_P95 = 0.6, 1.2
# an agent asks for progress as the page's htmx does: the URL in the fragment's hx-get, when its hx-trigger says ("load":
# at once; "load delay:…", "every …"); BROWSER_POLL when a fragment says neither
BROWSER_POLL = 1.0
ASKS = re.compile(r'hx-get="([^"]+)"')
LOAD = re.compile(r'hx-trigger="load(?: delay:(\d+)ms)?[,"]')
EVERY = re.compile(r'hx-trigger="[^"]*every (\d+)(ms|s)"')
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
# every request is small (a form post, a poll, one PDF): a stalled server fails the run in seconds, not minutes
REQUEST_TIMEOUT = 10.0


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100).

    >>> percentile([1.0, 2.0, 3.0, 4.0], 50), percentile([1.0, 2.0, 3.0, 4.0], 95), percentile([5.0], 95)
    (2.0, 4.0, 5.0)
    """
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * q // 100))
    return ordered[int(rank) - 1]


def squash(text: str) -> str:
    return "".join(unicodedata.normalize("NFKC", text).split())


def line(label: str, times: list[float]) -> str:
    return f"{label}: n={len(times)} p50={statistics.median(times):.3f}s p95={percentile(times, 95):.3f}s max={max(times):.3f}s"


# --- 1. the cold CLI -----------------------------------------------------------------------------


def cold_cli(env: dict[str, str], out: Path, runs: int) -> list[float]:
    times = []
    for i in range(runs + 1):  # the first fills the brochure and layout caches: not counted
        industry, revenue, limit = RISKS[i % len(RISKS)]
        cmd = [*DOCGEN, "proposal", "--client", f"株式会社 コールド{i:03d}", "--industry", industry, "--revenue", revenue,
               "--limit", limit, "--date", TODAY, "--out", str(out), "-q"]
        start = time.monotonic()
        done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
        took = time.monotonic() - start
        if done.returncode != 0:
            raise SystemExit(f"cold CLI failed (exit {done.returncode}): {done.stderr.strip()[-2000:]}")
        if i:
            times.append(took)
    return times


# --- 2. the service API, with and without the warm pool -------------------------------------------


def api_direct(site: api.Site, out: Path, runs: int, pool_size: int) -> tuple[list[float], list[float]]:
    from generator.documents.warm import ConverterPool

    product = api.load(site)
    cold, warm = [], []
    with ConverterPool(pool_size) as pool:
        for i in range(runs):
            for label, converter, times in (("cold", None, cold), ("warm", pool, warm)):
                industry, revenue, limit = RISKS[i % len(RISKS)]
                request = api.client_request(client=f"株式会社 API{label}{i:03d}", industry=industry, revenue=revenue, limit=limit)
                start = time.monotonic()
                api.build_pack(site, product, request, out=out, today=dt.date.fromisoformat(TODAY), converter=converter)
                times.append(time.monotonic() - start)
    return cold, warm


# --- 3. and 4. the portal over HTTP ---------------------------------------------------------------


def make_users(url: str, count: int) -> list[tuple[str, str]]:
    """``count`` agents in two agencies, each with a throwaway password (never stored anywhere but this process)."""
    from generator.store import db
    from generator.store.accounts import Agency, User
    from generator.web.app import prepare_database
    from generator.web.security import hash_password

    eng = prepare_database(url)
    users = []
    try:
        with db.session_factory(eng)() as session:
            agencies = [Agency(name="さくら保険サービス株式会社"), Agency(name="みどり総合保険代理店")]
            session.add_all(agencies)
            session.flush()
            for i in range(count):
                email, password = f"agent{i:02d}@bench.invalid", secrets.token_urlsafe(18)
                session.add(User(email=email, name=f"担当{i:02d}", password_hash=hash_password(password), role="agent",
                                 agency_id=agencies[i % 2].id, active=True))
                users.append((email, password))
            session.commit()
    finally:
        eng.dispose()
    return users


class Server:
    """``docgen serve`` in its own session on 127.0.0.1; stopped with SIGTERM, then its whole group killed."""

    def __init__(self, env: dict[str, str], url: str, log: Path, start_timeout: float = 180.0, coalesce: int | None = None,
                 profile: Path | None = None):
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.log = log
        extra = ["--coalesce", str(coalesce)] if coalesce else []
        # --profile: every thread of the server under cProfile (tests/bench/profiled.py), the stats written when it stops
        command = [sys.executable, "-m", "tests.bench.profiled"] if profile else DOCGEN
        if profile:
            env = dict(env, DOCGEN_BENCH_PROFILE=str(profile))
        with log.open("wb") as out:
            self.proc = subprocess.Popen([*command, "serve", "--database", url, "--host", "127.0.0.1", "--port", str(self.port), *extra], env=env,
                                         stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + start_timeout
        while True:
            if self.proc.poll() is not None:
                raise SystemExit(f"docgen serve exited with {self.proc.returncode}:\n{log.read_text(errors='replace')[-3000:]}")
            try:
                if httpx.get(self.base + "/login", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                self.stop()
                raise SystemExit(f"docgen serve did not answer within {start_timeout:g}s")
            time.sleep(0.2)

    def cpu(self) -> tuple[float, float, float]:
        """CPU seconds so far (user + system) of the server process, of the processes under it (LibreOffice, warm lanes),
        and of the LibreOffice ones among them (soffice.bin).

        The load-robust figure: a busy machine stretches the wall clock, much less the CPU a pack costs.
        """
        server = psutil.Process(self.proc.pid)
        own = sum(server.cpu_times()[:2])
        below = office = 0.0
        for child in server.children(recursive=True):
            with contextlib.suppress(psutil.Error):
                spent = sum(child.cpu_times()[:2])
                below += spent
                office += spent if child.name().startswith("soffice") else 0.0
        return own, below, office

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(timeout=30)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)  # anything it left (a LibreOffice it did not stop) goes too
        self.proc.wait()


@dataclass
class Agent:
    """One logged-in browser: its own cookies and CSRF token."""

    base: str
    email: str
    password: str
    timeout: float = REQUEST_TIMEOUT
    client: httpx.Client = field(init=False)
    token: str = ""
    polls: int = 0  # progress requests made (the load test reports them per pack)

    def __post_init__(self) -> None:
        self.client = httpx.Client(base_url=self.base, timeout=httpx.Timeout(self.timeout, connect=min(self.timeout, 5.0)), follow_redirects=False)

    def login(self) -> None:
        page = self.client.get("/login")
        token = CSRF.search(page.text)
        r = self.client.post("/login", data={"email": self.email, "password": self.password, "next": "/", "csrf_token": token.group(1) if token else ""})
        if r.status_code != 303:
            raise RuntimeError(f"login of {self.email} answered {r.status_code}")
        form = self.client.get("/packs/new")
        found = CSRF.search(form.text)
        if form.status_code != 200 or not found:
            raise RuntimeError(f"/packs/new answered {form.status_code} without a CSRF token")
        self.token = found.group(1)

    def build(self, client: str, risk: tuple[str, str, str], deadline: float) -> bytes:
        """Submit one pack, ask for its progress as the page does until the job is done, download the PDF; raises on any
        failure."""
        industry, revenue, limit = risk
        r = self.client.post("/packs", data={"client": client, "contact": "", "industry": industry, "revenue": revenue, "limit": limit,
                                             "csrf_token": self.token})
        if r.status_code != 303 or not r.headers.get("location", "").startswith("/jobs/"):
            raise RuntimeError(f"POST /packs answered {r.status_code}: {_message(r)}")
        job = r.headers["location"]
        asking = job + "/progress"  # what the job page the form redirects to shows (the bench does not load the page)
        while True:
            p = self.client.get(asking)
            self.polls += 1
            if p.status_code != 200:
                raise RuntimeError(f"GET {asking} answered {p.status_code}")
            if p.headers.get("hx-redirect"):
                break
            if time.monotonic() > deadline:
                raise RuntimeError(f"{job} not done before the time limit")
            asking, after = next_request(p.text, asking)
            time.sleep(after)
        page = self.client.get(job)
        if page.status_code != 303 or not page.headers.get("location", "").startswith("/packs/"):
            raise RuntimeError(f"{job} did not produce a pack: {_message(page)}")
        pdf = self.client.get(page.headers["location"] + "/pdf", params={"download": "true"})
        if pdf.status_code != 200 or not pdf.content.startswith(b"%PDF"):
            raise RuntimeError(f"PDF download answered {pdf.status_code} ({len(pdf.content)} bytes)")
        return pdf.content


def next_request(fragment: str, asked: str) -> tuple[str, float]:
    """The next progress request, as htmx makes it from the fragment it swapped in: the fragment's hx-get (``asked``
    again without one), and the seconds before it: none for ``load``, its delay for ``load delay:…ms``, else the regular
    ``every …`` (BROWSER_POLL when the fragment says nothing).

    >>> next_request('hx-get="/jobs/a/progress?seen=running.0" hx-trigger="load, every 10000ms"', "/jobs/a/progress")
    ('/jobs/a/progress?seen=running.0', 0.0)
    >>> next_request('hx-trigger="load delay:350ms, every 1s"', "/p"), next_request('hx-trigger="every 500ms"', "/p")
    (('/p', 0.35), ('/p', 0.5))
    """
    url = html.unescape(found.group(1)) if (found := ASKS.search(fragment)) else asked
    if (load := LOAD.search(fragment)) is not None:
        return url, int(load.group(1) or 0) / 1000
    regular = EVERY.search(fragment)
    return url, int(regular.group(1)) / (1000 if regular.group(2) == "ms" else 1) if regular else BROWSER_POLL


def _message(r: httpx.Response) -> str:
    found = re.search(r'class="(?:error|message)[^"]*"[^>]*>(.*?)<', r.text, re.S)
    return (found.group(1).strip() if found else r.text[:200]).replace("\n", " ")


def expected_premiums(site: api.Site) -> dict[tuple[str, str, str], str]:
    product = api.load(site, lint=False)
    out = {}
    for risk in RISKS:
        q = api.quote_request(product, api.client_request(client="x", industry=risk[0], revenue=risk[1], limit=risk[2]))
        out[risk] = f"{q.premium:,}円"
    return out


def check_pdf(content: bytes, client: str, premium: str) -> str | None:
    text = squash("".join(page.extract_text() or "" for page in PdfReader(io.BytesIO(content)).pages))
    missing = [s for s in (client, premium) if squash(s) not in text]
    return f"{client}: the PDF lacks {missing}" if missing else None


def latency(server: Server, user: tuple[str, str], packs: int, premiums: dict, limit: float,
            timeout: float = REQUEST_TIMEOUT) -> tuple[list[float], list[str]]:
    agent = Agent(server.base, *user, timeout=timeout)
    agent.login()
    times, errors = [], []
    deadline = time.monotonic() + limit
    for i in range(packs):
        risk, client = RISKS[i % len(RISKS)], f"株式会社 ラテンシ{i:03d}"
        start = time.monotonic()
        try:
            content = agent.build(client, risk, deadline)
        except Exception as exc:
            errors.append(f"pack {i}: {exc}")
            continue
        times.append(time.monotonic() - start)
        if i in (0, packs - 1):
            problem = check_pdf(content, client, premiums[risk])
            if problem:
                errors.append(problem)
    return times, errors


@dataclass
class Clocked:
    """CPU seconds spent while the load test's clock ran: the server, the processes under it, this bench client."""

    server: float = 0.0
    workers: float = 0.0
    client: float = 0.0
    office: float = 0.0  # of the workers': LibreOffice's own processes
    polls: int = 0  # progress requests in the clock


def load_test(server: Server, users: list[tuple[str, str]], per_agent: int, premiums: dict, limit: float,
              timeout: float = REQUEST_TIMEOUT) -> tuple[list[float], list[str], float, Clocked]:
    """Every agent logs in, then builds its packs one after another; the clock runs from the first submit to the last download.

    The CPU figures cover the clock alone: the logins before it (Argon2 on the server) and the PDF read-back after it
    are not what a pack costs.
    """
    agents = [Agent(server.base, *u, timeout=timeout) for u in users]
    for a in agents:
        a.login()
    times: list[float] = []
    errors: list[str] = []
    lock = threading.Lock()
    barrier = threading.Barrier(len(agents) + 1)
    deadline = time.monotonic() + limit

    # each agent's last PDF is read back after the clock stops: pypdf's text extraction of a 1 MB pack is ~0.3 CPU-s,
    # which on the same two cores the server would lose while it is being measured
    samples: list[tuple[bytes, str, str]] = []

    def run(n: int, agent: Agent) -> None:
        barrier.wait()
        for k in range(per_agent):
            risk, client = RISKS[(n + k) % len(RISKS)], f"株式会社 ロード{n:02d}-{k}"
            start = time.monotonic()
            try:
                content = agent.build(client, risk, deadline)
                took = time.monotonic() - start
            except Exception as exc:
                with lock:
                    errors.append(f"agent {n} pack {k}: {exc}")
                if time.monotonic() > deadline:
                    return
                continue
            with lock:
                times.append(took)
                if k == per_agent - 1:
                    samples.append((content, client, premiums[risk]))

    threads = [threading.Thread(target=run, args=(n, a), daemon=True) for n, a in enumerate(agents)]
    for t in threads:
        t.start()
    cpu0, client0 = server.cpu(), time.process_time()
    barrier.wait()
    start = time.monotonic()
    for t in threads:
        t.join(timeout=max(0.0, deadline - time.monotonic()) + 5)
    wall = time.monotonic() - start
    cpu1, client1 = server.cpu(), time.process_time()
    clocked = Clocked(cpu1[0] - cpu0[0], cpu1[1] - cpu0[1], client1 - client0, cpu1[2] - cpu0[2], sum(a.polls for a in agents))
    if any(t.is_alive() for t in threads):
        errors.append("the time limit stopped the load test")
    with lock:
        checked = list(samples)
    errors += [problem for content, client, premium in checked if (problem := check_pdf(content, client, premium))]
    return times, errors, wall, clocked


def soffice_left(marker: str) -> list[str]:
    """soffice processes whose command line mentions ``marker`` (the run's temp folder)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                cmd = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            except OSError:
                continue
            if "soffice" in cmd and marker in cmd:
                found.append(f"{entry.name} {cmd[:120]}")
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--service", action="store_true", help="(what nox -s bench passes to select this bench)")
    parser.add_argument("--packs", type=int, default=50, help="packs one after another through HTTP (default: %(default)s)")
    parser.add_argument("--cold", type=int, default=5, help="cold CLI runs (default: %(default)s)")
    parser.add_argument("--api-runs", type=int, default=5, help="api.build_pack runs with and without the pool (default: %(default)s; 0: skip)")
    parser.add_argument("--agents", type=int, default=20, help="simulated agents in the load test (default: %(default)s)")
    parser.add_argument("--per-agent", type=int, default=5, help="packs per agent (default: %(default)s)")
    parser.add_argument("--limit", type=float, default=600.0, help="time limit of each HTTP phase in seconds (default: %(default)s)")
    parser.add_argument("--request-timeout", type=float, default=REQUEST_TIMEOUT,
                        help="seconds one HTTP request may take before it counts as an error (default: %(default)s)")
    parser.add_argument("--coalesce", default="", metavar="N[,N…]",
                        help="docgen serve --coalesce for the HTTP phases (default: the server's own); several: one server each, "
                             "alternated --rounds times in this run (1 builds one pack a run: the baseline)")
    parser.add_argument("--rounds", type=int, default=1, help="rounds of the HTTP phases over the --coalesce settings (default: %(default)s)")
    parser.add_argument("--profile", type=Path, default=None, metavar="FILE",
                        help="profile every thread of each server (cProfile, CPU clock); stats to FILE-<setting>-<round>.prof (pstats)")
    parser.add_argument("--keep", action="store_true", help="keep the work folder")
    args = parser.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="docgen-service-bench-"))
    env = dict(os.environ, DOCGEN_CACHE=str(work / "cache"), DOCGEN_PROPOSALS=str(work / "proposals"), DOCGEN_STORAGE=str(work / "storage"),
               PYTHONPATH=str(REPO), TMPDIR=str(work / "tmp"))  # every LibreOffice profile of the run under work/: leftovers show
    (work / "tmp").mkdir()
    url = f"sqlite:///{work / 'portal.db'}"
    env["DOCGEN_DATABASE_URL"] = url
    site = api.Site.from_env(load_settings(env))
    cores = os.cpu_count()
    failed = False
    try:
        print(f"service bench: {cores} cores; work folder {work}", flush=True)
        cold = cold_cli(env, work / "cold", args.cold)
        if cold:
            print(line("cold CLI (docgen proposal, one process and one LibreOffice per pack)", cold), flush=True)
        if args.api_runs:
            api_cold, api_warm = api_direct(site, work / "api", args.api_runs, cores or 1)
            print(line("api.build_pack, cold convert_to_pdf", api_cold), flush=True)
            print(line(f"api.build_pack, warm pool of {cores}", api_warm), flush=True)
        premiums = expected_premiums(site)
        users = make_users(url, max(1, args.agents))
        settings = [int(n) for n in args.coalesce.split(",") if n.strip()] or [None]
        times: list[float] = []
        errors: list[str] = []
        load_errors: list[str] = []
        load: list[float] = []
        requested = 0
        for round_no in range(args.rounds):
            for setting in settings:
                label = f"coalesce={setting if setting else 'default'} round {round_no + 1}"
                profile = args.profile.with_name(f"{args.profile.name}-{setting or 'default'}-{round_no + 1}.prof") if args.profile else None
                server = Server(env, url, work / f"serve-{round_no}-{setting}.log", coalesce=setting, profile=profile)
                try:
                    cpu0 = server.cpu()
                    got, bad = latency(server, users[0], args.packs, premiums, args.limit, args.request_timeout)
                    cpu1 = server.cpu()
                    if got:
                        print(line(f"service (HTTP: submit, poll, download), one pack at a time [{label}]", got)
                              + f"; CPU/pack server {(cpu1[0] - cpu0[0]) / len(got):.3f}s, workers {(cpu1[1] - cpu0[1]) / len(got):.3f}s", flush=True)
                    done, failed_load, wall, clocked = load_test(server, users[: args.agents], args.per_agent, premiums, args.limit,
                                                                 args.request_timeout)
                finally:
                    server.stop()
                per = max(1, len(done))
                print(f"load [{label}]: {args.agents} agents x {args.per_agent} packs, {len(done)} ok, {len(failed_load)} errors, {wall:.1f}s, "
                      f"throughput={len(done) / wall:.2f} packs/s, p50={statistics.median(done) if done else 0:.3f}s "
                      f"p95={percentile(done, 95) if done else 0:.3f}s; CPU/pack while the clock ran: server {clocked.server / per:.3f}s, "
                      f"workers (LibreOffice, lanes) {clocked.workers / per:.3f}s (LibreOffice {clocked.office / per:.3f}s), "
                      f"bench client {clocked.client / per:.3f}s; "
                      f"{clocked.polls / per:.1f} polls/pack; "
                      f"load average {os.getloadavg()[0]:.1f}", flush=True)
                times += got
                errors += bad
                load += done
                load_errors += failed_load
                requested += args.agents * args.per_agent
                failed = failed or len(got) != args.packs
        leftovers = soffice_left(str(work))
        if times:
            p50, p95 = statistics.median(times), percentile(times, 95)
            goal = "met" if p50 <= GOAL_P50 and p95 <= GOAL_P95 else "NOT met"
            print(f"service p50={p50:.3f}s p95={p95:.3f}s (goal p50<={GOAL_P50}s p95<={GOAL_P95}s: {goal}); "
                  + (f"cold CLI p50={statistics.median(cold):.3f}s; speedup={statistics.median(cold) / p50:.1f}x" if cold else ""), flush=True)
        for problem in (errors + load_errors)[:20]:
            print("  error: " + problem, flush=True)
        if leftovers:
            print("  left running: " + "; ".join(leftovers), flush=True)
        failed = bool(failed or errors or load_errors or leftovers or len(load) != requested)
    finally:
        finish_work(work, args.keep or failed)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
