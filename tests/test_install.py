"""An installed docgen (a wheel in a fresh virtualenv, outside the checkout) builds a pack from any folder."""

from __future__ import annotations

import os
import shutil
import site
import subprocess
import sys
import zipfile
from importlib import metadata
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from pypdf import PdfReader

REPO = Path(__file__).resolve().parents[1]
MAX_SLIM_DISTRIBUTIONS = 25  # issue 21: `pip install docgen` (no extras) installs at most this many, docgen included


def run(*cmd: str | Path, cwd: Path, env: dict[str, str] | None = None, check: bool = True) -> subprocess.CompletedProcess:
    done = subprocess.run([str(c) for c in cmd], cwd=cwd, env=env, capture_output=True, text=True, timeout=600)
    if check:
        assert done.returncode == 0, f"{cmd}: {done.stdout}\n{done.stderr}"
    return done


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # The wheel is built from a copy: the checkout must not be what the installed docgen finds.
    tmp = tmp_path_factory.mktemp("wheel")
    src = tmp / "src"
    shutil.copytree(REPO, src, ignore=shutil.ignore_patterns(".git", ".nox", ".venv", "outputs", "__pycache__", "*.egg-info", "build"))
    run(sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", tmp / "dist", src, cwd=tmp)
    (built,) = (tmp / "dist").glob("docgen-*.whl")
    return built


def venv_with(tmp_path: Path, wheel: Path, sites: list[str]) -> Path:
    """A fresh virtualenv holding docgen from ``wheel``, its dependencies taken from ``sites`` (no download)."""
    venv = tmp_path / "venv"
    run(sys.executable, "-m", "venv", "--without-pip", venv, cwd=tmp_path)
    (lib,) = (venv / "lib").glob("python3*/site-packages")
    (lib / "deps.pth").write_text("\n".join(sites) + "\n")
    run(sys.executable, "-m", "pip", "--python", venv / "bin" / "python", "install", "--no-deps", "--no-index", "-q", wheel, cwd=tmp_path)
    installed = run(venv / "bin" / "python", "-c", "import generator; print(generator.__file__)", cwd=tmp_path).stdout.strip()
    assert Path(installed).is_relative_to(lib), installed
    return venv


def closure(wheel: Path) -> set[str]:
    """The distributions `pip install <wheel>` brings, by the wheel's own metadata and the installed ones' (no extras)."""
    with zipfile.ZipFile(wheel) as zf:
        (name,) = [n for n in zf.namelist() if n.endswith(".dist-info/METADATA")]
        wanted = [Requirement(line.split(":", 1)[1].strip()) for line in zf.read(name).decode().splitlines() if line.startswith("Requires-Dist:")]
    seen: set[str] = {"docgen"}
    while wanted:
        req = wanted.pop()
        if req.marker is not None and not req.marker.evaluate({"extra": ""}):
            continue
        key = canonicalize_name(req.name)
        if key in seen:
            continue
        seen.add(key)
        wanted += [Requirement(r) for r in metadata.requires(req.name) or []]
        for extra in req.extras:
            wanted += [r for r in map(Requirement, metadata.requires(req.name) or []) if r.marker and r.marker.evaluate({"extra": extra})]
    return seen


def slim_site(tmp_path: Path, names: set[str]) -> Path:
    """A site folder holding only the given distributions (links to the test environment's files)."""
    slim = tmp_path / "slim-site"
    slim.mkdir()
    for name in names - {"docgen"}:
        dist = metadata.distribution(name)
        tops = {Path(str(f)).parts[0] for f in dist.files or [] if not str(f).startswith("..")}
        for top in tops:
            source = Path(str(dist.locate_file(top)))
            if source.exists() and not (slim / top).exists():
                (slim / top).symlink_to(source)
    return slim


def insurer(tmp_path: Path) -> Path:
    data = tmp_path / "insurer"
    shutil.copytree(REPO / "content", data / "content")
    shutil.copytree(REPO / "templates", data / "templates", ignore=shutil.ignore_patterns("*.py", "__pycache__"))
    return data


def clean_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("DOCGEN_") or k == "DOCGEN_SOFFICE"}


PROPOSAL = ("proposal", "--client", "有限会社 伸和企画", "--contact", "上", "--industry", "製造業", "--revenue", "4.5億",
            "--limit", "1億", "--out", "packs", "--date", "2026-11-26")


@pytest.mark.libreoffice
def test_wheel_in_a_fresh_venv_builds_a_pack_from_another_folder(tmp_path: Path, wheel: Path) -> None:
    venv = venv_with(tmp_path, wheel, site.getsitepackages())
    data = insurer(tmp_path)
    elsewhere = tmp_path / "somewhere" / "else"
    elsewhere.mkdir(parents=True)
    done = run(venv / "bin" / "docgen", "--content", data / "content", "--templates", data / "templates", *PROPOSAL, cwd=elsewhere, env=clean_env())
    assert "premium 149,000円" in done.stdout
    (pdf,) = (elsewhere / "packs").glob("*/*.pdf")
    text = "".join(page.extract_text() for page in PdfReader(pdf).pages[:3])
    assert "有限会社伸和企画上様" in "".join(text.split())
    assert (elsewhere / "outputs" / ".cache").is_dir()  # an installed docgen's default folders are the current folder's


@pytest.mark.libreoffice
def test_the_command_line_alone_is_a_slim_install_that_builds_and_verifies_a_pack(tmp_path: Path, wheel: Path) -> None:
    names = closure(wheel)
    assert len(names) <= MAX_SLIM_DISTRIBUTIONS, sorted(names)
    # none of the faces' libraries come with the command line
    assert not names & {"sqlalchemy", "fastapi", "dask", "distributed", "pyhanko", "cryptography", "psycopg", "fsspec"}, sorted(names)
    venv = venv_with(tmp_path, wheel, [str(slim_site(tmp_path, names))])
    data = insurer(tmp_path)
    docgen = (venv / "bin" / "docgen", "--content", data / "content", "--templates", data / "templates")
    env = clean_env()
    done = run(*docgen, *PROPOSAL, cwd=tmp_path, env=env)
    assert "premium 149,000円" in done.stdout
    (pdf,) = (tmp_path / "packs").glob("*/*.pdf")
    verified = run(*docgen, "verify", pdf, cwd=tmp_path, env=env)
    assert verified.stderr == "", verified.stderr
    for command, extra in ((("serve", "--port", "1"), "portal"), (("approvals",), "portal"),
                           (("proposals", REPO / "content" / "samples" / "clients.csv", "--workers", "2", "--out", "cluster"), "cluster")):
        refused = run(*docgen, *command, cwd=tmp_path, env=env, check=False)
        assert (refused.returncode, refused.stdout) == (2, ""), (command, refused.stdout, refused.stderr)
        assert f"pip install 'docgen[{extra}]'" in refused.stderr and "Traceback" not in refused.stderr, refused.stderr


def test_the_wheel_ships_the_message_catalog(tmp_path: Path, wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as zf:
        assert "generator/locale/ja/LC_MESSAGES/docgen.mo" in zf.namelist()
    venv = venv_with(tmp_path, wheel, site.getsitepackages())
    data = insurer(tmp_path)
    quote = ("--content", data / "content", "quote", "--industry", "製造業", "--revenue", "abc", "--limit", "1億")
    english = run(venv / "bin" / "docgen", *quote, cwd=tmp_path, env=clean_env(), check=False)
    japanese = run(venv / "bin" / "docgen", *quote, cwd=tmp_path, env={**clean_env(), "DOCGEN_LANG": "ja"}, check=False)
    assert english.returncode == japanese.returncode == 2
    assert "not a yen amount" in english.stderr and "金額として読めません" in japanese.stderr, (english.stderr, japanese.stderr)
