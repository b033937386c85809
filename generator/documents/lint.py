"""Lint stage: what a .docx template asks of its context (variables, filters, tests), Jinja syntax and tags split across Word runs."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import jinja2
from docx import Document
from docx.opc.constants import RELATIONSHIP_TYPE as RT
from docx.oxml.ns import qn
from docxtpl import DocxTemplate
from jinja2 import meta, nodes
from lxml import etree

from generator.content.load import display_path
from generator.documents.budget import OverTime, package_problem, seconds, time_budget
from generator.documents.render import make_env

_TAG = re.compile(r"\{\{.*?\}\}|\{%.*?%\}|\{#.*?#\}", re.DOTALL)
_TAG_EDGE = re.compile(r"\{[{%#]|[}%#]\}")


def _template_sources(template: Path) -> list[tuple[str, str, etree._Element]]:
    """(part name, docxtpl-patched Jinja source, raw XML) for the body, headers, footers and footnotes."""
    tpl = DocxTemplate(str(template))
    doc = Document(str(template))
    found = [("word/document.xml", doc.element.body)]
    for rel in doc.part.rels.values():
        if rel.is_external:
            continue
        if rel.reltype in (RT.HEADER, RT.FOOTER, RT.FOOTNOTES):
            found.append((str(rel.target_part.partname).lstrip("/"), etree.fromstring(rel.target_part.blob)))
    return [(name, tpl.patch_xml(tpl.xml_to_string(el)), el) for name, el in found]


def lint_template(template: Path, provided: set[str]) -> list[str]:
    """Problems with ``template`` for a context providing ``provided``: unknown variables, filters, tests,
    Jinja syntax errors and tags split across Word runs. Each message names the template.

    Linting has the same time budget as rendering: a hostile template is reported, not waited for.
    """
    template = Path(template)
    shown = display_path(template)
    if too_big := package_problem(template):
        return [f"{shown}: {too_big}"]
    try:
        with time_budget():
            return _lint(template, shown, provided)
    except OverTime:
        return [f"{shown}: linting stopped after {seconds():g}s (the time budget): the template is too large or too complex"]
    except RecursionError:
        return [f"{shown}: tags nested too deeply to lint (hundreds of levels)"]


def _lint(template: Path, shown: str, provided: set[str]) -> list[str]:
    try:
        sources = _template_sources(template)
    except Exception as exc:  # python-docx raises many types on a file that is not a .docx
        return [f"{shown}: cannot open as .docx: {exc}"]
    env = make_env()
    problems: list[str] = []
    for part, source, element in sources:
        problems += [f"{shown}: {part}: {msg}" for msg in _split_tags(element)]
        try:
            ast = env.parse(source)
        except jinja2.exceptions.TemplateSyntaxError as exc:
            line = source.splitlines()[exc.lineno - 1] if exc.lineno and exc.lineno <= len(source.splitlines()) else ""
            near = re.sub(r"<[^>]+>", "", line).strip()[:120]
            problems.append(f"{shown}: {part}: Jinja syntax error: {exc.message}" + (f" (near: {near})" if near else ""))
            continue
        unknown = []
        for node in ast.find_all((nodes.Filter, nodes.Test)):
            kind, known = ("filter", env.filters) if isinstance(node, nodes.Filter) else ("test", env.tests)
            if node.name not in known:
                unknown.append(f"{shown}: {part}: unknown {kind} {node.name!r}")
        problems += unknown
        try:
            # Both run Jinja's code generator, which stops at the first unknown filter or test.
            undeclared = meta.find_undeclared_variables(ast)
            env.compile(source)
        except jinja2.exceptions.TemplateError as exc:
            if not unknown:
                problems.append(f"{shown}: {part}: {type(exc).__name__}: {exc}")
            undeclared = {n.name for n in ast.find_all(nodes.Name) if n.ctx == "load"} - _assigned(ast)
        for name in sorted(undeclared - provided):
            problems.append(f"{shown}: {part}: unknown variable {name!r} (the context does not provide it)")
    return sorted(set(problems), key=problems.index)


def _assigned(ast: nodes.Template) -> set[str]:
    return {n.name for n in ast.find_all(nodes.Name) if n.ctx in ("store", "param")}


def _split_tags(element: etree._Element) -> Iterator[str]:
    """Jinja tags whose text spans several runs: Word's spell-check and edits split runs silently."""
    for p in element.iter(qn("w:p")):
        runs = [("".join(t.text or "" for t in r.iter(qn("w:t")))) for r in p.iter(qn("w:r"))]
        text = "".join(runs)
        if not _TAG_EDGE.search(text):
            continue
        bounds, pos = [], 0
        for run in runs:
            bounds.append((pos, pos + len(run)))
            pos += len(run)
        for m in _TAG.finditer(text):
            if not any(a <= m.start() and m.end() <= b for a, b in bounds):
                yield f"tag {m.group()!r} is split across Word runs; retype it in one go or clear its formatting"
