"""The issuing policy (generator.batch.policy): one object decides the agency, contact and date a document carries."""

from __future__ import annotations

import datetime as dt
import json

from generator import api
from generator.batch import policy as policy_module
from generator.cli import main

LIST = ("会社名,業種,売上高,賠償保険金額,代理店名,代理店連絡先,日付\n"
        "株式会社 一,製造業,4.5億,1億,ひまわり保険代理店,担当：佐藤,平成31年4月1日\n"
        "株式会社 二,製造業,4.5億,1億,さくら保険サービス(株),,\n")


def test_cli_prints_what_the_list_says_through_the_operator_policy(tmp_path, capsys, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("DOCGEN_SOFFICE", "/nonexistent")  # a dry run: LibreOffice is never started
    seen: list[tuple[policy_module.IssuingPolicy, str]] = []
    apply = policy_module.IssuingPolicy.apply

    def spy(self, request):  # type: ignore[no-untyped-def]
        seen.append((self, request.client))
        return apply(self, request)

    monkeypatch.setattr(policy_module.IssuingPolicy, "apply", spy)
    rows = tmp_path / "list.csv"
    rows.write_text(LIST, encoding="utf-8")
    assert main(["proposals", str(rows), "--dry-run", "--json"]) == 0  # a CLI user is the agency operator: nothing refused
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [(r["row"], r["status"]) for r in lines] == [(2, "would build"), (3, "would build")]
    assert [c for _, c in seen] == ["株式会社 一", "株式会社 二"]  # every row went through the policy object
    assert all(p == policy_module.IssuingPolicy.operator() for p, _ in seen)


def test_the_same_list_under_an_agents_policy(tmp_path) -> None:  # type: ignore[no-untyped-def]
    site = api.Site.from_env()
    product = api.load(site)
    rows = tmp_path / "list.csv"
    rows.write_text(LIST, encoding="utf-8")
    today = dt.date(2026, 12, 6)
    operator = api.build_list(site, product, rows, dry_run=True, today=today, policy=api.issuing_policy())
    assert [(p.request.agent_name, p.request.agent_contact, p.request.date) for p in operator.planned] == [
        ("ひまわり保険代理店", "担当：佐藤", dt.date(2019, 4, 1)), ("さくら保険サービス(株)", "", None)]
    agent = api.build_list(site, product, rows, dry_run=True, today=today,
                           policy=api.issuing_policy(agency="さくら保険サービス株式会社", agent="山本", today=today))
    assert sorted((e.row, e.column) for e in agent.errors) == [(2, "agent_contact"), (2, "agent_name"), (2, "date")]
    (plan,) = agent.planned
    assert (plan.request.agent_name, plan.request.agent_contact, plan.request.date) == ("さくら保険サービス株式会社", "担当：山本", today)
    assert plan.issued == today
