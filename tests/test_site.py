"""Site: folders from options over DOCGEN_* variables over the default layout."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import generator
from generator.settings import load as load_settings
from generator.site import Site

REPO = Path(__file__).resolve().parents[1]


def test_default_is_this_checkout_when_running_from_one() -> None:
    site = Site.from_env(load_settings({}))
    assert (site.content, site.templates, site.outputs) == (REPO / "content", REPO / "templates", REPO / "outputs")
    assert site.cache == REPO / "outputs" / ".cache" and site.proposals == REPO / "outputs" / "proposals"


def test_environment_variables_name_each_folder(tmp_path: Path) -> None:
    env = {"DOCGEN_CONTENT": str(tmp_path / "c"), "DOCGEN_TEMPLATES": str(tmp_path / "t"), "DOCGEN_STORAGE": str(tmp_path / "s")}
    site = Site.from_env(load_settings(env))
    assert (site.content, site.templates, site.storage) == (tmp_path / "c", tmp_path / "t", tmp_path / "s")
    assert site.outputs == REPO / "outputs"  # what is not set keeps the default


def test_an_option_wins_over_the_environment_and_relative_paths_are_from_the_current_folder(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    site = Site.from_env(load_settings({"DOCGEN_CONTENT": "/elsewhere"}), content="mine")
    assert site.content == tmp_path / "mine"


def test_moving_outputs_moves_cache_and_proposals_unless_they_are_set(tmp_path: Path) -> None:
    site = Site.from_env(load_settings({}), outputs=tmp_path / "o")
    assert (site.cache, site.proposals) == (tmp_path / "o" / ".cache", tmp_path / "o" / "proposals")
    site = Site.from_env(load_settings({"DOCGEN_CACHE": str(tmp_path / "cache")}), outputs=tmp_path / "o")
    assert (site.cache, site.proposals) == (tmp_path / "cache", tmp_path / "o" / "proposals")


def test_an_empty_variable_counts_as_unset() -> None:
    assert Site.from_env(load_settings({"DOCGEN_CONTENT": ""})).content == REPO / "content"


def test_code_stamp_follows_the_source_files(tmp_path: Path) -> None:
    # a copy of the package with one comment added must get another stamp: the caches key on it
    copy = tmp_path / "generator"
    shutil.copytree(Path(generator.__file__).parent, copy, ignore=shutil.ignore_patterns("__pycache__"))
    stamp = [sys.executable, "-c", "import generator; print(generator.code_stamp())"]
    same = subprocess.run(stamp, cwd=tmp_path, capture_output=True, text=True, check=True).stdout.strip()
    assert same == generator.code_stamp()
    with (copy / "documents" / "pack.py").open("a", encoding="utf-8") as fh:
        fh.write("# changed\n")
    assert subprocess.run(stamp, cwd=tmp_path, capture_output=True, text=True, check=True).stdout.strip() != same
