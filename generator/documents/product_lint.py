"""Every template of a product linted with its real context, and rendered once with it; a clean verdict is cached."""

from __future__ import annotations

import contextlib
import hashlib
import json
import tempfile
from pathlib import Path
from typing import Any

from generator import code_stamp
from generator.content.load import display_path
from generator.content.model import Product
from generator.content.request import ClientRequest
from generator.documents.context import brochure_context
from generator.documents.lint import lint_template
from generator.documents.proposal import plan_pack
from generator.documents.registry import BROCHURE, PERSONALISED, WORDING
from generator.documents.render import render_docx, write_atomic
from generator.documents.wording import wording_context
from generator.errors import DocgenError, Problem, TemplateError
from generator.site import Site


def template_contexts(product: Product, site: Site) -> dict[Path, dict[str, Any]]:
    """Every template with a real context for this product (a made-up client for the pack parts)."""
    rates = product.rates
    sample = ClientRequest(client="見本株式会社", contact="見本", industry=rates.classes[0].industries[0], revenue=rates.bands[0].up_to,
                           limit=rates.limits[0], agent_name="見本代理店", agent_contact="担当：見本", date=product.meta.effective_date)
    plan = plan_pack(product, sample, product.meta.effective_date, site.templates)
    return {BROCHURE.template_path(site.templates): brochure_context(product), WORDING.template_path(site.templates): wording_context(product)} | {
        d.template_path(site.templates): plan.contexts[d.id] for d in PERSONALISED
    }


def lint_templates(product: Product, site: Site) -> list[Problem]:
    """Template problems: unknown variables and filters, split tags, and anything a real render trips over.

    A template's verdict is a function of its bytes and its context: it is kept in the site cache, so each load of
    unchanged content (every CLI command) does not lint and render all five templates again.
    """
    problems: list[Problem] = []
    for template, context in template_contexts(product, site).items():
        shown = display_path(template)
        try:
            data = template.read_bytes()
        except OSError:
            data = b""  # lint_template reports the missing file
        stamp = [code_stamp(), hashlib.sha256(data).hexdigest(), context]
        key = hashlib.sha256(json.dumps(stamp, sort_keys=True, ensure_ascii=False, default=repr).encode()).hexdigest()
        messages: list[str] = []
        if not _linted_clean(site, key):
            messages = lint_template(template, set(context))
            if not messages:
                try:  # attribute typos ({{ quote.premum }}) only show when rendering with the real context
                    with tempfile.TemporaryDirectory(prefix="docgen-lint-") as tmp:
                        render_docx(template, context, Path(tmp) / template.name)
                except TemplateError as exc:
                    messages = [str(exc)]
            if data and not messages:  # only a clean verdict is kept: a problem is looked at again, with fresh words
                _keep_lint(site, key)
        problems += [Problem(shown, 0, "", m.removeprefix(f"{shown}: ")) for m in messages]
    return problems


def _linted_clean(site: Site, key: str) -> bool:
    """True when this template and context linted clean before on this site."""
    return (site.cache / "lint" / key[:32]).is_file()


def _keep_lint(site: Site, key: str) -> None:
    with contextlib.suppress(DocgenError):  # a read-only cache costs speed only
        write_atomic(site.cache / "lint" / key[:32], b"clean\n")
