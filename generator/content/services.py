"""The services and exclusions sections: emergency_support.yaml (with its flow diagram), exclusions.yaml, risk_services.yaml."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from generator.content.text import Text, Topic


@dataclass(frozen=True)
class Partner:
    id: str
    name: str


@dataclass(frozen=True)
class SupportFunction:
    """One support function; ``short_name`` is its spelling in the flow diagram (half-width where the seed prints so)."""

    id: str
    name: str
    services: tuple[str, ...]
    partners: tuple[str, ...]
    required: bool = False
    short_name: str = ""


@dataclass(frozen=True)
class FlowStep:
    """One box of the flow diagram: a measure, its points, and the IDs of the support functions serving it."""

    id: str
    title: str
    points: tuple[str, ...] = ()
    functions: tuple[str, ...] = ()


@dataclass(frozen=True)
class FlowStage:
    """One row of the flow: its steps run side by side, an arrow leads on to the next stage."""

    id: str
    steps: tuple[FlowStep, ...]


@dataclass(frozen=True)
class FlowPhase:
    """平時 or 有事: a shaded band holding its stages in order; ``label`` heads the band's first row."""

    id: str
    title: str
    stages: tuple[FlowStage, ...]
    label: str = ""


@dataclass(frozen=True)
class FlowDiagram:
    """緊急時サポート総合サービスの仕組み: a title, a caption, the phases in order, the notes printed beneath it."""

    id: str
    title: str
    caption: str
    phases: tuple[FlowPhase, ...]
    notes: tuple[Text, ...] = ()


@dataclass(frozen=True)
class EmergencySupport:
    id: str
    number: int
    title: str
    summary: tuple[Text, ...]
    condition: str
    functions: tuple[SupportFunction, ...]
    partners: tuple[Partner, ...]
    diagram: FlowDiagram
    features: tuple[Topic, ...]
    notes: tuple[Text, ...] = ()


@dataclass(frozen=True)
class SubItem:
    label: str
    text: str


@dataclass(frozen=True)
class Exclusion:
    id: str
    text: str
    note: str = ""
    subitems: tuple[SubItem, ...] = ()


@dataclass(frozen=True)
class ExclusionGroup:
    id: str
    title: str
    items: tuple[Exclusion, ...]


@dataclass(frozen=True)
class Exclusions:
    id: str
    number: int
    title: str
    intro: str
    groups: tuple[ExclusionGroup, ...]


@dataclass(frozen=True)
class RiskService:
    id: str
    name: str
    description: str
    fee: Literal["free", "paid"]
    menu: tuple[str, ...] = ()


@dataclass(frozen=True)
class RiskServices:
    id: str
    number: int
    title: str
    provider: str
    intro: str
    services: tuple[RiskService, ...]
