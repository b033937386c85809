"""Validation of the emergency-support flow diagram and of live page references (no LibreOffice)."""

from __future__ import annotations

from dataclasses import replace

import pytest

from generator.content.model import Product
from generator.content.validate import check_product
from generator.documents.context import brochure_context
from generator.documents.diagram import spans


def _with_step(product: Product, phase: int, stage: int, **changes) -> Product:
    ess = product.emergency_support
    ph = ess.diagram.phases[phase]
    st = ph.stages[stage]
    new_stage = replace(st, steps=(replace(st.steps[0], **changes), *st.steps[1:]))
    new_phase = replace(ph, stages=tuple(new_stage if i == stage else s for i, s in enumerate(ph.stages)))
    diagram = replace(ess.diagram, phases=tuple(new_phase if i == phase else p for i, p in enumerate(ess.diagram.phases)))
    return replace(product, emergency_support=replace(ess, diagram=diagram))


def _with_feature_text(product: Product, text: str) -> Product:
    feats = product.features
    third = feats.features[2]
    new = replace(third, paragraphs=(text, *third.paragraphs[1:]))
    return replace(product, features=replace(feats, features=(*feats.features[:2], new, *feats.features[3:])))


def messages(product: Product) -> list[str]:
    return [str(p) for p in check_product(product)]


def test_shipped_content_is_clean(product: Product) -> None:
    assert messages(product) == []


def test_step_naming_an_unknown_function(product: Product) -> None:
    bad = _with_step(product, 1, 2, functions=("ESS-F-NOPE",))
    found = [m for m in messages(bad) if "ESS-F-NOPE" in m]
    assert len(found) == 1
    assert "emergency_support.yaml:" in found[0] and "emergency_support.diagram.phases[1].stages[2].steps[0].functions[0]" in found[0]
    assert "known: ESS-F-CC, ESS-F-COORD" in found[0]


def test_stage_too_wide_for_the_grid(product: Product) -> None:
    ess = product.emergency_support
    last = ess.diagram.phases[1].stages[-1]
    wide = replace(last, steps=(*last.steps, replace(last.steps[0], id="ESS-FLOW-99")))  # 5 side by side
    phase = replace(ess.diagram.phases[1], stages=(*ess.diagram.phases[1].stages[:-1], wide))
    bad = replace(product, emergency_support=replace(ess, diagram=replace(ess.diagram, phases=(ess.diagram.phases[0], phase))))
    found = [m for m in messages(bad) if "side by side" in m]
    assert found and "has 5 steps side by side; allowed: 1, 2, 3, 4, 6" in found[0]


@pytest.mark.parametrize("steps", [1, 2, 3, 4, 6])
def test_every_allowed_width_fills_the_grid(steps: int) -> None:
    assert sum(spans(steps)) == 12
    assert len(spans(steps)) == (3 if steps == 1 else steps)


def test_page_reference_to_an_unknown_section(product: Product) -> None:
    bad = _with_feature_text(product, "付帯されます。（P{page:NOPE}）")
    found = [m for m in messages(bad) if "NOPE" in m]
    assert len(found) == 1
    assert "features.yaml:" in found[0] and "features.features[2].paragraphs[0]" in found[0] and "allowed: BG-1, BG-2, COV, ESS" in found[0]


def test_malformed_page_reference(product: Product) -> None:
    found = [m for m in messages(_with_feature_text(product, "付帯されます。（P{page:ess}）")) if "page reference" in m]
    assert found and "malformed page reference" in found[0]


def test_page_reference_outside_feature_paragraphs(product: Product) -> None:
    ess = product.emergency_support
    bad = replace(product, emergency_support=replace(ess, condition="（詳しくはP{page:ESS}）"))
    found = [m for m in messages(bad) if "page reference" in m]
    assert found and "emergency_support.condition" in found[0] and "only stand in features.yaml paragraphs" in found[0]


def test_context_turns_a_reference_into_a_field_to_the_section_bookmark(product: Product) -> None:
    ctx = brochure_context(product)
    paragraph = ctx["features"]["entries"][2]["paragraphs"][0]
    refs = [seg for seg in paragraph if seg["ref"]]
    assert refs == [{"text": "?", "ref": ctx["emergency"]["bookmark"]}]
    assert "".join(seg["text"] for seg in paragraph if not seg["ref"]).endswith("が付帯されます。（P）")
    bookmarks = [part["bookmark"] for part in (*ctx["background"], ctx["examples"], ctx["features"], ctx["coverage"], ctx["emergency"],
                                               ctx["exclusions"], ctx["risk"])]
    assert len(set(bookmarks)) == 8 and all(b.replace("_", "").isalnum() for b in bookmarks)
