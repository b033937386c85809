"""Never a traceback: OS errors, bad values and bugs end as one line and a documented exit code."""

from __future__ import annotations

import datetime as dt
import errno
import os
import sys
import tempfile
from pathlib import Path

import pytest

import generator.documents.render as render
from generator.content.request import parse_client
from generator.crash import CRASH_EXIT, guard
from generator.documents.proposal import plan_pack
from generator.documents.render import write_atomic
from generator.errors import DiskFullError, InputError, OutputError

UNWRITABLE = Path("/sys/docgen-test")  # sysfs refuses new files even to root: a folder no one can write


def lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.strip()]


def test_a_bug_prints_one_line_and_leaves_a_crash_log(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("DOCGEN_CRASH_DIR", str(tmp_path / "crashes"))

    def buggy() -> int:
        return {}["missing"]  # a KeyError no one meant

    assert guard(buggy, "quote") == CRASH_EXIT == 70
    (line,) = lines(capsys.readouterr().err)
    assert line.startswith("docgen quote: internal error (KeyError: 'missing'); details in ") and "Traceback" not in line
    (log,) = (tmp_path / "crashes").iterdir()
    assert str(log) in line
    text = log.read_text(encoding="utf-8")
    assert "Traceback (most recent call last)" in text and "def buggy" not in text and "in buggy" in text and "KeyError: 'missing'" in text


def test_when_no_crash_log_can_be_written_it_still_is_one_line(monkeypatch, capsys):
    monkeypatch.setenv("DOCGEN_CRASH_DIR", str(UNWRITABLE))
    assert guard(lambda: 1 // 0, "build") == CRASH_EXIT
    (line,) = lines(capsys.readouterr().err)
    assert "ZeroDivisionError" in line and "no crash log could be written" in line and str(UNWRITABLE) in line


@pytest.mark.parametrize(
    ("error", "code", "needle"),
    [
        (FileNotFoundError(errno.ENOENT, "No such file or directory", "clients.xlsx"), 2, "clients.xlsx: no such file or folder"),
        (PermissionError(errno.EACCES, "Permission denied", "/srv/out"), 2, "/srv/out: permission denied"),
        (OSError(errno.EROFS, "Read-only file system", "/mnt/ro/x.pdf"), 2, "/mnt/ro/x.pdf: the file system is read-only"),
        (OSError(errno.ENOSPC, "No space left on device", "outputs/a.pdf"), 5, "outputs/a.pdf: no space left on the disk"),
        (IsADirectoryError(errno.EISDIR, "Is a directory", "content/x/product.yaml"), 2, "content/x/product.yaml: is a folder, not a file"),
    ],
)
def test_os_errors_are_one_line_naming_the_path(error, code, needle, capsys):
    def fail() -> int:
        raise error

    assert guard(fail, "proposals") == code
    (line,) = lines(capsys.readouterr().err)
    assert line == f"docgen proposals: {needle}"


def test_docgen_errors_are_left_to_the_cli():
    def fail() -> int:
        raise InputError("--limit", "x", "not an amount")

    with pytest.raises(InputError):
        guard(fail, "quote")


def test_a_full_disk_leaves_no_partial_file_and_the_old_one_intact(tmp_path, monkeypatch):
    target = tmp_path / "pack.pdf"
    target.write_bytes(b"old pack")
    real_mkstemp = tempfile.mkstemp

    def mkstemp_on_full_disk(**kwargs):
        fd, name = real_mkstemp(**kwargs)  # the real temp file, whose removal is checked below
        os.close(fd)
        return os.open("/dev/full", os.O_WRONLY), name  # every write to /dev/full fails with ENOSPC

    monkeypatch.setattr(render.tempfile, "mkstemp", mkstemp_on_full_disk)
    with pytest.raises(DiskFullError) as err:
        write_atomic(target, b"x" * 100_000)
    assert str(err.value) == f"{target}: cannot write: no space left on the disk" and err.value.exit_code == 5
    assert sorted(p.name for p in tmp_path.iterdir()) == ["pack.pdf"] and target.read_bytes() == b"old pack"


@pytest.mark.parametrize(
    ("target", "needle"),
    [
        (UNWRITABLE / "brochure" / "x.pdf", "operation not permitted"),  # unwritable --out (mkdir there: EPERM)
        (Path("/sys/docgen-test.pdf"), "permission denied"),  # unwritable --out (a new file there: EACCES)
        ("FILE/x.pdf", "already exists (as a file, where a folder is needed?)"),  # --out is a file
        ("FILE/sub/x.pdf", "a part of the path is a file, not a folder"),
        ("DIR", "is a folder, not a file"),  # the output path is taken by a folder
    ],
)
def test_unwritable_outputs_are_a_bad_option(tmp_path, target, needle):
    (tmp_path / "FILE").write_text("a file where a folder should be", encoding="utf-8")
    (tmp_path / "DIR").mkdir()
    path = Path(str(target).replace("FILE", str(tmp_path / "FILE")).replace("DIR", str(tmp_path / "DIR"))) if not str(target).startswith("/") else target
    with pytest.raises(OutputError) as err:
        write_atomic(path, b"data")
    assert str(err.value) == f"{path}: cannot write: {needle}" and err.value.exit_code == 2
    assert not [p for p in tmp_path.rglob("*.part")]


ROW = {"client": "有限会社 伸和企画", "contact": "上", "industry": "製造業", "revenue": "4.5億", "limit": "1億"}


@pytest.mark.parametrize(
    ("date", "needle"),
    [
        ("1926-12-24", "is before 昭和 began (1926-12-25)"),  # the day before the earliest era docgen prints
        ("1900-01-01", "is before 昭和 began"),
        ("9999-12-31", "the quote would expire after 9999-12-31"),
    ],
)
def test_issue_dates_docgen_cannot_print_are_refused(site, product, date, needle):
    request, errors = parse_client(ROW | {"date": date})
    assert errors == []
    with pytest.raises(InputError) as err:
        plan_pack(product, request, dt.date(2026, 11, 26), site.templates)
    assert err.value.field == "date" and needle in str(err.value) and err.value.exit_code == 2


def test_the_last_printable_issue_date_is_accepted(site, product):
    last = dt.date(9999, 12, 31) - dt.timedelta(days=product.meta.quote_valid_days)
    request, _ = parse_client(ROW | {"date": last.isoformat()})
    assert plan_pack(product, request, dt.date(2026, 11, 26), site.templates).issued == last


# --- through the CLI: main() runs every command inside guard() ---------------------------------------------


def error_lines(text: str, command: str) -> list[str]:
    return [line for line in text.splitlines() if line.startswith(f"docgen {command}:")]


def test_the_cli_turns_a_bug_into_exit_70_and_a_crash_log(tmp_path, monkeypatch, capsys):
    from generator import api
    from generator.cli import main

    monkeypatch.setenv("DOCGEN_CRASH_DIR", str(tmp_path))

    def broken(*args, **kwargs):
        raise RuntimeError("rate table index out of step")

    monkeypatch.setattr(api, "quote", broken)
    assert main(["quote", "--industry", "製造業", "--revenue", "4.5億", "--limit", "1億"]) == CRASH_EXIT
    err = capsys.readouterr().err
    (line,) = error_lines(err, "quote")
    assert "internal error (RuntimeError: rate table index out of step)" in line and "Traceback" not in err
    (log,) = tmp_path.iterdir()
    assert str(log) in line and "RuntimeError: rate table index out of step" in log.read_text(encoding="utf-8")


def test_the_cli_timeout_option_reaches_the_brochure(tmp_path, monkeypatch, capsys):
    from generator.cli import main

    fake = Path(__file__).resolve().parent / "fixtures" / "fake_soffice" / "soffice"
    monkeypatch.setenv("DOCGEN_SOFFICE", str(fake))
    monkeypatch.setenv("FAKE_SOFFICE_PYTHON", sys.executable)
    monkeypatch.setenv("FAKE_SOFFICE_LOG", str(tmp_path / "runs.log"))
    monkeypatch.setenv("FAKE_SOFFICE_ALL", "hang")
    monkeypatch.setenv("DOCGEN_TIMEOUT", "600")  # the option wins over the environment
    assert main(["brochure", "--timeout", "0.5", "--out", str(tmp_path / "out")]) == 5  # every run hangs: nothing has to finish
    (line,) = error_lines(capsys.readouterr().err, "brochure")
    assert "timed out after 0.5s" in line and os.environ["DOCGEN_TIMEOUT"] == "600" and not (tmp_path / "out").exists()


@pytest.mark.libreoffice  # the brochure every pack carries is built (or found in the cache) first
def test_the_cli_reports_an_out_that_is_a_file(tmp_path, capsys):
    from generator.cli import main

    (tmp_path / "list.csv").write_text("会社名,業種,売上高,賠償保険金額\n株式会社 甲,製造業,たくさん,1億\n", encoding="utf-8")
    (tmp_path / "out").write_text("a file", encoding="utf-8")
    assert main(["proposals", str(tmp_path / "list.csv"), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    (line,) = error_lines(err, "proposals")
    assert str(tmp_path / "out") in line and "Traceback" not in err
