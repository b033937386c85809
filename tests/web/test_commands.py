"""The portal's commands as a new user runs them: docgen users add, docgen db upgrade, docgen serve."""

from __future__ import annotations

import io
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx2 as httpx  # what starlette.testclient uses (plain httpx is deprecated there)
import pytest
from sqlalchemy import select

from generator.cli import main
from generator.store import db
from generator.store.accounts import Agency, User
from tests.dbkit import backends, fresh_database
from tests.netkit import free_port

REPO = Path(__file__).resolve().parents[2]
PASSWORD = "a throwaway password for this test"


@pytest.fixture(params=backends())
def database_url(request: pytest.FixtureRequest, tmp_path: Path):  # type: ignore[no-untyped-def]
    yield from fresh_database(request.param, tmp_path)


def docgen(*args: str, stdin: str = "", env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """``python -m generator ARGS`` in a real process: the entry point, stdin as a pipe, the exit code the shell sees."""
    return subprocess.run([sys.executable, "-m", "generator", *args], input=stdin, capture_output=True, text=True, timeout=120, cwd=REPO,
                          env={**os.environ, **(env or {})})


@pytest.fixture()
def docgen_here(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    """The CLI's main(ARGS) in this process, stdin a pipe-like stream (not a terminal): what ``docgen`` returns or exits
    with (argparse's refusals exit 2) and what it wrote; the real process is proven by the docgen() tests in this file."""

    def run(*args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
        monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
        try:
            code = main(list(args))
        except SystemExit as exc:
            code = exc.code
        captured = capsys.readouterr()
        return subprocess.CompletedProcess(["docgen", *args], code, captured.out, captured.err)

    return run


def test_users_add_reads_the_password_from_stdin_and_stores_only_a_hash(database_url: str) -> None:
    r = docgen("users", "add", "--database", database_url, "--agency", "さくら保険サービス株式会社", "--role", "agent", "--name", "山本",
               "Yamamoto@Example.jp", stdin=PASSWORD + "\n")
    assert r.returncode == 0, r.stderr
    eng = db.engine(database_url)
    try:
        with db.session_factory(eng)() as s:
            user = s.scalar(select(User).where(User.email == "yamamoto@example.jp"))
            agency = s.get(Agency, user.agency_id)
        assert (user.role, user.name, agency.name) == ("agent", "山本", "さくら保険サービス株式会社")
        assert user.password_hash.startswith("$argon2id$") and PASSWORD not in user.password_hash
    finally:
        eng.dispose()


def test_users_add_refuses_without_a_password_and_names_the_problem(database_url: str, docgen_here) -> None:  # type: ignore[no-untyped-def]
    for given in ("", "\n", "short\n"):
        r = docgen_here("users", "add", "--database", database_url, "--agency", "A", "--role", "agent", "a@example.jp", stdin=given)
        assert r.returncode == 2 and "password" in r.stderr and "Traceback" not in r.stderr, r.stderr
    assert docgen_here("users", "add", "--database", database_url, "--agency", "A", "--role", "agent", "a@example.jp",
                       stdin=PASSWORD).returncode == 0
    again = docgen_here("users", "add", "--database", database_url, "--agency", "A", "--role", "agent", "a@example.jp", stdin=PASSWORD)
    assert again.returncode == 2 and "already exists" in again.stderr
    bad_role = docgen_here("users", "add", "--database", database_url, "--agency", "A", "--role", "root", "b@example.jp", stdin=PASSWORD)
    assert bad_role.returncode == 2 and "--role" in bad_role.stderr
    bad_mail = docgen_here("users", "add", "--database", database_url, "--agency", "A", "--role", "agent", "not-a-mail", stdin=PASSWORD)
    assert bad_mail.returncode == 2 and "EMAIL" in bad_mail.stderr


def test_db_upgrade_migrates_an_empty_database(database_url: str, docgen_here) -> None:  # type: ignore[no-untyped-def]
    r = docgen_here("db", "upgrade", "--database", database_url)
    assert r.returncode == 0, r.stderr
    assert re.search(r"revision (\S+)", r.stdout).group(1) == db.heads()[0]
    assert docgen_here("db", "upgrade", "--database", database_url).returncode == 0  # again: nothing to do, still fine


def test_db_upgrade_reports_an_unreachable_database_in_one_line(tmp_path: Path) -> None:
    port = free_port()  # nothing listens there
    r = docgen("db", "upgrade", "--database", f"postgresql+psycopg://nobody@127.0.0.1:{port}/none")
    assert r.returncode == 5 and "Traceback" not in r.stderr and len(r.stderr.strip().splitlines()) == 1, r.stderr


def test_serve_refuses_a_bad_mail_setting_naming_it_before_starting_anything(tmp_path: Path) -> None:
    env = {"DOCGEN_STORAGE": str(tmp_path / "storage"), "DOCGEN_SMTP_URL": "smtp://agency:s3cret@relay:25?starttls=off",
           "DOCGEN_MAIL_FROM": "docgen@example.jp"}
    r = docgen("serve", "--port", str(free_port()), env=env)
    assert r.returncode == 2 and "DOCGEN_SMTP_URL" in r.stderr and "without TLS" in r.stderr, r.stderr
    assert "s3cret" not in r.stderr and "Traceback" not in r.stderr
    assert not (tmp_path / "storage").exists()  # refused before the database or LibreOffice was touched


@pytest.mark.libreoffice  # docgen serve starts its warm LibreOffice pool before it answers
def test_serve_on_an_empty_sqlite_storage_then_log_in(tmp_path: Path) -> None:
    """The README's path: users add, serve, log in — SQLite under DOCGEN_STORAGE, nothing else set up."""
    env = {"DOCGEN_STORAGE": str(tmp_path / "storage")}
    env.pop("DOCGEN_DATABASE_URL", None)
    assert docgen("users", "add", "--agency", "さくら保険サービス株式会社", "--role", "agent", "a@example.jp", stdin=PASSWORD, env=env).returncode == 0
    assert (tmp_path / "storage" / "docgen.sqlite3").is_file()
    port = free_port()
    log = tmp_path / "serve.log"
    with open(log, "wb") as out:
        server = subprocess.Popen([sys.executable, "-m", "generator", "serve", "--port", str(port)], cwd=REPO, env={**os.environ, **env},
                                  stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                page = httpx.get(f"{base}/login", timeout=2)
                break
            except httpx.TransportError:
                assert server.poll() is None, log.read_text(encoding="utf-8")
                assert time.monotonic() < deadline, "docgen serve did not answer within 60 s"
                time.sleep(0.2)
        with httpx.Client(base_url=base, timeout=30) as browser:
            page = browser.get("/login")
            token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
            r = browser.post("/login", data={"email": "a@example.jp", "password": PASSWORD, "csrf_token": token})
            assert r.status_code == 303 and r.headers["location"] == "/"
            quote = browser.get("/quote", params={"industry": "製造業", "revenue": "4.5億", "limit": "100000000"})
            assert quote.status_code == 200 and "149,000円" in quote.text  # README: 製造業 4.5億 1億 → 149,000円
            # link tokens are secrets: the access log names these requests without them
            assert browser.get("/d/SECRET-LINK-TOKEN-1").status_code == 404
            assert browser.get("/password/reset", params={"token": "SECRET-RESET-TOKEN-2"}).status_code in (404, 410)
        assert server.poll() is None, "docgen serve stopped by itself:\n" + log.read_text(encoding="utf-8")
    finally:
        if server.poll() is None:
            os.killpg(server.pid, signal.SIGTERM)  # the server this test started, and only it
        server.wait(timeout=30)
    logged = log.read_text(encoding="utf-8")
    assert "Traceback" not in logged
    assert "GET /d/… HTTP" in logged and "/password/reset?token=… HTTP" in logged, logged
    assert "SECRET-LINK-TOKEN-1" not in logged and "SECRET-RESET-TOKEN-2" not in logged
