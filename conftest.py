"""Collection rules for the doctests in generator/ (tests/conftest.py holds the fixtures)."""

from __future__ import annotations

import pytest

# Doctests whose examples run LibreOffice: marked like every other test that does, so `-m "not libreoffice"` stays fast.
LIBREOFFICE_DOCTESTS = {"generator.api"}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if isinstance(item, pytest.DoctestItem) and item.name in LIBREOFFICE_DOCTESTS:
            item.add_marker(pytest.mark.libreoffice)
