"""Load stage: read content/<product>/*.yaml into typed, located model objects."""

from __future__ import annotations

import dataclasses
import datetime as dt
import difflib
import functools
import hashlib
import types
import typing
from pathlib import Path
from typing import Any, Literal

import yaml

from generator.content.model import CONTENT_FILES, Product, Source, text_limit
from generator.errors import ContentError, Problem


def did_you_mean(word: str, choices: typing.Iterable[str], cutoff: float = 0.6) -> str:
    """Closest match of ``word`` among ``choices``, or ``""``.

    >>> did_you_mean("premiun", ["premiums", "limits"])
    'premiums'
    >>> did_you_mean("zzz", ["premiums"])
    ''
    """
    found = difflib.get_close_matches(word, list(choices), n=1, cutoff=cutoff)
    return found[0] if found else ""


def display_path(path: Path) -> str:
    """``path`` relative to the current folder when inside it (what a terminal user can click), else absolute."""
    try:
        return str(Path(path).resolve().relative_to(Path.cwd().resolve()))
    except (ValueError, OSError):
        return str(path)


class _Builder:
    """Builds dataclasses from YAML nodes, collecting every problem instead of stopping."""

    def __init__(self, file: str):
        self.file = file
        self.problems: list[Problem] = []
        self.sources: dict[str, Source] = {}
        # one per file read: a value that fails to construct (2026-02-30) leaves its node marked in the constructor,
        # and the node trees are shared between loads of the same text (_compose)
        self.constructor = yaml.constructor.SafeConstructor()

    def fail(self, node: yaml.Node, path: str, message: str) -> None:
        self.problems.append(Problem(self.file, node.start_mark.line + 1, path, message))

    def build(self, tp: Any, node: yaml.Node, path: str) -> Any:
        self.sources[path] = Source(self.file, node.start_mark.line + 1)
        origin = typing.get_origin(tp)
        if dataclasses.is_dataclass(tp):
            return self._dataclass(tp, node, path)
        if origin is tuple:
            return self._sequence(typing.get_args(tp)[0], node, path)
        if origin in (typing.Union, types.UnionType):
            return self.build(next(a for a in typing.get_args(tp) if a is not type(None)), node, path)
        if origin is Literal:
            value = self._scalar(str, node, path)
            allowed = typing.get_args(tp)
            if value is not None and value not in allowed:
                hint = did_you_mean(str(value), allowed)
                more = f" (did you mean {hint!r}?)" if hint else ""
                self.fail(node, path, f"{value!r} is not allowed{more}; allowed: {', '.join(allowed)}")
            return value
        return self._scalar(tp, node, path)

    def _scalar(self, tp: type, node: yaml.Node, path: str) -> Any:
        if not isinstance(node, yaml.ScalarNode):
            self.fail(node, path, f"expected a {tp.__name__}, got a {_kind(node)}")
            return None
        try:
            value = self.constructor.construct_object(node, deep=True)
        except yaml.YAMLError as exc:
            self.fail(node, path, f"cannot read value: {exc}")
            return None
        except (ValueError, OverflowError) as exc:  # 2026-02-30 matches YAML's date pattern but is no date
            self.fail(node, path, f"{node.value!r} is not a real date or number ({exc}); allowed: a date like 2026-12-01")
            return None
        if tp is int and (isinstance(value, bool) or not isinstance(value, int)):
            hint = " (money is int yen, e.g. 55000)" if isinstance(value, (float, str)) else ""
            self.fail(node, path, f"expected an integer, got {value!r}{hint}")
            return None
        if tp is dt.date and not (isinstance(value, dt.date) and not isinstance(value, dt.datetime)):
            self.fail(node, path, f"expected a date like 2026-12-01, got {value!r}")
            return None
        if tp is str and not isinstance(value, str):
            # YAML turned the text into something else (NO → False, 0123 → 83): make it explicit.
            self.fail(node, path, f"expected text, got {type(value).__name__} {value!r}; quote it")
            return None
        if tp is str:
            kind, limit = text_limit(path.rpartition(".")[2].partition("[")[0])
            if len(value) > limit:  # checked here, before any cross-check or template reads the text
                self.fail(node, path, f"{len(value):,} characters is too long for {kind}; allowed: at most {limit:,} characters")
                return None
        if tp is bool and not isinstance(value, bool):
            self.fail(node, path, f"expected true or false, got {value!r}")
            return None
        return value

    def _sequence(self, item_tp: Any, node: yaml.Node, path: str) -> tuple[Any, ...]:
        if not isinstance(node, yaml.SequenceNode):
            self.fail(node, path, f"expected a list, got a {_kind(node)}")
            return ()
        return tuple(self.build(item_tp, child, f"{path}[{i}]") for i, child in enumerate(node.value))

    def _dataclass(self, tp: Any, node: yaml.Node, path: str) -> Any:
        if not isinstance(node, yaml.MappingNode):
            self.fail(node, path, f"expected a mapping of {tp.__name__} fields, got a {_kind(node)}")
            return None
        hints, fields = _fields_of(tp)
        values: dict[str, Any] = {}
        for key_node, value_node in node.value:
            key = key_node.value
            sub = f"{path}.{key}" if path else key
            if key not in fields:
                hint = did_you_mean(key, fields) if len(key) <= 100 else ""  # difflib on a huge key costs seconds
                more = f" (did you mean {hint!r}?)" if hint else ""
                self.fail(key_node, sub, f"unknown key{more}; allowed: {', '.join(fields)}")
            elif key in values:
                self.fail(key_node, sub, "duplicate key")
            else:
                values[key] = self.build(hints[key], value_node, sub)
        for name, f in fields.items():
            required = f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
            if name not in values and required:
                where = f"{path}.{name}" if path else name
                self.fail(node, where, f"missing required key ({tp.__name__}.{name})")
        if self.problems:  # the caller raises anyway; don't construct from half-built parts
            return _Partial(tp, values)
        return tp(**values)


@dataclasses.dataclass
class _Partial:
    """Stand-in for an object that could not be built; only its problems matter."""

    tp: Any
    values: dict[str, Any]


@functools.cache
def _fields_of(tp: type) -> tuple[dict[str, Any], dict[str, dataclasses.Field[Any]]]:
    """A content dataclass's resolved type hints and the fields a file may set (get_type_hints costs a third of a load)."""
    hints = typing.get_type_hints(tp)
    fields = {f.name: f for f in dataclasses.fields(tp) if f.init and f.name in hints}
    fields.pop("sources", None), fields.pop("file_hashes", None)
    return hints, fields


def _kind(node: yaml.Node) -> str:
    return {yaml.ScalarNode: "single value", yaml.SequenceNode: "list", yaml.MappingNode: "mapping"}[type(node)]


# Product fields with a default: their file may be absent (older content versions in git history lack it).
_OPTIONAL = {f.name for f in dataclasses.fields(Product) if f.default is None}


MAX_FILE_BYTES = 16 * 2**20  # a content file is a few KB; beyond this it is refused unparsed (under 16 MB a field too long is named)
MAX_FLOW_DEPTH = 200  # [ and { nested in one another; content nests a few levels, PyYAML's composer recurses ~3 frames a level


class _Loader(yaml.SafeLoader):
    """SafeLoader refusing flow collections nested deeper than MAX_FLOW_DEPTH: PyYAML's scanner is quadratic in that
    depth (a file of 2,000 ``[`` took 1.5 s to reach the RecursionError, it now takes milliseconds)."""

    def fetch_flow_collection_start(self, TokenClass: type[yaml.Token]) -> None:  # noqa: N803 (PyYAML's name)
        if self.flow_level >= MAX_FLOW_DEPTH:
            raise RecursionError(f"flow collections nested more than {MAX_FLOW_DEPTH} levels")
        super().fetch_flow_collection_start(TokenClass)


@functools.lru_cache(maxsize=64)
def _compose(text: str) -> yaml.Node | None:
    """The YAML node tree of ``text``, parsed once per process for the same text (PyYAML's pure-Python parser is most of
    a product's load time; the portal reloads, and a test run loads the same files a hundred times). The builder only
    reads nodes, and the scalars built from them are immutable. A text that fails to parse raises every time."""
    return yaml.compose(text, Loader=_Loader)


def product_dirs(root: Path) -> list[Path]:
    """Every product folder under content/ (a folder holding product.yaml)."""
    return sorted(p.parent for p in root.glob("*/product.yaml"))


def load_product(folder: Path, *, key: str | None = None, revision: str = "") -> Product:
    """Read and type-check every content file of one product (or one revision's folder, ``key`` naming its product);
    raise ContentError listing all problems."""
    folder = Path(folder)
    if not folder.is_dir():
        known = [p.name for p in product_dirs(folder.parent)] if folder.parent.is_dir() else []
        hint = did_you_mean(folder.name, known)
        msg = f"no such product folder; known products: {', '.join(known) or 'none'}"
        raise ContentError([Problem(display_path(folder), 0, "", msg + (f" (did you mean {hint!r}?)" if hint else ""))])
    problems: list[Problem] = []
    parts: dict[str, Any] = {}
    sources: dict[str, Source] = {}
    hashes: dict[str, str] = {}
    hints = typing.get_type_hints(Product)
    for stray in sorted(folder.glob("*.yaml")):
        if stray.name not in CONTENT_FILES:
            hint = did_you_mean(stray.name, CONTENT_FILES)
            more = f" (did you mean {hint!r}?)" if hint else ""
            problems.append(Problem(display_path(stray), 0, "", f"unknown content file{more}; expected: {', '.join(CONTENT_FILES)}"))
    for name, attr in CONTENT_FILES.items():
        path = folder / name
        shown = display_path(path)
        if path.is_dir():
            problems.append(Problem(shown, 0, "", f"is a folder; expected a YAML file (holds {attr})"))
            continue
        if not path.is_file():
            if attr not in _OPTIONAL:
                problems.append(Problem(shown, 0, "", f"missing content file (holds {attr})"))
            continue
        try:
            raw = path.read_bytes()
        except OSError as exc:  # unreadable (permissions), or vanished since
            problems.append(Problem(shown, 0, "", f"cannot read: {(exc.strerror or str(exc)).lower()}"))
            continue
        if len(raw) > MAX_FILE_BYTES:  # refused before parsing: PyYAML reads about 7 MB a second
            problems.append(Problem(shown, 0, "", f"is {len(raw) / 2**20:.1f} MB; allowed: at most {MAX_FILE_BYTES // 2**20} MB "
                                                  "(content files are a few KB)"))
            continue
        hashes[name] = hashlib.sha256(raw).hexdigest()
        try:
            node = _compose(raw.decode("utf-8"))
        except UnicodeDecodeError as exc:
            problems.append(Problem(shown, 0, "", f"not UTF-8 text: {exc}"))
            continue
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            problems.append(Problem(shown, mark.line + 1 if mark else 0, "", f"invalid YAML: {getattr(exc, 'problem', exc)}"))
            continue
        except RecursionError:  # PyYAML composes nested collections recursively; _Loader stops deep [ and { early
            problems.append(Problem(shown, 0, "", "nested too deeply to be content (hundreds of levels of lists or mappings)"))
            continue
        if node is None:
            problems.append(Problem(shown, 1, "", "file is empty"))
            continue
        builder = _Builder(shown)
        parts[attr] = builder.build(hints[attr], node, attr)
        problems += builder.problems
        sources.update(builder.sources)
    if problems:
        raise ContentError(problems)
    return Product(key=key or folder.name, sources=sources, file_hashes=hashes, revision=revision, **parts)
