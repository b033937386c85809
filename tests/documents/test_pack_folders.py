"""Two clients never share a folder: sanitised names get a stable hash, and a pack is never replaced by another client's."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import subprocess
import sys
from pathlib import Path

import pytest

from generator.batch.assemble import MANIFEST, check_owner
from generator.batch.runner import Summary, build_packs, cached_brochure, plan_rows
from generator.content.request import parse_client
from generator.documents.proposal import pack_folder
from generator.errors import OutputConflict

ROW = {"industry": "製造業", "revenue": "4.5億", "limit": "1億"}

# pairs whose folder names collide once '/', ':', '.', spaces and length are dealt with naively
COLLIDING = [
    ("A/B", ""), ("A_B", ""), ("A:B", ""), ("A*B", ""),
    ("株式会社 伸和", "上"), ("株式会社 伸和 上", ""), ("株式会社", "伸和 上"), ("株式会社 伸和", "御中"),
    (".", ""), ("..", ""), ("_", ""), ("...", ""), ("A.", ""), ("A", ""),
    ("髙" * 200, ""), ("髙" * 199 + "﨑", ""), ("髙" * 200, "上"),
]


def test_every_pair_gets_its_own_folder():
    names = [pack_folder(client, contact) for client, contact in COLLIDING]
    assert len(set(names)) == len(COLLIDING), names


@pytest.mark.parametrize(("client", "contact"), COLLIDING)
def test_folder_names_are_safe_on_every_file_system(client, contact):
    name = pack_folder(client, contact)
    assert name not in (".", "..") and not name.startswith(".") and not name.endswith((" ", "."))
    assert not set(name) & set('\\/:*?"<>|') and len(name.encode()) <= 255 and len(name) <= 80


def test_readable_names_stay_as_typed():
    assert pack_folder("有限会社 伸和企画", "上") == "有限会社 伸和企画 上"  # README's example
    assert pack_folder("A&B (株)", "") == "A&B (株) 御中"
    assert pack_folder("A&B <株>", "").startswith("A&B _株_ 御中_")  # '<' '>' are not allowed on Windows disks
    assert pack_folder("A/B", "").startswith("A_B 御中_")  # sanitised: the hash says which A?B it was


def test_folder_names_are_stable_across_processes():
    # Python salts str hashes per process; a folder name must not depend on that
    code = "from generator.documents.proposal import pack_folder; print(pack_folder('A/B', ''), pack_folder('..', '上'))"
    runs = {subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                           env={"PYTHONHASHSEED": seed, "PATH": "/usr/bin:/bin"}).stdout for seed in ("1", "2")}
    assert len(runs) == 1 and runs == {f"{pack_folder('A/B', '')} {pack_folder('..', '上')}\n"}


def test_sanitised_lookalikes_in_one_list_are_not_duplicates(site, product):
    rows = [(n, ROW | {"client": c, "contact": k}) for n, (c, k) in enumerate([("A/B", ""), ("A_B", ""), ("A:B", ""), ("A/B", "")], 2)]
    summary = Summary(Path("unused"))
    plans = plan_rows(site, product, rows, dt.date(2026, 11, 26), summary)
    assert [p.request.client for p in plans] == ["A/B", "A_B", "A:B"] and len({p.folder for p in plans}) == 3
    (dup,) = summary.errors  # the real duplicate keeps its message
    assert (dup.row, dup.column) == (5, "client") and "same client and contact as row 2; one pack per client" in dup.reason


def pack(folder: Path, **manifest) -> Path:
    folder.mkdir(parents=True)
    (folder / MANIFEST).write_text(json.dumps(manifest, ensure_ascii=False), encoding="utf-8")
    return folder


def test_owner_check_allows_a_free_folder_and_the_same_client(tmp_path):
    check_owner(tmp_path / "new", "A", "")
    check_owner(pack(tmp_path / "mine", client="A", contact="上"), "A", "上")
    check_owner(pack(tmp_path / "old", client="A"), "A", "上")  # made before pack.json named the contact


@pytest.mark.parametrize(
    ("manifest", "needle"),
    [
        ({"client": "B", "contact": ""}, "holds the pack of another client ('B')"),
        ({"client": "A", "contact": "下"}, "holds the pack of another client ('A 下')"),
        (None, "is not a docgen pack"),
    ],
)
def test_owner_check_refuses_anything_else(tmp_path, manifest, needle):
    folder = pack(tmp_path / "x", **manifest) if manifest else tmp_path / "x"
    if manifest is None:
        folder.mkdir()
        (folder / "my notes.txt").write_text("mine", encoding="utf-8")
    with pytest.raises(OutputConflict, match="not replaced") as err:
        check_owner(folder, "A", "上")
    assert needle in str(err.value) and err.value.exit_code == 2


@pytest.mark.libreoffice
def test_a_build_never_replaces_another_clients_pack(site, product, tmp_path):
    values = ROW | {"client": "株式会社 先客", "contact": "上", "date": "2026-11-26"}
    first_plan = plan_rows(site, product, [(2, values)], dt.date(2026, 11, 26), Summary(tmp_path))[0]
    brochure = cached_brochure(product, site)
    (first,), failures = build_packs(product, [first_plan], tmp_path, brochure, cache=site.cache, jobs=1)
    assert failures == []
    before = {p.name: p.read_bytes() for p in first.folder.iterdir()}
    request, _ = parse_client(values | {"client": "株式会社 後客"}, row=3)
    other = plan_rows(site, product, [(3, request)], dt.date(2026, 11, 26), Summary(tmp_path))[0]
    # whatever maps another client onto this folder (a case-insensitive disk, a hash collision), the pack stays
    forced = dataclasses.replace(other, folder=first_plan.folder)
    built, failures = build_packs(product, [forced], tmp_path, brochure, cache=site.cache, jobs=1)
    assert built == [] and len(failures) == 1
    assert "holds the pack of another client ('株式会社 先客 上')" in failures[0][1].reason
    assert {p.name: p.read_bytes() for p in first.folder.iterdir()} == before
    assert sorted(p.name for p in tmp_path.iterdir()) == [first.folder.name]  # no staging left behind
