"""The domain output: an explainable interpretation."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum
from typing import Any, NamedTuple


class Status(StrEnum):
    """Outcome of one criterion; not_assessable is never reported as normal."""

    MET = "met"
    NOT_MET = "not_met"
    NOT_ASSESSABLE = "not_assessable"


class Code(StrEnum):
    """IMWG 2014 classification codes (api-contract)."""

    NO_MONOCLONAL_PROTEIN = "NO_MONOCLONAL_PROTEIN"
    MGUS_NON_IGM = "MGUS_NON_IGM"
    MGUS_IGM = "MGUS_IGM"
    MGUS_LIGHT_CHAIN = "MGUS_LIGHT_CHAIN"
    SMOLDERING_MYELOMA = "SMOLDERING_MYELOMA"
    SMOLDERING_MYELOMA_LIGHT_CHAIN = "SMOLDERING_MYELOMA_LIGHT_CHAIN"
    MULTIPLE_MYELOMA = "MULTIPLE_MYELOMA"
    WALDENSTROM_RANGE = "WALDENSTROM_RANGE"
    SOLITARY_PLASMACYTOMA = "SOLITARY_PLASMACYTOMA"
    INDETERMINATE = "INDETERMINATE"


MGUS_CODES = frozenset({Code.MGUS_NON_IGM, Code.MGUS_IGM, Code.MGUS_LIGHT_CHAIN})


class Severity(StrEnum):
    """Flag severities."""

    INFO = "info"
    REFER = "refer"
    URGENT = "urgent"


class Criterion(NamedTuple):
    """One evaluated criterion: status, the value it was judged on, threshold and source.

    A NamedTuple, in the field order of the answer: immutable, so a criterion whose outcome is fixed
    (a "not reported" row) is built once and shared by every panel."""

    id: str
    status: Status
    value: Decimal | int | bool | str | None
    unit: str | None
    comparator: str | None
    threshold: str
    source: str
    note: str | None = None


@dataclass(slots=True)
class Classification:
    """The category with its label, isotype and why."""

    code: Code
    label: str
    provisional: bool
    isotype: str | None
    reasons: tuple[str, ...] = ()


@dataclass(slots=True)
class FlcSummary:
    """FLC ratio, the interval used, abnormality and the involved chain."""

    ratio: Decimal | None
    ratio_low: Decimal | None
    ratio_high: Decimal | None
    interval_low: Decimal | None
    interval_high: Decimal | None
    basis: str
    abnormal: bool | None
    involved: str | None
    involved_uninvolved_ratio: Decimal | None
    iu_low: Decimal | None
    iu_high: Decimal | None
    involved_raised: bool | None
    assay: str
    renal_interval: bool
    notes: tuple[str, ...] = ()
    # Renal function not given, and the Freelite renal interval would judge the ratio the other way.
    renal_open: bool = False


@dataclass(slots=True)
class RiskFactor:
    """One factor or scored variable of a risk model."""

    id: str
    status: str  # present | absent | unknown (scored variables: scored | unknown)
    value: Decimal | int | bool | str | None
    unit: str | None
    threshold: str
    points: int | None = None
    points_max: int | None = None


@dataclass(slots=True)
class RiskResult:
    """A risk model's outcome; group None when it does not apply or unknowns leave it open."""

    model: str
    applies: bool
    group: str | None
    possible_groups: tuple[str, ...]
    reason: str | None
    factors: tuple[RiskFactor, ...]
    source: str
    outcomes: dict[str, Any] = field(default_factory=dict)
    score: int | None = None
    score_max: int | None = None
    score_is_lower_bound: bool = False
    needed: tuple[str, ...] = ()


@dataclass(slots=True)
class Flag:
    """An actionable finding."""

    code: str
    severity: Severity
    message: str
    refer_to: tuple[str, ...] = ()
    evidence: tuple[dict[str, Any], ...] = ()


@dataclass(slots=True)
class Recommendation:
    """What to do next; FOLLOW_UP items carry the interval and the tests to repeat."""

    code: str
    text: str
    interval_months: Decimal | tuple[Decimal, Decimal] | None = None
    then: str | None = None
    tests: tuple[str, ...] = ()
    # The follow-up itself asks for the baseline marrow (the comment then leaves out the marrow flag's
    # message, which would ask twice). Not part of the answer.
    asks_marrow: bool = False


@dataclass(slots=True)
class Interpretation:
    """The full interpretation of one panel."""

    ruleset_version: str
    classification: Classification
    criteria: tuple[Criterion, ...]
    myeloma_defining_events: tuple[str, ...]
    flc: FlcSummary | None
    risk: dict[str, RiskResult]
    flags: tuple[Flag, ...]
    recommendations: tuple[Recommendation, ...]
    missing_data: tuple[str, ...]
    comment: str
    notes: tuple[str, ...] = ()
    # Values the service computed (api-contract 1.1), e.g. {"egfr": {...}} from CKD-EPI 2021 (§2.1 R).
    derived: dict[str, Any] = field(default_factory=dict)
