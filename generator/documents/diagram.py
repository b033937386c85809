"""Flow diagram context: the emergency-support flow (phases → stages → steps → functions) as rows of a table grid.

The brochure lays the diagram out as one Word table per phase: a shaded band down the left, then the rows
below on a grid of ``GRID`` columns. Side-by-side steps share the grid evenly; a stage of one step is a box
in the middle with blank cells either side; an arrow row leads from one stage to the next; under a stage
whose steps are served by support functions, a row names those functions under each step.
"""

from __future__ import annotations

from typing import Any

from generator.content.services import EmergencySupport, FlowPhase, FlowStage, SupportFunction

GRID = 12  # columns right of the band: 1, 2, 3, 4 or 6 steps side by side share it evenly
LONE = 8  # columns a stage's only step spans, centred


def spans(steps: int) -> list[int]:
    """Grid columns per cell of a stage with ``steps`` side-by-side steps, spacers included.

    >>> spans(1), spans(3), spans(4)
    ([2, 8, 2], [4, 4, 4], [3, 3, 3, 3])
    """
    if steps == 1:
        side = (GRID - LONE) // 2
        return [side, LONE, side]
    return [GRID // steps] * steps


def function_names(functions: tuple[SupportFunction, ...]) -> dict[str, str]:
    """Function ID → the name the diagram prints (its short name where content gives one)."""
    return {f.id: f.short_name or f.name for f in functions}


def stage_rows(stage: FlowStage, names: dict[str, str]) -> list[dict[str, Any]]:
    """The steps row of one stage, and its functions row when any of its steps is served by a function."""
    widths = spans(len(stage.steps))
    lone = len(stage.steps) == 1
    boxes = [{"id": s.id, "title": s.title, "points": list(s.points), "names": [names[f] for f in s.functions]} for s in stage.steps]
    blank = {"id": "", "title": "", "points": [], "names": []}
    cells = [blank, boxes[0], blank] if lone else boxes
    rows = [{"kind": "steps", "id": stage.id, "cells": [c | {"span": w, "box": bool(c["id"])} for c, w in zip(cells, widths, strict=True)]}]
    if any(box["names"] for box in boxes):
        rows.append({"kind": "functions", "id": stage.id, "cells": [{"names": c["names"], "span": w} for c, w in zip(cells, widths, strict=True)]})
    return rows


def phase_context(phase: FlowPhase, names: dict[str, str]) -> dict[str, Any]:
    """One phase: its band title and its rows in reading order (label, then stages with arrows between)."""
    rows: list[dict[str, Any]] = [{"kind": "label", "id": phase.id, "text": phase.label, "cells": []}] if phase.label else []
    for i, stage in enumerate(phase.stages):
        if i:
            rows.append({"kind": "arrow", "id": stage.id, "text": "↓", "cells": []})
        rows += stage_rows(stage, names)
    return {"id": phase.id, "title": phase.title, "rows": rows}


def diagram_context(ess: EmergencySupport) -> dict[str, Any]:
    """What the brochure's diagram reads: title, caption, the phases' rows and the notes beneath."""
    names = function_names(ess.functions)
    d = ess.diagram
    return {"id": d.id, "title": d.title, "caption": d.caption, "phases": [phase_context(p, names) for p in d.phases], "notes": [t.text for t in d.notes]}
