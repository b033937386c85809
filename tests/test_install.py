"""An installed docgen (a wheel in a fresh virtualenv, outside the checkout) builds a pack from any folder."""

from __future__ import annotations

import os
import shutil
import site
import subprocess
import sys
from pathlib import Path

import pytest
from pypdf import PdfReader

REPO = Path(__file__).resolve().parents[1]


def run(*cmd: str | Path, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    done = subprocess.run([str(c) for c in cmd], cwd=cwd, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, f"{cmd}: {done.stdout}\n{done.stderr}"
    return done


@pytest.mark.libreoffice
def test_wheel_in_a_fresh_venv_builds_a_pack_from_another_folder(tmp_path: Path) -> None:
    # The wheel is built from a copy: the checkout must not be what the installed docgen finds.
    src = tmp_path / "src"
    shutil.copytree(REPO, src, ignore=shutil.ignore_patterns(".git", ".nox", ".venv", "outputs", "__pycache__", "*.egg-info", "build"))
    run(sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", tmp_path / "dist", src, cwd=tmp_path)
    (wheel,) = (tmp_path / "dist").glob("docgen-*.whl")
    venv = tmp_path / "venv"
    run(sys.executable, "-m", "venv", "--without-pip", venv, cwd=tmp_path)
    # Dependencies come from the test environment (no download); docgen itself only from the wheel.
    (lib,) = (venv / "lib").glob("python3*/site-packages")
    (lib / "deps.pth").write_text("\n".join(site.getsitepackages()) + "\n")
    run(venv / "bin" / "python", "-m", "pip", "install", "--no-deps", "--no-index", "-q", wheel, cwd=tmp_path)
    installed = run(venv / "bin" / "python", "-c", "import generator; print(generator.__file__)", cwd=tmp_path).stdout.strip()
    assert Path(installed).is_relative_to(lib), installed

    data = tmp_path / "insurer"
    shutil.copytree(REPO / "content", data / "content")
    shutil.copytree(REPO / "templates", data / "templates", ignore=shutil.ignore_patterns("*.py", "__pycache__"))
    elsewhere = tmp_path / "somewhere" / "else"
    elsewhere.mkdir(parents=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith("DOCGEN_") or k == "DOCGEN_SOFFICE"}
    done = run(venv / "bin" / "docgen", "--content", data / "content", "--templates", data / "templates",
               "proposal", "--client", "有限会社 伸和企画", "--contact", "上", "--industry", "製造業", "--revenue", "4.5億",
               "--limit", "1億", "--out", "packs", "--date", "2026-11-26", cwd=elsewhere, env=env)
    assert "premium 149,000円" in done.stdout
    (pdf,) = (elsewhere / "packs").glob("*/*.pdf")
    text = "".join(page.extract_text() for page in PdfReader(pdf).pages[:3])
    assert "有限会社伸和企画上様" in "".join(text.split())
    assert (elsewhere / "outputs" / ".cache").is_dir()  # an installed docgen's default folders are the current folder's
