"""Hostile templates are stopped within seconds, naming the template, without exhausting memory."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from docx import Document

from generator.documents.lint import lint_template
from generator.documents.render import render_docx
from generator.errors import TemplateError

NESTED_LOOPS = "{% for a in range(100000) %}{% for b in range(100000) %}{% endfor %}{% endfor %}"
HOSTILE = {
    "string-times-billion": ("{{ 'x' * 10**9 }}", "'x' * 1000000000 would be 1,000,000,000 characters"),
    "list-times-billion": ("{{ ([1] * 10**9)|length }}", "would be 1,000,000,000 items"),
    "billion-range": ("{% for i in range(10**9) %}{% endfor %}", "safe_range(): argument 1,000,000,000 is too large"),
    "big-range": ("{% for i in range(200000) %}{% endfor %}", "Range too big"),
    "center-billion": ("{{ 'x'|center(10**9) }}", "filter 'center': argument 1,000,000,000 is too large"),
    "ljust-method": ("{{ 'x'.ljust(10**9) }}", "argument 1,000,000,000 is too large"),
    "percent-width": ("{{ '%01000000000d' % 1 }}", "format width 1,000,000,000"),
    "format-width": ("{{ '{:>1000000000}'.format(1) }}", "format width 1,000,000,000"),
    "tower-power": ("{{ 10 ** (10 ** 10) }}", "too large a power"),  # Jinja reads 10 ** 10 ** 10 as (10 ** 10) ** 10
    "namespace-doubling": ("{% set ns = namespace(s='x') %}{% for i in range(64) %}{% set ns.s = ns.s ~ ns.s %}{% endfor %}{{ ns.s|length }}",
                           "namespace attribute 's'"),
    "output-flood": ("{% for i in range(100000) %}{% for j in range(1000) %}xxxxxxxxxx{% endfor %}{% endfor %}",
                     "the rendered text passed 5,000,000 characters"),
    "macro-doubling": ("{% macro m(s, n) %}{% if n %}{{ m(s ~ s, n - 1) }}{% else %}{{ s|length }}{% endif %}{% endmacro %}{{ m('x', 64) }}",
                       "Macro(): a 8,388,608-character argument; at most 5,000,000"),
    "replace-blowup": ("{{ ('x' * 1000)|replace('x', 'y' * 100000) }}", "would make 100,000,000 characters"),
}


def template(tmp_path: Path, text: str, name: str = "hostile.docx") -> Path:
    doc = Document()
    doc.add_paragraph(text)  # one run: docxtpl sees the tag whole
    doc.save(tmp_path / name)
    return tmp_path / name


@pytest.mark.parametrize("key", HOSTILE)
def test_size_bombs_are_refused_before_they_are_built(tmp_path, key):
    text, needle = HOSTILE[key]
    start = time.monotonic()
    with pytest.raises(TemplateError) as err:
        render_docx(template(tmp_path, text), {}, tmp_path / "out.docx")
    assert time.monotonic() - start < 10
    assert err.value.template.endswith("hostile.docx") and needle in str(err.value), str(err.value)
    assert not (tmp_path / "out.docx").exists()


def test_nested_loops_are_stopped_by_the_time_budget(tmp_path, monkeypatch):
    # 10**10 iterations never finish: the test waits for the budget only, so a short one proves as much as a long one
    monkeypatch.setenv("DOCGEN_TEMPLATE_TIMEOUT", "0.5")
    start = time.monotonic()
    with pytest.raises(TemplateError, match=r"hostile.docx: rendering stopped after 0.5s \(the time budget"):
        render_docx(template(tmp_path, NESTED_LOOPS), {}, tmp_path / "out.docx")
    assert 0.5 <= time.monotonic() - start < 5


def test_the_time_budget_holds_in_a_worker_thread_too(tmp_path, monkeypatch):
    # the portal renders off the main thread, where no signal alarm could reach
    monkeypatch.setenv("DOCGEN_TEMPLATE_TIMEOUT", "0.5")  # the loops never finish: only the budget is waited for
    path = template(tmp_path, NESTED_LOOPS)
    caught: list[BaseException] = []

    def run() -> None:
        try:
            render_docx(path, {}, tmp_path / "out.docx")
        except BaseException as exc:  # noqa: BLE001 - handed to the test thread
            caught.append(exc)

    worker = threading.Thread(target=run)
    worker.start()
    worker.join(10)
    assert not worker.is_alive() and len(caught) == 1 and isinstance(caught[0], TemplateError)


def test_a_template_that_finishes_in_time_is_unaffected(tmp_path, monkeypatch):
    monkeypatch.setenv("DOCGEN_TEMPLATE_TIMEOUT", "1")
    path = template(tmp_path, "{% for i in range(1000) %}{{ '円' * 3 }}{% endfor %}{{ '{:>8}'.format(7) }}")
    render_docx(path, {}, tmp_path / "out.docx")
    text = "".join(p.text for p in Document(str(tmp_path / "out.docx")).paragraphs)
    assert text == "円" * 3000 + "       7"
    time.sleep(1.5)  # past the budget: the watchdog of the finished render must not fire into this thread


def test_lint_of_absurdly_nested_tags_is_a_problem_not_a_crash(tmp_path):
    text = "{% if a %}" * 5000 + "x" + "{% endif %}" * 5000
    (problem,) = lint_template(template(tmp_path, text), {"a"})
    assert problem.startswith(str(tmp_path.name) + "/hostile.docx") or "hostile.docx" in problem
    assert "nested too deeply" in problem or "stopped after" in problem


def test_a_zip_bomb_template_is_refused_unopened(tmp_path):
    import zipfile

    path = tmp_path / "bomb.docx"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("word/document.xml", b"<" + b" " * 60_000_000 + b"/>")
    assert path.stat().st_size < 1_000_000
    (problem,) = lint_template(path, set())
    assert "bomb.docx: unpacks to 60,000,003 bytes; a template may have at most 50,000,000" in problem
    with pytest.raises(TemplateError, match="unpacks to 60,000,003 bytes"):
        render_docx(path, {}, tmp_path / "out.docx")


CHILD = """
import json, resource, sys
from pathlib import Path
from generator.documents.render import render_docx
from generator.errors import TemplateError
results = {}
for name in sys.argv[2:]:
    try:
        render_docx(Path(sys.argv[1]) / (name + ".docx"), {}, Path(sys.argv[1]) / "out.docx")
        results[name] = "rendered"
    except TemplateError as exc:
        results[name] = "refused"
results["peak_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps(results))
"""


def test_every_bomb_together_stays_within_modest_memory(tmp_path):
    for key, (text, _) in HOSTILE.items():
        template(tmp_path, text, f"{key}.docx")
    done = subprocess.run([sys.executable, "-c", CHILD, str(tmp_path), *HOSTILE], capture_output=True, text=True, timeout=120,
                          env={"DOCGEN_TEMPLATE_TIMEOUT": "3", "PATH": "/usr/bin:/bin"}, cwd=Path(__file__).resolve().parents[2])
    assert done.returncode == 0, done.stderr
    results = json.loads(done.stdout)
    assert {k: v for k, v in results.items() if k != "peak_mb"} == dict.fromkeys(HOSTILE, "refused")
    # a bomb may grow up to the budget (tens of MB, copied a few times by Jinja) before it is refused; any one built would need gigabytes
    assert results["peak_mb"] < 640


def test_one_thread_keeps_every_time_budget_and_a_sooner_one_is_not_kept_waiting():
    from generator.documents.budget import OverTime, time_budget

    before = set(threading.enumerate())
    watchers: set[threading.Thread] = set()  # the thread objects themselves: no id is reused while they are held
    for _ in range(200):  # budgets that end in time fire nothing later
        with time_budget(60):
            watchers.update(set(threading.enumerate()) - before)
    assert len(watchers) <= 1, watchers  # one thread watches them all (a threading.Timer each started 200)
    threads = threading.active_count()
    start = time.monotonic()
    with pytest.raises(OverTime), time_budget(60), time_budget(0.3):  # the watching thread waits for the minute: told of the sooner one
        while True:
            pass
    assert 0.3 <= time.monotonic() - start < 5
    assert threading.active_count() == threads
