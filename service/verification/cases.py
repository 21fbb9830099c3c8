"""Verification cases: documented request bodies with their clinical expectations (YAML files).

The shipped cases are ``service/verification/cases/*.yaml``; a laboratory adds its own files in the same
format (docs/verification.md). Expectations are clinical (classification code, provisional, flag codes
required or forbidden, criterion statuses, myeloma-defining events, open risk groups, or the fields a 422
names), never wording, so that a change of phrasing does not fail a verification.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

SHIPPED = Path(__file__).resolve().parent / "cases"
FORMS = ("json", "hl7", "fhir")
CRITERION_STATUSES = frozenset({"met", "not_met", "not_assessable"})
_EXPECT_KEYS = frozenset(
    {
        "status",
        "classification",
        "provisional",
        "flags_required",
        "flags_forbidden",
        "criteria",
        "mde",
        "risk_possible_groups",
        "error_fields",
    }
)
_CASE_KEYS = frozenset({"id", "title", "reference", "body", "expect", "forms", "depends_on"})


class CaseError(ValueError):
    """A case file that does not follow the format (named by file and case)."""


@dataclass(frozen=True)
class Expect:
    """What a case's answer must show."""

    status: int = 200
    classification: str | None = None
    provisional: bool | None = None
    flags_required: tuple[str, ...] = ()
    flags_forbidden: tuple[str, ...] = ()
    criteria: Mapping[str, str] = field(default_factory=dict)
    mde: str | None = None  # "some" | "none"
    risk_possible_groups: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    error_fields: tuple[str, ...] = ()

    def summary(self) -> str:
        """The expectation in one line for the table."""
        if self.status != 200:
            return f"{self.status} naming {', '.join(self.error_fields)}"
        parts = [self.classification or "(any category)"]
        if self.provisional is not None:
            parts.append("provisional" if self.provisional else "final")
        parts += [f"+{f}" for f in self.flags_required]
        parts += [f"-{f}" for f in self.flags_forbidden]
        return " ".join(parts)


@dataclass(frozen=True)
class Case:
    """One documented case."""

    id: str
    title: str
    reference: str
    body: Mapping[str, Any]
    expect: Expect
    forms: tuple[str, ...] = FORMS
    depends_on: str | None = None
    source: str = ""


def load(paths: Iterable[Path] | None = None) -> list[Case]:
    """The cases of the given files or directories (the shipped ones by default), ids unique."""
    files: list[Path] = []
    for path in [SHIPPED] if paths is None else paths:
        files += sorted(path.glob("*.yaml")) if path.is_dir() else [path]
    cases: list[Case] = []
    seen: dict[str, str] = {}
    for path in files:
        for case in _load_file(path):
            if case.id in seen:
                raise CaseError(f"{path}: case {case.id!r} is already defined in {seen[case.id]}")
            seen[case.id] = str(path)
            cases.append(case)
    return cases


def _load_file(path: Path) -> list[Case]:
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as e:
        raise CaseError(f"{path}: cannot be read as YAML: {e}") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("cases"), list):
        raise CaseError(f"{path}: expected a mapping with a 'cases' list")
    return [_case(item, f"{path}: cases[{i}]", str(path)) for i, item in enumerate(doc["cases"])]


def _case(item: Any, where: str, source: str) -> Case:
    if not isinstance(item, dict):
        raise CaseError(f"{where}: a case is a mapping")
    if unknown := set(item) - _CASE_KEYS:
        raise CaseError(f"{where}: unknown keys {sorted(unknown)}")
    for key in ("id", "title", "body", "expect"):
        if key not in item:
            raise CaseError(f"{where}: '{key}' is required")
    where = f"{where} ({item['id']})"
    if not isinstance(item["body"], dict):
        raise CaseError(f"{where}: body must be a request object")
    forms = tuple(item.get("forms") or FORMS)
    if bad := set(forms) - set(FORMS):
        raise CaseError(f"{where}: unknown forms {sorted(bad)} (use {', '.join(FORMS)})")
    return Case(
        id=str(item["id"]),
        title=str(item["title"]),
        reference=str(item.get("reference") or ""),
        body=item["body"],
        expect=_expect(item["expect"], where),
        forms=forms,
        depends_on=None if item.get("depends_on") is None else str(item["depends_on"]),
        source=source,
    )


def _expect(raw: Any, where: str) -> Expect:
    if not isinstance(raw, dict):
        raise CaseError(f"{where}: expect must be a mapping")
    if unknown := set(raw) - _EXPECT_KEYS:
        raise CaseError(f"{where}: unknown expectations {sorted(unknown)}")
    criteria = dict(raw.get("criteria") or {})
    if bad := {k: v for k, v in criteria.items() if v not in CRITERION_STATUSES}:
        raise CaseError(f"{where}: criterion statuses must be met, not_met or not_assessable: {bad}")
    if raw.get("mde") not in (None, "some", "none"):
        raise CaseError(f"{where}: mde must be 'some' or 'none'")
    status = int(raw.get("status", 200))
    if status != 200 and not raw.get("error_fields"):
        raise CaseError(f"{where}: a {status} case lists the error_fields it must name")
    return Expect(
        status=status,
        classification=raw.get("classification"),
        provisional=raw.get("provisional"),
        flags_required=tuple(raw.get("flags_required") or ()),
        flags_forbidden=tuple(raw.get("flags_forbidden") or ()),
        criteria=criteria,
        mde=raw.get("mde"),
        risk_possible_groups={k: tuple(v) for k, v in (raw.get("risk_possible_groups") or {}).items()},
        error_fields=tuple(raw.get("error_fields") or ()),
    )
