"""Ctrl-C and SIGTERM stop a client-list batch cleanly: staging removed, LibreOffice gone, one line, exit 130 / 143."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.libreoffice

REPO = Path(__file__).resolve().parents[1]
HARNESS = """
import datetime as dt, sys
from pathlib import Path
from generator import api
from generator.crash import guard
site = api.Site.at(Path(sys.argv[1]))
product = api.load(site, lint=False)
def run():
    api.build_list(site, product, Path(sys.argv[2]), out=Path(sys.argv[3]), today=dt.date(2026, 11, 26), jobs=2)
    return 0
sys.exit(guard(run, "proposals"))
"""


def processes_under(folder: Path) -> list[str]:
    """Command lines of live processes that mention ``folder`` (LibreOffice's profile and temp files live there)."""
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cmd = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode("utf-8", "replace")
            state = (proc / "status").read_text()
        except OSError:
            continue
        if str(folder) in cmd and "\nState:\tZ" not in state:
            found.append(cmd)
    return found


@pytest.mark.parametrize(("how", "code", "name"), [("ctrl-c", 130, "SIGINT"), ("sigterm", 143, "SIGTERM")])
def test_a_batch_stops_cleanly(tmp_path, how, code, name):
    rows = "\n".join(f"株式会社 中断{n},製造業,4.5億,1億" for n in range(16))
    (tmp_path / "list.csv").write_text(f"会社名,業種,売上高,賠償保険金額\n{rows}\n", encoding="utf-8")
    out, tmp = tmp_path / "out", tmp_path / "tmp"
    tmp.mkdir()
    env = dict(os.environ, TMPDIR=str(tmp), PYTHONPATH=str(REPO))
    proc = subprocess.Popen([sys.executable, "-c", HARNESS, str(REPO), str(tmp_path / "list.csv"), str(out)], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        deadline = time.monotonic() + 240
        while not (list(out.glob(".staging-*")) and any("soffice" in c for c in processes_under(tmp))):
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline, "LibreOffice never started"
            time.sleep(0.2)
        time.sleep(1.0)  # well inside a LibreOffice run, with the worker processes busy
        if how == "ctrl-c":
            os.killpg(proc.pid, signal.SIGINT)  # a terminal sends Ctrl-C to the whole foreground process group
        else:
            os.kill(proc.pid, signal.SIGTERM)  # `kill`, systemd, a container stop: the main process only
        stdout, stderr = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert proc.returncode == code, stderr
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert lines == [f"docgen proposals: stopped by {name}; unfinished work and staging folders were removed"], stderr
    assert "Traceback" not in stderr + stdout
    assert not list(out.glob(".staging-*"))
    assert not [p for p in out.rglob("*") if p.name.endswith(".part")]
    deadline = time.monotonic() + 10
    while processes_under(tmp) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert processes_under(tmp) == []  # no LibreOffice left running on a deleted profile
    assert sorted(p.name for p in tmp.iterdir()) == []  # and no temp folder of ours left behind


def test_the_cli_stops_cleanly_on_sigterm(tmp_path):
    rows = "\n".join(f"株式会社 停止{n},製造業,4.5億,1億" for n in range(16))
    (tmp_path / "list.csv").write_text(f"会社名,業種,売上高,賠償保険金額\n{rows}\n", encoding="utf-8")
    out, tmp = tmp_path / "out", tmp_path / "tmp"
    tmp.mkdir()
    env = dict(os.environ, TMPDIR=str(tmp), PYTHONPATH=str(REPO))
    proc = subprocess.Popen([sys.executable, "-m", "generator", "proposals", str(tmp_path / "list.csv"), "--out", str(out), "--jobs", "2"],
                            env=env, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        deadline = time.monotonic() + 240
        while not (list(out.glob(".staging-*")) and any("soffice" in c for c in processes_under(tmp))):
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline, "LibreOffice never started"
            time.sleep(0.2)
        time.sleep(1.0)
        os.kill(proc.pid, signal.SIGTERM)
        stdout, stderr = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert proc.returncode == 143, stderr
    stops = [line for line in stderr.splitlines() if line.startswith("docgen proposals:")]
    assert stops == ["docgen proposals: stopped by SIGTERM; unfinished work and staging folders were removed"], stderr
    assert "Traceback" not in stderr + stdout and not list(out.glob(".staging-*"))
    deadline = time.monotonic() + 10
    while processes_under(tmp) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert processes_under(tmp) == [] and list(tmp.iterdir()) == []
