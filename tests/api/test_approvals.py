"""The approval in force is an input of a build: loading content never reads it, the face's caller decides it once
(api.approvals) and planning prints what it is given."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from generator import api
from generator.compliance.in_force import is_draft
from generator.content.approvals import Approvals
from generator.documents.context import NO_APPROVAL
from tests.compliance.test_revision_outputs import _approve
from tests.revisions_kit import copy_site

NUMBER = "CL-INPUT-001"
TODAY = dt.date(2026, 12, 6)


@pytest.fixture
def approved_site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> api.Site:
    """A copy of the content whose exact version the site's own database approves from 2026-12-01."""
    monkeypatch.delenv("DOCGEN_DATABASE_URL", raising=False)
    site = copy_site(tmp_path)
    monkeypatch.setenv("DOCGEN_STORAGE", str(site.storage))
    _approve(site, api.load(site, lint=False, today=TODAY).digest(), NUMBER, dt.date(2026, 12, 1))
    return site


def _request() -> api.ClientRequest:
    return api.client_request(client="有限会社 伸和企画", contact="上", industry="製造業", revenue="4.5億", limit="1億")


def test_loading_reads_no_approval_the_caller_decides_it(approved_site: api.Site) -> None:
    sched = api.schedule(approved_site, lint=False, today=TODAY)
    loaded = api.revision_for(sched, today=TODAY).product
    assert is_draft(loaded) and is_draft(api.load(approved_site, lint=False, today=TODAY))  # the database is not read into it
    approvals = api.approvals(approved_site, sched, today=TODAY)
    assert approvals.number(loaded) == NUMBER
    assert approvals.printed(loaded).meta.approval_number == NUMBER and approvals.printed(loaded).digest() == loaded.digest()
    assert is_draft(loaded)  # printing makes a new product; the loaded one is unchanged


def test_planning_prints_the_approvals_it_is_given(approved_site: api.Site) -> None:
    sched = api.schedule(approved_site, lint=False, today=TODAY)
    product = api.revision_for(sched, today=TODAY).product
    given = api.plan(approved_site, product, _request(), today=TODAY, schedule=sched, approvals=api.approvals(approved_site, sched, today=TODAY))
    assert given.contexts["quote"]["footer"]["approval"] == NUMBER and given.contexts["quote"]["footer"]["draft"] is False
    # no approvals given: a draft, whatever the database says; the plan's digest differs (a draft pack is rebuilt once approved)
    draft = api.plan(approved_site, product, _request(), today=TODAY, schedule=sched, approvals=Approvals())
    assert draft.contexts["quote"]["footer"]["approval"] == NO_APPROVAL and draft.contexts["quote"]["footer"]["draft"] is True
    assert draft.digest != given.digest


def test_an_approval_for_other_content_is_not_printed(approved_site: api.Site) -> None:
    sched = api.schedule(approved_site, lint=False, today=TODAY)
    product = api.revision_for(sched, today=TODAY).product
    other = Approvals({(product.key, "0" * 12): NUMBER})
    assert is_draft(other.printed(product))
