"""Round-trip editing of content files: a saved file differs from the original only in the lines of the changed values."""

from __future__ import annotations

import difflib
from pathlib import Path

import pytest

from generator.content import edit
from generator.content.load import load_product

REPO = Path(__file__).resolve().parents[2]
CONTENT = REPO / "content" / "cyber_lite"


def changed_lines(old: str, new: str) -> list[str]:
    return [line for line in difflib.unified_diff(old.splitlines(), new.splitlines(), lineterm="", n=0)
            if line[:1] in "+-" and not line.startswith(("+++", "---"))]


def test_an_exclusion_and_a_premium_change_only_their_lines(tmp_path: Path) -> None:
    exclusions = (CONTENT / "exclusions.yaml").read_text(encoding="utf-8")
    rates = (CONTENT / "rates.yaml").read_text(encoding="utf-8")
    new_exc, changed, problems = edit.apply("exclusions.yaml", exclusions, {"exclusions.groups[0].items[3].text": "販売分析の過誤に起因する損害賠償請求"})
    assert problems == [] and changed == {"exclusions.groups[0].items[3].text": "販売分析の過誤に起因する損害賠償請求"}
    assert changed_lines(exclusions, new_exc) == ["-        text: 販売分析、販売予測または財務分析の過誤に起因する損害賠償請求",
                                                  "+        text: 販売分析の過誤に起因する損害賠償請求"]
    new_rates, _, problems = edit.apply("rates.yaml", rates, {"rates.classes[0].premiums[0][0]": "56,000"})
    assert problems == []
    assert changed_lines(rates, new_rates) == ["-      - [55000, 80000, 102000, 149000, 208000]", "+      - [56000, 80000, 102000, 149000, 208000]"]
    # comments, quoting and key order elsewhere are the original bytes: every other line is identical
    assert len(new_rates.splitlines()) == len(rates.splitlines()) and "# first premium page" in new_rates
    # and the files still load as the content model with the new values
    folder = tmp_path / "cyber_lite"
    folder.mkdir()
    for f in CONTENT.glob("*.yaml"):
        (folder / f.name).write_bytes(f.read_bytes())
    (folder / "exclusions.yaml").write_text(new_exc, encoding="utf-8")
    (folder / "rates.yaml").write_text(new_rates, encoding="utf-8")
    product = load_product(folder)
    assert product.rates.classes[0].premiums[0][0] == 56000
    assert product.exclusions.groups[0].items[3].text == "販売分析の過誤に起因する損害賠償請求"


def test_unchanged_form_values_leave_the_file_byte_for_byte() -> None:
    for path in sorted(CONTENT.glob("*.yaml")):
        text = path.read_text(encoding="utf-8")
        attr = edit.root_type(path.name)[0]
        values = {p: (v.isoformat() if hasattr(v, "isoformat") else str(v)) for p, v in edit.flatten(edit.load_text(text), attr).items()
                  if not isinstance(v, bool)}
        new, changed, problems = edit.apply(path.name, text, values)
        assert (new, changed) == (text, {}), path.name
        assert problems == [], (path.name, problems[:3])


@pytest.mark.parametrize(("path", "raw", "msgid"), [
    ("rates.classes[0].premiums[0][0]", "5.5万", "{value!r} is not a whole number of yen; allowed: digits such as 55000"),
    ("exclusions.groups[0].items[0].text", "あ" * 5001, "{count:,} characters is too long; allowed: at most {limit:,} characters"),
    ("exclusions.groups[0].items[0].text", "  ", "is empty; this wording is required"),
    ("exclusions.groups[0].items[0].nope", "x", "is not a field of this file"),
])
def test_bad_inputs_are_named_by_field_and_nothing_is_written(path: str, raw: str, msgid: str) -> None:
    file_name = path.split(".")[0] + ".yaml"
    text = (CONTENT / file_name).read_text(encoding="utf-8")
    new, changed, problems = edit.apply(file_name, text, {path: raw})
    assert new == text and changed == {}
    assert [(p.path, p.msgid) for p in problems] == [(path, msgid)]


def test_a_new_clause_gets_the_next_never_used_id() -> None:
    text = (CONTENT / "exclusions.yaml").read_text(encoding="utf-8")
    ids = [i for i in edit.ids_in(text) if i.startswith("EXC-LIA-")]
    highest = max(int(i.rsplit("-", 1)[1]) for i in ids)
    new, new_id = edit.add_item("exclusions.yaml", text, "exclusions.groups[0].items", {f"EXC-LIA-{highest + 1:02d}"})  # retired
    assert new_id == f"EXC-LIA-{highest + 2:02d}"
    assert changed_lines(text, new)[0].startswith("+") and all(line.startswith("+") for line in changed_lines(text, new))
    assert f"id: {new_id}" in new
