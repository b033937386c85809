"""Every project command in one place; dependencies come from pyproject.toml."""

from __future__ import annotations

import tomllib
from pathlib import Path

import nox

nox.options.sessions = ["lint", "tests", "check"]
nox.options.reuse_existing_virtualenvs = True
nox.options.default_venv_backend = "venv"

PYPROJECT = tomllib.loads(Path(__file__).with_name("pyproject.toml").read_text(encoding="utf-8"))
DEPS = PYPROJECT["project"]["dependencies"]
EXTRAS = PYPROJECT["project"]["optional-dependencies"]


def _install(session: nox.Session, *extras: str) -> None:
    session.install(*DEPS, *(d for e in extras for d in EXTRAS[e]))
    session.install("--no-deps", "-e", ".")


@nox.session
def lint(session: nox.Session) -> None:
    """Ruff over the package, tests and noxfile."""
    session.install(*EXTRAS["lint"])
    session.run("ruff", "check", "generator", "tests", "templates", "noxfile.py")


@nox.session
def tests(session: nox.Session) -> None:
    """The test suite (real LibreOffice conversions included); extra args go to pytest."""
    _install(session, "test")
    session.run("pytest", *session.posargs)


@nox.session
def serve(session: nox.Session) -> None:
    """The agent portal on 127.0.0.1:8000 (SQLite under storage/ unless DOCGEN_DATABASE_URL is set); args go to docgen serve.

    Create an account first: ``.nox/serve/bin/docgen users add --agency … --role agent EMAIL`` (password prompted).
    """
    _install(session)
    session.run("docgen", "serve", *session.posargs)


@nox.session
def build(session: nox.Session) -> None:
    """The main job: validate content, then build every published output into outputs/."""
    _install(session)
    session.run("docgen", "validate")
    session.run("docgen", "build", *session.posargs)


@nox.session
def check(session: nox.Session) -> None:
    """Regeneration check: committed outputs still match content, rates and templates."""
    _install(session)
    session.run("docgen", "check")


@nox.session
def bench(session: nox.Session) -> None:
    """Throughput: `docgen proposals` on a generated client list against the naive pipeline (minutes; not in CI).

    Extra args go to tests/bench/throughput.py, e.g. ``nox -s bench -- --n 500 --runs 3``. With ``--service``:
    tests/bench/service.py, the portal's single-pack latency (warm LibreOffice) against the cold CLI, and a load test.
    With ``--dask``: tests/bench/cluster.py, a local run against a Dask LocalCluster and the client's memory on long lists.
    """
    _install(session, "bench")
    scripts = {"--service": "tests/bench/service.py", "--dask": "tests/bench/cluster.py"}
    script = next((path for flag, path in scripts.items() if flag in session.posargs), "tests/bench/throughput.py")
    session.run("python", script, *session.posargs)
