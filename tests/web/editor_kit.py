"""A content repository for the editor's tests: the checkout's content with the insurer's disclosures filled (test wording),
a second revision 2027-04, all committed; outputs in the test's folder."""

from __future__ import annotations

import dataclasses
import datetime as dt
import shutil
import subprocess
from pathlib import Path

from generator import api
from generator.site import Site
from tests.compliance.disclosure_helpers import fill_pending
from tests.web.conftest import REPO, portal_site

REVISION = "2027-04"
EFFECTIVE = dt.date(2027, 4, 1)


def editable_site(folder: Path, *, rates_version: str = "") -> Site:
    """The content repository in ``folder``; ``rates_version``: revision 2027-04's own (its table may then change; without
    one, a changed table is refused until the revision gets its own, as content/README.md says)."""
    shutil.copytree(REPO / "content", folder / "content")
    fill_pending(folder / "content" / "cyber_lite" / "disclosures.yaml")
    site = dataclasses.replace(portal_site(folder), content=folder / "content", outputs=folder / "outputs")
    api.start_revision(site, EFFECTIVE, today=dt.date(2026, 12, 6))
    if rates_version:
        rates = site.content / "cyber_lite" / "revisions" / REVISION / "rates.yaml"
        rates.write_text(rates.read_text(encoding="utf-8").replace('rates_version: "2026-12"', f'rates_version: "{rates_version}"'), encoding="utf-8")
    git = ["git", "-C", str(folder), "-c", "user.name=docgen tests", "-c", "user.email=tests@example.jp"]
    subprocess.run(["git", "init", "-q", "-b", "main", str(folder)], check=True)
    subprocess.run([*git, "add", "content"], check=True)
    subprocess.run([*git, "commit", "-q", "-m", "content with revision 2027-04"], check=True)
    return site


def git_log(site: Site, *args: str) -> str:
    return subprocess.run(["git", "-C", str(site.content), "log", *args], capture_output=True, text=True, check=True).stdout
