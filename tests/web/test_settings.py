"""The portal's own settings: defaults, bounds, and a bad value stopping the start with the variable named."""

from __future__ import annotations

import datetime as dt

import pytest

from generator.errors import SettingError
from generator.settings import load as load_settings
from generator.web.settings import portal_settings


def test_defaults_are_a_day_and_twenty_megabytes() -> None:
    chosen = portal_settings(load_settings({}))
    assert chosen.reset_ttl == dt.timedelta(hours=24) and chosen.verify_max_bytes == 20 * 1024 * 1024


@pytest.mark.parametrize(("name", "value"), [("DOCGEN_RESET_HOURS", "0"), ("DOCGEN_RESET_HOURS", "721"), ("DOCGEN_RESET_HOURS", "1.5"),
                                             ("DOCGEN_VERIFY_MAX_MB", "abc"), ("DOCGEN_VERIFY_MAX_MB", "101"), ("DOCGEN_VERIFY_MAX_MB", "-1")])
def test_a_bad_value_names_the_variable(name: str, value: str) -> None:
    with pytest.raises(SettingError) as caught:
        portal_settings(load_settings({name: value}))
    assert caught.value.field == name and caught.value.exit_code == 2


def test_the_app_does_not_start_on_a_bad_value(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from generator.web.app import create_app
    from tests.web.conftest import portal_site

    monkeypatch.setenv("DOCGEN_RESET_HOURS", "never")
    with pytest.raises(SettingError, match="DOCGEN_RESET_HOURS"):
        create_app(portal_site(tmp_path), f"sqlite:///{tmp_path}/db.sqlite3")
    assert not (tmp_path / "db.sqlite3").exists()  # stopped before touching the database


def test_the_chosen_values_are_used() -> None:
    chosen = portal_settings(load_settings({"DOCGEN_RESET_HOURS": "2", "DOCGEN_VERIFY_MAX_MB": "5"}))
    assert chosen.reset_ttl == dt.timedelta(hours=2) and chosen.verify_max_bytes == 5 * 2**20
