"""Shared fixtures: the loaded cyber_lite product and one real brochure build per session."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import settings

from generator.content.model import Product
from generator.site import Site

REPO = Path(__file__).resolve().parents[1]

# The portal's throwaway test accounts are hashed at Argon2id's cheapest cost (one pass over 1 MiB, one lane: 2 ms a hash
# or login instead of 0.2 s; the suite makes about a hundred). DOCGEN_ARGON2_* are the portal's documented cost settings
# (README, "Configuration"), read when generator.web.security is imported, which is after this; set here, not taken from
# the developer's shell. tests/web/test_security.py checks the hashes carry this cost and that the defaults are argon2-cffi's.
TEST_ARGON2 = {"DOCGEN_ARGON2_TIME_COST": "1", "DOCGEN_ARGON2_MEMORY_KIB": "1024", "DOCGEN_ARGON2_PARALLELISM": "1"}
os.environ.update(TEST_ARGON2)

# The throughput benchmark (nox -s bench) takes minutes: never collected, not even for doctests. Fixtures are
# data and helper scripts (a fake soffice runs on import): --doctest-modules must not import them either.
collect_ignore = ["bench", "fixtures"]

# Property tests run the same examples on every machine and every run (derandomize), never time out on a
# busy CI core (deadline=None: speed is measured in `nox -s bench`, not here), and keep no example database
# in the checkout. 100 examples per property on top of the pinned @example boundaries keeps them fast.
settings.register_profile("docgen", derandomize=True, deadline=None, max_examples=100, database=None, print_blob=False)
settings.load_profile("docgen")

# generator.documents.brochure is imported inside the fixtures: a broken brochure stage must not stop
# every other test module from being collected.


@pytest.fixture(scope="session")
def site() -> Site:
    """This checkout's folders, named explicitly (no environment variable can point the tests elsewhere)."""
    return Site.at(REPO)


@pytest.fixture(scope="session")
def product(site: Site) -> Product:
    from generator.content.load import load_product

    return load_product(site.content / "cyber_lite")


@pytest.fixture(scope="session")
def brochure(site: Site, product: Product, tmp_path_factory: pytest.TempPathFactory):
    """The brochure built once with the real LibreOffice; tests only read it."""
    from generator.documents.brochure import build_brochure

    return build_brochure(product, tmp_path_factory.mktemp("brochure"), templates=site.templates)


@pytest.fixture(scope="session")
def brochure_again(site: Site, product: Product, tmp_path_factory: pytest.TempPathFactory):
    """A second, independent build of the same content, for the determinism checks."""
    from generator.documents.brochure import build_brochure

    return build_brochure(product, tmp_path_factory.mktemp("brochure-again"), templates=site.templates)


@pytest.fixture(scope="session")
def templates_dir(site: Site) -> Path:
    return site.templates
