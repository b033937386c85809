"""CLI contract: messages on stderr, exit codes by kind of failure, JSON for machines."""

from __future__ import annotations

import json
import os
import re
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


def test_a_quote_without_a_portal_database_imports_no_database_workbook_or_web_code(tmp_path):
    # a fresh process (this one has imported everything); SQLAlchemy, openpyxl, FastAPI and pypdf cost a CLI command most
    # of a second to import, and a quote needs none of them when no portal database exists yet
    env = {k: v for k, v in os.environ.items() if k != "DOCGEN_DATABASE_URL"} | {"DOCGEN_STORAGE": str(tmp_path / "storage")}
    script = ("import sys; from generator.cli import main; "
              "code = main(['quote', '--industry', '製造業', '--revenue', '4.5億', '--limit', '1億', '--json']); "
              "print(code, sorted({m.split('.')[0] for m in sys.modules} & {'sqlalchemy', 'openpyxl', 'fastapi', 'dask', 'pypdf'}))")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60, env=env)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[-1] == "0 []"


# --- machine-readable output, options people get wrong ---------------------------------------------


@pytest.mark.parametrize(
    ("args", "code", "status", "reason_code"),
    [
        (["--industry", "金融", "--revenue", "1億", "--limit", "1億"], 4, "refused", "industry"),
        (["--industry", "製造業", "--revenue", "101億", "--limit", "1億"], 4, "refused", "revenue"),
        (["--industry", "製造業", "--revenue", "1億", "--limit", "2億"], 3, "referral", "limit"),
        (["--industry", "製造業", "--revenue", "1億", "--limit", "1億", "--payment", "月払"], 3, "referral", "payment"),
        (["--industry", "製造業", "--revenue", "abc", "--limit", "1億"], 2, "error", "--revenue"),
    ],
)
def test_quote_json_also_when_refused_or_referred(args, code, status, reason_code, capsys):
    assert main(["quote", *args, "--json"]) == code
    captured = capsys.readouterr()
    data = json.loads(captured.out)
    assert (data["status"], data["exit_code"], data["reason_code"]) == (status, code, reason_code)
    assert data["message"] in captured.err  # the same words a person reads


def test_validate_json_counts_what_the_seed_has(capsys):
    assert main(["validate", "--json"]) == 0
    (product,) = json.loads(capsys.readouterr().out)["products"]
    tables = seed_tables()
    assert product["premium_cells"] == sum(len(row) for rows in tables.values() for _, _, row in rows) == 75
    assert re.fullmatch(r"[0-9a-f]{12,64}", product["content_hash"])


SAMPLE = "content/samples/clients.csv"


def test_proposals_dry_run_quotes_every_row_without_libreoffice(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("DOCGEN_SOFFICE", "/nonexistent")  # proves LibreOffice is never started
    rows = tmp_path / "list.csv"
    rows.write_text("会社名,担当者,業種,売上高,賠償保険金額\n"
                    "有限会社 伸和企画,上,製造業,4.5億,1億\n"
                    "株式会社 銀行,,金融,1億,1億\n"
                    "株式会社 二億,,製造業,1億,2億\n"
                    "株式会社 運送,,物流業,12億,3000万\n", encoding="utf-8")
    out = tmp_path / "packs"
    assert main(["proposals", str(rows), "--out", str(out), "--dry-run"]) == 1
    captured = capsys.readouterr()
    d01, d02 = seed_tables()["D01"], seed_tables()["D02"]
    total = d01[0][2][3] + d02[2][2][1]  # 5億円以下/1億円 and 10億円超30億円以下/3,000万円 from the seed
    assert f"total premium {total:,}円" in captured.out and "2 pack(s) would be built, 2 failed row(s)" in captured.out
    assert "row 3: industry" in captured.err and "row 4: limit" in captured.err
    assert not out.exists()  # nothing written, not even errors.csv


def test_proposals_json_is_one_line_per_row(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("DOCGEN_SOFFICE", "/nonexistent")
    rows = tmp_path / "list.csv"
    rows.write_text("会社名,業種,売上高,賠償保険金額\nA社,製造業,1億,1億\nB社,金融,1億,1億\nC社,製造業,x,1億\n", encoding="utf-8")
    assert main(["proposals", str(rows), "--dry-run", "--json"]) == 1
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [(r["row"], r["status"]) for r in lines] == [(2, "would build"), (3, "refused"), (4, "error")]
    assert lines[0]["premium"] == seed_tables()["D01"][0][2][3] and lines[2]["column"] == "revenue"


@pytest.mark.parametrize("jobs", ["0", "-1", "two"])
def test_nonsense_jobs_is_refused(jobs, capsys):
    with pytest.raises(SystemExit) as exc:
        main(["proposals", SAMPLE, "--jobs", jobs, "--dry-run"])
    assert exc.value.code == 2 and "--jobs" in capsys.readouterr().err


@pytest.mark.parametrize("timeout", ["0", "-3", "soon", "99999"])
def test_nonsense_timeout_is_refused(timeout, capsys):
    with pytest.raises(SystemExit) as exc:
        main(["brochure", "--timeout", timeout])
    assert exc.value.code == 2 and "--timeout" in capsys.readouterr().err


@pytest.mark.parametrize("product", ["..", "../content", "/etc", "cyber_lit", "cyber_lite/"])
def test_unknown_product_is_a_bad_option_naming_what_exists(product, capsys):
    assert main(["quote", "--product", product, "--industry", "製造業", "--revenue", "1億", "--limit", "1億"]) == 2
    err = capsys.readouterr().err
    assert "--product" in err and "allowed: cyber_lite" in err


def test_content_folder_without_products_is_a_bad_option(tmp_path, capsys):
    assert main(["--content", str(tmp_path), "validate"]) == 2
    assert f"{tmp_path}" in capsys.readouterr().err


@pytest.mark.parametrize("command", ["validate", "brochure", "wording", "build", "check", "diff", "verify", "quote", "proposal", "proposals"])
def test_every_command_has_help_with_an_example_and_json(command, capsys):
    with pytest.raises(SystemExit) as exc:
        main([command, "--help"])
    out = capsys.readouterr().out
    assert exc.value.code == 0 and "example:\n  docgen " + command in out and "--json" in out and "exit codes" in out


def test_quiet_prints_nothing_but_errors(capsys):
    assert main(["quote", "--industry", "製造業", "--revenue", "1億", "--limit", "1億", "--quiet"]) == 0
    assert capsys.readouterr().out == ""
