"""Every project command in one place; every environment installs from the lock (uv.lock, exported to .ci/lock/)."""

from __future__ import annotations

import difflib
import subprocess
from pathlib import Path

import nox
from uv import find_uv_bin  # installed beside nox from the tasks lock (.ci/setup)

nox.options.sessions = ["lint", "tests", "check"]
nox.options.reuse_existing_virtualenvs = True  # reused, but always brought back to the lock's exact versions
nox.options.default_venv_backend = "venv"

ROOT = Path(__file__).parent
UV = find_uv_bin()
LOCK_DIR = ROOT / ".ci" / "lock"
# One requirements file per environment, exported from uv.lock with hashes: what pip installs with --require-hashes.
# name -> the `uv export` options that select it (the project's extras and dependency groups in pyproject.toml).
LOCKS: dict[str, tuple[str, ...]] = {
    "docgen": (),  # the command line alone: what `pip install docgen` gives
    "all": ("--extra", "all"),  # every face: portal, cluster, signing, PostgreSQL
    "test": ("--extra", "all", "--group", "test"),
    "lint": ("--extra", "all", "--group", "lint"),
    "bench": ("--extra", "all", "--group", "bench"),
    "tasks": ("--only-group", "tasks"),  # nox and uv themselves (.ci/setup)
}


def _export(name: str) -> list[str]:
    return [UV, "export", "--frozen", "--format", "requirements-txt", "--no-emit-project", "--no-header", "--quiet", *LOCKS[name]]


def _install(session: nox.Session, lock: str) -> None:
    """The lock's exact versions (hashes checked), then docgen itself, editable."""
    session.install("--require-hashes", "-r", str(LOCK_DIR / f"{lock}.txt"))
    session.install("--no-deps", "-e", ".")


@nox.session
def lint(session: nox.Session) -> None:
    """Ruff over the package, tests and noxfile; the layer contracts (lint-imports, docs/layers.md); mypy --strict over
    generator/ ([tool.mypy]); the lock agrees with pyproject.toml and its exports."""
    _install(session, "lint")
    session.run("ruff", "check", "generator", "tests", "templates", "noxfile.py")
    session.run("lint-imports", "--no-cache")  # [tool.importlinter] in pyproject.toml: no upward import, no cycle
    session.run("mypy")  # files, strictness and the overrides for untyped libraries: pyproject.toml [tool.mypy]
    # --offline: the check reads pyproject.toml and uv.lock, never the index
    session.run(UV, "lock", "--check", "--offline", external=True)
    stale = []
    for name in LOCKS:
        exported = subprocess.run(_export(name), cwd=ROOT, capture_output=True, text=True, check=True).stdout
        committed = (LOCK_DIR / f"{name}.txt").read_text(encoding="utf-8")
        if exported != committed:
            diff = difflib.unified_diff(committed.splitlines(), exported.splitlines(), f".ci/lock/{name}.txt", "uv export", lineterm="", n=0)
            stale.append("\n".join(list(diff)[:20]))
    if stale:
        session.error("the exported locks differ from uv.lock; run nox -s lock\n" + "\n".join(stale))


@nox.session(venv_backend="none")
def lock(session: nox.Session) -> None:
    """Refresh uv.lock on purpose (extra args go to `uv lock`, e.g. --upgrade or --upgrade-package NAME) and export it."""
    session.run(UV, "lock", *session.posargs, external=True)
    LOCK_DIR.mkdir(exist_ok=True)
    for name in LOCKS:
        session.run(*_export(name), "--output-file", str(LOCK_DIR / f"{name}.txt"), external=True)


@nox.session
def messages(session: nox.Session) -> None:
    """Refresh the message catalog: every N_("…") in the package (babel.cfg) into generator/locale/ja/…/docgen.po, then
    compile docgen.mo. New msgids arrive untranslated: write their Japanese in the .po and run this again (until then
    tests/test_i18n.py fails)."""
    _install(session, "docgen")
    pot = str(Path(session.create_tmp()) / "docgen.pot")
    session.run("pybabel", "-q", "extract", "-F", "babel.cfg", "-k", "N_", "--no-default-keywords", "--no-location", "--sort-output",
                "--project", "docgen", "-o", pot, ".")
    session.run("pybabel", "-q", "update", "-i", pot, "-d", "generator/locale", "-D", "docgen", "--no-wrap", "--no-fuzzy-matching",
                "--ignore-obsolete")
    session.run("pybabel", "-q", "compile", "-d", "generator/locale", "-D", "docgen")


@nox.session
def tests(session: nox.Session) -> None:
    """The test suite (real LibreOffice conversions included); extra args go to pytest."""
    _install(session, "test")
    session.run("pytest", *session.posargs)


@nox.session(name="tests-latest")
def tests_latest(session: nox.Session) -> None:
    """The fast suite on the newest versions pyproject.toml allows (not the lock): upstream drift seen before CI sees it.

    Run it before `nox -s lock -- --upgrade`, and weekly; extra args go to pytest (default: -m "not libreoffice").
    """
    session.run(UV, "pip", "compile", "--quiet", "--upgrade", "--extra", "all", "--group", "pyproject.toml:test",
                "pyproject.toml", "--output-file", f"{session.create_tmp()}/latest.txt", external=True)
    session.install("-r", f"{session.create_tmp()}/latest.txt")
    session.install("--no-deps", "-e", ".")
    session.run("pip", "list", "--format", "freeze")
    session.run("pytest", *(session.posargs or ["-m", "not libreoffice"]))


@nox.session
def serve(session: nox.Session) -> None:
    """The agent portal on 127.0.0.1:8000 (SQLite under storage/ unless DOCGEN_DATABASE_URL is set); args go to docgen serve.

    Create an account first: ``.nox/serve/bin/docgen users add --agency … --role agent EMAIL`` (password prompted).
    """
    _install(session, "all")
    session.run("docgen", "serve", *session.posargs)


@nox.session
def build(session: nox.Session) -> None:
    """The main job: validate content, then build every published output into outputs/."""
    _install(session, "docgen")
    session.run("docgen", "validate")
    session.run("docgen", "build", *session.posargs)


@nox.session
def check(session: nox.Session) -> None:
    """Regeneration check: committed outputs still match content, rates and templates."""
    _install(session, "docgen")
    session.run("docgen", "check")


@nox.session
def bench(session: nox.Session) -> None:
    """Throughput: `docgen proposals` on a generated client list against the naive pipeline (minutes; not in CI).

    Extra args go to tests/bench/throughput.py, e.g. ``nox -s bench -- --n 500 --runs 3``. With ``--service``:
    tests/bench/service.py, the portal's single-pack latency (warm LibreOffice) against the cold CLI, and a load test.
    With ``--dask``: tests/bench/cluster.py, a local run against a Dask LocalCluster and the client's memory on long lists.
    """
    _install(session, "bench")
    # docgen is installed editable, so nothing compiled it (pip compiles what it installs): every docgen process of the
    # bench would compile it from source when bytecode is not written (PYTHONDONTWRITEBYTECODE), as no real install does
    session.run("python", "-m", "compileall", "-q", "generator")
    session.log("docgen's bytecode compiled once (python -m compileall generator), as an installed docgen has it")
    scripts = {"--service": "tests/bench/service.py", "--dask": "tests/bench/cluster.py"}
    script = next((path for flag, path in scripts.items() if flag in session.posargs), "tests/bench/throughput.py")
    session.run("python", script, *session.posargs)
