"""The laboratory's release policy: which answers may be released without a reviewer.

Lab configuration, not clinical logic: the domain interprets, this adapter decides from the answer
(and the panel it was given) whether the answer may leave automatically (``auto``) or waits for a
reviewer (``review_required``), always with the reasons. The policy is a YAML file: the default is
shipped in the package (``release-policy.yaml``, only a complete negative screen without flags is
automatic); ``MGI_RELEASE_POLICY_FILE`` names a laboratory's own. A malformed policy stops start-up.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from service.domain.panel import Panel
from service.domain.results import Code

ENV_POLICY_FILE = "MGI_RELEASE_POLICY_FILE"
DEFAULT_POLICY_FILE = Path(__file__).resolve().parent / "release-policy.yaml"
AUTO = "auto"
REVIEW_REQUIRED = "review_required"
REVIEWED = "reviewed"
AMENDED = "amended"
STATUSES = (AUTO, REVIEW_REQUIRED, REVIEWED, AMENDED)
_RULE_KEYS = {"category", "complete_screen", "provisional", "flags"}
# ref: §2.9 — a negative screen is complete only with SPEP, serum immunofixation and serum FLC.
SCREEN_PARTS = (("spep", "SPEP"), ("serum_ife", "serum immunofixation"), ("flc", "serum free light chains"))


class ReleasePolicyError(RuntimeError):
    """The release policy file is missing or malformed (raised at start-up)."""


@dataclass(frozen=True)
class AutoRule:
    """One kind of answer that may be released automatically."""

    category: str
    complete_screen: bool
    provisional: bool
    flags: frozenset[str]


@dataclass(frozen=True)
class ReleasePolicy:
    rules: tuple[AutoRule, ...]
    source: str

    def decide(self, answer: Mapping[str, Any], panel: Panel | None) -> dict[str, Any]:
        """``{"status": "auto" | "review_required", "reasons": [...]}`` for one answer."""
        c = answer.get("classification") or {}
        code = str(c.get("code"))
        flags = [str(f.get("code")) for f in answer.get("flags") or ()]
        candidates = [r for r in self.rules if r.category == code]
        if not candidates:
            return {
                "status": REVIEW_REQUIRED,
                "reasons": [f"{code} is not released automatically under the laboratory's release policy."],
            }
        best: list[str] | None = None
        for rule in candidates:
            reasons = _unmet(rule, c, flags, panel)
            if not reasons:
                return {"status": AUTO, "reasons": [_auto_reason(rule)]}
            if best is None or len(reasons) < len(best):
                best = reasons
        return {"status": REVIEW_REQUIRED, "reasons": best or []}


def _auto_reason(rule: AutoRule) -> str:
    parts = [rule.category]
    if rule.complete_screen:
        parts.append("with SPEP, serum immunofixation and serum free light chains")
    parts.append("with no flag" if not rule.flags else "with no flag beyond " + ", ".join(sorted(rule.flags)))
    if not rule.provisional:
        parts.append("not provisional")
    return "Released automatically under the laboratory's release policy: " + ", ".join(parts) + "."


def _unmet(rule: AutoRule, c: Mapping[str, Any], flags: list[str], panel: Panel | None) -> list[str]:
    reasons: list[str] = []
    if rule.complete_screen:
        missing = [label for attr, label in SCREEN_PARTS if panel is None or getattr(panel, attr) is None]
        if missing:
            reasons.append(
                "Incomplete screen (clinical-reference §2.9 needs SPEP, serum immunofixation and serum "
                f"free light chains): {', '.join(missing)} not reported."
            )
    if c.get("provisional") and not rule.provisional:
        reasons.append("The classification is provisional.")
    extra = [f for f in flags if f not in rule.flags]
    if extra:
        reasons.append(f"Flag(s) needing review: {', '.join(dict.fromkeys(extra))}.")
    return reasons


def parse_policy(doc: Any, source: str) -> ReleasePolicy:
    """A policy from its YAML document; ReleasePolicyError naming the problem otherwise."""
    if not isinstance(doc, Mapping):
        raise ReleasePolicyError(f"{source}: a release policy is a mapping with 'version' and 'auto_release'")
    unknown = set(doc) - {"version", "auto_release"}
    if unknown:
        raise ReleasePolicyError(f"{source}: unknown field(s) {sorted(map(str, unknown))}")
    if doc.get("version") != 1:
        raise ReleasePolicyError(f"{source}: 'version' must be 1")
    items = doc.get("auto_release")
    if items is None:
        items = []
    if not isinstance(items, list):
        raise ReleasePolicyError(f"{source}: 'auto_release' must be a list of rules")
    codes = {c.value for c in Code}
    rules: list[AutoRule] = []
    for i, item in enumerate(items):
        where = f"{source}: auto_release[{i}]"
        if not isinstance(item, Mapping):
            raise ReleasePolicyError(f"{where}: a rule is a mapping")
        unknown = set(item) - _RULE_KEYS
        if unknown:
            raise ReleasePolicyError(f"{where}: unknown field(s) {sorted(map(str, unknown))}")
        category = item.get("category")
        if category not in codes:
            raise ReleasePolicyError(f"{where}.category: {category!r} is not a classification code")
        complete = item.get("complete_screen", True)
        provisional = item.get("provisional", False)
        for name, value in (("complete_screen", complete), ("provisional", provisional)):
            if not isinstance(value, bool):
                raise ReleasePolicyError(f"{where}.{name}: must be true or false")
        flags = item.get("flags", [])
        if not isinstance(flags, list) or not all(isinstance(f, str) and f for f in flags):
            raise ReleasePolicyError(f"{where}.flags: must be a list of flag codes")
        rules.append(AutoRule(category, complete, provisional, frozenset(flags)))
    return ReleasePolicy(tuple(rules), source)


def load_policy(path: str | os.PathLike[str] | None = None) -> ReleasePolicy:
    """The policy of ``path``, else of MGI_RELEASE_POLICY_FILE, else the shipped default."""
    chosen = Path(path or os.environ.get(ENV_POLICY_FILE) or DEFAULT_POLICY_FILE)
    try:
        text = chosen.read_text(encoding="utf-8")
    except OSError as e:
        raise ReleasePolicyError(f"{ENV_POLICY_FILE}={chosen}: cannot read ({e.strerror})") from None
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError:
        raise ReleasePolicyError(f"{chosen}: not valid YAML") from None
    return parse_policy(doc, str(chosen))


def result_status_hl7(status: str) -> str:
    """HL7 v2 OBX-11 / OBR-25 (table 0085) of a release status: P pending review, F final, C corrected."""
    return {REVIEW_REQUIRED: "P", AMENDED: "C"}.get(status, "F")


def result_status_fhir(status: str) -> str:
    """FHIR DiagnosticReport.status of a release status."""
    return {REVIEW_REQUIRED: "preliminary", AMENDED: "amended"}.get(status, "final")
