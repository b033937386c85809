"""The batch manifest in DEST: each chunk's state, so that running the same command again finishes a broken batch.

A chunk is named by a hash of its rows (row numbers and cell values), so the same list cut the same way names the
same chunks in every run. Its record is absent (never started), ``running`` (who started it, when: what a killed
run leaves) or ``done`` (every pack with its inputs digest, and every bad row). A record is one small JSON file
written whole. The Dask scheduler is no durable queue: this is what survives a killed client or worker.

Layout under DEST::

    .docgen-batch/<batch key>/batch.json          inputs of the run (content hash, docgen version, date)
    .docgen-batch/<batch key>/chunks/<chunk>.json one record per chunk
    .docgen-batch/staging/<host>@<pid>-<run>-<chunk>/ a worker's staging (folder destinations only)
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import socket
import time
from collections.abc import Sequence
from typing import Any

from generator.batch.storage import Destination

BATCH_DIR = ".docgen-batch"
STAGING = f"{BATCH_DIR}/staging"


def chunk_id(rows: Sequence[tuple[int | None, dict[str, str]]]) -> str:
    """Stable name of a chunk: its rows' numbers and values, in order.

    >>> a = chunk_id([(2, {"client": "伸和企画", "limit": "1億"})])
    >>> a == chunk_id([(2, {"limit": "1億", "client": "伸和企画"})]), a == chunk_id([(3, {"client": "伸和企画", "limit": "1億"})])
    (True, False)
    >>> len(a)
    24
    """
    payload = json.dumps([[row, sorted(values.items())] for row, values in rows], ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(payload.encode()).hexdigest()[:24]


def batch_key(bundle_hash: str, version: str, today: dt.date) -> str:
    """Which batch a chunk record belongs to: the same rows with other content, docgen or date are another batch.

    >>> batch_key("ab" * 32, "1.0", dt.date(2026, 12, 1)) == batch_key("ab" * 32, "1.0", dt.date(2026, 12, 2))
    False
    """
    return hashlib.sha256(f"{bundle_hash}|{version}|{today.isoformat()}".encode()).hexdigest()[:16]


def worker_tag() -> str:
    """``<host>@<pid>``: names a worker's staging; only the same host may judge whether that pid still lives.

    ``@`` is in no host name, so one host's prefix never matches another's (``vm`` and ``vm-2``).
    """
    return f"{socket.gethostname()}@{os.getpid()}"


class Manifest:
    """The chunk records of one batch in one destination."""

    def __init__(self, dest: Destination, key: str):
        self.dest, self.key = dest, key

    def _rel(self, chunk: str) -> str:
        return f"{BATCH_DIR}/{self.key}/chunks/{chunk}.json"

    def read(self, chunk: str) -> dict[str, Any] | None:
        return self.dest.read_json(self._rel(chunk))

    def running(self, chunk: str, run: str, worker: str) -> None:
        self._write(chunk, {"state": "running", "chunk": chunk, "run": run, "worker": worker, "host": worker_tag(), "started": time.time()})

    def done(self, chunk: str, run: str, worker: str, packs: list[dict[str, Any]], errors: list[list[object]]) -> dict[str, Any]:
        record = {"state": "done", "chunk": chunk, "run": run, "worker": worker, "host": worker_tag(), "finished": time.time(),
                  "packs": packs, "errors": errors}
        self._write(chunk, record)
        return record

    def describe(self, inputs: dict[str, Any]) -> None:
        """batch.json: what this batch was built from (for whoever finds the folder later)."""
        self.dest.write_bytes(f"{BATCH_DIR}/{self.key}/batch.json", json.dumps(inputs, ensure_ascii=False, indent=1, default=str).encode())

    def _write(self, chunk: str, record: dict[str, Any]) -> None:
        self.dest.write_bytes(self._rel(chunk), json.dumps(record, ensure_ascii=False, separators=(",", ":")).encode())
