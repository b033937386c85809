"""The rules the test suite itself keeps: warnings fail, skips fail, the libreoffice marker is enforced, property tests are reproducible."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import warnings
from pathlib import Path

import pytest
from hypothesis import settings

from generator.documents.soffice import find_soffice


def test_a_warning_fails_the_test():
    # pyproject.toml: filterwarnings = ["error", ...]; a warning anywhere in a test is raised as an exception.
    with pytest.raises(DeprecationWarning, match="old call"):
        warnings.warn("old call", DeprecationWarning, stacklevel=1)
    with pytest.raises(ResourceWarning):
        warnings.warn("unclosed file", ResourceWarning, stacklevel=1)


def test_an_unmarked_test_cannot_reach_libreoffice():
    soffice = find_soffice()  # what every conversion in this test would start
    assert "docgen-unmarked-soffice" in soffice and soffice == os.environ["DOCGEN_SOFFICE"]
    done = subprocess.run([soffice, "--headless", "--convert-to", "pdf", "x.docx"], capture_output=True, text=True, timeout=30)
    assert done.returncode == 97 and "not marked @pytest.mark.libreoffice" in done.stderr
    # subprocesses (python -m generator …) inherit it too
    child = subprocess.run([sys.executable, "-c", "import os; print(os.environ['DOCGEN_SOFFICE'])"], capture_output=True, text=True, timeout=30)
    assert child.stdout.strip() == soffice


@pytest.mark.libreoffice
def test_a_marked_test_gets_the_real_libreoffice():
    assert "docgen-unmarked-soffice" not in find_soffice()


def test_property_tests_are_deterministic_and_untimed():
    profile = settings.default
    assert profile.derandomize and profile.deadline is None and profile.database is None
    assert 0 < profile.max_examples <= 200  # modest: `-m "not libreoffice"` stays well under 20 s


def test_a_skipped_test_is_reported_as_failed(tmp_path):
    # The rule runs in a throwaway project holding only the root conftest.py and three tiny tests.
    shutil.copy(Path(__file__).resolve().parents[1] / "conftest.py", tmp_path / "conftest.py")
    (tmp_path / "test_probe.py").write_text(
        "import pytest\n\n"
        "def test_skips():\n    pytest.skip('no database here')\n\n"
        "@pytest.mark.xfail(reason='known bug')\ndef test_xfails():\n    assert False\n\n"
        "def test_passes():\n    assert True\n",
        encoding="utf-8",
    )
    env = {**os.environ, "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"}  # no hypothesis/anyio plugins: a plain pytest starts fast
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(tmp_path)],
                          capture_output=True, text=True, timeout=120, cwd=tmp_path, env=env)
    assert done.returncode == 1, done.stdout
    assert "2 failed, 1 passed" in done.stdout, done.stdout
    assert "no database here" in done.stdout and "known bug" in done.stdout
