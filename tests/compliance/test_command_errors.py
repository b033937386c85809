"""Bad settings and options of the database commands end as the README's exit codes: 2 (bad option or setting), 5 (down).

Every command that opens the database — approvals, submit, approve, audit verify, users add, db upgrade, serve — is
tried with a URL docgen cannot use, a file that is not a database and a server that does not answer; the approval
options with an unknown user, a user who may not decide, dates in the wrong order and a reused number; the signing
settings with a key file that does not exist. Each answer is one line naming the option or variable, never a crash log.
"""

from __future__ import annotations

import dataclasses
import io
import json
import subprocess
import sys
from pathlib import Path

import pytest

from generator import api
from generator.cli import main
from generator.documents.signing import ENV_CERT, ENV_KEY, ENV_P12, ENV_TRUST
from generator.errors import SigningSetupError
from generator.settings import load as load_settings
from generator.store import db
from tests.compliance.conftest import add_user
from tests.netkit import free_port

REPO = Path(__file__).resolve().parents[2]
DB_COMMANDS = {
    "approvals": ["approvals"],
    "submit": ["submit", "--user", "marketing@example.jp"],
    "approve": ["approve", "--user", "compliance@example.jp"],
    "audit verify": ["audit", "verify"],
    "users add": ["users", "add", "--agency", "さくら保険サービス株式会社", "--role", "agent", "new@example.jp"],
    "db upgrade": ["db", "upgrade"],
    "serve": ["serve", "--port", "1"],  # stops before it listens: the port is never reached
}


def run(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, argv: list[str]) -> tuple[int, str]:
    monkeypatch.setattr("sys.stdin", io.StringIO("a long enough password\n"))  # users add reads one
    code = main(argv)
    captured = capsys.readouterr()
    return code, captured.err


@pytest.fixture
def storage(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("DOCGEN_STORAGE", str(tmp_path / "storage"))
    monkeypatch.setenv("DOCGEN_CRASH_DIR", str(tmp_path / "crash"))
    monkeypatch.delenv("DOCGEN_DATABASE_URL", raising=False)
    return tmp_path


def assert_one_line(err: str, *words: str) -> None:
    lines = [line for line in err.splitlines() if line.strip() and not line.startswith(("docgen: DRAFT", "warning:", "docgen: cyber_lite"))]
    assert len(lines) == 1, err
    for word in words:
        assert word in lines[0], err
    assert "internal error" not in err and "Traceback" not in err, err


BAD_URLS = {
    "not a URL": ("nonsense", "not a database URL"),
    "unsupported database": ("mysql://docgen@127.0.0.1/docgen", "mysql database is not supported"),
    "unsupported driver": ("postgresql+pg8000://docgen@127.0.0.1/docgen", "not supported"),
    "in memory": ("sqlite://", "in-memory"),
}


@pytest.mark.parametrize("command", DB_COMMANDS)
@pytest.mark.parametrize("case", BAD_URLS)
def test_a_database_url_docgen_cannot_use_is_a_bad_setting(storage, capsys, monkeypatch, command: str, case: str) -> None:
    url, reason = BAD_URLS[case]
    monkeypatch.setenv("DOCGEN_DATABASE_URL", url)
    code, err = run(capsys, monkeypatch, DB_COMMANDS[command])
    assert code == 2, err
    assert_one_line(err, "DOCGEN_DATABASE_URL", reason, "allowed: sqlite:///")
    assert not (storage / "crash").exists()


@pytest.mark.parametrize("command", DB_COMMANDS)
def test_a_file_that_is_not_a_database_is_a_bad_setting(storage, capsys, monkeypatch, command: str) -> None:
    text = storage / "notes.txt"
    text.write_text("これはデータベースではありません\n" * 200, encoding="utf-8")
    monkeypatch.setenv("DOCGEN_DATABASE_URL", f"sqlite:///{text}")
    code, err = run(capsys, monkeypatch, DB_COMMANDS[command])
    assert code == 2, err
    assert_one_line(err, "DOCGEN_DATABASE_URL", "is not a SQLite database")
    assert text.read_text(encoding="utf-8").startswith("これは")  # left as it was


@pytest.mark.parametrize("command", DB_COMMANDS)
def test_the_default_database_file_when_it_is_not_a_database_names_docgen_storage(storage, capsys, monkeypatch, command: str) -> None:
    (storage / "storage").mkdir()
    (storage / "storage" / db.SQLITE_NAME).write_bytes(b"\x00garbage" * 100)
    code, err = run(capsys, monkeypatch, DB_COMMANDS[command])
    assert code == 2, err
    assert_one_line(err, "DOCGEN_STORAGE", "is not a SQLite database")


@pytest.mark.parametrize("command", DB_COMMANDS)
def test_a_database_server_that_does_not_answer_is_a_system_problem(storage, capsys, monkeypatch, command: str) -> None:
    monkeypatch.setenv("DOCGEN_DATABASE_URL", f"postgresql+psycopg://docgen:s3cret@127.0.0.1:{free_port()}/docgen")
    code, err = run(capsys, monkeypatch, DB_COMMANDS[command])
    assert code == 5, err
    assert_one_line(err, "DOCGEN_DATABASE_URL", "does not answer")
    assert "s3cret" not in err


def test_the_database_option_is_named_when_it_is_what_was_given(storage, capsys, monkeypatch) -> None:
    code, err = run(capsys, monkeypatch, ["db", "upgrade", "--database", "nonsense"])
    assert code == 2 and "--database" in err, err


def test_json_names_the_setting(storage, capsys, monkeypatch) -> None:
    monkeypatch.setenv("DOCGEN_DATABASE_URL", "nonsense")
    code = main(["approvals", "--json"])
    record = json.loads(capsys.readouterr().out)
    assert (code, record["exit_code"], record["reason_code"]) == (2, 2, "DOCGEN_DATABASE_URL")


# --- the scheduler -------------------------------------------------------------------------------

@pytest.mark.parametrize("address", ["not an address", "tcp://", "foo://10.0.0.5:8786", "10.0.0.5:port", "tcp://10.0.0.5:70000", "tcp://a b:1"])
def test_a_scheduler_that_is_not_an_address_is_a_bad_option(storage, capsys, monkeypatch, address: str) -> None:
    code, err = run(capsys, monkeypatch, ["proposals", str(REPO / "content/samples/clients.csv"), "--scheduler", address, "--out", str(storage / "out")])
    assert code == 2, err
    assert_one_line(err, "--scheduler", repr(address), "allowed: [tcp://]HOST:PORT")
    assert not (storage / "out").exists()


def test_a_scheduler_setting_that_is_not_an_address_names_the_variable(storage, capsys, monkeypatch) -> None:
    monkeypatch.setenv("DOCGEN_SCHEDULER", "scheduler.example.jp")
    code, err = run(capsys, monkeypatch, ["proposals", str(REPO / "content/samples/clients.csv"), "--out", str(storage / "out")])
    assert code == 2, err
    assert_one_line(err, "DOCGEN_SCHEDULER", "not a Dask scheduler address")


# --- approval options ----------------------------------------------------------------------------

@pytest.fixture
def users(storage: Path) -> str:
    url = f"sqlite:///{storage / 'storage' / db.SQLITE_NAME}"
    db.upgrade(url)
    eng = db.engine(url)
    with db.session_factory(eng)() as session:
        add_user(session, "marketing@example.jp", "marketing")
        add_user(session, "compliance@example.jp", "compliance")
        add_user(session, "agent@example.jp", "agent", "さくら保険サービス株式会社")
        session.commit()
    eng.dispose()
    return url


@pytest.mark.parametrize("argv", [["submit", "--user", "nobody@example.jp"], ["approve", "--user", "nobody@example.jp"],
                                  ["approve", "--user", "nobody@example.jp", "--reject", "文言を確認してください"]])
def test_an_unknown_user_is_a_bad_option(users, capsys, monkeypatch, argv: list[str]) -> None:
    code, err = run(capsys, monkeypatch, argv)
    assert code == 2, err
    assert_one_line(err, "--user", "nobody@example.jp", "no active portal user")


def test_valid_until_before_valid_from_is_a_bad_option(users, capsys, monkeypatch) -> None:
    assert run(capsys, monkeypatch, ["submit", "--user", "marketing@example.jp"])[0] == 0
    code, err = run(capsys, monkeypatch, ["approve", "--user", "compliance@example.jp", "--valid-from", "2026-12-01", "--valid-until", "2026-11-30"])
    assert code == 2, err
    assert_one_line(err, "--valid-until", "2026-11-30", "2026-12-01")


def test_valid_until_before_the_effective_date_is_a_bad_option(users, capsys, monkeypatch) -> None:
    assert run(capsys, monkeypatch, ["submit", "--user", "marketing@example.jp"])[0] == 0
    code, err = run(capsys, monkeypatch, ["approve", "--user", "compliance@example.jp", "--valid-until", "2000-01-01"])
    assert code == 2, err
    assert_one_line(err, "--valid-until", "2000-01-01")


def test_a_user_who_may_not_decide_is_a_bad_option(users, capsys, monkeypatch) -> None:
    assert run(capsys, monkeypatch, ["submit", "--user", "marketing@example.jp"])[0] == 0
    code, err = run(capsys, monkeypatch, ["approve", "--user", "agent@example.jp"])
    assert code == 2, err
    assert_one_line(err, "--user", "agent@example.jp", "cannot approve", "allowed")


def test_an_empty_rejection_reason_is_a_bad_option(users, capsys, monkeypatch) -> None:
    assert run(capsys, monkeypatch, ["submit", "--user", "marketing@example.jp"])[0] == 0
    code, err = run(capsys, monkeypatch, ["approve", "--user", "compliance@example.jp", "--reject", "  "])
    assert code == 2, err
    assert_one_line(err, "--reject", "reason")


def test_a_malformed_date_is_a_bad_option(users, capsys, monkeypatch) -> None:
    with pytest.raises(SystemExit) as stop:
        main(["approve", "--user", "compliance@example.jp", "--valid-until", "2026-13-01"])
    assert stop.value.code == 2 and "--valid-until" in capsys.readouterr().err


# --- signing settings ----------------------------------------------------------------------------

@pytest.mark.parametrize("setting", [{ENV_KEY: "{tmp}/nope.pem", ENV_CERT: "{tmp}/nope.crt"}, {ENV_P12: "{tmp}/nope.p12"}, {ENV_CERT: __file__}])
def test_a_signing_key_that_does_not_exist_stops_an_issued_build_before_anything_is_built(storage, monkeypatch, site, product, setting) -> None:
    for var, value in setting.items():
        monkeypatch.setenv(var, value.format(tmp=storage))
    approved = dataclasses.replace(product, meta=dataclasses.replace(product.meta, approval_number="CL-SIGN-TEST-2"))
    request = api.client_request(client="有限会社 伸和企画", contact="上", industry="製造業", revenue="4.5億", limit="1億")
    # no LibreOffice here (this test is not marked): the settings are read before any document is laid out
    with pytest.raises(SigningSetupError) as stop:
        api.build_pack(dataclasses.replace(site, cache=storage / "cache"), approved, request, out=storage / "packs")
    assert stop.value.exit_code == 2
    assert stop.value.field in (ENV_KEY, ENV_CERT, ENV_P12)
    assert not (storage / "packs").exists() or not any((storage / "packs").iterdir())


def test_a_trust_root_that_is_not_a_certificate_is_a_bad_setting(storage, monkeypatch, capsys) -> None:
    from generator.documents.signing import check_signature

    junk = storage / "root.pem"
    junk.write_text("not a certificate\n")
    pdf = storage / "signed.pdf"
    pdf.write_bytes(b"%PDF-1.7\n")  # unreadable: checked as if signed
    with pytest.raises(SigningSetupError, match=ENV_TRUST) as stop:
        check_signature(pdf, load_settings({ENV_TRUST: str(junk)}))
    assert stop.value.exit_code == 2


# --- verify --------------------------------------------------------------------------------------

@pytest.mark.parametrize("content", [b"not a pdf\n", "truncated", b"%PDF-1.4\n1 0 obj<</Type/Catalog>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n"])
def test_verify_of_a_file_that_is_not_a_readable_pdf_is_one_line_and_exit_2(tmp_path, content) -> None:
    pdf = tmp_path / "sent-by-an-agent.pdf"
    brochure = REPO / "outputs" / "brochure" / "cyber-lite_brochure.pdf"
    pdf.write_bytes(brochure.read_bytes()[:3000] if content == "truncated" else content)
    # a real process: pytest's own logging handler would hide what pypdf logs on a user's terminal
    done = subprocess.run([sys.executable, "-m", "generator", "verify", str(pdf)], capture_output=True, text=True, timeout=120, cwd=REPO)
    assert done.returncode == 2, done.stderr
    assert_one_line(done.stderr, str(pdf), "cannot read as PDF")  # and none of pypdf's own repair warnings
    assert done.stdout == ""
