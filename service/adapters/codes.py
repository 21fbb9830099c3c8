"""Code mapping and value interpretation shared by the HL7 v2 and FHIR adapters.

Two halves:

* The **code map** (``load_codemap``): which incoming code fills which field of the public JSON
  request (api-contract.md), loaded from ``codemap.yaml`` merged with an optional lab file named by
  ``MGI_CODEMAP_FILE``. Validated once at start-up; every problem is a ``CodeMapError`` naming the
  file and the entry.
* **Value interpretation** used by both adapters: numbers and comparators, units, reference
  ranges, immunofixation text, yes/no findings, and the ``PanelAssembler`` that builds the request
  dict and refuses contradictory data.

Lab-local file (same schema as ``codemap.yaml``; every section optional)::

    observations:
      - {code: "MPROT", system: "99LAB", target: spep.m_protein}
      - {code: "SCLX", system: "99LAB", target: clinical.scleromyxedema}
    conditions:
      - {code: "SCLMYX", system: "http://lab.example/fhir/CodeSystem/dx", target: clinical.scleromyxedema}
    unit_aliases: {"mg/dl": "mg/dL"}
    system_aliases: {loinc: ["LOINC-2.7"]}

Entries are keyed by (coding system, code); a lab entry replaces a default entry with the same key.
A lab code equal to a known-wrong code (``rejected``) is refused at load time.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Iterable, Mapping
from copy import deepcopy
from dataclasses import dataclass, field, replace
from datetime import date
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from service.domain.quantity import UNITS

DEFAULT_CODEMAP_PATH = Path(__file__).with_name("codemap.yaml")
CODEMAP_ENV = "MGI_CODEMAP_FILE"


class CodeMapError(Exception):
    """A code-mapping file is unusable; the message names the file and the entry."""


class ValueProblem(ValueError):
    """An incoming value cannot be translated; adapters add the location (segment/resource)."""


class WrongCodeError(ValueProblem):
    """An incoming code is a known-wrong or deprecated code."""


# --------------------------------------------------------------------------------------------
# Request field registry (api-contract.md request body)
# --------------------------------------------------------------------------------------------


class Kind(StrEnum):
    """How a request field's value is read from an observation."""

    QUANTITY = "quantity"  # {"value","unit"[,"comparator"][,"reference_range"]}
    IFE = "ife"  # {"result": positive|negative, "clones": [...]}
    PERCENT = "percent"  # plain number, unit "%"
    COUNT = "count"  # non-negative integer
    FLAG = "flag"  # boolean
    SCLEROMYXEDEMA = "scleromyxedema"  # confirmed|suspected|absent
    ASSAY = "assay"  # freelite|n_latex|sebia|other
    CROSSCHECK = "crosscheck"  # accepted, compared, never sent to the engine


_CLINICAL_FLAGS = (
    "papular_eruption",
    "sclerodermoid_induration",
    "histology_mucin_fibrosis",
    "fever",
    "neurologic_signs",
    "thyroid_disease",
    "amyloidosis",
    "plasmacytoma",
    "igm_related_symptoms",
    "end_stage_renal_disease",  # the Sebia ESRD and Freelite renal FLC intervals (§4); a lab maps its code
)

FIELD_KINDS: dict[str, Kind] = {
    "spep.m_protein": Kind.QUANTITY,
    "urine.m_protein_24h": Kind.QUANTITY,
    "flc.kappa": Kind.QUANTITY,
    "flc.lambda": Kind.QUANTITY,
    "labs.calcium": Kind.QUANTITY,
    "labs.creatinine": Kind.QUANTITY,
    "labs.creatinine_clearance": Kind.QUANTITY,
    "labs.egfr": Kind.QUANTITY,
    "labs.hemoglobin": Kind.QUANTITY,
    "labs.tsh": Kind.QUANTITY,
    "serum_ife": Kind.IFE,
    "urine.ife": Kind.IFE,
    "marrow.clonal_plasma_cells_percent": Kind.PERCENT,
    "marrow.plasma_cells_percent": Kind.PERCENT,
    "marrow.lymphoplasmacytic_infiltrate_percent": Kind.PERCENT,
    # Accepted by the request schema (reported back, never used for thresholds): lab codes only.
    "marrow.flow_plasma_cells_percent": Kind.PERCENT,
    "imaging.osteolytic_lesions": Kind.COUNT,
    "imaging.mri_focal_lesions": Kind.COUNT,
    "cytogenetics.t_4_14": Kind.FLAG,
    "cytogenetics.t_14_16": Kind.FLAG,
    "cytogenetics.gain_1q": Kind.FLAG,
    "cytogenetics.del_13q": Kind.FLAG,
    "clinical.scleromyxedema": Kind.SCLEROMYXEDEMA,
    **{f"clinical.{name}": Kind.FLAG for name in _CLINICAL_FLAGS},
    "flc.assay": Kind.ASSAY,
    "crosscheck.flc_ratio": Kind.CROSSCHECK,
}

# Units of clinical-reference.md §1; only used to check the targets of unit aliases.
CONTRACT_UNITS = frozenset(
    {
        "g/L",
        "g/dL",
        "mg/24h",
        "g/24h",
        "mg/L",
        "mg/dL",
        "mmol/L",
        "µmol/L",
        "umol/L",
        "mL/min",
        "mL/min/1.73m2",
        "%",
        "mIU/L",
        "uIU/mL",
    }
)

COMPARATORS = ("<=", ">=", "<", ">")
# The risk models of the answer, in reply order, with the label an HL7 OBX-3 / FHIR code shows.
RISK_LABELS = {
    "mgus_mayo_2005": "Mayo 2005 MGUS risk group",
    "smm_mayo_2018": "Mayo 2018 (20/2/20) SMM risk group",
    "smm_imwg_2020": "IMWG 2020 SMM risk group",
}
ASSAYS = ("freelite", "n_latex", "sebia", "other")
SCLEROMYXEDEMA_VALUES = ("confirmed", "suspected", "absent")


# --------------------------------------------------------------------------------------------
# Code map
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CodeEntry:
    """One mapping: (system, code) -> request field path, with its provenance."""

    system: str  # canonical key: "loinc", "snomed", "icd10" or the lab's own system string
    code: str
    target: str
    section: str  # "observations" | "conditions"
    display: str = ""
    confidence: str = ""
    caveat: str = ""
    source: str = ""
    priority: int = 0
    enabled: bool = True
    match: str = "exact"  # "exact" | "prefix"
    origin: str = ""  # file the entry came from
    # The units this code may carry (its LOINC property, mass or moles, fixes them) and how each is
    # converted: incoming unit -> (unit sent in the request, multiplier). None: any unit, judged by
    # the request schema.
    units: Mapping[str, tuple[str, Decimal]] | None = None
    # The code reports one band of the serum M-protein (spep.m_protein): the whole M-protein only when
    # the immunofixation finds one clone.
    band: bool = False

    @property
    def label(self) -> str:
        """The code as a reader names it: 'LOINC 2000-8' or the lab's own 'K1 (99LAB)'."""
        if self.system == "loinc":
            return f"LOINC {self.code}"
        return f"{self.code} ({self.system})" if self.system else f"local code {self.code}"

    @property
    def kind(self) -> Kind:
        """The value kind of the target field."""
        return FIELD_KINDS[self.target]


@dataclass(frozen=True)
class RejectedCode:
    """A code known to be wrong for these analytes."""

    system: str
    code: str
    actual: str
    wrongly_used_for: str

    def message(self) -> str:
        """The rejection message naming the code and what it really is."""
        label = "LOINC " if self.system == "loinc" else ""
        return (
            f"{label}{self.code} is {self.actual}, not {self.wrongly_used_for}: "
            "this code is rejected; send the correct code"
        )


@dataclass(frozen=True)
class Coding:
    """An incoming coding (from OBX-3, DG1-3, CodeableConcept.coding)."""

    system: str | None
    code: str
    display: str = ""


@dataclass
class SenderMap:
    """A sending system's own code map: matched on its identity, merged over the global map."""

    name: str
    criteria: dict[str, str]  # application / facility / fhir_source / organization -> folded value
    codemap: CodeMap


SENDER_CRITERIA = ("application", "facility", "fhir_source", "organization")


@dataclass
class CodeMap:
    """The merged, validated code mapping."""

    observations: dict[tuple[str, str], CodeEntry] = field(default_factory=dict)
    conditions: dict[tuple[str, str], CodeEntry] = field(default_factory=dict)
    rejected: dict[str, RejectedCode] = field(default_factory=dict)  # by code, any system
    not_mapped: dict[tuple[str, str], str] = field(default_factory=dict)
    unit_aliases: dict[str, str] = field(default_factory=dict)
    system_aliases: dict[str, str] = field(default_factory=dict)  # folded alias -> key
    # The lab's own immunofixation wordings: normalised text -> {'result', 'clones'}.
    ife_wordings: dict[str, dict[str, Any]] = field(default_factory=dict)
    senders: list[SenderMap] = field(default_factory=list)
    sender: str = ""  # name of the sender this map is specific to ("" = the global map)
    files: tuple[str, ...] = ()

    def for_sender(self, **identity: str | Iterable[str | None] | None) -> CodeMap:
        """The code map of the sending system (HL7 MSH-3/MSH-4, FHIR meta.source or the sending
        Organization), else this global one. The first ``senders`` entry whose every criterion matches
        one of the given values wins; values compare case-insensitively, whitespace trimmed."""
        given: dict[str, set[str]] = {}
        for key, values in identity.items():
            listed = [values] if values is None or isinstance(values, str) else list(values)
            given[key] = {v.strip().casefold() for v in listed if isinstance(v, str) and v.strip()}
        for sender in self.senders:
            if all(v in given.get(k, ()) for k, v in sender.criteria.items()):
                return sender.codemap
        return self

    def parse_ife(self, values: Iterable[str]) -> dict[str, Any]:
        """Immunofixation text read with the standard forms and this map's lab wordings."""
        return parse_ife(values, self.ife_wordings)

    def unit_home(self, target: str, unit: str) -> CodeEntry | None:
        """A code that carries ``unit`` for the same field (names the right code in a message)."""
        for entry in self.observations.values():
            if entry.target == target and entry.units and unit in entry.units and entry.enabled:
                return entry
        return None

    def system_key(self, system: str | None) -> str:
        """Canonical key of a coding-system identifier (case-insensitive)."""
        raw = (system or "").strip()
        return self.system_aliases.get(raw.casefold(), raw.casefold())

    def rejection(self, coding: Coding) -> RejectedCode | None:
        """The rejected-code record for this coding, whatever system it claims."""
        # A known-wrong LOINC code is refused even under a local system: it is the same typo.
        return self.rejected.get(coding.code.strip())

    def _lookup(self, table: Mapping[tuple[str, str], CodeEntry], coding: Coding) -> CodeEntry | None:
        key = (self.system_key(coding.system), coding.code.strip())
        entry = table.get(key)
        if entry is not None:
            return entry if entry.enabled else None
        flat = _icd_flat(key[1])
        for candidate in table.values():
            if (
                candidate.match == "prefix"
                and candidate.enabled
                and candidate.system == key[0]
                and flat.startswith(_icd_flat(candidate.code))
            ):
                return candidate
        return None

    def observation(self, coding: Coding) -> CodeEntry | None:
        """Observation mapping for a coding (None when unmapped or disabled)."""
        return self._lookup(self.observations, coding)

    def condition(self, coding: Coding) -> CodeEntry | None:
        """Condition/finding mapping for a coding (None when unmapped or disabled)."""
        return self._lookup(self.conditions, coding)

    def resolve(self, codings: Iterable[Coding], *, section: str) -> CodeEntry | None:
        """Map a list of alternative codings; wrong codes raise, disagreeing codings raise."""
        codings = [c for c in codings if c.code.strip()]
        for coding in codings:
            rejected = self.rejection(coding)
            if rejected is not None:
                raise WrongCodeError(rejected.message())
        lookup = self.observation if section == "observations" else self.condition
        found = [(c, e) for c in codings if (e := lookup(c)) is not None]
        if not found:
            return None
        targets = {e.target for _, e in found}
        if len(targets) > 1:
            listed = ", ".join(f"{c.code} -> {e.target}" for c, e in found)
            raise ValueProblem(f"alternative codings disagree on the field they fill ({listed})")
        return found[0][1]

    def normalize_unit(self, unit: str | None) -> str:
        """Contract spelling of a UCUM unit; unknown units pass through for the schema to judge. UCUM
        writes the litre 'l' or 'L': a lower-case litre (mg/l, g/dl, umol/l) is the contract's 'L'. A
        spelling that is one known unit when case, spaces, a caret before the exponent and 'hr' for the
        hour are set aside (MG/DL, mL/min/1.73 m2, mL/min/1.73m^2, mg/24hr) is that unit; one that could
        be two different known units passes through unchanged, never guessed."""
        raw = (unit or "").strip()
        if raw in self.unit_aliases:
            return self.unit_aliases[raw]
        spelled = "/".join(p[:-1] + "L" if p in _LOWER_LITRE else p for p in raw.split("/"))
        spelled = self.unit_aliases.get(spelled, spelled)
        if not spelled or spelled in KNOWN_UNITS:
            return spelled
        return _units_by_key(KNOWN_UNITS).get(_unit_key(spelled)) or spelled

    def read_loosely(self, raw: str | None, read: str) -> bool:
        """Whether ``raw`` was read as ``read`` only once case, spaces, a caret or 'hr' were set aside
        (MG/DL as mg/dL): said in an input note, never silent (a configured alias or UCUM's lower-case
        litre is the unit as written)."""
        r = (raw or "").strip()
        if not r or r == read or r in self.unit_aliases or read not in KNOWN_UNITS:
            return False
        spelled = "/".join(p[:-1] + "L" if p in _LOWER_LITRE else p for p in r.split("/"))
        return self.unit_aliases.get(spelled, spelled) != read


@lru_cache(maxsize=2)
def _units_by_key(known: frozenset[str]) -> dict[str, str | None]:
    """Each compared spelling (_unit_key) of the known units -> the unit it reads as, or None when it could
    be two different units; built once. Spellings of one unit (µmol/L beside μmol/L) read as the
    contract's own spelling when it is one."""
    groups: dict[str, list[str]] = {}
    for unit in sorted(known):
        groups.setdefault(_unit_key(unit), []).append(unit)
    return {
        key: None
        if any(units_contradict(a, b) for a in matches for b in matches)
        else next((u for u in matches if u in CONTRACT_UNITS), matches[0])
        for key, matches in groups.items()
    }


def _unit_key(unit: str) -> str:
    """A unit spelling as compared when reading a sender's unit: case, spaces and carets set aside, and the
    hour of a 24-hour urine written 'hr' or 'h'."""
    key = unit.casefold().replace(" ", "").replace("^", "")
    return re.sub(r"(?<=24)hr$", "h", key)


# A litre, alone or with a decimal prefix, written with UCUM's lower-case 'l' (only whole unit terms:
# the 'l' ending 'mmol' is not a litre).
_LOWER_LITRE = frozenset({"l", "dl", "cl", "ml", "ul", "µl", "μl", "nl"})


def _icd_flat(code: str) -> str:
    return code.replace(".", "").strip().upper()


_ENTRY_KEYS = {
    "code",
    "system",
    "target",
    "display",
    "confidence",
    "caveat",
    "source",
    "priority",
    "enabled",
    "match",
    "units",
    "band",
}
_REJECTED_KEYS = {"code", "system", "is", "wrongly_used_for"}
_NOT_MAPPED_KEYS = {"code", "system", "reason", "source"}
_TOP_KEYS = {
    "version",
    "system_aliases",
    "unit_aliases",
    "observations",
    "conditions",
    "rejected",
    "not_mapped",
    "ife_wordings",
    "senders",
}


def _read_yaml(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise CodeMapError(f"{path}: cannot read code-map file ({exc.strerror or exc})") from exc
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise CodeMapError(f"{path}: malformed YAML: {exc}") from exc
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise CodeMapError(f"{path}: the top level must be a mapping of sections")
    unknown = set(data) - _TOP_KEYS
    if unknown:
        raise CodeMapError(f"{path}: unknown section(s) {sorted(unknown)}; allowed: {sorted(_TOP_KEYS)}")
    return data


def _code_text(value: Any, where: str) -> str:
    # YAML reads an unquoted 40930008 as an int: accept it, but not floats (lossy) or others.
    if isinstance(value, bool) or value is None:
        raise CodeMapError(f"{where}: 'code' must be a string")
    if isinstance(value, int):
        return str(value)
    if not isinstance(value, str) or not value.strip():
        raise CodeMapError(f"{where}: 'code' must be a non-empty string (quote it)")
    return value.strip()


def _entries(data: dict[str, Any], section: str, path: Path) -> list[dict[str, Any]]:
    items = data.get(section)
    if items is None:
        return []
    if not isinstance(items, list):
        raise CodeMapError(f"{path}: section '{section}' must be a list")
    for index, item in enumerate(items):
        if not isinstance(item, dict):
            raise CodeMapError(f"{path}: {section}[{index}] must be a mapping")
    return items


def _apply_aliases(data: dict[str, Any], path: Path, codemap: CodeMap) -> None:
    aliases = data.get("system_aliases")
    aliases = {} if aliases is None else aliases
    if not isinstance(aliases, dict):
        raise CodeMapError(f"{path}: 'system_aliases' must map a key to a list of spellings")
    for key, spellings in aliases.items():
        if not isinstance(key, str) or not isinstance(spellings, list):
            raise CodeMapError(f"{path}: system_aliases.{key} must be a list of strings")
        for spelling in spellings:
            if not isinstance(spelling, str) or not spelling.strip():
                raise CodeMapError(f"{path}: system_aliases.{key} holds a non-string spelling")
            folded = spelling.strip().casefold()
            current = codemap.system_aliases.get(folded)
            if current is not None and current != key.casefold():
                # Re-pointing e.g. 'LN' would silently detach every default LOINC entry.
                raise CodeMapError(f"{path}: system_aliases.{key}: '{spelling}' already means '{current}'")
            codemap.system_aliases[folded] = key.casefold()
        codemap.system_aliases[key.casefold()] = key.casefold()
    units = data.get("unit_aliases")
    units = {} if units is None else units
    if not isinstance(units, dict):
        raise CodeMapError(f"{path}: 'unit_aliases' must be a mapping")
    for alias, unit in units.items():
        if not isinstance(alias, str) or not isinstance(unit, str):
            raise CodeMapError(f"{path}: unit_aliases.{alias} must map a string to a string")
        if unit not in CONTRACT_UNITS:
            raise CodeMapError(
                f"{path}: unit_aliases.{alias} -> '{unit}' is not a unit of the contract "
                f"({sorted(CONTRACT_UNITS)})"
            )
        codemap.unit_aliases[alias] = unit


def _apply_rejected(data: dict[str, Any], path: Path, codemap: CodeMap) -> None:
    for index, item in enumerate(_entries(data, "rejected", path)):
        where = f"{path}: rejected[{index}]"
        unknown = set(item) - _REJECTED_KEYS
        if unknown:
            raise CodeMapError(f"{where}: unknown key(s) {sorted(unknown)}")
        code = _code_text(item.get("code"), where)
        for key in ("is", "wrongly_used_for"):
            if not isinstance(item.get(key), str) or not item[key].strip():
                raise CodeMapError(f"{where} (code '{code}'): '{key}' must be a non-empty string")
        codemap.rejected[code] = RejectedCode(
            system=codemap.system_key(item.get("system")),
            code=code,
            actual=item["is"].strip(),
            wrongly_used_for=item["wrongly_used_for"].strip(),
        )


def _apply_entries(data: dict[str, Any], path: Path, codemap: CodeMap) -> None:
    for section in ("observations", "conditions"):
        table = codemap.observations if section == "observations" else codemap.conditions
        seen: dict[tuple[str, str], str] = {}
        for index, item in enumerate(_entries(data, section, path)):
            where = f"{path}: {section}[{index}]"
            unknown = set(item) - _ENTRY_KEYS
            if unknown:
                raise CodeMapError(f"{where}: unknown key(s) {sorted(unknown)}")
            code = _code_text(item.get("code"), where)
            where = f"{where} (code '{code}')"
            system = item.get("system", "")
            if not isinstance(system, str):
                raise CodeMapError(f"{where}: 'system' must be a string (LN, SCT, the lab's own) or left out")
            # No system: a local code sent with an empty coding system (OBX-3.3, Coding.system).
            target = item.get("target")
            if target not in FIELD_KINDS:
                raise CodeMapError(
                    f"{where}: unknown target field '{target}'; known fields: "
                    f"{', '.join(sorted(FIELD_KINDS))}"
                )
            kind = FIELD_KINDS[target]
            if section == "conditions" and kind not in (Kind.FLAG, Kind.SCLEROMYXEDEMA):
                raise CodeMapError(f"{where}: a condition can only fill a clinical finding, not '{target}'")
            if section == "conditions" and not target.startswith("clinical."):
                raise CodeMapError(f"{where}: a condition can only fill clinical.* fields")
            if code in codemap.rejected:
                raise CodeMapError(
                    f"{where}: collides with a known-wrong code: {codemap.rejected[code].message()}"
                )
            priority = item.get("priority", 0)
            if isinstance(priority, bool) or not isinstance(priority, int) or priority < 0:
                raise CodeMapError(f"{where}: 'priority' must be a non-negative integer")
            enabled = item.get("enabled", True)
            if not isinstance(enabled, bool):
                raise CodeMapError(f"{where}: 'enabled' must be true or false")
            match = item.get("match", "exact")
            if match not in ("exact", "prefix"):
                raise CodeMapError(f"{where}: 'match' must be 'exact' or 'prefix'")
            for name in ("display", "confidence", "caveat", "source"):
                if name in item and not isinstance(item[name], str):
                    raise CodeMapError(f"{where}: '{name}' must be a string")
            units = _unit_rules(item.get("units"), kind, where)
            band = item.get("band", False)
            if not isinstance(band, bool):
                raise CodeMapError(f"{where}: 'band' must be true or false")
            if band and target != "spep.m_protein":
                raise CodeMapError(
                    f"{where}: 'band' (one band of the M-protein) applies to spep.m_protein only"
                )
            entry = CodeEntry(
                system=codemap.system_key(system),
                code=code,
                target=target,
                section=section,
                display=item.get("display", ""),
                confidence=str(item.get("confidence", "")),
                caveat=item.get("caveat", ""),
                source=item.get("source", ""),
                priority=priority,
                enabled=enabled,
                match=match,
                origin=str(path),
                units=units,
                band=band,
            )
            key = (entry.system, entry.code)
            if key in seen and seen[key] != target:
                raise CodeMapError(f"{where}: the same code is already mapped to '{seen[key]}' in this file")
            seen[key] = target
            table[key] = entry


_UNIT_RULE = re.compile(r"^\s*(\S+)\s*(?:[*x×]\s*([0-9]+(?:\.[0-9]+)?))?\s*$")


def _unit_rules(value: Any, kind: Kind, where: str) -> dict[str, tuple[str, Decimal]] | None:
    """``units: {"mmol/L": "umol/L * 1000", "umol/L": "umol/L"}`` -> {unit: (request unit, factor)}."""
    if value is None:
        return None
    if kind is not Kind.QUANTITY:
        raise CodeMapError(f"{where}: 'units' applies to quantities only")
    if not isinstance(value, dict) or not value:
        raise CodeMapError(f"{where}: 'units' must map each unit the code carries to the request unit")
    rules: dict[str, tuple[str, Decimal]] = {}
    for unit, rule in value.items():
        match = _UNIT_RULE.match(rule) if isinstance(rule, str) else None
        if not isinstance(unit, str) or match is None:
            raise CodeMapError(
                f"{where}: units.{unit}: write the request unit, optionally '* factor' ('umol/L * 1000')"
            )
        if match.group(1) not in KNOWN_UNITS:
            raise CodeMapError(f"{where}: units.{unit}: '{match.group(1)}' is not a unit of the contract")
        try:
            factor = Decimal(match.group(2) or "1")
        except InvalidOperation as exc:  # pragma: no cover - the pattern admits decimals only
            raise CodeMapError(f"{where}: units.{unit}: bad factor") from exc
        rules[unit] = (match.group(1), factor)
    return rules


def _apply_ife_wordings(data: dict[str, Any], path: Path, codemap: CodeMap) -> None:
    wordings = data.get("ife_wordings")
    if wordings is None:
        return
    if not isinstance(wordings, dict):
        raise CodeMapError(f"{path}: 'ife_wordings' must map the lab's text to a standard form")
    for text, meaning in wordings.items():
        if not isinstance(text, str) or not text.strip() or not isinstance(meaning, str):
            raise CodeMapError(f"{path}: ife_wordings.{text}: map a text to a form such as 'IgG kappa'")
        try:
            value = parse_ife([meaning])
        except ValueProblem as exc:
            raise CodeMapError(f"{path}: ife_wordings.{text}: {exc}") from exc
        codemap.ife_wordings[_ife_text(text)] = value


def _apply_senders(data: dict[str, Any], path: Path, codemap: CodeMap) -> None:
    """Per-sender maps: each is the map built so far (defaults + this file) with its own sections over it."""
    for index, item in enumerate(_entries(data, "senders", path)):
        where = f"{path}: senders[{index}]"
        name = item.get("name")
        if not isinstance(name, str) or not name.strip():
            raise CodeMapError(f"{where}: 'name' is required")
        criteria = {}
        for key in SENDER_CRITERIA:
            if key in item:
                if not isinstance(item[key], str) or not item[key].strip():
                    raise CodeMapError(f"{where} ({name}): '{key}' must be a non-empty string")
                criteria[key] = item[key].strip().casefold()
        if not criteria:
            raise CodeMapError(
                f"{where} ({name}): name the sender by at least one of {', '.join(SENDER_CRITERIA)}"
            )
        sections = {k: v for k, v in item.items() if k not in (*SENDER_CRITERIA, "name", "file")}
        if "file" in item:
            if not isinstance(item["file"], str):
                raise CodeMapError(f"{where} ({name}): 'file' must be a path")
            sections = {**_read_yaml(path.parent / item["file"]), **sections}
        unknown = set(sections) - (_TOP_KEYS - {"senders", "version"})
        if unknown:
            raise CodeMapError(f"{where} ({name}): unknown key(s) {sorted(unknown)}")
        own = deepcopy(codemap)
        own.senders, own.sender = [], name.strip()
        _merge_data(own, sections, Path(f"{path} senders[{index}] ({name})"))
        codemap.senders.append(SenderMap(name.strip(), criteria, own))


def _apply_not_mapped(data: dict[str, Any], path: Path, codemap: CodeMap) -> None:
    for index, item in enumerate(_entries(data, "not_mapped", path)):
        where = f"{path}: not_mapped[{index}]"
        unknown = set(item) - _NOT_MAPPED_KEYS
        if unknown:
            raise CodeMapError(f"{where}: unknown key(s) {sorted(unknown)}")
        code = _code_text(item.get("code"), where)
        codemap.not_mapped[(codemap.system_key(item.get("system")), code)] = str(item.get("reason", ""))


def _merge_data(codemap: CodeMap, data: dict[str, Any], path: Path) -> None:
    _apply_aliases(data, path, codemap)
    # A lab file may add known-wrong codes; nothing can remove one (there is no un-reject).
    _apply_rejected(data, path, codemap)
    _apply_entries(data, path, codemap)
    _apply_not_mapped(data, path, codemap)
    _apply_ife_wordings(data, path, codemap)
    codemap.files = (*codemap.files, str(path))


def _merge_file(codemap: CodeMap, path: Path) -> None:
    data = _read_yaml(path)
    version = data.get("version", 1)
    if version != 1:
        raise CodeMapError(f"{path}: unsupported code-map version {version!r} (expected 1)")
    _merge_data(codemap, data, path)
    _apply_senders(data, path, codemap)


def load_codemap(path: str | None = None) -> CodeMap:
    """Load the defaults merged with a lab file (``path`` or $MGI_CODEMAP_FILE); no caching."""
    codemap = CodeMap()
    _merge_file(codemap, DEFAULT_CODEMAP_PATH)
    lab_file = path if path is not None else os.environ.get(CODEMAP_ENV) or None
    if lab_file:
        _merge_file(codemap, Path(lab_file))
    return codemap


# --------------------------------------------------------------------------------------------
# Value interpretation
# --------------------------------------------------------------------------------------------

# ASCII digits only: Python's \d also matches other scripts' digits ('١٥', fullwidth '１５'), which no
# laboratory system sends as a result and which would otherwise be read as numbers.
_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)", re.ASCII)
_COMPARED = re.compile(r"^\s*(<=|>=|=<|=>|<|>|=)?\s*(\S+)\s*$")


def parse_number(text: str) -> int | float:
    """A decimal number from text ('16' -> 16, '0.80' -> 0.8); anything else raises."""
    raw = text.strip()
    if not _NUMBER.fullmatch(raw):
        if re.fullmatch(r"[+-]?\d+,\d+", raw, re.ASCII):
            raise ValueProblem(f"'{text}' uses a decimal comma; send a decimal point")
        raise ValueProblem(f"'{text}' is not a number")
    try:
        number: int | float = float(raw) if ("." in raw) else int(raw)
    except ValueError:  # int() refuses more than sys.get_int_max_str_digits() digits
        raise ValueProblem(f"'{text[:32]}...' has too many digits to be a result") from None
    if isinstance(number, float):
        if not math.isfinite(number):
            raise ValueProblem(f"'{text}' is not a finite number")
        number += 0.0  # '-0.0' is 0: a signed zero would be shown as "-0"
    refuse_inexact(raw, number)
    return number


# A decimal of at most 15 significant digits is read exactly by a float (IEEE 754 double), which
# the request carries; the rules compare its shortest decimal form (Decimal(repr(value))).
EXACT_DIGITS = 15


def inexact_problem(text: str, number: float | int) -> str | None:
    """Why a number written ``text`` cannot be read as it is written, or None: more significant
    digits than a float keeps, so that the value read differs from the value sent
    ('29.99999999999999999' is read as 30.0 and would meet a threshold of 30 the result does not)."""
    try:
        sent = Decimal(text.strip())
        read = float(number)
    except (InvalidOperation, OverflowError):
        read = math.inf
    if not math.isfinite(read):
        return f"'{text[:32]}' is too large to be read as a number"
    kept = Decimal(repr(read))
    if sent == kept:
        return None
    return (
        f"'{text[:40]}' has more significant digits than are read exactly (at most {EXACT_DIGITS}): it would "
        f"be read as {kept}, which could cross a threshold the result does not; send it rounded to "
        f"{EXACT_DIGITS} significant digits or fewer"
    )


def refuse_inexact(text: str, number: float | int) -> None:
    """ValueProblem when ``text`` is not read exactly as a float (``inexact_problem``)."""
    problem = inexact_problem(text, number)
    if problem is not None:
        raise ValueProblem(problem)


class InexactNumber(float):
    """A JSON number (of a FHIR Bundle) that a float does not hold exactly, with its text: the
    reader refuses it at its element instead of reading the float (``json_float``)."""

    text: str

    def __new__(cls, text: str) -> InexactNumber:
        number = super().__new__(cls, text)
        number.text = text
        return number


def json_float(text: str) -> float:
    """``parse_float`` for a FHIR Bundle: the float of a JSON number, or an InexactNumber when the
    float would not be the number written."""
    number = float(text)
    return InexactNumber(text) if inexact_problem(text, number) is not None else number


# An electrophoresis that found no M-protein, in words (exact phrases, case-insensitive): an M-protein of 0.
# "Trace" is not among them: a trace band is an M-protein too small to measure, not a quantity.
NO_M_PROTEIN_WORDINGS = frozenset({"none detected", "not detected", "no m-spike", "absent", "negative"})
# The results such a wording can give, with the unit of a 0 sent without one.
NO_M_PROTEIN_FIELDS = {"spep.m_protein": "g/L", "urine.m_protein_24h": "mg/24h"}


class NotDetected(int):
    """The 0 of a text saying no M-protein was found ('None detected'). Only an M-protein takes it:
    ``numeric_value`` refuses it for any other result, as the text it is."""

    text: str

    def __new__(cls, text: str) -> NotDetected:
        number = super().__new__(cls, 0)
        number.text = text
        return number


def read_not_detected(text: str) -> NotDetected | None:
    """The wording of an electrophoresis that found no M-protein as a NotDetected 0, else None."""
    return NotDetected(text.strip()) if " ".join(text.casefold().split()) in NO_M_PROTEIN_WORDINGS else None


def _no_m_protein(entry: CodeEntry, number: NotDetected, unit: str, where: str, notes: list[str]) -> str:
    """The unit of an M-protein read from a 'none detected' wording (said in a note); any other result, or
    one band of the M-protein, refuses the text (the value's, not the unit's)."""
    if entry.kind is not Kind.QUANTITY or entry.target not in NO_M_PROTEIN_FIELDS or entry.band:
        raise ValueProblem(
            f"'{number.text}' is not a number (the value: only a serum or urine M-protein may say in words "
            "that none was found)"
        )
    unit = unit or NO_M_PROTEIN_FIELDS[entry.target]
    notes.append(f"{where}: '{number.text}' read as {entry.target} 0 {unit} (no M-protein detected)")
    return unit


def parse_compared(text: str) -> tuple[str | None, int | float]:
    """A value with an optional comparator: '<0.1' -> ('<', 0.1), '16' -> (None, 16). A wording of no
    M-protein ('None detected', NO_M_PROTEIN_WORDINGS) is a NotDetected 0, which only an M-protein takes."""
    absent = read_not_detected(text)
    if absent is not None:
        return None, absent
    match = _COMPARED.match(text)
    if not match:
        raise ValueProblem(f"'{text}' is not a number (optionally with < <= > >=)")
    comparator = {"=<": "<=", "=>": ">=", "=": None}.get(match.group(1) or "", match.group(1))
    return comparator or None, parse_number(match.group(2))


_NUM = r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)"
_RANGE_FORMS = (
    (re.compile(rf"({_NUM})\s*(?:-|–|to)\s*({_NUM})\s*(\S*)", re.ASCII), "both"),
    (re.compile(rf"(<=|<|≤)\s*({_NUM})\s*(\S*)", re.ASCII), "high"),
    (re.compile(rf"(>=|>|≥)\s*({_NUM})\s*(\S*)", re.ASCII), "low"),
)


def parse_range_text(text: str) -> tuple[dict[str, int | float], str] | None:
    """A free-text reference range: '3.3-19.4', '3.3 - 19.4 mg/L', '<4.0', '> 60 mL/min/1.73m2' ->
    ({'low': 3.3, 'high': 19.4}, unit or ''); None for an empty text. Anything else raises."""
    raw = " ".join(text.split()).strip("()[] ")
    if not raw:
        return None
    for pattern, side in _RANGE_FORMS:
        match = pattern.fullmatch(raw)
        if match is None:
            continue
        if side == "both":
            return {"low": parse_number(match.group(1)), "high": parse_number(match.group(2))}, match.group(3)
        return {side: parse_number(match.group(2))}, match.group(3)
    raise ValueProblem(f"reference range '{text}' is not 'low-high', '<high' or '>low' (with a unit or none)")


def read_range_text(
    text: str, unit: str, codemap: CodeMap, where: str, notes: list[str]
) -> dict[str, int | float] | None:
    """The reference range of a free-text field (HL7 OBX-7), or None. Never refuses the message: a
    range that cannot be read, or that names another unit than the value, is ignored with a note."""
    try:
        parsed = parse_range_text(text)
    except ValueProblem as exc:
        notes.append(f"{where}: {exc}; the range is ignored")
        return None
    if parsed is None:
        return None
    rng, range_unit = parsed
    range_unit = codemap.normalize_unit(range_unit)
    same = not units_contradict(range_unit, unit) and {range_unit, unit} <= KNOWN_UNITS
    if range_unit and unit and range_unit != unit and not same:
        notes.append(
            f"{where}: reference range '{text}' is in '{range_unit}', the value in '{unit}'; ignored"
        )
        return None
    if "low" in rng and "high" in rng and rng["low"] > rng["high"]:
        notes.append(f"{where}: reference range '{text}' has its low above its high; ignored")
        return None
    if not usable_range(rng):
        notes.append(f"{where}: one-sided reference range '{text}' dropped (the contract needs low and high)")
        return None
    return rng


# Results whose rules read no reference range (the request schema refuses one sent with them). A
# laboratory sends a range with most results: an interface message's range for one of these is left out
# with a note (range_not_read), never read and never a reason to refuse the message.
REFERENCE_RANGE_NOT_READ = frozenset(
    {"spep.m_protein", "urine.m_protein_24h", "labs.creatinine_clearance", "labs.egfr"}
)


def range_not_read(target: str, where: str) -> str:
    """The note for a reference range sent with a result whose rules read none (left out)."""
    return f"{where}: reference range left out: no rule reads a reference range of {target}"


def usable_range(rng: Mapping[str, int | float] | None) -> dict[str, int | float] | None:
    """A range the contract can carry (both low and high); one-sided ranges give None."""
    return dict(rng) if rng and "low" in rng and "high" in rng else None


def make_quantity(
    value: int | float,
    unit: str,
    *,
    comparator: str | None = None,
    reference_range: Mapping[str, int | float] | None = None,
) -> dict[str, Any]:
    """A contract quantity dict (keys only when present)."""
    if not unit:
        raise ValueProblem("the unit is missing (OBX-6 / valueQuantity.code)")
    quantity: dict[str, Any] = {"value": value, "unit": unit}
    if comparator is not None:
        if comparator not in COMPARATORS:
            raise ValueProblem(f"comparator '{comparator}' is not one of < <= > >=")
        quantity["comparator"] = comparator
    if reference_range:
        quantity["reference_range"] = dict(reference_range)
    return quantity


_TRUE_WORDS = {"y", "yes", "true", "t", "1", "positive", "pos", "present", "detected"}
_FALSE_WORDS = {"n", "no", "false", "f", "0", "negative", "neg", "absent", "not detected"}


def parse_flag(text: str) -> bool:
    """Yes/no finding: Y/N (HL7 table 0136), yes/no, true/false, present/absent, ..."""
    word = " ".join(text.strip().casefold().split())
    if word in _TRUE_WORDS:
        return True
    if word in _FALSE_WORDS:
        return False
    raise ValueProblem(f"'{text}' is not a yes/no value (Y, N, yes, no, true, false)")


# The FLC assay a method or instrument text names (clinical-reference §4): a reagent names the assay; an
# analyser only when no reagent is named (Freelite also runs on the Siemens BN II and BN ProSpec).
_ASSAY_REAGENTS = (
    (re.compile(r"\bfree\s*lite\b|\bbinding\s+site\b|\boptilite\b"), "freelite"),
    (re.compile(r"\bn\s*latex\b"), "n_latex"),
    (re.compile(r"\bsebia\b"), "sebia"),
)
_ASSAY_ANALYSERS = ((re.compile(r"\bsiemens\b|\bbn\s*(?:ii|2)\b|\bbn\s*prospec\b|\batellica\b"), "n_latex"),)


def assay_of_method(text: str) -> str | None:
    """The FLC assay (freelite, n_latex, sebia, other) a method or device text names, case-insensitively:
    Freelite, The Binding Site or Optilite -> freelite; N Latex -> n_latex; Sebia -> sebia; a Siemens
    analyser (BN II, BN ProSpec, Atellica) -> n_latex unless a reagent is named beside it; any other text
    -> other; None for an empty text. A text naming two assays raises ValueProblem."""
    folded = " ".join(text.casefold().replace("_", " ").replace("-", " ").split())
    if not folded:
        return None
    for table in (_ASSAY_REAGENTS, _ASSAY_ANALYSERS):
        named = sorted({assay for pattern, assay in table if pattern.search(folded)})
        if len(named) > 1:
            raise ValueProblem(f"'{text[:128]}' names two FLC assays ({', '.join(named)}): send one")
        if named:
            return named[0]
    return "other"


def parse_enum(text: str, allowed: tuple[str, ...]) -> str:
    """One of the allowed words, case-insensitively; anything else raises."""
    word = text.strip().casefold().replace(" ", "_").replace("-", "_")
    if word in allowed:
        return word
    raise ValueProblem(f"'{text}' is not one of {', '.join(allowed)}")


def parse_count(text: str) -> int:
    """A non-negative whole number (lesion counts)."""
    number = parse_number(text)
    if isinstance(number, float):
        if not number.is_integer():
            raise ValueProblem(f"'{text}' is not a whole number")
        number = int(number)
    if number < 0:
        raise ValueProblem(f"'{text}' is negative")
    return number


# --- immunofixation ---------------------------------------------------------------------------

IFE_FORMS_DOC = """
Accepted immunofixation values (case-insensitive; spaces, hyphens and Greek κ/λ tolerated):

| form                                            | request value                                     |
|-------------------------------------------------|---------------------------------------------------|
| negative, neg                                   | {"result": "negative", "clones": []}              |
| no monoclonal protein detected (also: no        | {"result": "negative", "clones": []}              |
|   monoclonal band/component/immunoglobulin/     |                                                   |
|   paraprotein/M-protein detected, not detected) |                                                   |
| IgG kappa, IgG-κ, IgGκ, IgG-K, IgG k            | positive, [{"heavy_chain": "IgG",                 |
|                                                 |             "light_chain": "kappa"}]              |
| IgA lambda, IgM λ, IgD-L, IgE kappa             | positive, one clone (IgG/IgA/IgM/IgD/IgE)         |
| free kappa, free lambda, kappa light chain only,| positive, [{"heavy_chain": null,                  |
|                                                 |             "light_chain": "kappa"|"lambda"}]     |
|   kappa free light chain, Bence Jones lambda    |                                                   |
| positive IgM lambda, positive: IgG kappa,       | the prefix (positive/pos/monoclonal) is dropped   |
|   monoclonal IgG kappa, IgG kappa paraprotein   |   as are trailing band/protein/paraprotein words  |
| biclonal IgG kappa and IgA lambda               | positive, two clones (separators: and , ; + &)    |
| HL7 repetitions: IgG kappa~IgA lambda           | positive, two clones                              |
| HL7 OBX-4 sub-IDs 1 and 2, one clone each       | positive, two clones                              |
| sentences: monoclonal IgG kappa identified,     | positive, [{"heavy_chain": "IgG",                 |
|   monoclonal IgG kappa protein detected.,       |             "light_chain": "kappa"}]              |
|   IgG/kappa, faint band of monoclonal IgG kappa |                                                   |
|   in a polyclonal background, faint IgA lambda  |                                                   |
|   band, a small monoclonal IgG kappa            |                                                   |
| no monoclonal protein identified, negative for  | {"result": "negative", "clones": []}              |
|   monoclonal protein, no M-spike seen           |                                                   |
| the lab's own wordings (code map ife_wordings)  | the standard form each is mapped to               |

Coded values (CWE/CE, valueCodeableConcept) are read from their text, then their code.
Anything else (a bare "positive", three clones, "biclonal" with one clone, an unknown heavy
chain, "kappa" alone) is an error naming the segment and the value: never a guess.
"""

_NEGATIVE = {
    "negative",
    "neg",
    "not detected",
    "none detected",
    "no paraprotein detected",
}
# "No monoclonal protein identified", "Negative for monoclonal protein", "no M-spike seen", ...
_NEGATIVE_SENTENCE = re.compile(
    r"^(?:no|negative\s+for|absence\s+of|without)\s+(?:evidence\s+of\s+)?(?:an?\s+)?(?:any\s+)?"
    r"(?:monoclonal|m-?)\s*(?:proteins?|bands?|components?|immunoglobulins?|paraproteins?|spikes?|"
    r"gammopathy)(?:\s+(?:is\s+|was\s+)?(?:identified|detected|seen|present|noted|found))?$"
)
_PREFIX = re.compile(
    r"^(?:positive|pos|monoclonal|biclonal|(?:an?\s+)?(?:faint|small|weak|trace|minor|discrete)?\s*"
    r"(?:band|spike|amount)\s+of"
    # a bare qualifier before the clone: "faint IgA lambda band", "a small monoclonal IgG kappa"
    r"|(?:an?\s+)?(?:faint|small|weak|trace|minor|discrete)(?:\s+monoclonal)?(?=\s+(?:ig|free|bence|kappa|lambda)))"
    r"\b\s*(?:for\b)?\s*[:\-,]?\s*"
)
_SUFFIX = re.compile(
    r"\s+(?:(?:monoclonal\s+)?(?:protein|paraprotein|band|component|gammopathy|m-protein|type)"
    r"|(?:is\s+|was\s+)?(?:identified|detected|present|seen|noted|found)"
    r"|(?:in|on)\s+an?\s+polyclonal\s+background)$"
)
_HEAVY = re.compile(r"^ig\s*([gamde])\s*[-_ /]?\s*(kappa|lambda|k|l)$")
_FREE = re.compile(
    r"^(?:(?:free|bence[\s-]jones)\s+(kappa|lambda)(?:\s+(?:free\s+)?light\s+chains?)?(?:\s+only)?"
    r"|(kappa|lambda)\s+(?:free\s+light\s+chains?|light\s+chains?\s+only|light\s+chains?|free"
    r"|bence[\s-]jones)(?:\s+only)?)$"
)
_LIGHT = {"kappa": "kappa", "k": "kappa", "lambda": "lambda", "l": "lambda"}


def _ife_text(value: str) -> str:
    """An immunofixation text as compared: Greek letters spelled out, case and spacing folded."""
    text = value.replace("κ", " kappa ").replace("λ", " lambda ").casefold()
    return " ".join(text.replace("\u2013", "-").split()).strip(" .")


def _ife_clone(part: str, original: str) -> dict[str, str | None]:
    text = part
    while True:
        stripped = _PREFIX.sub("", text, count=1).strip()
        stripped = _SUFFIX.sub("", stripped).strip()
        if stripped == text:
            break
        text = stripped
    heavy = _HEAVY.match(text)
    if heavy:
        return {"heavy_chain": f"Ig{heavy.group(1).upper()}", "light_chain": _LIGHT[heavy.group(2)]}
    free = _FREE.match(text)
    if free:
        return {"heavy_chain": None, "light_chain": free.group(1) or free.group(2)}
    raise ValueProblem(f"immunofixation value '{original}' is not understood (part '{part}')")


def parse_ife(values: Iterable[str], wordings: Mapping[str, dict[str, Any]] | None = None) -> dict[str, Any]:
    """Immunofixation text (one or more repetitions) -> {'result', 'clones'}; see IFE_FORMS_DOC.
    ``wordings``: the lab's own texts (code map ``ife_wordings``), read before the standard forms."""
    texts = [v for v in values if v and v.strip()]
    if not texts:
        raise ValueProblem("immunofixation value is empty")
    original = " ~ ".join(texts)
    clones: list[dict[str, str | None]] = []
    negatives = 0
    biclonal = False
    for value in texts:
        text = _ife_text(value)
        lab = (wordings or {}).get(text)
        if lab is not None:
            negatives += lab["result"] == "negative"
            clones.extend(lab["clones"])
            continue
        if text in _NEGATIVE or _NEGATIVE_SENTENCE.match(text):
            negatives += 1
            continue
        biclonal = biclonal or text.startswith("biclonal") or " biclonal " in f" {text} "
        if _PREFIX.sub("", text).strip() == "":
            raise ValueProblem(f"immunofixation value '{value}' says positive but names no heavy/light chain")
        parts = re.split(r"\s*(?:\band\b|\bplus\b|[,;+&])\s*", text)
        for part in parts:
            # "positive, IgG kappa": a part that is only a prefix word carries no clone.
            if _PREFIX.sub("", part.strip()).strip():
                clones.append(_ife_clone(part.strip(), value))
    return _ife_result(clones, negatives, biclonal, original)


def _ife_result(
    clones: list[dict[str, str | None]], negatives: int, biclonal: bool, original: str
) -> dict[str, Any]:
    if negatives and clones:
        raise ValueProblem(f"immunofixation value '{original}' is both negative and positive")
    if negatives:
        return {"result": "negative", "clones": []}
    if len(clones) > 2:
        raise ValueProblem(f"immunofixation value '{original}' names more than two clones")
    if len({(c["heavy_chain"], c["light_chain"]) for c in clones}) != len(clones):
        raise ValueProblem(f"immunofixation value '{original}' names the same clone twice")
    if biclonal and len(clones) != 2:
        raise ValueProblem(f"immunofixation value '{original}' says biclonal but names one clone")
    return {"result": "positive", "clones": clones}


def merge_ife(first: dict[str, Any], second: dict[str, Any], where: str) -> dict[str, Any]:
    """Two immunofixation results of one panel told apart by sub-ID (HL7 OBX-4): one clone each."""
    negatives = (first["result"] == "negative") + (second["result"] == "negative")
    named = {(c["heavy_chain"], c["light_chain"]) for c in first["clones"]}
    twice = next((c for c in second["clones"] if (c["heavy_chain"], c["light_chain"]) in named), None)
    if twice is not None:
        clone = f"{twice['heavy_chain'] or 'free'} {twice['light_chain']}"
        raise ValueProblem(
            f"the immunofixation results of {where} name the same clone ({clone}) under two sub-IDs: "
            "sub-IDs tell apart the clones of a biclonal immunofixation, and a clone is listed once"
        )
    return _ife_result([*first["clones"], *second["clones"]], negatives, False, where)


# --- one value-type dispatch for HL7 v2 and FHIR ----------------------------------------------


def first_parse(candidates: Iterable[str], parser: Any) -> Any:
    """The first candidate text (coded value's text, alternate text, code, ...) the parser reads."""
    problems = []
    for candidate in candidates:
        try:
            return parser(candidate)
        except ValueProblem as exc:
            problems.append(str(exc))
    raise ValueProblem("; ".join(problems) or "the value is empty")


def coded_value(entry: CodeEntry, candidates: list[str], codemap: CodeMap) -> Any:
    """A non-numeric result from its candidate texts: immunofixation, yes/no finding, scleromyxoedema
    status or FLC assay (HL7 CWE/CE/ST, FHIR valueCodeableConcept/valueString)."""
    kind = entry.kind
    if kind is Kind.IFE:
        return first_parse(candidates, lambda t: codemap.parse_ife([t]))
    if kind is Kind.FLAG:
        return first_parse(candidates, parse_flag)
    if kind is Kind.SCLEROMYXEDEMA:
        return first_parse(candidates, lambda t: parse_enum(t, SCLEROMYXEDEMA_VALUES))
    if kind is Kind.ASSAY:
        return first_parse(candidates, lambda t: parse_enum(t, ASSAYS))
    raise ValueProblem(f"{entry.target} needs a number, not a coded or text value")


def _scaled(number: int | float, factor: Decimal) -> int | float:
    if factor == 1:
        return number
    exact = Decimal(repr(number) if isinstance(number, float) else number) * factor
    return int(exact) if exact == exact.to_integral_value() else float(exact)


# ref: §1.1 — (request field, unit) sent as received, never converted here: the limits must be checked.
LIMITS_REQUIRED = frozenset({("labs.hemoglobin", "mmol/L"), ("labs.creatinine", "mmol/L")})


def numeric_value(
    entry: CodeEntry,
    number: int | float,
    comparator: str | None,
    unit: str,
    reference_range: Mapping[str, int | float] | None,
    *,
    codemap: CodeMap,
    where: str,
    unit_where: str,
    notes: list[str],
) -> Any:
    """The request value of a numeric result (quantity, cross-check, percent, count), one rule for HL7
    and FHIR. A code whose property fixes its units (``units`` in the code map) refuses any other unit
    and converts the value and its reference range (creatinine mmol/L x 1000 -> umol/L, §1)."""
    kind = entry.kind
    if isinstance(number, NotDetected):
        unit = _no_m_protein(entry, number, unit, where, notes)
        number = 0
    if kind is not Kind.QUANTITY:
        return plain_value(entry.target, kind, number, comparator, unit, unit_where)
    if entry.units is not None:
        if unit not in entry.units:
            home = codemap.unit_home(entry.target, unit) if unit else None
            hint = f"; a result in {unit} is sent under {home.label}" if home and home is not entry else ""
            shown = f"'{unit}'" if unit else "missing"
            raise ValueProblem(
                f"{entry.label} ({entry.display or entry.target}) carries {', '.join(entry.units)}; "
                f"the unit ({unit_where}) is {shown}{hint}"
            )
        to_unit, factor = entry.units[unit]
        if (entry.target, unit) in LIMITS_REQUIRED:
            # ref: §1.1 — haemoglobin and creatinine in mmol/L overlap g/dL and mg/dL: they go to the
            # request unconverted, with their range in mmol/L, so that the request's rule applies
            # unchanged (limits required, and checked against their windows) whatever the code map's
            # conversion says; the service converts them (§1) once the limits have passed.
            to_unit, factor = unit, Decimal(1)
        if factor != 1:
            converted = _scaled(number, factor)
            notes.append(f"{where}: {number:g} {unit} read as {converted:g} {to_unit} ({entry.label})")
            number, unit = converted, to_unit
            if reference_range:
                reference_range = {k: _scaled(v, factor) for k, v in reference_range.items()}
        else:
            unit = to_unit
    return make_quantity(number, unit, comparator=comparator, reference_range=reference_range)


# --------------------------------------------------------------------------------------------
# Request assembly
# --------------------------------------------------------------------------------------------

_SCLEROMYXEDEMA_RANK = {"absent": 0, "suspected": 1, "confirmed": 2}

# Fields whose codes all report one analyte (free kappa: 36916-5, 80515-0, 104544-2; free lambda:
# 33944-0, 80516-8): a code's priority only chooses which report of the same result is kept (its
# reference range, its unit), never between two different results of one date. The one dropped could
# be a myeloma-defining event: two different values are a conflict whatever the priorities. Priority
# still decides between the eGFR equations, and a total M-protein over one band (docs/codemap.md).
ONE_MEASUREMENT_FIELDS = frozenset({"flc.kappa", "flc.lambda"})
# Units of one result written two ways (clinical-reference §1: FLC mg/dL x 10 = mg/L).
_SAME_RESULT_UNITS = {"mg/L": Decimal(1), "mg/dL": Decimal(10)}


def _same_measurement(first: Any, second: Any) -> bool:
    """Whether two quantities state the same result: the same comparator and the same value, in one
    unit or in mg/L and mg/dL alike (a reference range aside)."""
    if not (isinstance(first, dict) and isinstance(second, dict)):
        return bool(first == second)
    if first.get("comparator") != second.get("comparator"):
        return False
    if first.get("unit") == second.get("unit"):
        return bool(first.get("value") == second.get("value"))
    one, other = (_SAME_RESULT_UNITS.get(str(q.get("unit"))) for q in (first, second))
    if one is None or other is None:
        return False
    return Decimal(repr(first["value"])) * one == Decimal(repr(second["value"])) * other


@dataclass
class _Slot:
    value: Any
    priority: int
    source: str
    from_condition: bool
    groups: frozenset[str] = frozenset()  # HL7 OBX-4 sub-IDs that gave the value
    band: bool = False  # one band of the M-protein (a band code), not the total
    parts: dict[str, Any] = field(default_factory=dict)  # the value each sub-ID gave


class PanelAssembler:
    """Collects field values from observations/conditions and builds the request dict.

    Rules: identical values from two sources are fine; a lower ``priority`` wins over a higher
    one, except between different results of ``ONE_MEASUREMENT_FIELDS`` (a conflict); among diagnoses
    (conditions) a present finding wins over a refuted one and confirmed > suspected > absent; anything
    else that disagrees is an error.
    """

    def __init__(self) -> None:
        self._slots: dict[str, _Slot] = {}
        self.notes: list[str] = []
        self.crosschecks: list[tuple[dict[str, Any], str]] = []
        self._bands: list[str] = []  # sources of M-protein bands added together (checked against the IFE)

    @property
    def sources(self) -> dict[str, str]:
        """Request field path -> where its value came from (for error messages)."""
        return {path: slot.source for path, slot in self._slots.items()}

    def set(
        self,
        path: str,
        value: Any,
        *,
        source: str,
        priority: int = 0,
        from_condition: bool = False,
        group: str = "",
        band: bool = False,
    ) -> None:
        """Record a value for a request field path; contradictory data raises ValueProblem.

        ``group`` is the HL7 OBX-4 sub-ID: results of one code told apart by sub-ID are one analyte's
        parts (two bands of a biclonal gammopathy), combined rather than in conflict."""
        if FIELD_KINDS.get(path) is Kind.CROSSCHECK:
            self.crosschecks.append((value, source))
            return
        new = _Slot(
            value,
            priority,
            source,
            from_condition,
            frozenset({group}) if group else frozenset(),
            band,
            {group: value} if group else {},
        )
        old = self._slots.get(path)
        if old is not None and group in old.parts and old.priority == priority and old.parts[group] == value:
            return  # the same part (sub-ID) sent again with the same result: read once
        # Two results told apart by sub-IDs are two parts of one analyte even when they read alike: two
        # immunofixation results naming one clone (refused, as the JSON request refuses a clone listed
        # twice), two bands of one size (added). The same result under the same sub-ID is read once.
        parts = (
            old is not None
            and group
            and old.groups
            and group not in old.groups
            and old.priority == priority
            and (FIELD_KINDS.get(path) is Kind.IFE or path == "spep.m_protein")
        )
        if old is None or (old.value == value and not parts):
            if old is None:
                self._slots[path] = new
            return
        if group and old.groups and group not in old.groups and old.priority == priority:
            self._slots[path] = self._combine(path, old, new)
            return
        if old.priority != new.priority:
            if path in ONE_MEASUREMENT_FIELDS and not _same_measurement(old.value, new.value):
                raise ValueProblem(
                    f"{path} has conflicting values: {old.value!r} from {old.source} and {new.value!r} from "
                    f"{source} (two codes of one analyte on one date give different results: one cannot be "
                    "dropped for the other; send the result once)"
                )
            keep, drop = (old, new) if old.priority < new.priority else (new, old)
            self._slots[path] = keep
            self.notes.append(f"{path}: {drop.source} ignored, {keep.source} is preferred")
            return
        if old.from_condition and new.from_condition:
            self._slots[path] = self._merge_findings(path, old, new)
            return
        raise ValueProblem(
            f"{path} has conflicting values: {old.value!r} from {old.source} and {new.value!r} from {source}"
        )

    def _combine(self, path: str, old: _Slot, new: _Slot) -> _Slot:
        both = f"{old.source} and {new.source}"
        kind = FIELD_KINDS[path]
        if kind is Kind.IFE:
            try:
                value = merge_ife(old.value, new.value, both)
            except ValueProblem as exc:
                raise ValueProblem(f"{path}: {exc}") from exc
        elif path == "spep.m_protein":
            value = self._sum_bands(old.value, new.value, both)
            self._bands = [*(self._bands or [old.source]), new.source]
            self.notes.append(f"{path}: the bands of {both} are added into one serum M-protein")
        else:
            raise ValueProblem(
                f"{path} has conflicting values: {old.value!r} from {old.source} and {new.value!r} "
                f"from {new.source} (sub-IDs tell apart only immunofixation clones and M-protein bands)"
            )
        return _Slot(
            value, old.priority, both, False, old.groups | new.groups, parts={**old.parts, **new.parts}
        )

    @staticmethod
    def _sum_bands(first: dict[str, Any], second: dict[str, Any], where: str) -> dict[str, Any]:
        if first.get("comparator") or second.get("comparator") or first["unit"] != second["unit"]:
            raise ValueProblem(
                f"spep.m_protein: the bands of {where} cannot be added (a bound, or different units)"
            )
        total = Decimal(repr(first["value"])) + Decimal(repr(second["value"]))
        summed: dict[str, Any] = {
            "value": int(total) if total == total.to_integral_value() else float(total),
            "unit": first["unit"],
        }
        if first.get("reference_range"):
            summed["reference_range"] = first["reference_range"]
        return summed

    @staticmethod
    def _merge_findings(path: str, old: _Slot, new: _Slot) -> _Slot:
        if FIELD_KINDS[path] is Kind.SCLEROMYXEDEMA:
            rank = _SCLEROMYXEDEMA_RANK
            return old if rank[old.value] >= rank[new.value] else new
        # One confirmed diagnosis is enough to assert the finding; a refuted one does not undo it.
        return old if old.value is True else new

    def set_default(self, path: str, value: Any, *, source: str) -> None:
        """Set a value only when nothing else filled the field."""
        if path not in self._slots:
            self._slots[path] = _Slot(value, 99, source, False)

    def has(self, path: str) -> bool:
        """Whether a field has a value."""
        return path in self._slots

    def get(self, path: str) -> Any:
        """The value of a field (None when absent)."""
        slot = self._slots.get(path)
        return None if slot is None else slot.value

    def check(self) -> None:
        """Cross-field checks once every result is in: M-protein bands, the reported κ/λ ratio."""
        self.check_bands()
        self.check_flc_ratio()

    def check_bands(self, panel_clones: int = 0) -> None:
        """M-protein bands told apart by sub-ID are added only for a biclonal immunofixation: without
        one they could be a repeated measurement, and adding them would double the M-protein.
        ``panel_clones``: the clones the panel's immunofixation names, for a history entry without its
        own (one band of an earlier day is a band of the same gammopathy)."""
        clones = len((self.get("serum_ife") or {}).get("clones") or [])
        self._band_only(max(clones, panel_clones))
        if not self._bands:
            return
        if clones < 2:
            raise ValueProblem(
                f"{self._bands[1]}: spep.m_protein: {len(self._bands)} bands ({', '.join(self._bands)}) "
                "but no serum immunofixation naming two clones in the message: send the total M-protein, or "
                "the immunofixation of both clones"
            )
        if len(self._bands) > clones:
            # One band per clone: a band beyond them could be a repeated measurement of one of them.
            extra = self._bands[clones]
            raise ValueProblem(
                f"{extra}: spep.m_protein: {len(self._bands)} bands ({', '.join(self._bands)}) but the serum "
                f"immunofixation names {clones} clones: a band beyond the clones could be a repeated "
                "measurement, and adding it would double the M-protein; send the total M-protein, or one "
                "band per clone"
            )

    def _band_only(self, clones: int) -> None:
        """A band code's value (one band) beside an immunofixation naming two clones or more is a lower
        bound of the total M-protein, never the total: the other bands are not in it."""
        slot = self._slots.get("spep.m_protein")
        if slot is None or not slot.band or clones < 2:
            return
        comparator = slot.value.get("comparator")
        if comparator in ("<", "<="):
            raise ValueProblem(
                f"spep.m_protein: {slot.source} bounds one band from above while the immunofixation names "
                f"{clones} clones: that says nothing of the total M-protein; send the total M-protein"
            )
        if comparator is None:
            self._slots["spep.m_protein"] = replace(slot, value={**slot.value, "comparator": ">="})
        self.notes.append(
            f"spep.m_protein: {slot.source} is one band while the immunofixation names {clones} clones: read "
            "as a lower bound of the total M-protein (send the total, or each band with its own sub-ID)"
        )

    def check_flc_ratio(self) -> None:
        """Compare a reported kappa/lambda ratio with the kappa and lambda of the same panel."""
        kappa, lam = self.get("flc.kappa"), self.get("flc.lambda")
        factor = {"mg/L": 1.0, "mg/dL": 10.0}
        for reported, source in self.crosschecks:
            if reported.get("comparator"):
                self.notes.append(f"{source}: reported ratio is a bound; not cross-checked")
                continue
            if (
                not kappa
                or not lam
                or kappa.get("comparator")
                or lam.get("comparator")
                or kappa["unit"] not in factor
                or lam["unit"] not in factor
                or not lam["value"]
            ):
                self.notes.append(f"{source}: reported ratio not cross-checkable; ignored")
                continue
            computed = (kappa["value"] * factor[kappa["unit"]]) / (lam["value"] * factor[lam["unit"]])
            value = float(reported["value"])
            # Labs round the ratio to 2 decimals: allow that plus 5 % before calling it a mismatch.
            if abs(computed - value) > max(0.01, 0.05 * computed):
                raise ValueProblem(
                    f"{source}: reported kappa/lambda ratio {value:g} disagrees with "
                    f"kappa/lambda {computed:.2f} computed from {self._slots['flc.kappa'].source} "
                    f"and {self._slots['flc.lambda'].source}"
                )
            self.notes.append(
                f"{source}: reported kappa/lambda ratio {value:g} agrees; the service computes its own ratio"
            )

    def build(self) -> dict[str, Any]:
        """The nested request dict (api-contract.md request body)."""
        request: dict[str, Any] = {}
        for path in sorted(self._slots):
            node = request
            *parents, leaf = path.split(".")
            for part in parents:
                node = node.setdefault(part, {})
            node[leaf] = self._slots[path].value
        return request


def age_in_years(birth: date, on: date) -> int:
    """Completed years between two dates."""
    years = on.year - birth.year - ((on.month, on.day) < (birth.month, birth.day))
    if years < 0:
        raise ValueProblem(f"birth date {birth.isoformat()} is after {on.isoformat()}")
    return years


# Every unit spelling the contract accepts (clinical-reference §1), and the percent of marrow counts.
KNOWN_UNITS = frozenset({u for _, table in UNITS.values() for u in table} | {"%"})


def units_contradict(first: str, second: str) -> bool:
    """Two known unit spellings that do not mean the same unit (g/L beside g/dL; not µmol/L beside
    umol/L): a value given with both is ambiguous, by a factor of ten or more."""
    if first == second or first not in KNOWN_UNITS or second not in KNOWN_UNITS:
        return False
    return not any(
        first in table and second in table and table[first] == table[second] for _, table in UNITS.values()
    )


def plain_value(
    target: str, kind: Kind, number: Any, comparator: str | None, unit: str, unit_where: str
) -> Any:
    """The request value of a cross-check, percent or count result (one rule for HL7 and FHIR).

    A cross-check keeps its bound; a percent or count is a plain number: no comparator, and a percent
    only in % (``unit_where`` names where the unit came from, for the message)."""
    if kind is Kind.CROSSCHECK:
        # A κ/λ ratio has no unit: a mass or molar unit means the code names another result.
        if unit not in ("", "1", "{ratio}", "ratio"):
            raise ValueProblem(f"{target} is a ratio without unit ({unit_where} is '{unit}')")
        return {"value": number, "comparator": comparator}
    if comparator:
        raise ValueProblem(f"{target} is a plain number; comparator '{comparator}' is not allowed")
    if kind is Kind.PERCENT:
        # No unit is not taken as %: a fraction (0.15) would be read as 0.15 %, and 15 of something
        # else as 15 % of marrow cells.
        if unit != "%":
            shown = f"is '{unit}'" if unit else "is missing"
            raise ValueProblem(f"{target} must be in % ({unit_where} {shown})")
        return number
    return parse_count(str(number))


# --------------------------------------------------------------------------------------------
# Results of other dates
# --------------------------------------------------------------------------------------------

# The analytes whose earlier results the request's history carries (api-contract "Serial results").
SERIAL_FIELDS = frozenset(
    {"spep.m_protein", "flc.kappa", "flc.lambda", "urine.m_protein_24h", "labs.hemoglobin"}
)
# The blood values of the CRAB criteria (§2.1): end-organ damage now, so a value of another day than
# the panel's is never read as the panel's (an earlier one is a history entry of its day, a later one is
# not read); a marrow, imaging, cytogenetics or clinical finding of another day belongs to the work-up.
POINT_IN_TIME_FIELDS = frozenset(
    {"labs.calcium", "labs.creatinine", "labs.creatinine_clearance", "labs.egfr", "labs.hemoglobin"}
)


@dataclass
class DatedResult:
    """One result read from a message, with the date it was collected on (None: the panel's)."""

    path: str
    value: Any
    source: str
    on: date | None
    date_element: str  # where its date was read (OBX-14, OBR-7, effectiveDateTime)
    priority: int = 0
    group: str = ""
    locator: Any = None  # the adapter's handle for locating an error at this result
    band: bool = False  # one band of the M-protein (CodeEntry.band)


class ResultProblem(ValueProblem):
    """A problem of one result (its date, or a conflict with another result of its date)."""

    def __init__(self, message: str, result: DatedResult, *, dated: bool) -> None:
        super().__init__(message)
        self.result = result
        self.dated = dated  # the problem is the result's date


# The paraprotein studies (SPEP, serum and urine immunofixation, urine M-protein, free light chains):
# a message's work-up is dated by them; a marrow, imaging or blood count of days later belongs to it.
PARAPROTEIN_SECTIONS = ("spep", "serum_ife", "urine", "flc")


def is_paraprotein(path: str) -> bool:
    return path.split(".", 1)[0] in PARAPROTEIN_SECTIONS


def is_urine_study(path: str) -> bool:
    return path.split(".", 1)[0] == "urine"


def work_up_date(results: Iterable[DatedResult]) -> date | None:
    """The panel's date when the message has dated paraprotein studies: the latest of the serum
    studies' dates (SPEP, serum immunofixation, free light chains), else of the urine studies'. A
    marrow biopsy, or a 24-hour urine collected after the blood was drawn, belongs to the work-up and
    does not push the serum studies, and the blood values of their day, into the history. None when it
    has none: the reader dates the panel by its own rule."""
    dated = [r for r in results if r.on is not None and is_paraprotein(r.path)]
    serum = [r.on for r in dated if not is_urine_study(r.path) and r.on is not None]
    dates = serum or [r.on for r in dated if r.on is not None]
    return max(dates) if dates else None


def place_results(
    results: Iterable[DatedResult], panel_on: date | None, panel: PanelAssembler, notes: list[str]
) -> tuple[list[dict[str, Any]], dict[str, str]]:
    """Put each result where its date says: results of the panel's date (or undated) into the panel;
    serial analytes and CRAB blood values of an earlier day into a history entry of that day (one per
    date, conflicting values refused naming both); a CRAB blood value of a later day is not read, with a
    note; other results of an earlier day, and results other than paraprotein studies of a later day,
    into the panel with a note naming the analyte, its date and the panel's (a marrow biopsy days apart
    is normal), unless the panel has its own; a paraprotein study dated after the panel is refused.
    Returns the history entries (oldest first) and their request paths' sources."""
    earlier: dict[date, PanelAssembler] = {}

    def other_day(r: DatedResult) -> bool:
        """A result of another day read with the panel: it only fills what the panel's own leave empty."""
        if r.on is None or panel_on is None or r.on == panel_on:
            return False
        return r.on > panel_on or r.path not in SERIAL_FIELDS | POINT_IN_TIME_FIELDS

    # Results of the panel's date first, then those of other days, nearest the panel's date first.
    results = sorted(
        results,
        key=lambda r: (other_day(r), abs((r.on - panel_on).days) if other_day(r) else 0),  # type: ignore[operator]
    )
    for result in results:
        target = panel
        if result.on is not None and panel_on is not None and result.on != panel_on:
            if result.on > panel_on and is_paraprotein(result.path) and not is_urine_study(result.path):
                raise ResultProblem(
                    f"{result.source}: {result.path} is dated {result.on.isoformat()} "
                    f"({result.date_element}), after the panel's date {panel_on.isoformat()}: a result "
                    "cannot be later than its panel",
                    result,
                    dated=True,
                )
            if result.on > panel_on and result.path in POINT_IN_TIME_FIELDS:
                notes.append(
                    f"{result.source}: {result.path} is dated {result.on.isoformat()}, after the panel's "
                    f"paraprotein studies of {panel_on.isoformat()}; not read: a CRAB blood value of "
                    "another day is not the panel's (clinical-reference §2.1)"
                )
                continue
            if result.on > panel_on:
                if panel.has(result.path):
                    notes.append(
                        f"{result.source}: {result.path} is dated {result.on.isoformat()}, after the "
                        f"panel's paraprotein studies of {panel_on.isoformat()}; ignored, the panel has "
                        "its own"
                    )
                    continue
                notes.append(
                    f"{result.source}: {result.path} is dated {result.on.isoformat()}, after the panel's "
                    f"paraprotein studies of {panel_on.isoformat()}; read with the panel (the same "
                    "work-up)"
                )
            elif result.path in SERIAL_FIELDS or result.path in POINT_IN_TIME_FIELDS:
                target = earlier.setdefault(result.on, PanelAssembler())
                notes.append(
                    f"{result.source}: {result.path} of {result.on.isoformat()} is an earlier result, read "
                    f"into the history (the panel is of {panel_on.isoformat()})"
                )
            elif panel.has(result.path):
                notes.append(
                    f"{result.source}: {result.path} is dated {result.on.isoformat()}, the panel "
                    f"{panel_on.isoformat()}; ignored, the panel has its own"
                )
                continue
            else:
                notes.append(
                    f"{result.source}: {result.path} is dated {result.on.isoformat()}, the panel "
                    f"{panel_on.isoformat()}; read with the panel"
                )
        try:
            target.set(
                result.path,
                result.value,
                source=result.source,
                priority=result.priority,
                group=result.group,
                band=result.band,
            )
        except ValueProblem as exc:
            raise ResultProblem(str(exc), result, dated=False) from exc
    history: list[dict[str, Any]] = []
    sources: dict[str, str] = {}
    panel_clones = len((panel.get("serum_ife") or {}).get("clones") or [])
    for number, on in enumerate(sorted(earlier)):
        assembler = earlier[on]
        try:
            if assembler.has("serum_ife"):
                assembler.check_bands()
            else:
                assembler.check_bands(panel_clones)
        except ValueProblem as exc:
            raise ValueProblem(f"history of {on.isoformat()}: {exc}") from exc
        notes.extend(assembler.notes)
        history.append({"collected_on": on.isoformat(), **assembler.build()})
        sources.update({f"history.{number}.{path}": src for path, src in assembler.sources.items()})
    return history, sources
