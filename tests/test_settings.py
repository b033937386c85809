"""One settings object: every DOCGEN_* variable read and checked once, documented in the README, and nowhere else read."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from generator import cli, settings
from generator.errors import SettingError

REPO = Path(__file__).resolve().parents[1]
PACKAGE = REPO / "generator"
NAMES = [f.metadata["env"] for f in settings.variables()]


def _readme_table() -> list[list[str]]:
    """The rows of the README's configuration table (the one under ### Configuration), cells stripped."""
    text = (REPO / "README.md").read_text(encoding="utf-8")
    section = text.split("### Configuration\n", 1)[1].split("\n### ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("| ")]
    return [[cell.strip() for cell in row.strip("|").split(" | ")] for row in rows[2:]]  # past the header and its rule


def test_the_readme_documents_every_variable_and_only_those() -> None:
    table = _readme_table()
    documented = [row[0].strip("`") for row in table]
    assert sorted(documented) == sorted(NAMES), set(documented) ^ set(NAMES)
    assert len(documented) == len(set(documented))
    assert all(row[1] and row[2] for row in table)  # a default and a meaning for each
    assert "\n".join("| " + " | ".join(row) + " |" for row in table) in settings.markdown_table()  # the same words as the object


def test_no_module_but_settings_reads_the_environment() -> None:
    readers = []
    for path in PACKAGE.rglob("*.py"):
        if path.name == "settings.py" and path.parent == PACKAGE or "migrations" in path.parts:
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            called = node.func if isinstance(node, ast.Call) else None
            environ = isinstance(called, ast.Attribute) and ast.unparse(called.value).endswith("environ")
            if isinstance(called, ast.Attribute) and (called.attr == "getenv" or environ and called.attr in ("get", "pop")):
                readers.append(f"{path.relative_to(REPO)}:{node.lineno}: {ast.unparse(node)}")
            if isinstance(node, ast.Subscript) and ast.unparse(node.value).endswith("environ"):
                readers.append(f"{path.relative_to(REPO)}:{node.lineno}: {ast.unparse(node)}")
    assert readers == []


def test_every_docgen_variable_the_package_names_is_a_setting() -> None:
    """A module that starts reading a new variable names it somewhere: the name must be a field of Settings (and so documented)."""
    named: set[str] = set()
    for path in PACKAGE.rglob("*"):
        if path.suffix in (".py", ".html") and "migrations" not in path.parts:
            text = path.read_text(encoding="utf-8")
            named |= set(re.findall(r"\bDOCGEN_[A-Z0-9_]*[A-Z0-9]\b(?![_*])", text))
    assert named - set(NAMES) == set()


def test_defaults_when_nothing_is_set() -> None:
    s = settings.load({"PATH": "/usr/bin", "LANG": "ja_JP.UTF-8"})  # other variables are not docgen's business
    assert s == settings.Settings()
    assert s.timeout is None and s.mail is None and s.https == "auto" and s.content is None and s.lang == ""


@pytest.mark.parametrize(("name", "value", "reason"), [
    ("DOCGEN_TIMEOUT", "0", "is not a number of seconds"),
    ("DOCGEN_TIMEOUT", "nan", "is not a number of seconds"),
    ("DOCGEN_TIMEOUT", "inf", "is not a number of seconds"),
    ("DOCGEN_TEMPLATE_TIMEOUT", "abc", "is not a number of seconds"),  # was silently 30 before the settings object
    ("DOCGEN_TEMPLATE_TIMEOUT", "-1", "is not a number of seconds"),
    ("DOCGEN_SMTP_TIMEOUT", "601", "is not a number of seconds"),
    ("DOCGEN_RESET_HOURS", "1.5", "is not a whole number from 1 to 720"),
    ("DOCGEN_DELIVERY_DAYS", "91", "is not a whole number of days"),
    ("DOCGEN_HTTPS", "sometimes", "is not an HTTPS mode"),
    ("DOCGEN_HSTS_MAX_AGE", "-1", "is not a number of seconds"),
    ("DOCGEN_ARGON2_PARALLELISM", "0", "is not a whole number from 1 to 16777215"),  # Argon2 lanes: 1 … 2**24 - 1
    ("DOCGEN_ARGON2_TIME_COST", "x", "is not a whole number >= 1"),
    ("DOCGEN_SCHEDULER", "sched.example.jp", "not a Dask scheduler address"),
    ("DOCGEN_PUBLIC_URL", "portal.example.jp", "is not the portal's base URL"),
    ("DOCGEN_SMTP_CA_FILE", "/nonexistent/ca.pem", "is not a readable PEM file"),
    ("DOCGEN_SMTP_URL", "http://u:secret@relay", "is not an SMTP URL"),
])
def test_a_bad_value_is_a_setting_error_naming_the_variable_the_value_and_what_is_allowed(name: str, value: str, reason: str) -> None:
    with pytest.raises(SettingError) as caught:
        settings.load({name: value})
    err = caught.value
    assert err.field == name and err.exit_code == 2 and reason in err.reason
    assert "secret" not in str(err)
    assert value.replace("secret", "***") in str(err)
    assert err.allowed or name == "DOCGEN_SMTP_CA_FILE"  # a missing file: the reason says what is wanted


def test_the_current_settings_follow_the_environment_and_an_override_wins(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DOCGEN_RESET_HOURS", "5")
    first = settings.current()
    assert first.reset_hours == 5 and settings.current() is first  # read once while the environment stays the same
    monkeypatch.setenv("DOCGEN_RESET_HOURS", "6")
    assert settings.current().reset_hours == 6
    with settings.override(settings.Settings(reset_hours=7)):
        assert settings.current().reset_hours == 7
    assert settings.current().reset_hours == 6


def test_an_exported_option_is_checked_seen_and_restored(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DOCGEN_TIMEOUT", "40")
    with settings.exported("DOCGEN_TIMEOUT", "7"):
        assert settings.current().timeout == 7.0
    assert settings.current().timeout == 40.0
    with pytest.raises(SettingError, match="DOCGEN_TIMEOUT"), settings.exported("DOCGEN_TIMEOUT", "-1"):
        pass
    assert settings.current().timeout == 40.0


def test_a_bad_variable_stops_any_command_with_exit_2_naming_it(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("DOCGEN_TEMPLATE_TIMEOUT", "soon")
    assert cli.main(["validate"]) == 2
    err = capsys.readouterr().err
    assert "DOCGEN_TEMPLATE_TIMEOUT" in err and "'soon'" in err and "allowed:" in err and "Traceback" not in err
