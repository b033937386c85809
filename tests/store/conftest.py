from __future__ import annotations

import pytest

from tests.dbkit import backends, fresh_database


@pytest.fixture(params=backends())
def database_url(request: pytest.FixtureRequest, tmp_path):
    yield from fresh_database(request.param, tmp_path)
