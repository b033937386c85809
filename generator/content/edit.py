"""Structured editing of one content file: its fields from the content model, typed changes applied round-trip (ruamel.yaml).

A field is named by its path as the loader records it (``exclusions.groups[0].items[2].text``, ``rates.classes[1].premiums[2][3]``):
the same name a validation problem carries, so a problem is shown beside the field it is about. Saving re-emits the
file through ruamel.yaml's round-trip mode: comments, key order, quoting and flow lists are kept, and only the lines of
changed values differ from the original.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import io
import re
import types
import typing
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from typing import Any, Literal

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.scalarstring import ScalarString

from generator.content.model import CONTENT_FILES, Product, text_limit
from generator.i18n import N_

_SEGMENT = re.compile(r"\.([A-Za-z_]\w*)|\[(\d+)\]")
_ID_NUMBER = re.compile(r"^(.*?)(\d+)$")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
MAX_INT = 10**15  # yen amounts of this product are at most ten billion; beyond this an input is a typo, not a premium


def _yaml() -> YAML:
    """The round-trip reader/writer, set to the layout of docgen's content files (2-space maps, lists indented by 2)."""
    y = YAML(typ="rt")
    y.preserve_quotes = True
    y.width = 4096  # never re-wrap a long Japanese line
    y.indent(mapping=2, sequence=4, offset=2)
    return y


def load_text(text: str) -> Any:
    """The round-trip document of a content file's text."""
    return _yaml().load(text)


def dump_text(doc: Any) -> str:
    """The document as YAML text: byte for byte the original where nothing was changed."""
    out = io.StringIO()
    _yaml().dump(doc, out)
    return out.getvalue()


def root_type(file_name: str) -> tuple[str, Any]:
    """The Product field a content file fills and its type (``exclusions.yaml`` -> ("exclusions", Exclusions))."""
    attr = CONTENT_FILES[file_name]
    tp = typing.get_type_hints(Product)[attr]
    return attr, _unwrap(tp)


def _unwrap(tp: Any) -> Any:
    if typing.get_origin(tp) in (typing.Union, types.UnionType):
        return next(a for a in typing.get_args(tp) if a is not type(None))
    return tp


def split_path(path: str) -> tuple[str, list[str | int]]:
    """``exclusions.groups[0].text`` -> ("exclusions", ["groups", 0, "text"]).

    >>> split_path("rates.classes[1].premiums[2][3]")
    ('rates', ['classes', 1, 'premiums', 2, 3])
    """
    m = re.match(r"[A-Za-z_]\w*", path)
    if m is None:
        raise ValueError(f"not a field path: {path!r}")
    attr, rest = m.group(0), path[m.end():]
    parts: list[str | int] = []
    at = 0
    while at < len(rest):
        m = _SEGMENT.match(rest, at)
        if m is None:
            raise ValueError(f"not a field path: {path!r}")
        parts.append(m.group(1) if m.group(1) is not None else int(m.group(2)))
        at = m.end()
    return attr, parts


def type_at(tp: Any, parts: list[str | int]) -> Any:
    """The model type of the value at ``parts`` below a value of type ``tp``; KeyError for a path the model has not."""
    for part in parts:
        tp = _unwrap(tp)
        if isinstance(part, int):
            if typing.get_origin(tp) is not tuple:
                raise KeyError(part)
            tp = typing.get_args(tp)[0]
        else:
            if not dataclasses.is_dataclass(tp):
                raise KeyError(part)
            hints = typing.get_type_hints(tp)
            if part not in hints or part in ("sources", "file_hashes"):
                raise KeyError(part)
            tp = hints[part]
    return _unwrap(tp)


def get(doc: Any, parts: list[str | int]) -> Any:
    for part in parts:
        doc = doc[part]
    return doc


def flatten(doc: Any, attr: str) -> dict[str, Any]:
    """Every scalar of the document by its field path (what two versions are compared by, field by field)."""
    found: dict[str, Any] = {}

    def walk(node: Any, path: str) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                walk(value, f"{path}.{key}")
        elif isinstance(node, list):
            for i, value in enumerate(node):
                walk(value, f"{path}[{i}]")
        else:
            found[path] = node

    walk(doc, attr)
    return found


# --- the form of a file ---------------------------------------------------------------------------------------------


@dataclass
class Node:
    """One part of a file's form: a group of fields (a mapping), a list, an editable field or a grid of numbers."""

    kind: Literal["group", "list", "field", "grid"]
    path: str
    key: str  # the content model's field name ("" for a list item)
    value: Any = None
    input: str = "text"  # field: text, textarea, number, date, select, checkbox
    choices: tuple[str, ...] = ()
    limit: int = 0
    ident: str = ""  # group: the item's stable ID, shown and never edited
    can_add: bool = False  # list: items with IDs; a new one gets the next ID
    children: list[Node] = field(default_factory=list)
    rows: list[list[tuple[str, Any]]] = field(default_factory=list)  # grid: (path, value) per cell


def form(file_name: str, text: str) -> Node:
    """The form of one content file, generated from the content model's types and the file's current values."""
    attr, tp = root_type(file_name)
    return _node(tp, load_text(text), attr, attr)


def _node(tp: Any, value: Any, path: str, key: str) -> Node:
    tp = _unwrap(tp)
    if dataclasses.is_dataclass(tp):
        hints = typing.get_type_hints(tp)
        node = Node("group", path, key, ident=str(value.get("id", "")) if isinstance(value, dict) else "")
        for name, sub in (value or {}).items():
            if name in hints and name != "id":
                node.children.append(_node(hints[name], sub, f"{path}.{name}", name))
        return node
    if typing.get_origin(tp) is tuple:
        item = _unwrap(typing.get_args(tp)[0])
        if typing.get_origin(item) is tuple:  # a table of numbers: premiums per band and limit
            rows = [[(f"{path}[{r}][{c}]", cell) for c, cell in enumerate(row)] for r, row in enumerate(value or [])]
            return Node("grid", path, key, rows=rows)
        node = Node("list", path, key, can_add=dataclasses.is_dataclass(item) and "id" in typing.get_type_hints(item))
        node.children = [_node(item, v, f"{path}[{i}]", "") for i, v in enumerate(value or [])]
        return node
    node = Node("field", path, key, value=value)
    if tp is int:
        node.input = "number"
    elif tp is bool:
        node.input = "checkbox"
    elif tp is dt.date:
        node.input, node.value = "date", value.isoformat() if isinstance(value, dt.date) else value
    elif typing.get_origin(tp) is Literal:
        node.input, node.choices = "select", tuple(str(a) for a in typing.get_args(tp))
    else:
        kind, node.limit = text_limit(key or path.rpartition(".")[2].partition("[")[0])
        node.input = "textarea" if kind != "a title or name" else "text"
    return node


# --- applying changes -----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FieldProblem:
    """What is wrong with one field's input: a msgid of the catalog and its data (the portal words it in Japanese)."""

    path: str
    msgid: str
    params: dict[str, object] = field(default_factory=dict)


def typed(tp: Any, raw: str, path: str, key: str) -> tuple[Any, FieldProblem | None]:
    """A form's text as the model's type, or the problem with it (checked before anything is written)."""
    tp = _unwrap(tp)
    if _CONTROL.search(raw):
        return None, FieldProblem(path, N_("holds a control character; allowed: printable text"))
    if tp is int:
        text = raw.strip().replace(",", "").replace("，", "")
        if not re.fullmatch(r"-?[0-9]{1,16}", text) or abs(int(text)) > MAX_INT:
            return None, FieldProblem(path, N_("{value!r} is not a whole number of yen; allowed: digits such as 55000"), {"value": raw[:40]})
        return int(text), None
    if tp is dt.date:
        try:
            return dt.date.fromisoformat(raw.strip()), None
        except ValueError:
            return None, FieldProblem(path, N_("{value!r} is not a date; allowed: a date such as 2027-04-01"), {"value": raw[:40]})
    if tp is bool:
        return raw in ("on", "true", "1"), None
    if typing.get_origin(tp) is Literal:
        allowed = tuple(str(a) for a in typing.get_args(tp))
        if raw not in allowed:
            return None, FieldProblem(path, N_("{value!r} is not allowed; allowed: {allowed}"), {"value": raw[:40], "allowed": "、".join(allowed)})
        return raw, None
    text = raw.replace("\r\n", "\n").strip()
    kind, limit = text_limit(key)
    if len(text) > limit:
        return None, FieldProblem(path, N_("{count:,} characters is too long; allowed: at most {limit:,} characters"),
                                  {"count": len(text), "limit": limit})
    if not text and key in ("text", "title", "name"):
        return None, FieldProblem(path, N_("is empty; this wording is required"))
    return text, None


def _same_style(old: Any, new: Any) -> Any:
    """``new`` in the quoting style ``old`` was written in (a "quoted" string stays quoted)."""
    if isinstance(old, ScalarString) and isinstance(new, str):
        return type(old)(new)
    return new


def apply(file_name: str, text: str, changes: dict[str, str]) -> tuple[str, dict[str, Any], list[FieldProblem]]:
    """Apply ``changes`` (field path -> the form's text) to a content file; returns the new text, the changed values by
    path and the problems of inputs that could not be taken. Fields whose value is unchanged are not touched."""
    attr, tp = root_type(file_name)
    doc = load_text(text)
    changed: dict[str, Any] = {}
    problems: list[FieldProblem] = []
    for path, raw in changes.items():
        try:
            head, parts = split_path(path)
            if head != attr or not parts:
                raise KeyError(path)
            ftp = type_at(tp, parts)
            parent = get(doc, parts[:-1])
            old = parent[parts[-1]]
        except (KeyError, IndexError, ValueError, TypeError):
            problems.append(FieldProblem(path, N_("is not a field of this file")))
            continue
        value, problem = typed(ftp, raw, path, str(next((p for p in reversed(parts) if isinstance(p, str)), "")))
        if problem is not None:
            problems.append(problem)
            continue
        if value == old:
            continue
        parent[parts[-1]] = _same_style(old, value)
        changed[path] = value
    return (dump_text(doc) if changed else text), changed, problems


def owner_id(text: str, path: str) -> str:
    r"""The ID of the clause or item a field belongs to (its nearest parent with an ``id``), or "".

    >>> owner_id("groups:\n  - id: EXC-LIA\n    items:\n      - id: EXC-LIA-01\n        text: a\n", "exclusions.groups[0].items[0].text")
    'EXC-LIA-01'
    """
    node: Any = load_text(text)
    found = str(node.get("id", "")) if isinstance(node, dict) else ""
    try:
        for part in split_path(path)[1]:
            node = node[part]
            if isinstance(node, dict) and "id" in node:
                found = str(node["id"])
    except (KeyError, IndexError, TypeError, ValueError):
        pass
    return found


def next_id(ids: list[str], retired: AbstractSet[str] = frozenset()) -> str:
    """The next never-used ID after a list's IDs: same prefix, the highest number + 1, same width.

    >>> next_id(["EXC-LIA-01", "EXC-LIA-16"])
    'EXC-LIA-17'
    >>> next_id(["RATE-NOTE-1", "RATE-NOTE-2"], {"RATE-NOTE-3"})
    'RATE-NOTE-4'
    """
    numbered = [(m.group(1), m.group(2)) for m in (_ID_NUMBER.match(i) for i in ids) if m]
    if not numbered:
        raise ValueError("the list's IDs end in no number")
    prefix, digits = numbered[-1]
    taken = {int(n) for p, n in numbered if p == prefix} | {int(m.group(2)) for m in (_ID_NUMBER.match(i) for i in retired) if m and m.group(1) == prefix}
    return f"{prefix}{max(taken) + 1:0{len(digits)}d}"


def add_item(file_name: str, text: str, list_path: str, retired: set[str]) -> tuple[str, str]:
    """Append a clause to the list at ``list_path`` with the next ID and its required wording empty (to be written);
    returns the new text and the new ID."""
    attr, tp = root_type(file_name)
    head, parts = split_path(list_path)
    item_tp = _unwrap(typing.get_args(type_at(tp, parts))[0]) if head == attr else None
    if item_tp is None or not dataclasses.is_dataclass(item_tp):
        raise KeyError(list_path)
    doc = load_text(text)
    items = get(doc, parts)
    ids = [str(i["id"]) for i in items if isinstance(i, dict) and "id" in i]
    new_id = next_id(ids, retired)
    item = CommentedMap()
    item["id"] = new_id
    for f in dataclasses.fields(item_tp):
        required = f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
        if required and f.name != "id":
            item[f.name] = CommentedSeq() if typing.get_origin(_unwrap(typing.get_type_hints(item_tp)[f.name])) is tuple else ""
    items.append(item)
    return dump_text(doc), new_id


def ids_in(text: str) -> set[str]:
    """Every ``id`` value in a content file's text (also of a version from history: no model check)."""
    return set(re.findall(r"^\s*(?:-\s+)?id:\s*[\"']?([A-Z][A-Z0-9-]*)", text, flags=re.M))
