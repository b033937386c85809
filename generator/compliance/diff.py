"""Diff stage: what changed between two content versions, by clause ID and premium cell, and where it is used."""

from __future__ import annotations

import difflib
import functools
import io
import subprocess
import tarfile
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from generator.compliance.versions import WORKING, Version
from generator.content.load import load_product
from generator.content.model import Product
from generator.documents.facts import Cell, Clause, cells, clauses, describe_cell_change, documents_using
from generator.errors import DocgenError, InputError
from generator.site import Site


@dataclass(frozen=True)
class ClauseChange:
    """A clause added (old None), removed (new None) or reworded."""

    id: str
    old: Clause | None
    new: Clause | None

    def __post_init__(self) -> None:
        if self.old is None and self.new is None:
            raise ValueError(f"clause {self.id}: a change needs an old or a new clause")

    @property
    def present(self) -> Clause:
        """The clause as it is now, or as it was when removed."""
        clause = self.new or self.old
        assert clause is not None  # __post_init__
        return clause

    @property
    def kind(self) -> str:
        return "added" if self.old is None else "removed" if self.new is None else "changed"

    @property
    def path(self) -> str:
        return self.present.path

    @property
    def used_by(self) -> list[str]:
        return documents_using(self.path)


@dataclass(frozen=True)
class CellChange:
    """A premium cell whose amount changed (or appeared / disappeared)."""

    key: str
    old: Cell | None
    new: Cell | None

    def __post_init__(self) -> None:
        if self.old is None and self.new is None:
            raise ValueError(f"cell {self.key}: a change needs an old or a new cell")

    @property
    def present(self) -> Cell:
        """The cell as it is now, or as it was when removed."""
        cell = self.new or self.old
        assert cell is not None  # __post_init__
        return cell

    def describe(self) -> str:
        if self.old and self.new:
            return describe_cell_change(self.old, self.new)
        return f"{self.present.label} {'added' if self.new else 'removed'}"

    @property
    def used_by(self) -> list[str]:
        return documents_using("rates.classes")


@dataclass
class ContentDiff:
    """Everything that differs between two versions of one product."""

    old: Product
    new: Product
    old_label: str
    new_label: str
    clauses: list[ClauseChange] = field(default_factory=list)
    cells: list[CellChange] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not self.clauses and not self.cells

    def summary_lines(self) -> list[str]:
        return summary_lines(self)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready: each changed clause and premium cell, with the documents it reaches."""
        return {
            "product": self.new.key, "old": self.old_label, "new": self.new_label,
            "old_content_hash": self.old.digest(), "new_content_hash": self.new.digest(),
            "clauses": [{"id": c.id, "change": c.kind, "path": c.path, "old": c.old.text if c.old else None,
                         "new": c.new.text if c.new else None, "documents": c.used_by} for c in self.clauses],
            "cells": [{"key": c.key, "label": c.present.label, "old": c.old.premium if c.old else None,
                       "new": c.new.premium if c.new else None, "documents": c.used_by} for c in self.cells],
        }


def compare(old: Product, new: Product, old_label: str = "old", new_label: str = "new") -> ContentDiff:
    """Clause-by-ID and cell-by-cell differences; IDs are the identity, so a moved clause is not a change."""
    result = ContentDiff(old, new, old_label, new_label)
    result.clauses, result.cells = diff_facts(clauses(old), clauses(new), cells(old), cells(new))
    return result


def diff_facts(a: dict[str, Clause], b: dict[str, Clause], ca: dict[str, Cell], cb: dict[str, Cell]) -> tuple[list[ClauseChange], list[CellChange]]:
    """Changes between two sets of facts (from products, or from a manifest's snapshot)."""
    changed = [ClauseChange(cid, a.get(cid), b.get(cid)) for cid in [*a, *(k for k in b if k not in a)]
               if a.get(cid) is None or b.get(cid) is None or a[cid].text != b[cid].text]
    premiums = [CellChange(key, ca.get(key), cb.get(key)) for key in [*ca, *(k for k in cb if k not in ca)]
                if key not in ca or key not in cb or ca[key].premium != cb[key].premium]
    return changed, premiums


def segments(old: str, new: str) -> list[tuple[str, str]]:
    """Character-level diff as (op, text) with op ``=``, ``-`` or ``+``; Japanese has no spaces to split on.

    A lone unchanged character between two edits is folded into them, so a redline reads as words.

    >>> segments("損害賠償請求", "損害賠償の請求")
    [('=', '損害賠償'), ('+', 'の'), ('=', '請求')]
    >>> segments("保険料は年額", "保険金は月額")
    [('=', '保険'), ('-', '料は年'), ('+', '金は月'), ('=', '額')]
    """
    ops: list[tuple[str, str]] = []
    for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(None, old, new, autojunk=False).get_opcodes():
        if tag == "equal":
            ops.append(("=", old[i1:i2]))
        else:
            if i2 > i1:
                ops.append(("-", old[i1:i2]))
            if j2 > j1:
                ops.append(("+", new[j1:j2]))
    for i in range(1, len(ops) - 1):  # a lone unchanged character between edits reads better inside them
        if ops[i][0] == "=" and len(ops[i][1]) == 1 and ops[i - 1][0] != "=" and ops[i + 1][0] != "=":
            ops[i] = ("~", ops[i][1])
    out: list[tuple[str, str]] = []
    dels = adds = ""
    for op, text in [*ops, ("=", "")]:
        if op == "=":
            out += [("-", dels)] if dels else []
            out += [("+", adds)] if adds else []
            dels = adds = ""
            out += [("=", text)] if text else []
        else:
            dels += text if op in "-~" else ""
            adds += text if op in "+~" else ""
    return out


# --- loading two versions -------------------------------------------------------------------


def _git_location(content: Path) -> tuple[Path, str]:
    """The git work tree holding ``content`` and the content folder's path inside it."""
    top = subprocess.run(["git", "-C", str(content), "rev-parse", "--show-toplevel"], capture_output=True, text=True)
    if top.returncode:
        raise InputError("revision", str(content), "the content folder is not in a git repository, so revisions cannot be read",
                         allowed="two content folders instead")
    repo = Path(top.stdout.strip())
    return repo, Path(content).resolve().relative_to(repo.resolve()).as_posix()


@contextmanager
def content_root(spec: str, content: Path) -> Iterator[Path]:
    """A content root for ``spec``: an existing folder (content root or product folder) or a git revision of ``content``."""
    path = Path(spec)
    if path.is_dir():
        yield path.parent if (path / "product.yaml").is_file() else path
        return
    repo, inside = _git_location(content)
    rev = subprocess.run(["git", "-C", str(repo), "rev-parse", "--verify", "--quiet", f"{spec}^{{commit}}"], capture_output=True, text=True)
    if rev.returncode:
        raise InputError("revision", spec, "is neither a content folder nor a git revision of this repository",
                         allowed="a folder like content/ or a revision like HEAD~1, main, v1.0.0")
    archive = subprocess.run(["git", "-C", str(repo), "archive", "--format=tar", rev.stdout.strip(), inside], capture_output=True)
    if archive.returncode:
        raise InputError("revision", spec, f"has no content/ folder ({archive.stderr.decode(errors='replace').strip()})")
    with tempfile.TemporaryDirectory(prefix="docgen-rev-") as tmp:
        with tarfile.open(fileobj=io.BytesIO(archive.stdout)) as tar:
            tar.extractall(tmp, filter="data")
        yield Path(tmp) / inside


@functools.lru_cache(maxsize=512)
def _loads(content: str, spec: str, product: str, digest: str) -> bool:
    """Whether version ``spec`` (whose files hash to ``digest``: the cache key) loads with this docgen's content model."""
    try:
        with content_root(spec, Path(content)) as root:
            load_product(root / product)
    except DocgenError:
        return False
    return True


def comparable(site: Site, product: str, versions: list[Version]) -> tuple[list[Version], int]:
    """The versions :func:`load_pair` can compare, and how many others there are: commits written for an older content
    model (a key it has since required or dropped) do not load, and are not offered for comparison."""
    kept = [v for v in versions if _loads(str(site.content), str(site.content) if v.spec == WORKING else v.spec, product, v.digest)]
    return kept, len(versions) - len(kept)


def load_pair(site: Site, old_spec: str, new_spec: str, product: str | None, revision_path: str = "") -> tuple[Product, Product]:
    """Load the same product (its revision at ``revision_path``, default the first) from two versions (everything is read
    before anything is written)."""
    with content_root(old_spec, site.content) as old_root, content_root(new_spec, site.content) as new_root:
        key = product or _only_product(new_root)
        name = Path(revision_path).name
        return (load_product(old_root / key / revision_path, key=key, revision=name),
                load_product(new_root / key / revision_path, key=key, revision=name))


def _only_product(root: Path) -> str:
    found = sorted(p.parent.name for p in root.glob("*/product.yaml"))
    if len(found) != 1:
        raise InputError("--product", None, "say which product to compare", allowed=", ".join(found) or "none")
    return found[0]


# --- reports --------------------------------------------------------------------------------


def summary_lines(d: ContentDiff) -> list[str]:
    """Terminal summary: one line per change, with the documents it reaches."""
    if d.empty:
        return [f"no wording or premium changes between {d.old_label} and {d.new_label}"]
    lines = [f"{d.new.meta.name}: {d.old_label} (content {d.old.meta.content_version}) → {d.new_label} (content {d.new.meta.content_version})"]
    for c in d.clauses:
        lines.append(f"  {c.kind:<8} {c.id:<16} {c.path}  → used by: {', '.join(c.used_by) or 'no published document'}")
    for cell in d.cells:
        lines.append(f"  premium  {cell.describe()}")
    if d.cells:
        lines.append(f"           premiums are used by: {', '.join(d.cells[0].used_by)}")
    lines.append(f"{len(d.clauses)} clause change(s), {len(d.cells)} premium change(s)")
    return lines


def report_stem(d: ContentDiff) -> str:
    """``cyber-lite_changes_HEAD~1_content``: the file name of a diff's summary and redline."""
    from generator.documents.proposal import safe_name

    def label(spec: str) -> str:
        return safe_name(Path(spec).name if Path(spec).is_dir() else spec, 40).replace(" ", "_")

    return f"{d.new.meta.slug}_changes_{label(d.old_label)}_{label(d.new_label)}"


def markdown(d: ContentDiff) -> str:
    """The same report as Markdown, for a compliance ticket."""
    out = [f"# {d.new.meta.name}: changes {d.old_label} → {d.new_label}", "",
           f"Content version {d.old.meta.content_version} → {d.new.meta.content_version}; "
           f"rates {d.old.rates.rates_version} → {d.new.rates.rates_version}.", ""]
    if d.empty:
        return "\n".join(out + ["No wording or premium changes.", ""])
    for kind in ("changed", "added", "removed"):
        items = [c for c in d.clauses if c.kind == kind]
        if not items:
            continue
        out += [f"## Clauses {kind} ({len(items)})", ""]
        for c in items:
            out.append(f"### {c.id} — `{c.path}`")
            out.append(f"Used by: {', '.join(c.used_by) or 'no published document'}")
            out.append("")
            if c.old:
                out += [f"- old: {c.old.text}".replace("\n", " / ")]
            if c.new:
                out += [f"- new: {c.new.text}".replace("\n", " / ")]
            out.append("")
    if d.cells:
        out += [f"## Premium cells changed ({len(d.cells)})", "", "| cell | change |", "| --- | --- |"]
        out += [f"| {c.present.key} | {c.describe()} |" for c in d.cells]
        out += ["", f"Premiums are used by: {', '.join(d.cells[0].used_by)}", ""]
    return "\n".join(out)
