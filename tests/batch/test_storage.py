"""Destinations: a folder's writes are whole, and what a killed writer on this host left is removed by the next."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

from generator.batch.storage import Destination


def test_a_temp_file_of_a_killed_writer_is_removed_by_the_next_write_of_the_same_file(tmp_path: Path) -> None:
    dest = Destination(tmp_path)
    chunks = tmp_path / "chunks"
    chunks.mkdir()
    host = socket.gethostname()
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True, check=True)
    dead = chunks / f".c1.json.{host}@{gone.stdout.strip()}.k7x2ab.part"  # its writer was killed between write and rename
    alive = chunks / f".c1.json.{host}@{os.getpid()}.q9w8er.part"  # a writer of this host still at work
    elsewhere = chunks / f".c1.json.other-host@{gone.stdout.strip()}.z1z2z3.part"  # another host's: its pid means nothing here
    other = chunks / f".c2.json.{host}@{gone.stdout.strip()}.m3m4m5.part"  # another file's: its own next write removes it
    for path in (dead, alive, elsewhere, other):
        path.write_bytes(b"{")
    dest.write_bytes("chunks/c1.json", b"{}")
    assert (chunks / "c1.json").read_bytes() == b"{}"
    assert not dead.exists() and alive.exists() and elsewhere.exists() and other.exists()
    assert not [p for p in chunks.iterdir() if p.name.startswith(".c1.json.") and p not in (alive, elsewhere)]  # its own temp renamed in
