"""CLI contract: messages on stderr, exit codes by kind of failure, JSON for machines."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from generator.cli import main
from tests.seed import seed_tables


def test_quote_json_premium_is_an_integer_from_the_seed(capsys):
    assert main(["quote", "--industry", "製造業", "--revenue", "4.5億", "--limit", "1億", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["premium"] == seed_tables()["D01"][0][2][3] == 149_000
    assert data["class"] == "D01" and data["band"]["label"] == "5億円以下"
    assert data["expense_limit"] == 10_000_000 and data["premium_text"] == "149,000円"
    assert [row["premium"] for row in data["ladder"]] == seed_tables()["D01"][0][2]


@pytest.mark.parametrize("revenue", ["450000000", "450,000,000", "4.5億", "4億5000万", "45000万円", "４億５０００万円"])
def test_quote_revenue_forms(revenue, capsys):
    assert main(["quote", "--industry", "小売業", "--revenue", revenue, "--limit", "3000万", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["revenue"] == 450_000_000


def test_quote_text_output(capsys):
    assert main(["quote", "--industry", "新聞", "--revenue", "100億", "--limit", "3億"]) == 0
    out = capsys.readouterr().out
    assert "D03" in out and "50億円超100億円以下" in out and "1,907,000円" in out


@pytest.mark.parametrize(
    ("args", "code", "needle"),
    [
        (["--industry", "金融", "--revenue", "1億", "--limit", "1億"], 4, "引受不可"),
        (["--industry", "製造業", "--revenue", "101億", "--limit", "1億"], 4, "100億円以下"),
        (["--industry", "製造業", "--revenue", "1億", "--limit", "2億"], 3, "要見積"),
        (["--industry", "製造業", "--revenue", "1億", "--limit", "1億", "--deductible", "30万"], 3, "要見積"),
        (["--industry", "製造業", "--revenue", "1億", "--limit", "1億", "--option", "利益損害"], 3, "要見積"),
        (["--industry", "製造業", "--revenue", "abc", "--limit", "1億"], 2, "--revenue: 'abc'"),
        (["--industry", "製造業", "--revenue=-5億", "--limit", "1億"], 2, "--revenue"),
        (["--industry", "製造", "--revenue", "1億", "--limit", "1億"], 2, "did you mean '製造業'?"),
    ],
)
def test_quote_failures_have_distinct_exit_codes(args, code, needle, capsys):
    assert main(["quote", *args]) == code
    captured = capsys.readouterr()
    assert captured.out == "" and needle in captured.err


def test_exit_code_reaches_the_shell():
    done = subprocess.run(
        [sys.executable, "-m", "generator", "quote", "--industry", "IT業", "--revenue", "1億", "--limit", "1億"],
        capture_output=True, text=True, timeout=60,
    )
    assert done.returncode == 4 and "ＩＴ業" in done.stderr
