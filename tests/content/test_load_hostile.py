"""Content that is broken at the file-system or YAML level: one located problem each, never a traceback."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from generator.cli import main
from generator.content.load import load_product
from generator.errors import ContentError


@pytest.fixture()
def folder(site, tmp_path) -> Path:
    target = tmp_path / "content" / "cyber_lite"
    shutil.copytree(site.content / "cyber_lite", target)
    return target


def problems(folder: Path) -> list[str]:
    with pytest.raises(ContentError) as err:
        load_product(folder)
    return [str(p) for p in err.value.problems]


def test_a_content_file_that_is_a_folder(folder):
    (folder / "coverage.yaml").unlink()
    (folder / "coverage.yaml").mkdir()
    (found,) = problems(folder)
    assert found.endswith("coverage.yaml: is a folder; expected a YAML file (holds coverage)")


def test_an_unreadable_content_file(folder, monkeypatch):
    real = Path.read_bytes

    def read_bytes(self):
        if self.name == "rates.yaml":  # root reads anything: the refusal an ordinary user gets is simulated
            raise PermissionError(13, "Permission denied", str(self))
        return real(self)

    monkeypatch.setattr(Path, "read_bytes", read_bytes)
    (found,) = problems(folder)
    assert found.endswith("rates.yaml: cannot read: permission denied")


@pytest.mark.parametrize("date", ["2026-02-30", "2026-13-01", "2026-00-10"])
def test_an_impossible_date_names_file_line_and_field(folder, date):
    text = (folder / "product.yaml").read_text(encoding="utf-8")
    line = next(n for n, t in enumerate(text.splitlines(), 1) if t.startswith("effective_date:"))
    (folder / "product.yaml").write_text(text.replace("effective_date: 2026-12-01", f"effective_date: {date}"), encoding="utf-8")
    found = problems(folder)
    assert any(f"product.yaml:{line}: meta.effective_date: {date!r} is not a real date or number" in p for p in found), found
    assert any("allowed: a date like 2026-12-01" in p for p in found)
    assert problems(folder) == found  # loaded again (the portal reloads): the same words, not a stale parser's


@pytest.mark.parametrize("depth", [201, 2_000, 100_000])
def test_absurdly_nested_yaml(folder, depth):
    (folder / "examples.yaml").write_text("examples: " + "[" * depth + "]" * depth + "\n", encoding="utf-8")
    (found,) = problems(folder)
    assert found.endswith("examples.yaml: nested too deeply to be content (hundreds of levels of lists or mappings)")


def test_two_hundred_levels_are_read_and_type_checked(folder):
    (folder / "examples.yaml").write_text("examples: " + "[" * 200 + "]" * 200 + "\n", encoding="utf-8")
    found = problems(folder)  # parsed: the builder names what is wrong with the value, not its depth
    assert found and not any("nested too deeply" in p for p in found) and any("examples.examples: unknown key" in p for p in found)


@pytest.mark.parametrize("product", ["..", "../cyber_lite", "/etc", "cyber_lite/..", "nosuch", "."])
def test_unknown_product_is_a_bad_option_naming_what_exists(product, capsys):
    assert main(["validate", "--product", product]) == 2
    err = capsys.readouterr().err
    assert "--product" in err and "allowed: cyber_lite" in err and "Traceback" not in err


@pytest.mark.parametrize("make", [lambda p: p.mkdir(), lambda p: None, lambda p: (p.mkdir(), (p / "x").mkdir())],
                         ids=["empty", "missing", "no-product-yaml"])
def test_content_without_products_is_a_bad_option(tmp_path, make, capsys):
    root = tmp_path / "content"
    make(root)
    assert main(["--content", str(root), "validate"]) == 2
    err = capsys.readouterr().err
    assert "--content" in err and str(root) in err and "holds no product" in err


@pytest.mark.parametrize(("date", "ok"), [("1926-12-24", False), ("1926-12-25", True), ("9999-01-01", False), ("2026-12-01", True)])
def test_content_dates_must_print_in_an_era_and_leave_room(folder, date, ok):
    from generator.content.validate import validate

    text = (folder / "product.yaml").read_text(encoding="utf-8")
    (folder / "product.yaml").write_text(text.replace("effective_date: 2026-12-01", f"effective_date: {date}"), encoding="utf-8")
    product = load_product(folder)
    if ok:
        validate(product)
        return
    with pytest.raises(ContentError) as err:
        validate(product)
    (found,) = [str(p) for p in err.value.problems if "effective_date" in str(p)]
    assert f"meta.effective_date: {date} is out of range; allowed: 1926-12-25 (昭和 began) to 9998-12-30" in found
