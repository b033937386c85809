"""A client list's .xlsx parts are bounded before openpyxl parses them: zip bombs are refused at once, real lists pass."""

from __future__ import annotations

import struct
import time
import zipfile
from pathlib import Path

import pytest

from generator.batch.clients import read_client_rows
from generator.batch.xlsx import MAX_PART, check_parts
from generator.errors import ClientListError
from tests.batch.xlsx_kit import bomb_xlsx, row_xml, write_xlsx

MB = 1024 * 1024


def _refused_fast(path: Path) -> str:
    started = time.perf_counter()
    with pytest.raises(ClientListError) as exc:
        list(read_client_rows(path, name="顧客一覧.xlsx"))
    took = time.perf_counter() - started
    assert took < 0.5, f"refused after {took:.2f} s"
    assert "顧客一覧.xlsx" in str(exc.value) and str(path) not in str(exc.value)
    return str(exc.value)


@pytest.mark.parametrize(("part", "size"), [("xl/worksheets/sheet1.xml", 13 * MB), ("xl/worksheets/sheet1.xml", 24 * MB),
                                            ("xl/worksheets/sheet1.xml", 200 * MB), ("xl/sharedStrings.xml", 13 * MB),
                                            ("xl/sharedStrings.xml", 24 * MB)])
def test_a_part_inflating_past_the_bound_is_refused_at_once(tmp_path: Path, part: str, size: int) -> None:
    path = bomb_xlsx(tmp_path / "bomb.xlsx", size, part)
    assert path.stat().st_size < size / 100  # a bomb: tiny packed
    assert "MB" in _refused_fast(path)


def test_a_highly_packed_part_under_the_size_bound_is_refused(tmp_path: Path) -> None:
    path = bomb_xlsx(tmp_path / "dense.xlsx", 8 * MB)
    assert "圧縮率" in _refused_fast(path)


def _lie_about_sizes(path: Path, member: str, declared: int) -> None:
    """Rewrite the central directory's and local header's uncompressed size of ``member`` to ``declared``."""
    data = bytearray(path.read_bytes())
    with zipfile.ZipFile(path) as zf:
        info = zf.getinfo(member)
    local = info.header_offset
    struct.pack_into("<I", data, local + 22, declared)
    name = member.encode()
    at = data.find(b"PK\x01\x02")
    while at != -1 and data[at + 46:at + 46 + len(name)] != name:
        at = data.find(b"PK\x01\x02", at + 4)
    struct.pack_into("<I", data, at + 24, declared)
    path.write_bytes(bytes(data))


def test_a_part_lying_about_its_size_is_stopped_while_inflating(tmp_path: Path) -> None:
    path = bomb_xlsx(tmp_path / "liar.xlsx", 24 * MB)
    _lie_about_sizes(path, "xl/worksheets/sheet1.xml", 2000)
    with zipfile.ZipFile(path) as zf:
        assert zf.getinfo("xl/worksheets/sheet1.xml").file_size == 2000
    _refused_fast(path)


def test_a_ten_thousand_row_list_passes_the_bounds(tmp_path: Path) -> None:
    strings = ["会社名", "担当者", "業種", "売上高", "賠償保険金額", "代理店名", "代理店連絡先", "日付"]
    rows = [row_xml(1, [("s", i) for i in range(8)])]
    rows += [row_xml(n, [("str", f"株式会社 テスト商事{n}"), ("str", f"山田太郎{n}"), ("str", "製造業"), 450_000_000 + n, 100_000_000,
                         ("str", "さくら保険サービス株式会社"), ("str", "担当：山本 03-1234-5678"), ("d", 46362)]) for n in range(2, 10_002)]
    path = write_xlsx(tmp_path / "big.xlsx", strings, rows, dimension="A1:H10001")
    with zipfile.ZipFile(path) as zf:
        sheet = zf.getinfo("xl/worksheets/sheet1.xml").file_size
    assert 4 * MB < sheet < MAX_PART  # a real list's sheet, well inside the bound
    with path.open("rb") as fh:
        check_parts(fh, "big.xlsx")  # passes: nothing raised
