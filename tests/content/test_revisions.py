"""Revisions: the layout, picking the revision in force on a start date, and the timeline checks of docgen validate."""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path

import pytest

from generator import api
from generator.batch.runner import Summary, plan_rows
from generator.cli import main
from generator.content.approvals import Approvals
from generator.errors import ContentError, InputError
from tests.revisions_kit import NEW_PREMIUM, SECOND, SECOND_EFFECTIVE, SEED_PREMIUM, add_second_revision, copy_site

TODAY = dt.date(2026, 12, 6)
D = dt.date


@pytest.fixture
def two(tmp_path: Path) -> api.Site:
    site = copy_site(tmp_path)
    add_second_revision(site)
    return site


def docgen(site: api.Site, *argv: str, capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(["--content", str(site.content), "--templates", str(site.templates), *argv])
    got = capsys.readouterr()
    return code, got.out, got.err


def test_the_repository_has_one_revision_the_first_unchanged(site: api.Site) -> None:
    """Today's content is the first revision, read in place: its files and their hash are what the loader always read."""
    sched = api.schedule(site, lint=False, today=TODAY)
    (first,) = sched.revisions
    assert (first.name, first.effective, first.renewal_effective, first.folder) == ("2026-12", D(2026, 12, 1), D(2026, 12, 1),
                                                                                    site.content / "cyber_lite")
    assert first.product.rates.rates_version == "2026-12" and sched.last_day(first) is None
    # the hash is of the content files' bytes as committed: a revisions/ folder next to them is not part of it
    from generator.compliance.versions import digest_of

    files = {p.name: p.read_bytes() for p in (site.content / "cyber_lite").glob("*.yaml")}
    assert first.product.digest() == digest_of(files)


def test_revision_new_copies_the_latest_and_prints_its_folder(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    site = copy_site(tmp_path)
    before = {p.name: p.read_bytes() for p in (site.content / "cyber_lite").glob("*.yaml")}
    code, out, err = docgen(site, "revision", "new", "--effective", "2027-04-01", "--renewal-effective", "2027-05-01", capsys=capsys)
    assert code == 0, err
    folder = Path(out.strip())
    assert folder == site.content / "cyber_lite" / "revisions" / "2027-04"
    assert {p.name: p.read_bytes() for p in (site.content / "cyber_lite").glob("*.yaml")} == before  # the first revision untouched
    for name, data in before.items():
        copied = (folder / name).read_bytes()
        if name == "product.yaml":
            assert b"effective_date: 2027-04-01\nrenewal_effective_date: 2027-05-01\n" in copied
            assert copied.replace(b"2027-04-01\nrenewal_effective_date: 2027-05-01", b"2026-12-01") == data
        else:
            assert copied == data, name
    code, out, _ = docgen(site, "revisions", "--json", capsys=capsys)
    listed = [json.loads(line) for line in out.splitlines()]
    assert [(r["revision"], r["effective"], r["last_day"], r["renewal_effective"], r["renewal_last_day"], r["approval"]) for r in listed] == [
        ("2026-12", "2026-12-01", "2027-03-31", "2026-12-01", "2027-04-30", None),
        ("2027-04", "2027-04-01", None, "2027-05-01", None, None),
    ]
    # a second `revision new` on a date not after the latest is refused, naming it
    code, _, err = docgen(site, "revision", "new", "--effective", "2027-03-01", capsys=capsys)
    assert code == 2 and "not after the latest revision 2027-04" in err


def test_quote_by_start_date_on_both_sides_of_the_change(two: api.Site, capsys: pytest.CaptureFixture[str]) -> None:
    """2027-03-31 is priced by the seed's table (149,000円), 2027-04-01 by the second revision."""
    for start, premium, name, effective in (("2027-03-31", SEED_PREMIUM, "2026-12", "2026-12-01"),
                                            ("2027-04-01", NEW_PREMIUM, SECOND, "2027-04-01")):
        code, out, err = docgen(two, "quote", "--industry", "製造業", "--revenue", "4.5億", "--limit", "1億", "--start", start, capsys=capsys)
        assert code == 0, err
        assert f"年間保険料    {premium // 1000},{premium % 1000:03d}円" in out
        assert f"適用改定      {name} ({effective}〜" in out
        code, out, _ = docgen(two, "quote", "--industry", "D01", "--revenue", "4.5億", "--limit", "1億", "--start", start, "--json", capsys=capsys)
        got = json.loads(out)
        assert (got["premium"], got["revision"]["name"], got["revision"]["effective"], got["start"]) == (premium, name, effective, start)
    assert SEED_PREMIUM == 149_000  # the printed brochure's cell, parsed by tests/seed.py


def test_a_start_date_no_revision_prices_is_refused_with_the_dates(two: api.Site, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = docgen(two, "quote", "--industry", "製造業", "--revenue", "4.5億", "--limit", "1億", "--start", "2026-11-30", capsys=capsys)
    assert code == 2 and not out
    assert "start: '2026-11-30': no revision of cyber_lite is in force" in err
    assert "allowed: 2026-12: 2026-12-01〜2027-03-31, 2027-04: 2027-04-01〜" in err
    # an end date closes the last revision: the day after is refused too
    product_yaml = two.content / "cyber_lite" / "revisions" / SECOND / "product.yaml"
    product_yaml.write_text(product_yaml.read_text(encoding="utf-8") + "end_date: 2028-03-31\n", encoding="utf-8")
    code, _, err = docgen(two, "quote", "--industry", "製造業", "--revenue", "4.5億", "--limit", "1億", "--start", "2028-04-01", capsys=capsys)
    assert code == 2 and "2027-04: 2027-04-01〜2028-03-31" in err


def test_renewals_follow_their_own_date(tmp_path: Path) -> None:
    site = copy_site(tmp_path)
    add_second_revision(site)
    product_yaml = site.content / "cyber_lite" / "revisions" / SECOND / "product.yaml"
    text = product_yaml.read_text(encoding="utf-8").replace("effective_date: 2027-04-01\n", "effective_date: 2027-04-01\nrenewal_effective_date: 2027-06-01\n")
    product_yaml.write_text(text, encoding="utf-8")
    sched = api.schedule(site, lint=False, today=TODAY)
    assert api.revision_for(sched, D(2027, 5, 1)).name == SECOND
    assert api.revision_for(sched, D(2027, 5, 1), renewal=True).name == "2026-12"
    assert api.revision_for(sched, D(2027, 6, 1), renewal=True).name == SECOND
    assert api.revision_for(sched, today=TODAY).name == "2026-12"  # no start date: the revision in force today


def _problems(site: api.Site) -> list[str]:
    with pytest.raises(ContentError) as caught:
        api.schedule(site, lint=False, today=TODAY)
    return [str(p) for p in caught.value.problems]


def test_overlap_gap_and_same_day_are_refused_with_file_and_line(tmp_path: Path) -> None:
    site = copy_site(tmp_path)
    second = add_second_revision(site)
    first_yaml = site.content / "cyber_lite" / "product.yaml"
    first_text = first_yaml.read_text(encoding="utf-8")
    line_of = lambda text, key: next(i for i, ln in enumerate(text.splitlines(), 1) if ln.startswith(key))  # noqa: E731
    second_text = (second / "product.yaml").read_text(encoding="utf-8")

    first_yaml.write_text(first_text + "end_date: 2027-04-15\n", encoding="utf-8")  # runs into the second revision
    (problem,) = _problems(site)
    assert re.match(rf".*revisions/{SECOND}/product\.yaml:{line_of(second_text, 'effective_date')}: meta\.effective_date: "
                    r"2027-04-01 overlaps revision 2026-12, which runs until 2027-04-15", problem), problem

    first_yaml.write_text(first_text + "end_date: 2027-02-28\n", encoding="utf-8")  # stops a month before it
    (problem,) = _problems(site)
    assert "gap: revision 2026-12 ends on 2027-02-28, so no revision prices policies starting 2027-03-01〜2027-03-31" in problem
    assert f"{SECOND}/product.yaml:{line_of(second_text, 'effective_date')}:" in problem

    first_yaml.write_text(first_text, encoding="utf-8")
    (second / "product.yaml").write_text(second_text.replace("2027-04-01", "2026-12-01"), encoding="utf-8")
    problems = _problems(site)
    assert any("both take effect on 2026-12-01 (overlap)" in p for p in problems), problems


def test_a_draft_dated_before_an_approved_revision_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Approvals come from compliance (here: the first and the 2027-04 revisions approved); a new 2027-02 draft is refused."""
    from generator.compliance import in_force

    site = copy_site(tmp_path)
    add_second_revision(site)
    api.start_revision(site, D(2027, 6, 1), today=TODAY)  # a later draft is fine
    numbers = {"2026-12": "CL-2026-001", SECOND: "CL-2027-001"}

    def approved(site_, products):  # noqa: ANN001, ANN202 - stands in for the database's approvals
        return Approvals({(p.key, p.digest()): numbers[p.revision] for p, _on in products if p.revision in numbers})

    monkeypatch.setattr(in_force, "in_site", approved)
    assert len(api.schedule(site, lint=False, today=TODAY).revisions) == 3
    folder = site.content / "cyber_lite" / "revisions" / "2027-02"
    (site.content / "cyber_lite" / "revisions" / "2027-06").rename(folder)
    text = (folder / "product.yaml").read_text(encoding="utf-8").replace("2027-06-01", "2027-02-01")
    (folder / "product.yaml").write_text(text, encoding="utf-8")
    (problem,) = _problems(site)
    assert "revisions/2027-02/product.yaml:" in problem
    assert "revision 2027-02 (2027-02-01) is dated before revision 2027-04, approved as CL-2027-001" in problem


def test_a_misnamed_folder_and_a_rate_change_without_a_new_rates_version(tmp_path: Path) -> None:
    site = copy_site(tmp_path)
    second = add_second_revision(site)
    rates = second / "rates.yaml"
    rates.write_text(rates.read_text(encoding="utf-8").replace(f'rates_version: "{SECOND}"', 'rates_version: "2026-12"'), encoding="utf-8")
    (problem,) = _problems(site)
    assert f"revisions/{SECOND}/rates.yaml:" in problem and "keeps its rates_version '2026-12'" in problem
    second.rename(second.with_name("april"))
    (problem,) = _problems(site)
    assert "april: a revision folder is named by the month it takes effect" in problem


def test_a_list_mixing_start_dates_is_planned_per_revision(two: api.Site, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The same client terms on both sides of 2027-04-01: each row priced and documented by its own revision."""
    listing = tmp_path / "clients.csv"
    listing.write_text("会社名,担当者,業種,売上高,賠償保険金額,日付,保険始期日\n"
                       "有限会社 伸和企画,上,製造業,4.5億,1億,2026-12-06,2027-03-31\n"
                       "東都印刷株式会社,,製造業,4.5億,1億,2026-12-06,2027-04-01\n"
                       "株式会社 早すぎ,,製造業,4.5億,1億,2026-12-06,2026-11-01\n", encoding="utf-8")
    sched = api.schedule(two, lint=False, today=TODAY)
    summary = Summary(tmp_path / "out")
    from generator.batch.clients import read_client_rows

    plans = plan_rows(two, api.revision_for(sched, today=TODAY).product, read_client_rows(listing), TODAY, summary, schedule=sched)
    assert [(p.request.row, p.quote.premium, p.revision, p.revision_effective) for p in plans] == [
        (2, SEED_PREMIUM, "2026-12", D(2026, 12, 1)), (3, NEW_PREMIUM, SECOND, SECOND_EFFECTIVE)]
    # the first revision's quote is valid until its last start date at most (90 days would reach 2027-03-06 anyway)
    assert plans[0].contexts["quote"]["quote"]["start"] == "令和9年3月31日"
    (bad,) = summary.errors
    assert (bad.row, bad.column, bad.value) == (4, "start", "2026-11-01") and "2026-12: 2026-12-01〜2027-03-31" in bad.reason
    code, out, _ = docgen(two, "proposals", str(listing), "--dry-run", "--json", capsys=capsys)
    records = [json.loads(line) for line in out.splitlines()]
    assert [(r["row"], r.get("premium"), r["status"]) for r in records] == [(2, SEED_PREMIUM, "would build"), (3, NEW_PREMIUM, "would build"),
                                                                         (4, None, "error")]
    assert code == 1


def test_a_quote_is_never_valid_past_its_revision(two: api.Site) -> None:
    sched = api.schedule(two, lint=False, today=TODAY)
    request = api.client_request(client="有限会社 伸和企画", contact="上", industry="製造業", revenue="4.5億", limit="1億",
                                 date="2027-03-01", start="2027-03-15")
    plan = api.plan(two, sched.revisions[0].product, request, today=TODAY, schedule=sched)
    # 90 days from 2027-03-01 would be 2027-05-30; the revision prices starts until 2027-03-31
    assert plan.contexts["quote"]["quote"]["valid_until"].startswith("令和9年3月31日　保険始期日：令和9年3月15日（改定 2026-12、承認番号 未取得）")
    assert plan.revision == "2026-12"
    with pytest.raises(InputError, match="start: '2026-01-01'"):
        api.plan(two, sched.revisions[0].product, api.client_request(client="A", industry="製造業", revenue="1億", limit="1億",
                                                                     start="2026-01-01"), today=TODAY, schedule=sched)


def test_diff_compares_two_revisions_by_name(two: api.Site, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = docgen(two, "diff", "2026-12", SECOND, "--out", str(tmp_path / "diff"), "--json", capsys=capsys)
    assert code == 0, err
    got = json.loads(out)
    assert [(c["key"], c["old"], c["new"]) for c in got["cells"]] == [("D01/B1/100000000", SEED_PREMIUM, NEW_PREMIUM)]
    assert [c["id"] for c in got["clauses"]] == ["RATE"] and got["affected_packs"] == []  # the table (and its rates_version)
    assert (got["old_content_hash"], got["new_content_hash"]) == tuple(r.product.digest() for r in api.schedule(two, lint=False).revisions)
    assert Path(got["redline"]).is_file()
    # a revision's own history: its folder in two versions (here two content folders)
    before = tmp_path / "before"
    import shutil

    shutil.copytree(two.content, before)
    exclusions = two.content / "cyber_lite" / "revisions" / SECOND / "exclusions.yaml"
    text = exclusions.read_text(encoding="utf-8")
    first_text = next(line for line in text.splitlines() if line.strip().startswith("text:"))
    exclusions.write_text(text.replace(first_text, first_text + "（改定）", 1), encoding="utf-8")
    code, out, _ = docgen(two, "diff", str(before), str(two.content), "--revision", SECOND, "--out", str(tmp_path / "d2"), "--json", capsys=capsys)
    got = json.loads(out)
    assert code == 0 and [c["change"] for c in got["clauses"]] == ["changed"] and got["cells"] == []
    code, out, _ = docgen(two, "diff", str(before), str(two.content), "--out", str(tmp_path / "d3"), "--json", capsys=capsys)
    assert json.loads(out)["clauses"] == []  # the first revision did not change


def test_submit_and_approve_a_revision_by_name(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """The approval attaches to the named revision's content hash; the revision in force today stays a draft."""
    from tests.compliance.conftest import reviewers_database
    from tests.compliance.disclosure_helpers import fill_pending

    site = copy_site(tmp_path)
    fill_pending(site.content / "cyber_lite" / "disclosures.yaml")  # the insurer's wording (test text): approvable
    add_second_revision(site)
    monkeypatch.setenv("DOCGEN_STORAGE", str(site.storage))
    monkeypatch.delenv("DOCGEN_DATABASE_URL", raising=False)
    url = f"sqlite:///{site.storage / 'docgen.sqlite3'}"
    site.storage.mkdir()
    reviewers_database(url)
    assert docgen(site, "submit", "--user", "marketing@example.jp", "--product-revision", SECOND, capsys=capsys)[0] == 0
    code, out, err = docgen(site, "approve", "--user", "compliance@example.jp", "--product-revision", SECOND, "--number", "CL-2027-001",
                            "--json", capsys=capsys)
    assert code == 0, err
    approved = json.loads(out)
    sched = api.schedule(site, lint=False)
    assert approved["content_hash"] == sched.by_name(SECOND).product.digest() and approved["valid_from"] == "2027-04-01"
    code, out, _ = docgen(site, "revisions", "--json", capsys=capsys)
    assert [(r["revision"], r["approval"]) for r in map(json.loads, out.splitlines())] == [("2026-12", None), (SECOND, "CL-2027-001")]
