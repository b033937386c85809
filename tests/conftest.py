"""Shared fixtures: the loaded cyber_lite product and one real brochure build per session."""

from __future__ import annotations

from pathlib import Path

import pytest

from generator.content.load import CONTENT_ROOT, load_product
from generator.content.model import Product

# The throughput benchmark (nox -s bench) takes minutes: never collected, not even for doctests.
collect_ignore = ["bench"]

# generator.documents.brochure is imported inside the fixtures: a broken brochure stage must not stop
# every other test module from being collected.


@pytest.fixture(scope="session")
def product() -> Product:
    return load_product(CONTENT_ROOT / "cyber_lite")


@pytest.fixture(scope="session")
def brochure(product: Product, tmp_path_factory: pytest.TempPathFactory):
    """The brochure built once with the real LibreOffice; tests only read it."""
    from generator.documents.brochure import build_brochure

    return build_brochure(product, tmp_path_factory.mktemp("brochure"))


@pytest.fixture(scope="session")
def brochure_again(product: Product, tmp_path_factory: pytest.TempPathFactory):
    """A second, independent build of the same content, for the determinism checks."""
    from generator.documents.brochure import build_brochure

    return build_brochure(product, tmp_path_factory.mktemp("brochure-again"))


@pytest.fixture(scope="session")
def templates_dir() -> Path:
    return Path(__file__).resolve().parent.parent / "templates"
