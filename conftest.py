"""Collection rules for the doctests in generator/ (tests/conftest.py holds the fixtures)."""

from __future__ import annotations

import os
import shutil
import tempfile

import pytest

# Doctests whose examples run LibreOffice: marked like every other test that does, so `-m "not libreoffice"` stays fast.
LIBREOFFICE_DOCTESTS = {"generator.api"}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if isinstance(item, pytest.DoctestItem) and item.name in LIBREOFFICE_DOCTESTS:
            item.add_marker(pytest.mark.libreoffice)


# --- the libreoffice marker is enforced, not trusted ------------------------------------------------------------
# A test without @pytest.mark.libreoffice runs with DOCGEN_SOFFICE pointing at a stand-in that fails at once and
# says why, in this process, in forked workers and in `python -m generator` subprocesses alike. So an unmarked test
# that reaches LibreOffice fails in every run (not only when soffice happens to be missing), and `-m "not
# libreoffice"` can never silently include a slow conversion. Tests that fake soffice set DOCGEN_SOFFICE themselves.
UNMARKED_SOFFICE = """#!/bin/sh
echo "this test runs LibreOffice but is not marked @pytest.mark.libreoffice (see conftest.py)" >&2
exit 97
"""
_stand_in: list[str] = []


def pytest_sessionstart(session: pytest.Session) -> None:
    folder = tempfile.mkdtemp(prefix="docgen-unmarked-soffice-")
    script = os.path.join(folder, "soffice")
    with open(script, "w", encoding="utf-8") as fh:
        fh.write(UNMARKED_SOFFICE)
    os.chmod(script, 0o755)
    _stand_in.append(script)


def pytest_sessionfinish(session: pytest.Session) -> None:
    for script in _stand_in:
        shutil.rmtree(os.path.dirname(script), ignore_errors=True)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None):
    # Around setup, call and teardown: a session fixture first built for an unmarked test is caught too.
    if item.get_closest_marker("libreoffice") or not _stand_in:
        return (yield)
    saved = os.environ.get("DOCGEN_SOFFICE")
    os.environ["DOCGEN_SOFFICE"] = _stand_in[0]
    try:
        return (yield)
    finally:
        if saved is None:
            os.environ.pop("DOCGEN_SOFFICE", None)
        else:
            os.environ["DOCGEN_SOFFICE"] = saved


# --- a skipped test never counts as passing ------------------------------------------------------------------
# A skip (pytest.skip, skipif, importorskip, a missing database…) or an expected failure is reported as a failure
# naming its reason: fix the cause (install the part, start the service) or delete the test. Deselecting with -m
# is not skipping: deselected tests never run and are not reported.
@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    report = yield
    if report.skipped:
        reason = getattr(report, "wasxfail", "") or (report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr))
        report.outcome = "failed"
        report.longrepr = f"{item.nodeid}: skipped or xfailed ({reason}); a skipped test never counts as passing (conftest.py)"
    return report
