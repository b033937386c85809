"""The message catalog: every sentence the code marks is in docgen.po with Japanese, docgen.mo is its compilation, and the
command line offers it (``--lang ja`` / ``DOCGEN_LANG=ja``) while staying English by default."""

from __future__ import annotations

import re
import string
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po

from generator.cli import main

REPO = Path(__file__).resolve().parents[1]
PO = REPO / "generator" / "locale" / "ja" / "LC_MESSAGES" / "docgen.po"
MO = PO.with_suffix(".mo")
JAPANESE = re.compile(r"[\u3040-\u30ff\u3400-\u9fff\uff01-\uff5e]")  # kana, kanji, full-width forms


def marked() -> set[str]:
    """Every msgid the package marks, read from the sources by Babel as `nox -s messages` does (babel.cfg, keyword N_)."""
    found = extract_from_dir(str(REPO / "generator"), method_map=[("**.py", "python")], keywords={"N_": None})
    return {msgid for _file, _line, msgid, _comments, _context in found}


def catalog() -> dict[str, str]:
    with PO.open("rb") as fh:
        return {m.id: m.string for m in read_po(fh) if m.id}


def fields(text: str) -> set[str]:
    return {name for _lit, name, _spec, _conv in string.Formatter().parse(text) if name is not None}


def test_every_marked_message_is_in_the_catalog_and_nothing_else() -> None:
    ids, po = marked(), catalog()
    assert len(ids) > 100  # the extraction found the marked sentences at all
    assert ids - po.keys() == set(), "marked in the code but not in docgen.po: run nox -s messages and translate them"
    assert po.keys() - ids == set(), "in docgen.po but no longer in the code: run nox -s messages"


def test_every_message_has_japanese_with_the_same_fields() -> None:
    for msgid, msgstr in catalog().items():
        assert msgstr, f"untranslated: {msgid!r}"
        assert JAPANESE.search(msgstr) or not re.search("[A-Za-z]", msgid), (msgid, msgstr)
        assert fields(msgstr) == fields(msgid), (msgid, msgstr)  # the data the code passes is what the Japanese prints
        # no English sentence left in the Japanese (three Latin words in a row): names like LibreOffice, .xlsx, CSV UTF-8 may stay
        assert not re.search(r"[A-Za-z]{2,}\s+[A-Za-z]{2,}\s+[A-Za-z]{2,}", re.sub(r"\{[^}]*\}", "", msgstr)), msgstr


def test_the_compiled_catalog_is_the_po() -> None:
    with MO.open("rb") as fh:
        compiled = {m.id: m.string for m in read_mo(fh) if m.id}
    assert compiled == catalog(), "docgen.mo is stale: run nox -s messages (pybabel compile)"


def cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    code = main(list(args))
    return code, capsys.readouterr().err


def test_the_command_line_stays_english_and_offers_japanese(capsys, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    quote = ("quote", "--industry", "製造業", "--revenue", "abc", "--limit", "1億")
    monkeypatch.delenv("DOCGEN_LANG", raising=False)
    code, err = cli(capsys, *quote)
    assert code == 2 and "--revenue: 'abc': not a yen amount; allowed: " in err
    code, err = cli(capsys, "--lang", "ja", *quote)
    assert code == 2 and "--revenue「abc」：金額として読めません。入力できる値：" in err and "not a yen amount" not in err
    monkeypatch.setenv("DOCGEN_LANG", "ja_JP.UTF-8")
    code, err = cli(capsys, "quote", "--industry", "製造業", "--revenue", "4.5億", "--limit", "2億")
    assert code == 3 and err.startswith("docgen quote: 要見積") and "保険料表にない金額です" in err and "published" not in err
