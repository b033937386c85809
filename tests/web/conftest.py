"""A portal on a throwaway database (SQLite, and PostgreSQL when configured) with one user per role and two agencies.

For the browser tests: that portal served on 127.0.0.1 and Debian's Chromium driven by Debian's chromedriver (Selenium 4), offline.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import os
import re
import secrets
import shutil
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from fastapi.testclient import TestClient

from generator.site import Site
from generator.store.accounts import Agency, User
from generator.store.ledger import PackRecord
from generator.web.security import hash_password
from generator.web.waiting import Changes
from tests.dbkit import backends, fresh_database
from tests.netkit import free_port

if TYPE_CHECKING:
    from selenium import webdriver
    from selenium.webdriver.support.ui import WebDriverWait

REPO = Path(__file__).resolve().parents[2]
AGENCY_A, AGENCY_B = "さくら保険サービス株式会社", "ひまわり保険代理店"
# role name in the tests -> (role, agency)
ACCOUNTS = {
    "agent": ("agent", AGENCY_A),
    "other_agent": ("agent", AGENCY_B),
    "compliance": ("compliance", "損保本社"),
    "marketing": ("marketing", "損保本社"),
    "admin": ("admin", "損保本社"),
}
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


class NullWorker:
    """Stands in for the job worker where a test is about access, not building: records what was submitted."""

    def __init__(self) -> None:
        self.submitted: list[int] = []
        self.changes = Changes()  # a test commits a job's change and notifies, as the worker's threads do

    def submit(self, job_id: int) -> None:
        self.submitted.append(job_id)

    def recover(self) -> list[int]:
        return []

    def shutdown(self, wait: bool = False) -> None:
        pass


@dataclasses.dataclass
class Portal:
    app: object
    site: Site
    url: str
    password: str
    emails: dict[str, str]

    def client(self, who: str | None = None) -> TestClient:
        """A browser-like client (cookies kept, redirects not followed), logged in as ``who`` (None: anonymous)."""
        client = TestClient(self.app, base_url="http://127.0.0.1", follow_redirects=False)
        page = client.get("/login")
        client.csrf = CSRF.search(page.text).group(1)  # type: ignore[attr-defined]
        if who is not None:
            r = client.post("/login", data={"email": self.emails[who], "password": self.password, "csrf_token": client.csrf, "next": "/"})
            assert r.status_code == 303, r.text
            landing = client.get("/marketing" if who == "marketing" else "/quote")
            client.csrf = CSRF.search(landing.text).group(1)  # type: ignore[attr-defined]
        return client

    def sessions(self):  # type: ignore[no-untyped-def]
        return self.app.state.sessions()  # type: ignore[attr-defined]

    def user(self, who: str) -> User:
        from sqlalchemy import select

        with self.sessions() as s:
            return s.scalar(select(User).where(User.email == self.emails[who]))


def portal_site(folder: Path) -> Site:
    """The checkout's content and templates; storage, cache and proposals in a temp folder."""
    base = Site.at(REPO)
    return dataclasses.replace(base, storage=folder / "storage", cache=folder / "cache", proposals=folder / "proposals")


def make_portal(url: str, site: Site, *, users: bool = True, **app_options) -> Portal:  # type: ignore[no-untyped-def]
    """The app on ``url``; with ``users``, one account per role in ACCOUNTS, all with one throwaway password."""
    from generator.web.app import create_app

    app = create_app(site, url, **app_options)
    password = secrets.token_urlsafe(18)  # a throwaway password per run: nothing secret is committed
    emails = {who: f"{who}@example.jp" for who in ACCOUNTS}
    if not users:
        return Portal(app, site, url, "", emails)
    with app.state.sessions() as s:
        agencies = {}
        for who, (role, agency) in ACCOUNTS.items():
            if agency not in agencies:
                agencies[agency] = Agency(name=agency)
                s.add(agencies[agency])
                s.flush()
            s.add(User(email=emails[who], name=who, password_hash=hash_password(password), role=role, agency_id=agencies[agency].id))
        s.commit()
    return Portal(app, site, url, password, emails)


def approvable_site(folder: Path) -> Site:
    """portal_site(folder) on a git-tracked copy of the content, committed with its disclosures pending, whose working
    tree fills the required disclosures (with test wording): a version that can be submitted and approved."""
    from tests.compliance.disclosure_helpers import fill_pending

    shutil.copytree(REPO / "content", folder / "content")
    git = ["git", "-C", str(folder), "-c", "user.name=t", "-c", "user.email=t@example.jp"]
    subprocess.run(["git", "init", "-q", str(folder)], check=True)
    subprocess.run([*git, "add", "content"], check=True)
    subprocess.run([*git, "commit", "-q", "-m", "content as committed (disclosures pending)"], check=True)
    fill_pending(folder / "content" / "cyber_lite" / "disclosures.yaml")  # the working tree: the insurer's wording added
    return dataclasses.replace(portal_site(folder), content=folder / "content")


@contextlib.contextmanager
def fresh_portal(db_kind: str, folder: Path, site: Site, **app_options) -> Iterator[Portal]:  # type: ignore[no-untyped-def]
    """make_portal on a fresh ``db_kind`` database in ``folder``; the engine is disposed of and the database dropped after."""
    databases = fresh_database(db_kind, folder)
    made = make_portal(next(databases), site, **app_options)
    try:
        yield made
    finally:
        made.app.state.engine.dispose()  # type: ignore[attr-defined]
        databases.close()


@pytest.fixture(scope="module", params=backends())
def db_kind(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture(scope="module")
def portal(db_kind: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Portal]:
    """A portal whose job worker only records (access and security tests build nothing)."""
    folder = tmp_path_factory.mktemp(f"portal-{db_kind}")
    with fresh_portal(db_kind, folder, portal_site(folder), recover=False) as made:
        made.app.state.worker = NullWorker()  # type: ignore[attr-defined]
        yield made


@pytest.fixture(scope="module")
def live_portal(db_kind: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Portal]:
    """A portal with its real job worker: packs are built by LibreOffice."""
    folder = tmp_path_factory.mktemp(f"live-{db_kind}")
    with fresh_portal(db_kind, folder, portal_site(folder), threads=1, build_jobs=1) as made:
        try:
            yield made
        finally:
            made.app.state.worker.shutdown(wait=True)  # type: ignore[attr-defined]


def wait_for_job(portal: Portal, job_id: int | str, timeout: float = 240.0):  # type: ignore[no-untyped-def]
    """Poll the job row (its database id, or the public id its URL carries) until it is done or failed (bounded: a hung
    build fails the test, it does not hang it)."""
    import time

    from sqlalchemy import select

    from generator.store.ledger import Job

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with portal.sessions() as s:
            job = s.get(Job, job_id) if isinstance(job_id, int) else s.scalar(select(Job).where(Job.public_id == job_id))
            if job.state in ("done", "failed"):
                return job
        time.sleep(0.25)
    raise AssertionError(f"job {job_id} still {job.state} after {timeout} s")


# --- ledger rows and forms -----------------------------------------------------------------------------------------


def issued_pack(portal: Portal, *, approval: str | None = "CL-DELIVERY-1", who: str = "agent", client: str = "有限会社 伸和企画") -> PackRecord:
    """A ledger row with archived bytes (a copy of a real docgen PDF) and their SHA-256, as the job worker leaves it."""
    data = next(iter(sorted((REPO / "outputs").rglob("*.pdf")))).read_bytes()  # a real docgen PDF stands in for the pack's
    agent = portal.user(who)
    with portal.sessions() as s:
        rec = PackRecord(agency_id=agent.agency_id, agent_id=agent.id, client=client, contact="上", industry="製造業", revenue=450_000_000,
                         limit=100_000_000, product="cyber_lite", content_version="1.0.0", content_hash="0" * 12, approval_number=approval,
                         draft=approval is None, quote_number=f"Q-{approval or 'DRAFT'}", premium=149000,
                         pdf_sha256=hashlib.sha256(data).hexdigest(), clauses={})
        s.add(rec)
        s.flush()
        rec.storage_key = f"packs/{rec.id}"
        folder = portal.site.storage / rec.storage_key
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "pack.pdf").write_bytes(data)
        s.commit()
        return rec


def post(client, url: str, **data):  # type: ignore[no-untyped-def]
    return client.post(url, data={"csrf_token": client.csrf, **data})



# --- the portal in a real browser ----------------------------------------------------------------------------------
# Selenium is imported where a browser test needs it: the other portal tests do not pay for it.

CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"
CHROMIUM_ARGS = ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run", "--disable-default-apps", "--window-size=1280,1100")


@contextlib.contextmanager
def served_portal(db_kind: str, folder: Path, site: Site, thread_name: str) -> Iterator[tuple[str, Portal]]:
    """A portal with its real job worker on a fresh database in ``folder``, served by uvicorn on 127.0.0.1:<free port> in
    a thread; yields its base URL and the portal, and stops the server, then the database, after."""
    with fresh_portal(db_kind, folder, site, threads=1, build_jobs=1) as portal, served(portal.app, thread_name) as base:
        yield base, portal


@contextlib.contextmanager
def served(app: object, thread_name: str) -> Iterator[str]:
    """``app`` served by uvicorn on 127.0.0.1:<free port> in a thread (its base URL); the server stopped after."""
    import uvicorn

    port = free_port()
    srv = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on"))  # type: ignore[arg-type]
    thread = threading.Thread(target=srv.run, name=thread_name, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 30
        while not srv.started:
            assert time.monotonic() < deadline and thread.is_alive(), "uvicorn did not start"
            time.sleep(0.05)
        yield f"http://127.0.0.1:{port}"
    finally:
        srv.should_exit = True
        thread.join(timeout=30)


def start_chromium(profile: Path, prefs: dict[str, object], *args: str) -> webdriver.Chrome:
    """Debian's headless Chromium under Debian's chromedriver (both paths given: nothing is looked up online), with a
    fresh ``profile`` folder, the Chromium ``prefs`` and extra command-line ``args``."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    assert Path(CHROMIUM).is_file() and Path(CHROMEDRIVER).is_file(), ".ci/setup installs chromium and chromium-driver"
    os.environ["SE_OFFLINE"] = "true"  # Selenium Manager must not look for drivers on the internet (read when a driver starts)
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in (*CHROMIUM_ARGS, *args, f"--user-data-dir={profile}"):
        options.add_argument(arg)
    options.add_experimental_option("prefs", prefs)
    return webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[webdriver.Chrome]:
    """Issue 11's Chromium in Japanese, one per test module; downloads land in ``browser.downloads`` without a prompt."""
    downloads = tmp_path_factory.mktemp("downloads")
    driver = start_chromium(tmp_path_factory.mktemp("chromium-profile"),
                            {"download.default_directory": str(downloads), "download.prompt_for_download": False,
                             "plugins.always_open_pdf_externally": False}, "--lang=ja-JP")
    driver.downloads = downloads  # type: ignore[attr-defined]
    driver.set_page_load_timeout(60)
    try:
        yield driver
    finally:
        driver.quit()


def wait(driver: webdriver.Chrome, seconds: float = 30) -> WebDriverWait:
    """A bounded wait whose condition is tried again when htmx swapped the element it read out from under it."""
    from selenium.common.exceptions import StaleElementReferenceException
    from selenium.webdriver.support.ui import WebDriverWait

    # a condition finds its element afresh on each try: one read mid-swap (stale) is "not yet", like a missing element
    return WebDriverWait(driver, seconds, poll_frequency=0.1, ignored_exceptions=(StaleElementReferenceException,))


def log_in(driver: webdriver.Chrome, base: str, portal: Portal, who: str) -> None:
    """Log in as ``who`` through the login form, from a browser without cookies."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec

    driver.delete_all_cookies()
    driver.get(f"{base}/login")
    driver.find_element(By.ID, "email").send_keys(portal.emails[who])
    driver.find_element(By.ID, "password").send_keys(portal.password)
    driver.find_element(By.ID, "login").click()
    wait(driver).until(ec.presence_of_element_located((By.ID, "logout")))
