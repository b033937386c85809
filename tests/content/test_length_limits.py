"""Text fields have length limits by what they are (title or name, sentence, paragraph), reported like every content problem.

The limits are derived from the product itself: every real field fits with a wide margin (checked here against the
seed brochure's longest printed line too), and a field that could never print on a page is refused before anything
else reads it, naming file, line and key path.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from generator.cli import main
from generator.content.load import load_product
from generator.content.model import NAME_LIMIT, PARAGRAPH_LIMIT, SENTENCE_LIMIT
from generator.content.validate import walk

REPO = Path(__file__).resolve().parents[2]
CONTENT = REPO / "content"
PRODUCT = "cyber_lite"
SEED = REPO / "tests" / "fixtures" / "seed_brochure.txt"


def copy_content(tmp_path: Path) -> Path:
    root = tmp_path / "content"
    shutil.copytree(CONTENT / PRODUCT, root / PRODUCT)
    return root


def pad(path: Path, line_start: str, n: int) -> tuple[int, int]:
    """Put ``n`` characters at the front of the value on the one line starting ``line_start`` (which ends in ``: `` or ``- ``).

    Returns (line number, the value's new length in characters).
    """
    lines = path.read_text(encoding="utf-8").split("\n")
    hits = [i for i, line in enumerate(lines) if line.startswith(line_start)]
    assert len(hits) == 1, (line_start, hits)
    line = lines[hits[0]]
    at = max(line.find(": ") + 2 if ": " in line else 0, line.find("- ") + 2 if line.lstrip().startswith("- ") else 0)
    quote = line[at] if line[at] in "\"'" else ""
    at += len(quote)
    lines[hits[0]] = line[:at] + "う" * n + line[at:]
    value = line[at:].removesuffix(quote) if quote else line[at:]
    path.write_text("\n".join(lines), encoding="utf-8")
    return hits[0] + 1, n + len(value)


def validate(root: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, list[str]]:
    code = main(["--content", str(root), "validate"])
    return code, capsys.readouterr().err.splitlines()


def test_every_real_field_fits_with_room_to_spare() -> None:
    product = load_product(CONTENT / PRODUCT)
    longest = max(len(v) for _, v in walk(product, "") if isinstance(v, str))
    seed_line = max(len(line) for line in SEED.read_text(encoding="utf-8").splitlines())
    # a paragraph may be many times the longest printed line; a title or name far more than any the brochure prints
    assert 10 * max(longest, seed_line) <= PARAGRAPH_LIMIT
    assert 4 * seed_line <= SENTENCE_LIMIT
    titles = [v for p, v in walk(product, "") if isinstance(v, str) and re.search(r"\.(title|name|label)$", p)]
    assert 4 * max(len(t) for t in titles) <= NAME_LIMIT


@pytest.mark.parametrize("length", [3_500_000, PARAGRAPH_LIMIT + 1])
def test_a_paragraph_too_long_is_a_content_problem(tmp_path, capsys, length: int) -> None:
    root = copy_content(tmp_path)
    target = root / PRODUCT / "features.yaml"
    line, chars = pad(target, "      - 賠償リスク、事故時", length)
    code, err = validate(root, capsys)
    assert code == 1
    assert [e for e in err if "too long" in e] == [f"{target}:{line}: features.features[0].paragraphs[0]: {chars:,} characters is too long for "
                                                    f"a paragraph; allowed: at most {PARAGRAPH_LIMIT:,} characters"], err
    assert err[-1] == "docgen: 1 problem(s) found"


def test_a_paragraph_at_the_limit_is_fine(tmp_path) -> None:
    root = copy_content(tmp_path)
    target = root / PRODUCT / "features.yaml"
    original = len(load_product(CONTENT / PRODUCT).features.features[0].paragraphs[0])
    pad(target, "      - 賠償リスク、事故時", PARAGRAPH_LIMIT - original)
    assert len(load_product(root / PRODUCT).features.features[0].paragraphs[0]) == PARAGRAPH_LIMIT


@pytest.mark.parametrize(("file", "line_start", "key", "limit", "kind"), [
    ("features.yaml", "    title: サイバーリスクを包括的に補償", "features.features[0].title", NAME_LIMIT, "a title or name"),
    ("product.yaml", "name: ", "meta.name", NAME_LIMIT, "a title or name"),
    ("product.yaml", "  name: ", "meta.insurer.name", NAME_LIMIT, "a title or name"),
    ("rates.yaml", "excluded_note: ", "rates.excluded_note", SENTENCE_LIMIT, "a sentence"),
    ("features.yaml", "          - 公的機関からの通報", "features.features[0].notes[0].items[0]", SENTENCE_LIMIT, "a sentence"),
    ("features.yaml", "intro: ", "features.intro", PARAGRAPH_LIMIT, "a paragraph"),
])
def test_each_kind_of_field_has_its_limit(tmp_path, capsys, file: str, line_start: str, key: str, limit: int, kind: str) -> None:
    root = copy_content(tmp_path)
    target = root / PRODUCT / file
    line, chars = pad(target, line_start, limit + 1)
    code, err = validate(root, capsys)
    assert code == 1, err
    assert [e for e in err if "too long" in e] == [f"{target}:{line}: {key}: {chars:,} characters is too long for {kind}; "
                                                    f"allowed: at most {limit:,} characters"], err


def test_a_content_file_too_big_to_be_content_is_refused_unread(tmp_path, capsys) -> None:
    root = copy_content(tmp_path)
    target = root / PRODUCT / "features.yaml"
    with target.open("a", encoding="utf-8") as fh:
        fh.write("# " + "x" * (17 * 2**20) + "\n")
    code, err = validate(root, capsys)
    assert code == 1
    assert any(e.startswith(f"{target}: is 17.0 MB; allowed: at most 16 MB") for e in err), err[:3]
