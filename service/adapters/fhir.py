"""FHIR R4 Bundle <-> contract JSON (api-contract.md), validated with fhir.resources.

fhir.resources 8 offers R5 (package root), R4B and STU3, but no R4 package. R4B (4.3.0) is the
closest release to R4 (4.0.1) and is used to validate R4 payloads: every element read or written
here exists with the same meaning in both.

Inbound ``bundle_to_request``: a Bundle of type collection, batch, transaction, searchset, message or
document (MessageHeader, Composition and OperationOutcome entries are noted and skipped). The code map
is the sender's (``meta.source``, MessageHeader source or sender Organization) or the global one.

* DiagnosticReport: the Observations contained in it that ``result`` (and their ``hasMember``)
  reference are read like entries, about the report's subject when they name none; results that are
  Bundle entries are read as entries. ``status`` is a modifier: partial, preliminary, final, amended,
  corrected and appended are read; any other status (entered-in-error, cancelled, registered, unknown)
  refuses the Bundle at ``Bundle.entry[i].resource.status``.
* An Observation with no value of its own and ``component`` values (spec example f205) is read
  through its components.

* Observation: ``code.coding`` looked up in the code map (LOINC defaults + lab codes; a known-wrong
  code in any coding rejects the bundle). ``valueQuantity`` (value, comparator, unit from ``code``
  when the system is UCUM, else ``unit``), the ``referenceRange`` whose ``appliesTo``/``age`` fit the
  patient (``_chosen_range``: none, several or undecidable -> no range, with a note) ``low/high`` (else
  its ``text``, read as HL7 OBX-7), ``valueCodeableConcept`` (its text and codings must read as one result) or
  ``valueString`` (immunofixation, findings), ``valueBoolean``, ``valueInteger``. An
  ``interpretation`` '>' / '<' (v3 off scale high / low) makes the value a bound. Components are
  read like observations. Status final/amended/corrected/preliminary used; registered, cancelled,
  entered-in-error and unknown skipped (noted). An amended or corrected Observation is read in place
  of a final one of the same code, field and date (``_corrections_replace``, noted), as an HL7 OBX-11
  C replaces F; two that differ otherwise are a conflict. ``effectiveDateTime``/``effectivePeriod.start``:
  the latest date becomes ``collected_on``; timestamps with a UTC offset are dated in the offset of
  the DiagnosticReport's effective time, else of the latest result time; a date without a day dates
  nothing (refused unless a complete date dates the panel).
* Patient (at most one): ``gender`` -> ``patient.sex``; ``birthDate`` -> ``patient.age_years``
  in completed years at ``collected_on`` (else today); a partial birthDate gives no age.
* Condition: ``code.coding`` (SNOMED CT, WHO ICD-10, lab codes) -> ``clinical.*``.
  verificationStatus confirmed or absent -> present (scleromyxoedema "confirmed"); provisional,
  differential, unconfirmed -> scleromyxoedema "suspected" (a yes/no finding is then not asserted);
  refuted -> false / "absent"; entered-in-error skipped. clinicalStatus inactive/resolved skipped.
  Two diagnoses for the same finding: present beats refuted, confirmed > suspected > absent.
* Other resources (Specimen, Practitioner, ...) are ignored (noted).

Outbound ``interpretation_to_diagnostic_report``: a DiagnosticReport (status preliminary, final or
amended as released, category LAB, ``code`` = local code MGI_INTERPRETATION, ``conclusion`` = the
comment, ``conclusionCode`` = the classification) whose ``result`` references contained Observations:
one per risk model, one per flag, plus the provisional flag and the isotype, each with the report's
status. ``identifier`` names the interpretation (the stored record's id, else the request id: system
under ``NAMINGSYSTEM_BASE``); the ruleset version is the extension ``RULESET_VERSION_EXTENSION``.
Local code systems (under ``CODESYSTEM_BASE``):

| URL suffix            | used for                                                          |
|-----------------------|-------------------------------------------------------------------|
| /classification       | conclusionCode: NO_MONOCLONAL_PROTEIN, MGUS_NON_IGM, ...          |
| /report               | DiagnosticReport.code: MGI_INTERPRETATION                         |
| /observation          | contained Observation.code: RISK_MGUS_MAYO_2005, RISK_SMM_MAYO_2018, |
|                       | RISK_SMM_IMWG_2020, RISK_SCORE, FLAG, FLAG_SEVERITY, REFER_TO,    |
|                       | CLASSIFICATION_PROVISIONAL, ISOTYPE                               |
| /risk-group           | risk Observation value: low, low_intermediate, intermediate, ...  |
| /flag                 | flag Observation value: MGCS_SCLEROMYXEDEMA, ...                  |
| /flag-severity        | info, refer, urgent                                               |

Errors raise ``FhirError`` (status, message, errors keyed by FHIRPath-like location);
``operation_outcome`` renders any error as a validated OperationOutcome.
"""

from __future__ import annotations

import hashlib
import re
import uuid
from bisect import bisect_left
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, tzinfo
from functools import lru_cache
from typing import Any

from fhir.resources.R4B import get_fhir_model_class
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.diagnosticreport import DiagnosticReport
from fhir.resources.R4B.operationoutcome import OperationOutcome
from pydantic import ValidationError

from service.domain.plausibility import EARLIEST_DATE, latest_date
from service.domain.ruleset import ADULT_AGE_MAX_YEARS

from .codes import (
    NO_M_PROTEIN_FIELDS,
    NO_M_PROTEIN_WORDINGS,
    REFERENCE_RANGE_NOT_READ,
    RISK_LABELS,
    CodeEntry,
    CodeMap,
    Coding,
    DatedResult,
    InexactNumber,
    Kind,
    NotDetected,
    PanelAssembler,
    ResultProblem,
    ValueProblem,
    age_in_years,
    assay_of_method,
    coded_value,
    inexact_problem,
    load_codemap,
    numeric_value,
    place_results,
    range_not_read,
    read_not_detected,
    read_range_text,
    units_contradict,
    usable_range,
    work_up_date,
)

CODESYSTEM_BASE = "https://mgi.example/fhir/CodeSystem"
CLASSIFICATION_SYSTEM = f"{CODESYSTEM_BASE}/classification"
UCUM = "http://unitsofmeasure.org"
BUNDLE_TYPES = ("collection", "batch", "transaction", "searchset", "message", "document")
_USED_STATUSES = {"final", "amended", "corrected", "preliminary"}
# FHIR R4 Observation.status (a required binding): any other code is refused, not skipped.
_OBSERVATION_STATUSES = _USED_STATUSES | {"registered", "cancelled", "entered-in-error", "unknown"}
# FHIR R4 DiagnosticReport.status is a modifier element: a report is read only when its status says its
# results stand; any other status refuses the Bundle (its results are never interpreted).
_REPORT_STATUSES_READ = frozenset({"partial", "preliminary", "final", "amended", "corrected", "appended"})
_REPORT_STATUSES_REFUSED = {
    "entered-in-error": "the report was withdrawn (entered in error): its results are not interpreted",
    "cancelled": "the report was cancelled: its results are not interpreted",
    "registered": "the report is registered but has no released results yet: not interpreted",
    "unknown": "the sender does not know whether the report stands (it may have been withdrawn): "
    "its results are not interpreted",
}
# FHIR resources nest a dozen levels or so; a body nested far deeper is refused before the library
# recurses through it (150 levels of extensions raised RecursionError inside it: a 500).
_MAX_DEPTH = 64
_ISSUE_CODES = {
    400: "structure",
    404: "not-found",
    405: "not-supported",
    413: "too-long",
    415: "not-supported",
    422: "invalid",
    500: "exception",
}


class FhirError(Exception):
    """A bundle that cannot be translated; ``errors`` maps a FHIRPath-like location to messages."""

    def __init__(self, message: str, errors: dict[str, list[str]] | None = None, status: int = 422) -> None:
        super().__init__(message)
        self.message = message
        self.errors = errors or {}
        self.status = status
        self.notes: list[str] = []  # what the reading ignored before it stopped

    def operation_outcome(self) -> dict[str, Any]:
        """This error as a validated OperationOutcome dict (the notes as information issues)."""
        return operation_outcome(self.errors or self.message, self.status, notes=self.notes)


@dataclass
class FhirTranslation:
    """The request dict plus notes and, per request field, the resource it came from."""

    request: dict[str, Any]
    notes: list[str] = field(default_factory=list)
    sources: dict[str, str] = field(default_factory=dict)


def _loc(parts: tuple[Any, ...]) -> str:
    text = "Bundle"
    for part in parts:
        text += f"[{part}]" if isinstance(part, int) else f".{part}"
    return text


def _structure_errors(node: Any, path: tuple[Any, ...], errors: dict[str, list[str]]) -> None:
    """Two things fhir.resources does not refuse cleanly, by location.

    - A ``resourceType`` that names no FHIR R4B model: the library looks the name up unchecked when it
      validates a resource slot (an entry, a contained resource), and a number or an unknown name
      there raised TypeError/KeyError inside it, i.e. a 500.
    - A JSON null as an element's value: FHIR JSON allows null only inside arrays; the library takes
      it as "absent" while the translation reads the raw element.
    It also refuses nesting deeper than _MAX_DEPTH, and any modifierExtension."""
    if len(path) > _MAX_DEPTH:
        errors.setdefault(_loc(path[:_MAX_DEPTH]), []).append(
            f"nested deeper than {_MAX_DEPTH} levels: not a plausible FHIR resource"
        )
        return
    if isinstance(node, Mapping):
        if path and path[-1] == "resource" and "resourceType" not in node:
            # FHIR JSON: every resource names its type; one without could be read as anything.
            errors.setdefault(_loc((*path, "resourceType")), []).append(
                "a resource must name its resourceType"
            )
        if path and node.get("resourceType") is not None and not _is_model_name(node["resourceType"]):
            value = node["resourceType"]
            shown = f"'{value[:64]}'" if isinstance(value, str) else f"a {type(value).__name__}"
            errors.setdefault(_loc((*path, "resourceType")), []).append(
                f"{shown} is not a FHIR R4B resource type"
            )
        for key, value in node.items():
            if key == "modifierExtension":
                # FHIR: a modifier extension changes the meaning of its element (e.g. negates it); an
                # implementation that does not understand one must not process the element.
                errors.setdefault(_loc((*path, key)), []).append(
                    "modifier extensions are not understood by this service: the element's meaning "
                    "cannot be read"
                )
            elif value is None:
                errors.setdefault(_loc((*path, key)), []).append(
                    "null is not allowed in FHIR JSON: leave the element out"
                )
            else:
                _structure_errors(value, (*path, key), errors)
    elif isinstance(node, list):
        for i, value in enumerate(node):
            _structure_errors(value, (*path, i), errors)


@lru_cache(maxsize=512)
def _model_name(name: str) -> bool:
    try:
        get_fhir_model_class(name)
    except (KeyError, ValueError):
        return False
    return True


def _is_model_name(value: Any) -> bool:
    return isinstance(value, str) and _model_name(value)


_JSON_TYPES = {
    "int": "a number",
    "float": "a number",
    "str": "a string",
    "bool": "true or false",
    "list": "an array",
    "dict": "an object",
}


def _element_path(loc: Any) -> tuple[Any, ...]:
    # pydantic's RootModel adds a ".root" step the FHIR element path does not have.
    return tuple(part for part in loc if part != "root")


def _plain_message(msg: str) -> str:
    """The model library's message in the caller's terms: JSON types, not Python classes, and no
    claim that valid JSON is invalid (the library re-parses a string it expected to be an object)."""
    msg = re.sub(r"(?:type )?<class '(\w+)'>", lambda m: _JSON_TYPES.get(m.group(1), m.group(1)), msg)
    if msg.startswith("Invalid JSON"):
        return "wrong JSON type for this element (an object or array is expected)"
    return msg


def validate_bundle(bundle: Any) -> None:
    """Validate a Bundle with fhir.resources R4B; failures raise FhirError."""
    if not isinstance(bundle, Mapping) or bundle.get("resourceType") != "Bundle":
        raise FhirError(
            "the body must be a FHIR Bundle resource", {"Bundle": ["resourceType must be Bundle"]}
        )
    structure: dict[str, list[str]] = {}
    _structure_errors(bundle, (), structure)
    if structure:
        where, (why, *_) = next(iter(structure.items()))
        more = f" (and {len(structure) - 1} more)" if len(structure) > 1 else ""
        raise FhirError(f"the Bundle is not valid FHIR R4: {where}: {why}{more}", structure)
    try:
        Bundle.model_validate(dict(bundle))
    except (TypeError, KeyError, AttributeError, RecursionError) as exc:
        # Not a validation error but the library failing on input it did not expect (the checks above
        # cover the cases found so far): still the caller's input, so a 422 rather than a 500.
        raise FhirError(
            "the Bundle is not valid FHIR R4: a resource could not be read",
            {"Bundle": [f"unreadable content ({type(exc).__name__})"]},
        ) from exc
    except ValidationError as exc:
        errors: dict[str, list[str]] = {}
        for err in exc.errors():
            errors.setdefault(_loc(_element_path(err["loc"])), []).append(_plain_message(err["msg"]))
        first, *rest = errors.items()
        summary = f"{first[0]}: {first[1][0]}" + (f" (and {len(rest)} more)" if rest else "")
        raise FhirError(f"the Bundle is not valid FHIR R4: {summary}", errors) from exc
    if bundle.get("type") not in BUNDLE_TYPES:
        raise FhirError(
            f"Bundle.type '{bundle.get('type')}' is not supported",
            {"Bundle.type": [f"must be one of {', '.join(BUNDLE_TYPES)}"]},
        )


def _codings(concept: Mapping[str, Any] | None) -> list[Coding]:
    if not concept:
        return []
    return [
        Coding(c.get("system"), str(c.get("code", "")).strip(), c.get("display", ""))
        for c in concept.get("coding") or []
        if str(c.get("code", "")).strip()
    ]


def _status_code(concept: Mapping[str, Any] | None) -> str:
    for coding in (concept or {}).get("coding") or []:
        if coding.get("code"):
            return str(coding["code"])
    return ""


# FHIR JSON fixes each primitive's JSON type (decimal and integer: a number; boolean: true/false;
# date and dateTime: a string), but fhir.resources validates leniently: "12" passes as a decimal,
# "false" and 0 as a boolean, 5 as a dateTime. The translation reads the raw elements, so it checks
# the JSON type of each one it reads. (Read as Python truth, "false" would have been a yes: a fever
# reported as "false" turned into the dermato-neuro emergency.)
def _number(value: Any, element: str, at: str | None = None) -> int | float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueProblem(f"{element} must be a JSON number")
    # A number a float does not hold exactly (read with codes.json_float) is refused at its element
    # ``at``: 29.99999999999999999 read as 30.0 would meet a threshold of 30 that it does not.
    problem = inexact_problem(value.text, value) if isinstance(value, InexactNumber) else None
    if problem is not None:
        raise _ElementProblem(f"{element} {problem}", at or element)
    return value + 0.0 if isinstance(value, float) else value  # -0.0 is 0: a signed zero shows as "-0"


def _integer(value: Any, element: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueProblem(f"{element} must be a JSON integer")
    return value


def _boolean(value: Any, element: str) -> bool:
    if not isinstance(value, bool):
        raise ValueProblem(f"{element} must be JSON true or false")
    return value


@dataclass(frozen=True)
class _Timestamp:
    """A FHIR date/dateTime/instant as read: its calendar date as written, the instant when it carries a
    time with a UTC offset, or, for a year or year-month without a day, only its text."""

    text: str
    day: date | None
    moment: datetime | None = None

    @property
    def partial(self) -> bool:
        return self.day is None

    def date_in(self, frame: tzinfo | None) -> date | None:
        """The calendar date in the frame's offset (a timestamp without an offset: as written)."""
        if self.moment is not None and frame is not None:
            try:
                return self.moment.astimezone(frame).date()
            except OverflowError:  # the instant in that offset falls outside years 1-9999
                return self.day  # as written: refused where the date is checked (future, implausible)
        return self.day


_PARTIAL_DATE = re.compile(r"\d{4}(-\d{2})?")
_WITH_OFFSET = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:\d{2})")


def _timestamp(text: Any, element: str) -> _Timestamp | None:
    if text is None:
        return None
    if not isinstance(text, str):
        raise ValueProblem(f"{element} must be a FHIR date/dateTime string")
    if _PARTIAL_DATE.fullmatch(text):
        return _Timestamp(text, None)
    if not re.match(r"^\d{4}-\d{2}-\d{2}", text):
        return None
    day = date.fromisoformat(text[:10])
    moment = None
    if _WITH_OFFSET.fullmatch(text):
        try:
            # Python reads at most six decimals of a second; FHIR allows more.
            moment = datetime.fromisoformat(re.sub(r"(\.\d{6})\d+", r"\1", text))
        except ValueError:
            moment = None
    if moment is not None and not MIN_YEAR <= moment.year <= MAX_YEAR:
        # Years 1 and 9999 with an offset have no UTC instant (or none in another offset): no
        # collection is dated there, and such a time is refused, never compared or shifted.
        raise ValueProblem(f"{element} {text[:40]!r} is not a date a sample was collected on")
    return _Timestamp(text, day, moment)


MIN_YEAR, MAX_YEAR = 2, 9998


def _effective(resource: Mapping[str, Any], frame: tzinfo | None = None) -> date | None:
    stamp = _effective_element(resource)[0]
    return stamp.date_in(frame) if stamp else None


def _effective_values(resource: Mapping[str, Any]) -> list[tuple[str, Any]]:
    """(element, value) of each form of effective[x] a result or report may date itself by."""
    return [
        ("effectiveDateTime", resource.get("effectiveDateTime")),
        ("effectivePeriod.start", (resource.get("effectivePeriod") or {}).get("start")),
        ("effectiveInstant", resource.get("effectiveInstant")),
    ]


def _undated(resource: Mapping[str, Any], where: str) -> tuple[str, str]:
    """Where an Observation read without a date is refused, and what its effective[x] is instead."""
    if resource.get("effectiveTiming") is not None:
        return (
            f"{where}.effectiveTiming",
            "the Observation's effectiveTiming is a schedule, not a collection time",
        )
    period = resource.get("effectivePeriod")
    if isinstance(period, dict) and period.get("end") is not None:
        return f"{where}.effectivePeriod", "the Observation's effectivePeriod has an end but no start"
    return f"{where}.effectiveDateTime", "the Observation has no effective[x]"


def _effective_element(resource: Mapping[str, Any]) -> tuple[_Timestamp | None, str]:
    """The result's effective[x] and the element it was read from."""
    for element, text in _effective_values(resource):
        stamp = _timestamp(text, element)
        if stamp:
            return stamp, element
    return None, ""


def _date_frame(bundle: Mapping[str, Any]) -> tzinfo | None:
    """The UTC offset in which the calendar dates of timestamps with offsets are taken: that of the
    DiagnosticReport's effective time, else that of the latest result time (the one the panel is dated
    by). None when no such timestamp carries an offset: every date is then read as written."""

    def moments(resources: Sequence[Mapping[str, Any]]) -> list[tuple[datetime, date]]:
        found = []
        for resource in resources:
            try:
                stamp = _effective_element(resource)[0]
            except ValueProblem:
                continue  # refused where the resource is read
            if stamp and stamp.moment is not None and stamp.day is not None:
                found.append((stamp.moment, stamp.day))
        return found

    entries = [e.get("resource") or {} for e in bundle.get("entry") or [] if isinstance(e, dict)]
    reports = [r for r in entries if isinstance(r, dict) and r.get("resourceType") == "DiagnosticReport"]
    dated = moments(reports)
    if not dated:
        dated = moments(
            [
                resource
                for _, resource in _resources(bundle, [])
                if resource.get("resourceType") == "Observation" and resource.get("status") in _USED_STATUSES
            ]
        )
    # Of one instant written in two offsets, the later calendar date as written dates the panel.
    return max(dated)[0].tzinfo if dated else None


def _concept_texts(concept: Mapping[str, Any]) -> list[str]:
    # Text first (it names the isotype), then codings' display, then codes.
    texts = [concept.get("text") or ""]
    for coding in concept.get("coding") or []:
        texts += [coding.get("display") or "", coding.get("code") or ""]
    return [t for t in texts if str(t).strip()]


def _quantity_unit(quantity: Mapping[str, Any], codemap: CodeMap) -> str:
    return _quantity_unit_read(quantity, codemap)[0]


def _quantity_unit_read(quantity: Mapping[str, Any], codemap: CodeMap) -> tuple[str, str]:
    """The unit of a Quantity as the contract spells it, and the text it was read from (its UCUM
    code, else its unit)."""
    code, unit = quantity.get("code"), quantity.get("unit")
    coded = codemap.normalize_unit(code) if isinstance(code, str) else ""
    shown = codemap.normalize_unit(unit) if isinstance(unit, str) else ""
    # unit is the human-readable form of code: when both are units the service knows and they say
    # different ones ("g/L" beside code "g/dL"), the quantity is ambiguous by a factor of ten, whatever
    # the code system.
    if units_contradict(shown, coded):
        raise ValueProblem(f"unit '{unit}' contradicts code '{code}'")
    if code and quantity.get("system") in (UCUM, None):
        return coded, code
    raw = unit or code
    return codemap.normalize_unit(raw), raw if isinstance(raw, str) else ""


@dataclass(frozen=True)
class _Subject:
    """What decides which of an Observation's reference ranges applies (``appliesTo``, ``age``): the
    Bundle's Patient's sex and birth date, and the Observation's date."""

    sex: str | None = None
    birth: date | None = None
    on: date | None = None

    @property
    def age(self) -> int | None:
        return age_in_years(self.birth, self.on) if self.birth is not None and self.on is not None else None


def _bundle_subject(bundle: Mapping[str, Any]) -> _Subject:
    """The sex and birth date of the Bundle's one Patient (none, or several: nothing known)."""
    patients: list[Mapping[str, Any]] = []
    for e in bundle.get("entry") or []:
        resource = e.get("resource") if isinstance(e, dict) else None
        if isinstance(resource, dict) and resource.get("resourceType") == "Patient":
            patients.append(resource)
    if len(patients) != 1:
        return _Subject()
    patient = patients[0]
    sex = patient.get("gender") if patient.get("gender") in ("male", "female") else None
    birth = patient.get("birthDate")
    born = None
    if isinstance(birth, str) and re.fullmatch(r"\d{4}-\d{2}-\d{2}", birth):
        try:
            born = date.fromisoformat(birth)
        except ValueError:
            born = None  # refused where the Patient is read
    return _Subject(sex, born)


# referenceRange.appliesTo codes read as the patient's sex: FHIR administrative-gender and SNOMED CT.
_SEX_CODES = {
    "male": "male",
    "female": "female",
    "248153007": "male",  # SNOMED CT Male (finding)
    "248152002": "female",  # SNOMED CT Female (finding)
}
_YEARS = {"a", "yr", "yrs", "year", "years"}


def _applies(rng: Mapping[str, Any], subject: _Subject) -> bool | None:
    """Whether one reference range applies to the patient: True, False, or None when it cannot be told
    (an appliesTo the service does not read, the patient's sex or age not known, an age not in years)."""
    verdict: bool | None = True
    for concept in rng.get("appliesTo") or []:
        if not isinstance(concept, dict):
            return None
        sexes = {
            _SEX_CODES[key]
            for key in (
                [
                    str(c.get("code", "")).strip().casefold()
                    for c in concept.get("coding") or []
                    if isinstance(c, dict)
                ]
                + [str(concept.get("text", "")).strip().casefold()]
            )
            if key in _SEX_CODES
        }
        if len(sexes) != 1 or subject.sex is None:
            return None
        if sexes.pop() != subject.sex:
            verdict = False
    age = rng.get("age")
    if isinstance(age, dict) and (age.get("low") or age.get("high")):
        years = subject.age
        for side in ("low", "high"):
            bound = age.get(side)
            if not bound:
                continue
            unit = str(bound.get("code") or bound.get("unit") or "").strip().casefold()
            value = bound.get("value")
            if (
                unit not in _YEARS
                or not isinstance(value, int | float)
                or isinstance(value, bool)
                or years is None
            ):
                return None
            if (side == "low" and years < value) or (side == "high" and years > value):
                verdict = False
    elif age is not None:
        return None
    return verdict


def _chosen_range(ranges: Sequence[Any], subject: _Subject, where: str, notes: list[str]) -> int | None:
    """The index of the one reference range that applies to the patient, else None (said in a note).
    One range without appliesTo or age is the range; among several, or one with appliesTo or age, each
    is held to the patient's sex and age: when none or more than one applies, or one cannot be told, no
    range is read (never the first one guessed)."""
    if (
        len(ranges) == 1
        and isinstance(ranges[0], dict)
        and not ranges[0].get("appliesTo")
        and not ranges[0].get("age")
    ):
        return 0
    verdicts = [_applies(r, subject) if isinstance(r, dict) else None for r in ranges]
    applying = [i for i, v in enumerate(verdicts) if v]
    if None not in verdicts and len(applying) == 1:
        if len(ranges) > 1:
            notes.append(
                f"{where}: referenceRange[{applying[0]}] read: the one of {len(ranges)} ranges whose "
                "appliesTo/age fits the patient"
            )
        return applying[0]
    known = ", ".join(
        part
        for part in (
            f"sex {subject.sex}" if subject.sex else "sex not known",
            f"age {subject.age}" if subject.age is not None else "age not known",
        )
    )
    why = (
        "whether each applies cannot be told (an appliesTo or age the service does not read, or the "
        "patient's sex or age not known)"
        if None in verdicts
        else ("none applies" if not applying else f"{len(applying)} apply")
    )
    notes.append(
        f"{where}: reference range left out: {len(ranges)} referenceRange(s) for {known}, and {why}; "
        "the service does not guess which is the patient's"
    )
    return None


def _reference_range(
    obs: Mapping[str, Any], unit: str, codemap: CodeMap, where: str, notes: list[str], subject: _Subject
) -> dict[str, Any] | None:
    ranges = obs.get("referenceRange") or []
    if not ranges:
        return None
    chosen = _chosen_range(ranges, subject, where, notes)
    if chosen is None:
        return None
    picked = ranges[chosen]
    result: dict[str, Any] = {}
    for side in ("low", "high"):
        bound = picked.get(side)
        if not bound or bound.get("value") is None:
            continue
        _number(bound["value"], f"referenceRange.{side}.value", f"referenceRange[{chosen}].{side}.value")
        bound_unit = _quantity_unit(bound, codemap)
        if bound_unit and unit and bound_unit != unit:
            raise ValueProblem(f"referenceRange.{side} is in '{bound_unit}' but the value is in '{unit}'")
        result[side] = bound["value"]
    text = picked.get("text")
    if text is not None and not isinstance(text, str):
        raise ValueProblem("referenceRange.text must be a JSON string")
    if not result and text and text.strip():
        # A range given only as text ('2.15-2.55', '<5 mg/L') is read as HL7 OBX-7 is, in the value's
        # unit; one that cannot be read, or names another unit, is left out with a note.
        return read_range_text(text, unit, codemap, f"{where}: referenceRange[{chosen}].text", notes)
    if len(result) == 1 and text and text.strip():
        # One limit as a number and the range as text: the text completes it when it agrees.
        read_notes: list[str] = []
        whole = read_range_text(text, unit, codemap, f"{where}: referenceRange[{chosen}].text", read_notes)
        ((side, number),) = result.items()
        if whole is not None and len(whole) == 2:
            if whole[side] != number:
                raise ValueProblem(
                    f"referenceRange.{side} ({number}) and referenceRange.text ('{text}') disagree"
                )
            notes.append(f"{where}: referenceRange[{chosen}] completed from its text '{text}'")
            return whole
        notes.extend(read_notes)
    return result or None


def _value(
    obs: Mapping[str, Any],
    entry: CodeEntry,
    codemap: CodeMap,
    where: str,
    notes: list[str],
    subject: _Subject | None = None,
) -> Any:
    kind = entry.kind
    if kind in (Kind.QUANTITY, Kind.CROSSCHECK, Kind.PERCENT, Kind.COUNT):
        if "valueQuantity" in obs:
            quantity = obs["valueQuantity"]
            if quantity.get("value") is None:
                raise ValueProblem("valueQuantity has no value")
            number = _number(quantity["value"], "valueQuantity.value")
            comparator = quantity.get("comparator")
            unit, raw = _quantity_unit_read(quantity, codemap)
            if codemap.read_loosely(raw, unit):
                notes.append(
                    f"{where}: valueQuantity unit '{raw.strip()}' read as {unit} (case and spacing set aside)"
                )
        elif "valueInteger" in obs and kind is Kind.COUNT:
            number, comparator, unit = _integer(obs["valueInteger"], "valueInteger"), None, ""
        elif "valueString" in obs and entry.target in NO_M_PROTEIN_FIELDS and not entry.band:
            # An electrophoresis that found no M-protein may say so in words: an M-protein of 0.
            text = obs["valueString"]
            if not isinstance(text, str):
                raise ValueProblem("valueString must be a JSON string")
            absent = read_not_detected(text)
            if absent is None:
                raise ValueProblem(
                    f"{entry.target} needs a valueQuantity: valueString '{text[:64]}' is read only when it "
                    f"says no M-protein was found ({', '.join(sorted(NO_M_PROTEIN_WORDINGS))})"
                )
            number, comparator, unit = absent, None, ""
        else:
            raise ValueProblem(f"{entry.target} needs a valueQuantity")
        comparator = _off_scale(obs, entry, comparator, number, where, notes)
        if kind is Kind.QUANTITY and not unit and entry.units is None and not isinstance(number, NotDetected):
            raise ValueProblem(
                "valueQuantity has no unit: send it in valueQuantity.code (UCUM) or valueQuantity.unit"
            )
        rng = None
        if kind is Kind.QUANTITY and obs.get("referenceRange") and entry.target in REFERENCE_RANGE_NOT_READ:
            notes.append(range_not_read(entry.target, f"{where}: referenceRange"))
        elif kind is Kind.QUANTITY:
            rng = _reference_range(obs, unit, codemap, where, notes, subject or _Subject())
        if rng and not usable_range(rng):
            notes.append(f"{where}: one-sided reference range {rng} dropped (needs low and high)")
        return numeric_value(
            entry,
            number,
            comparator,
            unit,
            usable_range(rng),
            codemap=codemap,
            where=where,
            unit_where="valueQuantity unit",
            notes=notes,
        )
    if "valueBoolean" in obs:
        if kind is not Kind.FLAG:
            raise ValueProblem(f"{entry.target} cannot be given as valueBoolean")
        return _boolean(obs["valueBoolean"], "valueBoolean")
    if "valueCodeableConcept" in obs:
        return _concept_value(entry, obs["valueCodeableConcept"], codemap)
    if "valueString" in obs:
        return coded_value(entry, [obs["valueString"]], codemap)
    raise ValueProblem(f"{entry.target} needs valueCodeableConcept or valueString")


# Observation.interpretation codes (v3 ObservationInterpretation) that make the value a bound: off
# scale high and low (the instrument's absolute limits). Other codes (H, L, HH, A...) are not read.
_INTERPRETATION_SYSTEMS = (
    "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation",
    "http://hl7.org/fhir/v3/ObservationInterpretation",
)
_OFF_SCALE = {">": "off scale high", "<": "off scale low"}


def _off_scale(
    obs: Mapping[str, Any], entry: CodeEntry, comparator: Any, number: Any, where: str, notes: list[str]
) -> Any:
    """An interpretation '>' or '<' (off scale high or low) makes the value a bound: '>' on 140 is a
    result above 140, never 140 itself. A valueQuantity.comparator that says the same is kept; one that
    says the opposite is refused at the interpretation, as is an off-scale code on a result that cannot
    be a bound."""
    found: list[tuple[str, str]] = []
    interpretations = obs.get("interpretation") or []
    for i, concept in enumerate(interpretations if isinstance(interpretations, list) else []):
        codings = concept.get("coding") if isinstance(concept, dict) else None
        for j, coding in enumerate(codings if isinstance(codings, list) else []):
            if not isinstance(coding, dict) or coding.get("code") not in _OFF_SCALE:
                continue
            if coding.get("system") in (None, *_INTERPRETATION_SYSTEMS):
                found.append((str(coding["code"]), f"interpretation[{i}].coding[{j}]"))
    if not found:
        return comparator
    flag, element = found[0]
    said = f"interpretation '{flag}' ({_OFF_SCALE[flag]}, v3 ObservationInterpretation)"
    for other, other_element in found[1:]:
        if other != flag:
            raise _ElementProblem(
                "interpretation flags the result both off scale high ('>') and off scale low ('<')",
                other_element,
            )
    if entry.kind not in (Kind.QUANTITY, Kind.CROSSCHECK) or isinstance(number, NotDetected):
        shown = f"'{number.text}'" if isinstance(number, NotDetected) else "a plain number"
        raise _ElementProblem(
            f"{said} makes the result a bound, and {entry.target} is {shown}, which cannot be one: send "
            "the result measured within the scale",
            element,
        )
    if comparator is not None and str(comparator)[:1] != flag:
        raise _ElementProblem(
            f"{said} contradicts valueQuantity.comparator '{comparator}' ({comparator}{number})", element
        )
    if comparator is None:
        notes.append(f"{where}: {said}: valueQuantity.value {number} read as {flag}{number}")
        return flag
    return comparator


class _ElementProblem(ValueProblem):
    """A problem of one element: ``element`` is its path in the value's resource (``valueCodeableConcept``),
    then, once ``_observation`` has placed it, in the Bundle."""

    def __init__(self, message: str, element: str) -> None:
        super().__init__(message)
        self.element = element


def _reading_key(value: Any) -> str:
    if isinstance(value, dict) and isinstance(value.get("clones"), list):
        clones = sorted(value["clones"], key=lambda c: (str(c.get("heavy_chain")), str(c.get("light_chain"))))
        value = {**value, "clones": clones}
    return repr(value)


def _concept_value(entry: CodeEntry, concept: Mapping[str, Any], codemap: CodeMap) -> Any:
    """A coded result from its CodeableConcept. The text and each coding (its display, else its code)
    are read on their own: they say one thing in other words, so two that read as different results
    (text 'IgG kappa' beside a coding 'Negative', codings 'IgG kappa' and 'IgA lambda') are refused
    rather than one of them chosen."""
    sayings: list[tuple[str, list[str]]] = []
    if str(concept.get("text") or "").strip():
        sayings.append((f"text '{concept['text']}'", [concept["text"]]))
    for number, coding in enumerate(concept.get("coding") or []):
        texts = [t for t in (coding.get("display"), coding.get("code")) if str(t or "").strip()]
        if texts:
            shown = " ".join(f"'{t}'" for t in texts)
            sayings.append((f"coding[{number}] {shown}", texts))
    readings: dict[str, tuple[str, Any]] = {}
    for label, texts in sayings:
        try:
            value = coded_value(entry, texts, codemap)
        except ValueProblem:
            continue
        readings.setdefault(_reading_key(value), (label, value))
    if len(readings) > 1:
        listed = "; ".join(label for label, _ in readings.values())
        raise _ElementProblem(
            f"valueCodeableConcept reads as different results ({listed}): its text and codings must say "
            "one result",
            "valueCodeableConcept",
        )
    if readings:
        return next(iter(readings.values()))[1]
    # None reads: the message lists why each text failed (text, each coding's display, then code).
    return coded_value(entry, _concept_texts(concept), codemap)


def _observation(
    obs: Mapping[str, Any],
    where: str,
    codemap: CodeMap,
    results: list[DatedResult],
    notes: list[str],
    dated: tuple[date | None, str],
    *,
    status: Any = None,
    subject: _Subject | None = None,
) -> None:
    """Read one Observation (or a component: ``status`` is then its Observation's) into ``results``;
    ``subject`` (the patient's sex and birth date) chooses among its reference ranges."""
    codings = _codings(obs.get("code"))
    label = codings[0].code if codings else "no code"
    _carry_notes(obs, where, label, notes)
    entry = codemap.resolve(codings, section="observations")
    if entry is None:
        entry = codemap.resolve(codings, section="conditions")
    if entry is None:
        notes.append(f"{where} ({label}): code not in the code map; ignored")
        return
    if not any(k.startswith("value") for k in obs) and obs.get("component") and entry.kind is not Kind.FLAG:
        # A panel-like result whose values are all in its components (blood pressure, the MDRD eGFR of
        # the FHIR specification's example f205): the components are read on their own.
        notes.append(f"{where} ({label}): no value of its own; its components are read")
        return
    if obs.get("dataAbsentReason") is not None:
        if any(k.startswith("value") for k in obs):
            # FHIR invariant obs-6: a value and a reason for its absence cannot both stand.
            raise ValueProblem("dataAbsentReason and a value[x] together (FHIR obs-6): send one of them")
        notes.append(f"{where} ({label}): dataAbsentReason; ignored")
        return
    on = dated[0]
    if entry.caveat and entry.target == "labs.egfr":
        # Which equation an eGFR code names matters (the reference's estimate is race-free CKD-EPI 2021).
        notes.append(f"{where} ({label}): read as {entry.target}: {entry.caveat}")
    try:
        value = _value(
            obs, entry, codemap, f"{where} ({label})", notes, replace(subject or _Subject(), on=on)
        )
    except _ElementProblem as exc:
        raise _ElementProblem(str(exc), f"{where}.{exc.element}") from exc  # located in the Bundle
    element = dated[1]
    results.append(
        DatedResult(
            entry.target,
            value,
            f"{where} ({label})",
            on,
            element,
            priority=entry.priority,
            locator=where,
            band=entry.band,
        )
    )
    if (status or obs.get("status")) == "preliminary":
        notes.append(
            f"{where} ({label}): status 'preliminary': {entry.target} is read as sent, but the laboratory "
            "has not released it as final and it may still change"
        )
    if entry.target in _FLC_PANEL:
        stated = _stated_assay(obs, where, notes)
        if stated is not None:
            assay, place, text = stated
            results.append(DatedResult("flc.assay", assay, f"{place} ('{text}')", on, element, locator=place))


_FLC_FIELDS = ("flc.kappa", "flc.lambda")
# The results of one FLC panel: the assay its method or device states, on any of them, is the panel's.
_FLC_PANEL = (*_FLC_FIELDS, "crosscheck.flc_ratio")
# How much of a free text (Observation.note, DiagnosticReport.conclusion) a note carries.
_TEXT_SHOWN = 300


def _shown_text(text: str) -> str:
    """A sender's free text as a note shows it: on one line, trimmed with an ellipsis."""
    flat = " ".join(text.split())
    return flat if len(flat) <= _TEXT_SHOWN else flat[: _TEXT_SHOWN - 1].rstrip() + "…"


def _carry_notes(resource: Mapping[str, Any], where: str, label: str, notes: list[str]) -> None:
    """Each Observation.note (an Annotation: a hemolysed specimen, a request to recollect) as a note
    naming the resource it belongs to: never dropped without a word."""
    for number, annotation in enumerate(resource.get("note") or []):
        text = annotation.get("text") if isinstance(annotation, dict) else None
        if not isinstance(text, str):
            why = "an Annotation's text must be a JSON string"
            raise _ElementProblem(why, f"{where}.note[{number}].text")
        if text.strip():
            notes.append(f"{where} ({label}): note[{number}] of the laboratory: '{_shown_text(text)}'")


def _report_texts(report: Mapping[str, Any], where: str, notes: list[str]) -> None:
    """A DiagnosticReport's conclusion and conclusionCode texts as notes naming the report."""
    conclusion = report.get("conclusion")
    if isinstance(conclusion, str) and conclusion.strip():
        notes.append(f"{where}.conclusion of the laboratory: '{_shown_text(conclusion)}'")
    for number, concept in enumerate(report.get("conclusionCode") or []):
        texts = list(dict.fromkeys(_texts(_concept_texts(concept)))) if isinstance(concept, dict) else []
        if texts:
            shown = _shown_text(" / ".join(texts))
            notes.append(f"{where}.conclusionCode[{number}] of the laboratory: '{shown}'")


def _texts(values: Sequence[Any]) -> list[str]:
    return [str(v).strip() for v in values if isinstance(v, str | int) and str(v).strip()]


def _device_names(obs: Mapping[str, Any], local_id: str) -> list[str]:
    """The names of the contained Device a '#id' reference points to (name, manufacturer, model, type)."""
    for device in obs.get("contained") or []:
        if not isinstance(device, dict) or device.get("resourceType") != "Device":
            continue
        if device.get("id") == local_id:
            names = [n.get("name") for n in device.get("deviceName") or [] if isinstance(n, dict)]
            kind = device.get("type")
            return _texts(
                [*names, device.get("manufacturer"), device.get("modelNumber")]
                + (_concept_texts(kind) if isinstance(kind, dict) else [])
            )
    return []


def _stated_assay(obs: Mapping[str, Any], where: str, notes: list[str]) -> tuple[str, str, str] | None:
    """(assay, element, text) of the FLC assay a free light-chain Observation states in ``method`` (its
    text, codings' display and code) or ``device`` (its display, a contained Device's names); None when
    neither names anything. A method naming something else is assay 'other', said in a note."""
    method, device = obs.get("method"), obs.get("device")
    method_texts = _texts(_concept_texts(method)) if isinstance(method, dict) else []
    device_texts: list[str] = []
    if isinstance(device, dict):
        device_texts = _texts([device.get("display")])
        ref = device.get("reference")
        if isinstance(ref, str) and ref.startswith("#"):
            device_texts += _device_names(obs, ref[1:])
    place = f"{where}.method" if method_texts else f"{where}.device"
    text = "; ".join(dict.fromkeys(method_texts + device_texts))
    try:
        assay = assay_of_method(text)
    except ValueProblem as exc:
        raise _ElementProblem(str(exc), place) from exc
    if assay is None:
        return None
    if assay == "other":
        notes.append(
            f"{place}: '{text[:128]}' names no FLC assay the service knows (Freelite, Siemens N Latex, "
            "Sebia): read as assay 'other', whose kappa/lambda ratio interval is the laboratory's own; the "
            "interpretation needs that interval (flc.ratio_reference_range) and says so"
        )
    return assay, place, text[:128]


def _first_coding(obs: Mapping[str, Any]) -> tuple[str, str] | None:
    codings = _codings(obs.get("code"))
    return (codings[0].system or "", codings[0].code) if codings else None


def _shown(value: Any) -> str:
    if isinstance(value, dict) and "value" in value:
        return " ".join(str(p) for p in (value.get("comparator"), value["value"], value.get("unit")) if p)
    return repr(value)


_CORRECTION = ("amended", "corrected")


_IN_ERROR = "entered-in-error"


def _withdrawn(bundle: Mapping[str, Any]) -> dict[str, tuple[int, str]]:
    """The ids of the Bundle's Observations a version marks entered-in-error, with the entry of the last
    such version and where it is: the versions before it are withdrawn by the laboratory and never
    read; a version after it is the replacement, and is read (as HL7's OBX-11 W)."""
    out: dict[str, tuple[int, str]] = {}
    for n, entry in enumerate(bundle.get("entry") or []):
        resource = entry.get("resource") if isinstance(entry, dict) else None
        if (
            isinstance(resource, dict)
            and resource.get("resourceType") == "Observation"
            and resource.get("status") == _IN_ERROR
            and isinstance(resource.get("id"), str)
        ):
            out[resource["id"]] = (n, f"Bundle.entry[{n}].resource")
    return out


_ENTRY = re.compile(r"Bundle\.entry\[(\d+)\]\.resource")


def _corrections_replace(
    results: list[DatedResult],
    read_as: Sequence[tuple[int, int, str, tuple[str, str] | None]],
    periods: list[tuple[int, int, date, date, str]],
    notes: list[str],
) -> None:
    """An amended or corrected Observation is read in place of a final one of the same code, field
    and date, whichever comes first in the Bundle, with a note naming both values (as an HL7
    corrected result, OBX-11 C, replaces the final). Two finals, or two corrections, that differ stay
    a conflict. ``periods`` (ranges of ``results``) follow the results left."""
    corrections: dict[tuple[Any, ...], tuple[DatedResult, str]] = {}
    for first, end, status, coding in read_as:
        if status in _CORRECTION and coding is not None:
            for r in results[first:end]:
                corrections.setdefault((coding, r.path, r.on), (r, status))
    if not corrections:
        return
    replaced: set[int] = set()
    for first, end, status, coding in read_as:
        if status != "final" or coding is None:
            continue
        for i in range(first, end):
            final = results[i]
            found = corrections.get((coding, final.path, final.on))
            if found is not None:
                replaced.add(i)
                by, how = found
                notes.append(
                    f"{final.source}: final result {_shown(final.value)} not read: the {how} result "
                    f"{_shown(by.value)} of {by.source} replaces it"
                )
    if not replaced:
        return
    left = [i for i in range(len(results)) if i not in replaced]
    periods[:] = [(bisect_left(left, a), bisect_left(left, b), on, end, w) for a, b, on, end, w in periods]
    results[:] = [results[i] for i in left]


def _flc_assay_notes(results: Sequence[DatedResult], notes: list[str]) -> None:
    """Say which assay free light chains whose Observation names none were read with: the assay another
    FLC result states, else Freelite, the request's default (clinical-reference §4)."""
    flc = [r for r in results if r.path in _FLC_FIELDS]
    stated = [r for r in results if r.path == "flc.assay"]
    if not flc:
        return
    if not stated:
        notes.append(
            "free light chains ("
            + ", ".join(r.source for r in flc)
            + "): no Observation.method or device states the FLC assay; Freelite was assumed (the "
            "default, clinical-reference §4): state the assay in Observation.method if it is another"
        )
        return
    named = {str(r.locator).rsplit(".", 1)[0] for r in stated}
    for result in flc:
        if result.locator not in named:
            notes.append(
                f"{result.source}: no method or device states its assay: read as measured with the same "
                f"assay as {stated[0].source}"
            )


_VERIFICATION = frozenset(
    {"unconfirmed", "provisional", "differential", "confirmed", "refuted", "entered-in-error"}
)
_CLINICAL = frozenset({"active", "recurrence", "relapse", "inactive", "remission", "resolved"})


def _condition(
    cond: Mapping[str, Any],
    where: str,
    codemap: CodeMap,
    panel: PanelAssembler,
    notes: list[str],
) -> None:
    codings = _codings(cond.get("code"))
    label = codings[0].code if codings else "no code"
    entry = codemap.resolve(codings, section="conditions")
    if entry is None:
        notes.append(f"{where} ({label}): diagnosis code not in the code map; ignored")
        return
    verification = _status_code(cond.get("verificationStatus")) or "confirmed"
    clinical = _status_code(cond.get("clinicalStatus")) or None
    # FHIR R4 value sets condition-ver-status and condition-clinical: an unknown code is refused
    # rather than guessed. "remission" stays present: the disease (e.g. a scleromyxoedema held by
    # IVIg) still makes the gammopathy clinically significant.
    if verification not in _VERIFICATION:
        raise ValueProblem(f"verificationStatus '{verification}' is not a condition-ver-status code")
    if clinical is not None and clinical not in _CLINICAL:
        raise ValueProblem(f"clinicalStatus '{clinical}' is not a condition-clinical code")
    if verification == "entered-in-error" or clinical in ("inactive", "resolved"):
        # verificationStatus, then clinicalStatus when there is one: 'entered-in-error', 'confirmed/resolved'.
        statuses = "/".join(s for s in (verification, clinical) if s)
        notes.append(f"{where} ({label}): {statuses}; ignored")
        return
    if entry.kind is Kind.SCLEROMYXEDEMA:
        value: Any = {"confirmed": "confirmed", "refuted": "absent"}.get(verification, "suspected")
    elif verification == "confirmed":
        value = True
    elif verification == "refuted":
        value = False
    else:
        notes.append(f"{where} ({label}): {verification} diagnosis does not assert {entry.target}")
        return
    panel.set(
        entry.target,
        value,
        source=f"{where} ({label})",
        priority=entry.priority,
        from_condition=True,
    )


def _patient(resource: Mapping[str, Any], on: date, notes: list[str]) -> dict[str, Any]:
    patient: dict[str, Any] = {}
    if resource.get("gender"):
        patient["sex"] = resource["gender"]  # FHIR administrative-gender == contract enum
    birth = resource.get("birthDate")
    if birth is not None and not isinstance(birth, str):
        raise ValueProblem("birthDate must be a FHIR date string")
    if birth:
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}", birth):
            age = age_in_years(date.fromisoformat(birth), on)
            if not 0 <= age <= ADULT_AGE_MAX_YEARS:
                raise ValueProblem(
                    f"birthDate '{birth}' gives an age of {age:g} years on {on.isoformat()}: outside the "
                    f"ages a request can have (0-{ADULT_AGE_MAX_YEARS} years)"
                )
            patient["age_years"] = age
        else:
            notes.append(f"Patient.birthDate '{birth}' is partial; age not derived")
    return patient


def translate_bundle(
    bundle: dict[str, Any], codemap: CodeMap | None = None, *, today: date | None = None
) -> FhirTranslation:
    """Validate and translate a Bundle; returns the request dict with notes and sources.

    The code map is the sender's (Bundle.meta.source, MessageHeader.source.endpoint, the sending
    Organization) when ``codemap.senders`` names it, else the global one. A FhirError carries the
    notes gathered before it (what was ignored), for the OperationOutcome."""
    validate_bundle(bundle)
    codemap = codemap if codemap is not None else load_codemap()
    codemap = codemap.for_sender(**_sender_identity(bundle))
    notes: list[str] = (
        [f"codes read with the code map of sender '{codemap.sender}'"] if codemap.sender else []
    )
    panel = PanelAssembler()
    try:
        return _translate(bundle, codemap, today, notes, panel)
    except FhirError as exc:
        exc.notes = notes + panel.notes
        raise


def _sender_identity(bundle: Mapping[str, Any]) -> dict[str, list[Any]]:
    resources = [e.get("resource") or {} for e in bundle.get("entry") or [] if isinstance(e, dict)]
    sources: list[Any] = [(bundle.get("meta") or {}).get("source")]
    organizations: list[Any] = []
    header = next((r for r in resources if r.get("resourceType") == "MessageHeader"), None)
    named = [r for r in resources if r.get("resourceType") == "Organization"]
    if header is not None:
        source = header.get("source") or {}
        sources.append(source.get("endpoint"))
        organizations.append(source.get("name"))
        sender = header.get("sender") or {}
        organizations += [sender.get("display"), (sender.get("identifier") or {}).get("value")]
        ref = sender.get("reference")
        named = [r for r in named if isinstance(ref, str) and ref.endswith(f"Organization/{r.get('id')}")]
    if len(named) == 1:
        organizations.append(named[0].get("name"))
        organizations += [i.get("value") for i in named[0].get("identifier") or [] if isinstance(i, dict)]
    return {"fhir_source": sources, "organization": organizations}


def _resources(bundle: Mapping[str, Any], notes: list[str]) -> list[tuple[str, Mapping[str, Any]]]:
    """(location, resource) of every entry, a DiagnosticReport replaced by the Observations contained
    in it that its results (and their hasMember) reference."""
    items: list[tuple[str, Mapping[str, Any]]] = []
    entries = _entry_index(bundle)
    reported = _reported_entries(bundle, entries)
    for index, entry in enumerate(bundle.get("entry") or []):
        resource = entry.get("resource") or {}
        where = f"Bundle.entry[{index}].resource"
        if resource.get("resourceType") == "DiagnosticReport":
            _report_texts(resource, where, notes)
            items += _report_results(resource, where, notes, entries)
        else:
            items.append((where, _of_report(resource, reported.get(index))))
    return items


def _entry_index(bundle: Mapping[str, Any]) -> dict[str, int]:
    """The references that name each entry: its fullUrl, and 'Type/id' (also as the end of a URL)."""
    index: dict[str, int] = {}
    for i, entry in enumerate(bundle.get("entry") or []):
        if not isinstance(entry, dict):
            continue
        full = entry.get("fullUrl")
        if isinstance(full, str) and full:
            index.setdefault(full, i)
        resource = entry.get("resource")
        if isinstance(resource, dict) and isinstance(resource.get("id"), str):
            index.setdefault(f"{resource.get('resourceType')}/{resource['id']}", i)
    return index


def _entry_of(ref: str, index: Mapping[str, int]) -> int | None:
    if ref in index:
        return index[ref]
    parts = ref.rstrip("/").split("/")
    # An absolute reference ('https://ehr.example/fhir/Observation/1'; a version '/_history/2' after it)
    if len(parts) >= 4 and parts[-2] == "_history":
        parts = parts[:-2]
    return index.get("/".join(parts[-2:])) if len(parts) >= 2 else None


def _report_context(report: Mapping[str, Any]) -> dict[str, Any]:
    """What a DiagnosticReport gives the results it names: its subject and its effective time."""
    return {
        k: report[k]
        for k in ("subject", *_EFFECTIVE_KEYS)
        if k in report and (k != "subject" or report[k] is not None)
    }


def _reported_entries(bundle: Mapping[str, Any], index: Mapping[str, int]) -> dict[int, dict[str, Any]]:
    """Entry index -> what the DiagnosticReport whose ``result`` (or a result's ``hasMember``) names
    that entry gives it: the report's subject and effective time. An entry two reports name with
    different ones gets nothing from either (it then stands on its own elements)."""
    entries = [e if isinstance(e, dict) else {} for e in bundle.get("entry") or []]
    given: dict[int, dict[str, Any] | None] = {}
    for entry in entries:
        report = entry.get("resource")
        if not isinstance(report, dict) or report.get("resourceType") != "DiagnosticReport":
            continue
        context = _report_context(report)
        queue = [r.get("reference") for r in report.get("result") or [] if isinstance(r, dict)]
        seen: set[int] = set()
        while queue:
            ref = queue.pop(0)
            if not isinstance(ref, str) or not ref or ref.startswith("#"):
                continue
            i = _entry_of(ref, index)
            if i is None or i in seen:
                continue
            seen.add(i)
            if i in given and given[i] != context:
                given[i] = None
            else:
                given.setdefault(i, context)
            member = entries[i].get("resource")
            if isinstance(member, dict):
                queue += [m.get("reference") for m in member.get("hasMember") or [] if isinstance(m, dict)]
    return {i: c for i, c in given.items() if c}


def _of_report(resource: Mapping[str, Any], context: Mapping[str, Any] | None) -> Mapping[str, Any]:
    """A result a DiagnosticReport names, read as the report gives it: about the report's subject when
    it names none, and of the report's effective time when it has none of its own."""
    if not context or resource.get("resourceType") != "Observation":
        return resource
    added: dict[str, Any] = {}
    if resource.get("subject") is None and "subject" in context:
        added["subject"] = context["subject"]
    if not any(k in resource for k in _EFFECTIVE_KEYS):
        added.update({k: v for k, v in context.items() if k in _EFFECTIVE_KEYS})
    return {**resource, **added} if added else resource


_EFFECTIVE_KEYS = ("effectiveDateTime", "effectivePeriod", "effectiveInstant")


def _report_results(
    report: Mapping[str, Any], where: str, notes: list[str], entries: Mapping[str, int]
) -> list[tuple[str, Mapping[str, Any]]]:
    contained: dict[Any, tuple[int, Mapping[str, Any]]] = {}
    for j, c in enumerate(report.get("contained") or []):
        if not isinstance(c, dict):
            continue
        if c.get("id") in contained:
            # Two contained resources of one id: a '#id' reference could mean either (FHIR requires
            # distinct ids); never read as whichever comes last.
            place = f"{where}.contained[{j}].id"
            why = f"id '{str(c.get('id'))[:64]}' is also the id of contained[{contained[c.get('id')][0]}]"
            raise FhirError(f"{place}: {why}", {place: [why]})
        contained[c.get("id")] = (j, c)
    context = _report_context(report)
    queue = [r.get("reference") for r in report.get("result") or [] if isinstance(r, dict)]
    seen: set[str] = set()
    found: list[tuple[str, Mapping[str, Any]]] = []
    while queue:
        ref = queue.pop(0)
        # A reference to a Bundle entry is read with that entry; only '#id' points into the report.
        if isinstance(ref, str) and ref and not ref.startswith("#") and _entry_of(ref, entries) is None:
            if ref not in seen:
                notes.append(
                    f"{where}.result: {ref[:128]} is not in the Bundle: that result was not sent, and is not "
                    "part of this interpretation"
                )
            seen.add(ref)
            continue
        if not isinstance(ref, str) or not ref.startswith("#") or ref in seen:
            continue
        seen.add(ref)
        if ref[1:] not in contained:
            raise FhirError(
                f"{where}.result: {ref} names no contained resource",
                {f"{where}.result": [f"{ref} names no contained resource"]},
            )
        j, obs = contained[ref[1:]]
        if obs.get("resourceType") != "Observation":
            kind = obs.get("resourceType") or "a resource without resourceType"
            notes.append(f"{where}.contained[{j}]: {kind} ignored")
            continue
        queue += [m.get("reference") for m in obs.get("hasMember") or [] if isinstance(m, dict)]
        # A contained result is about the report's subject and, undated, of its clinically relevant time.
        obs = _of_report(obs, context)
        found.append((f"{where}.contained[{j}]", obs))
    read = {j for j, _ in (contained[r[1:]] for r in seen if r.startswith("#") and r[1:] in contained)}
    for j, c in contained.values():
        if c.get("resourceType") == "Observation" and j not in read:
            # FHIR's dom-3: a contained resource is referenced from its container. A result the report
            # does not list is not one of its results, and it is never dropped unseen.
            place = f"{where}.contained[{j}]"
            why = (
                "a contained Observation that neither the report's result nor a result's hasMember "
                "references: list it in result (or leave it out of the report)"
            )
            raise FhirError(f"{place}: {why}", {place: [why]})
    notes.append(
        f"{where}: DiagnosticReport read through its results ({len(found)} contained Observations; "
        "results that are Bundle entries are read as entries, of the report's subject and time when "
        "they give none)"
    )
    return found


# A report read whose status says it is not final yet: said in a note, as a preliminary result is.
_REPORT_STATUSES_NOTED = {
    "preliminary": "preliminary: verified early results, the final report not yet released",
    "partial": "partial: some of its results are not yet available or final",
}


def _check_reports(bundle: Mapping[str, Any], notes: list[str]) -> None:
    """Refuse a DiagnosticReport whose status (a modifier element) does not say its results stand;
    name one that is not final yet in a note."""
    for index, entry in enumerate(bundle.get("entry") or []):
        resource = entry.get("resource") if isinstance(entry, dict) else None
        if not isinstance(resource, dict) or resource.get("resourceType") != "DiagnosticReport":
            continue
        for element, value in _effective_values(resource):
            if value is not None and not isinstance(value, str):
                # the report's time sets the panel's date frame: never coerced, never skipped
                place = f"Bundle.entry[{index}].resource.{element}"
                why = f"{element} must be a FHIR date/dateTime string"
                raise FhirError(f"{place}: {why}", {place: [why]})
        status = resource.get("status")
        if status in _REPORT_STATUSES_READ:
            if status in _REPORT_STATUSES_NOTED:
                notes.append(
                    f"Bundle.entry[{index}]: DiagnosticReport status '{status}' "
                    f"({_REPORT_STATUSES_NOTED[status]}): its results are read by their own status, and the "
                    "interpretation may change once the report is final"
                )
            continue
        place = f"Bundle.entry[{index}].resource.status"
        if isinstance(status, str) and status in _REPORT_STATUSES_REFUSED:
            why = f"DiagnosticReport status '{status}': {_REPORT_STATUSES_REFUSED[status]}"
        else:
            shown = f"'{status[:32]}'" if isinstance(status, str) else "missing"
            why = (
                f"DiagnosticReport status {shown} is not one this service reads "
                f"({', '.join(sorted(_REPORT_STATUSES_READ))}): its results are not interpreted"
            )
        raise FhirError(f"{place}: {why}", {place: [why]})


def _translate(
    bundle: dict[str, Any], codemap: CodeMap, today: date | None, notes: list[str], panel: PanelAssembler
) -> FhirTranslation:
    _check_reports(bundle, notes)
    frame = _date_frame(bundle)
    range_subject = _bundle_subject(bundle)  # the patient whose reference ranges apply
    latest = today or latest_date(datetime.now(UTC))  # the latest date begun anywhere (UTC+14)
    withdrawn = _withdrawn(bundle)
    dates: list[date] = []
    # Results read from an Observation with no effective[x] this service reads (nor its report's): where,
    # and what it has instead.
    no_date: list[tuple[str, str]] = []
    # Observations over a period (a 24-hour urine): (first result, end, start, end date, where).
    periods: list[tuple[int, int, date, date, str]] = []
    # Results read from an Observation whose effective[x] has no day: (element, its text).
    undated: list[tuple[str, str]] = []
    results: list[DatedResult] = []
    # Each Observation's results: (first, end) in ``results``, its status and its first coding.
    read_as: list[tuple[int, int, str, tuple[str, str] | None]] = []
    patients: list[tuple[str, Mapping[str, Any]]] = []
    subjects: dict[str, str] = {}  # subject reference -> first entry naming it
    # Subjects named by display: each must be one patient too.
    other_subjects: dict[str, dict[str, str]] = {"display": {}}
    # Subjects named by identifier (the subject's own, or a contained Patient's): each result's set of
    # 'system|value' keys must share one with the others, and with the Bundle's Patient's identifiers.
    identified: list[tuple[str, frozenset[str]]] = []
    # Per result: where, named by reference, its identifiers, named by display (for the linking rules).
    linking: list[tuple[str, bool, frozenset[str], bool]] = []
    aliases: dict[str, str] = {}  # a Patient's fullUrl -> "Patient/<id>"
    for entry in bundle.get("entry") or []:
        resource = entry.get("resource") or {}
        if resource.get("resourceType") == "Patient" and resource.get("id") and entry.get("fullUrl"):
            aliases[entry["fullUrl"]] = f"Patient/{resource['id']}"
    for where, resource in _resources(bundle, notes):
        kind = resource.get("resourceType")
        subject = resource.get("subject") if kind in ("Observation", "Condition") else None
        ref = subject.get("reference") if isinstance(subject, dict) else None
        # A '#id' reference points into the resource's own contained list: every result may call its
        # patient '#p', so it names nobody across resources; the contained Patient's identifiers do.
        if isinstance(ref, str) and ref and not ref.startswith("#"):
            subjects.setdefault(aliases.get(ref, ref), f"{where}.subject")
        try:
            if isinstance(subject, dict):
                keys = _subject_keys(subject, "subject")
                if "display" in keys:
                    other_subjects["display"].setdefault(keys["display"], f"{where}.subject")
                ids = {keys["identifier"]} if "identifier" in keys else set()
                if isinstance(ref, str) and ref.startswith("#"):
                    ids |= _contained_patient_ids(resource, ref[1:], "subject")
                has_ref = isinstance(ref, str) and bool(ref) and not ref.startswith("#")
                if ids and not has_ref:
                    # A reference already ties the result to the patient (references are compared
                    # above); an LIS may add its own patient number beside it.
                    identified.append((f"{where}.subject", frozenset(ids)))
                linking.append((f"{where}.subject", has_ref, frozenset(ids), "display" in keys))
            elif kind in ("Observation", "Condition"):
                linking.append((f"{where}.subject", False, frozenset(), False))
            at = _ENTRY.fullmatch(where)
            if (
                kind == "Observation"
                and resource.get("status") != _IN_ERROR
                and resource.get("id") in withdrawn
                and at is not None
                and int(at.group(1)) < withdrawn[resource["id"]][0]
            ):
                # A later version of the same Observation is entered-in-error: this one is withdrawn.
                notes.append(
                    f"{where}: not read: {withdrawn[resource['id']][1]} marks Observation/"
                    f"{resource['id']} entered-in-error"
                )
                continue
            if kind == "Observation":
                status = resource.get("status")
                if status not in _OBSERVATION_STATUSES:
                    shown = f"'{status[:32]}'" if isinstance(status, str) else "missing"
                    raise ValueProblem(
                        f"status {shown} is not a FHIR Observation status "
                        f"({', '.join(sorted(_OBSERVATION_STATUSES))})"
                    )
                if status not in _USED_STATUSES:
                    notes.append(f"{where}: status '{status}' is not a result; ignored")
                    continue
                stamp, element = _effective_element(resource)
                when = stamp.date_in(frame) if stamp else None
                if when is not None and (when > latest or when < EARLIEST_DATE):
                    # The request's data-entry window for dates, as HL7's OBR-7 and OBX-14 are held to it.
                    raise _ElementProblem(
                        "date is in the future"
                        if when > latest
                        else f"date before {EARLIEST_DATE.isoformat()}: not plausible (data-entry check)",
                        f"{where}.{element}",
                    )
                dated = (when, f"{where}.{element}")
                read = len(results)
                _observation(resource, where, codemap, results, notes, dated, subject=range_subject)
                for number, component in enumerate(resource.get("component") or []):
                    _observation(
                        component,
                        f"{where}.component[{number}]",
                        codemap,
                        results,
                        notes,
                        dated,
                        status=status,
                        subject=range_subject,
                    )
                read_as.append((read, len(results), status, _first_coding(resource)))
                if when:
                    dates.append(when)
                    if element == "effectivePeriod.start":
                        end = _timestamp(
                            (resource.get("effectivePeriod") or {}).get("end"), "effectivePeriod.end"
                        )
                        end_on = end.date_in(frame) if end else None
                        if end_on is not None and end_on > when:
                            periods.append((read, len(results), when, end_on, where))
                elif stamp and stamp.partial and len(results) > read:
                    undated.append((f"{where}.{element}", stamp.text))
                elif stamp is None and any(not r.path.startswith("clinical.") for r in results[read:]):
                    no_date.append(_undated(resource, where))  # a result (a finding needs no date)
            elif kind == "Condition":
                _condition(resource, where, codemap, panel, notes)
            elif kind == "Patient":
                patients.append((where, resource))
            elif kind is None:
                notes.append(f"{where.removesuffix('.resource')}: the entry carries no resource; ignored")
            else:
                notes.append(f"{where}: {kind} ignored")
        except _ElementProblem as exc:
            raise FhirError(f"{exc.element}: {exc}", {exc.element: [str(exc)]}) from exc
        except ValueProblem as exc:
            raise FhirError(f"{where}: {exc}", {where: [str(exc)]}) from exc
        except (TypeError, AttributeError, KeyError) as exc:
            # An element of a shape the readers above do not expect and validation let through: the
            # caller's input all the same, so a 422 at the resource rather than a 500.
            why = f"an element has a JSON type FHIR does not allow here ({type(exc).__name__})"
            raise FhirError(f"{where}: {why}", {where: [why]}) from exc
    _corrections_replace(results, read_as, periods, notes)
    _flc_assay_notes(results, notes)
    if len(patients) > 1:
        raise FhirError(
            "the Bundle holds more than one Patient: send one patient per request",
            {w: ["second Patient"] for w, _ in patients[1:]},
        )
    # Results about different patients must never be merged into one interpretation.
    if patients and patients[0][1].get("id"):
        subjects.setdefault(f"Patient/{patients[0][1]['id']}", f"{patients[0][0]}.id")
    if len(subjects) > 1:
        raise FhirError(
            "the Bundle's results name different patients ("
            + ", ".join(sorted(subjects))
            + "): send one patient per request",
            {
                w: [f"subject {r}: the results name different patients ({_others(subjects, r)})"]
                for r, w in subjects.items()
            },
        )
    anchor: frozenset[str] = _patient_ids(patients[0][1]) if patients else frozenset()
    for place, named_ids in identified:
        if anchor and not named_ids & anchor:
            why = (
                "subject identifier "
                + ", ".join(sorted(named_ids))
                + ": the results name different patients (this identifier is not the other results' or "
                "the Patient's)"
            )
            raise FhirError(
                f"{place}: the result names another patient than the Bundle's other results or Patient "
                f"({why}): send one patient per request",
                {place: [why]},
            )
        anchor = anchor or named_ids
    _check_linked(linking, _patient_ids(patients[0][1]) if patients else frozenset(), bool(patients))
    for form, named in other_subjects.items():
        if len(named) > 1:
            raise FhirError(
                f"the Bundle's results name different patients by {form} ("
                + ", ".join(sorted(named))
                + "): send one patient per request",
                {
                    w: [f"subject {form} {k}: the results name different patients ({_others(named, k)})"]
                    for k, w in named.items()
                },
            )
    if dates and no_date:
        # Never taken to be of another result's day: they could be months apart.
        place, has = no_date[0]
        why = (
            f"{has} (nor a DiagnosticReport's that names it as a result) while other results of the "
            "Bundle are dated: it cannot be placed in the panel or its history; send the date the sample "
            "was collected on (effectiveDateTime, effectivePeriod.start or effectiveInstant)"
        )
        raise FhirError(f"{place}: {why}", {place: [why]})
    # The panel's date: that of its paraprotein studies (the latest), else the latest effective[x] of
    # its results. A marrow or blood count collected after the studies is read with them.
    collected = work_up_date(results) or (max(dates) if dates else None)
    for first, last, start, end_on, where in periods:
        # A timed collection is of every day of its period: of the panel's when the panel's date is in it.
        if collected is not None and start < collected <= end_on:
            for result in results[first:last]:
                result.on = collected
            notes.append(
                f"{where}: its collection ran from {start.isoformat()} to {end_on.isoformat()} "
                f"(effectivePeriod): read with the panel of {collected.isoformat()}"
            )
    _check_partial_dates(undated, collected, notes)
    try:
        history, history_sources = place_results(results, collected, panel, notes)
        panel.check()
    except ResultProblem as exc:
        place = exc.result.date_element if exc.dated else exc.result.locator
        raise FhirError(str(exc), {place: [str(exc)]}) from exc
    except ValueProblem as exc:
        # A check across results (a reported ratio against kappa and lambda) names the element it refuses.
        refused_at = re.match(r"Bundle\.entry\[\d+\][\w.\[\]]*", str(exc))
        raise FhirError(str(exc), {refused_at.group(0) if refused_at else "Bundle": [str(exc)]}) from exc
    request = panel.build()
    if history:
        request["history"] = history
    if collected:
        request["collected_on"] = collected.isoformat()
    if patients:
        where, resource = patients[0]
        gender = resource.get("gender")
        if gender is not None and gender not in _GENDERS:
            why = f"gender '{str(gender)[:32]}' is not a FHIR administrative-gender ({', '.join(_GENDERS)})"
            raise FhirError(f"{where}.gender: {why}", {f"{where}.gender": [why]})
        on = collected or today or date.today()
        try:
            patient = _patient(resource, on, notes)
        except ValueProblem as exc:
            raise FhirError(f"{where}: {exc}", {f"{where}.birthDate": [str(exc)]}) from exc
        if collected is None and patient.get("age_years") is not None:
            notes.append(
                f"{where}.birthDate: no result carries a collection date (effective[x]): the age is taken on "
                f"{on.isoformat()}, the day the Bundle was read"
            )
        if patient:
            request["patient"] = patient
    return FhirTranslation(request, notes + panel.notes, {**panel.sources, **history_sources})


def _others(named: Mapping[str, str], this: str) -> str:
    """The other subjects as 'subject at location', for a message about one of them."""
    return "; ".join(f"{k} at {w}" for k, w in sorted(named.items()) if k != this)


def _check_partial_dates(undated: list[tuple[str, str]], collected: date | None, notes: list[str]) -> None:
    """A year or year-month without a day cannot date a panel: refused, unless a complete timestamp dates
    the panel and falls in that year or month (the result is then read with the panel, said in a note)."""
    for place, text in undated:
        if collected is None:
            why = (
                f"'{text}' has no day: a date without a day cannot date the panel; send the full date "
                "the sample was collected on"
            )
        elif not collected.isoformat().startswith(text):
            why = (
                f"'{text}' has no day and does not contain the panel's date {collected.isoformat()}: the "
                "result cannot be placed in the panel or its history; send the full date the sample was "
                "collected on"
            )
        else:
            notes.append(
                f"{place} '{text}' has no day: not used for dating; the result is read with the panel of "
                f"{collected.isoformat()}"
            )
            continue
        raise FhirError(f"{place}: {why}", {place: [why]})


# The records store's identity of a Bundle (contract 1.1: patient_ref, 1-64 printable characters).
# Only the store uses it; the interpretation never does.
MAX_REF = 64


def record_identity(bundle: Mapping[str, Any]) -> tuple[dict[str, str], list[str]]:
    """``{"patient_ref": ...}`` of a translated Bundle for the records store, and notes on what could
    not be used. The patient: the Bundle's Patient identifier of type MR (v2-0203), else its first
    identifier; without a Patient, the identifier the results' subject names. Written
    ``value^^^system``, the same shape as HL7's ``ID^^^AUTHORITY``. An identifier without a system
    names no number space, so it links nothing (the same number of another system would be another
    patient); nor does a patient named only by reference (``Patient/123``)."""
    resources: list[dict[str, Any]] = [
        e["resource"]
        for e in bundle.get("entry") or []
        if isinstance(e, dict) and isinstance(e.get("resource"), dict)
    ]
    patient = next((r for r in resources if r.get("resourceType") == "Patient"), None)
    if patient is not None:
        named = [i for i in patient.get("identifier") or [] if _has_value(i)]
    else:
        subjects = (r.get("subject") for r in resources if r.get("resourceType") == "Observation")
        named = [
            s["identifier"] for s in subjects if isinstance(s, dict) and _has_value(s.get("identifier"))
        ][:1]
    if not named:
        return {}, []
    usable = [i for i in named if isinstance(i.get("system"), str) and i["system"].strip(" ")]
    if not usable:
        return {}, [
            "the patient identifier has no system: this panel is stored without a patient reference and "
            "the patient's stored panels were not used as history."
        ]
    mr = [i for i in usable if _coded_as(i.get("type"), "MR")]
    identifier = (mr or usable)[0]
    value, system = identifier["value"].strip(" "), identifier["system"].strip(" ")
    ref = f"{value}^^^{system}"
    if value == '""':  # the HL7 null, passed through by a v2-to-FHIR bridge: no number
        return {}, [
            'the patient identifier is the HL7 null "": this panel is stored without a patient reference '
            "and the patient's stored panels were not used as history."
        ]
    if len(ref) > MAX_REF or not ref.isprintable() or "^" in value or "^" in system:
        # A '^' in either part could make two different identifiers one reference.
        return {}, [
            f"the patient identifier ({len(ref)} characters with its system) is not a usable patient "
            f"reference (a '^' or control character, or more than {MAX_REF} characters): this panel is "
            "stored without it and the patient's stored panels were not used as history."
        ]
    return {"patient_ref": ref}, []


def _has_value(identifier: Any) -> bool:
    return (
        isinstance(identifier, dict)
        and isinstance(identifier.get("value"), str)
        and bool(identifier["value"].strip())
    )


def bundle_retry_key(bundle: Mapping[str, Any], raw: bytes) -> str | None:
    """The records store's retry key of a Bundle with an identifier: the identifier and the bytes,
    hashed (the same Bundle sent again is the same record). None without Bundle.identifier."""
    identifier = bundle.get("identifier")
    if not isinstance(identifier, dict) or not isinstance(identifier.get("value"), str):
        return None
    key = f"{identifier.get('system') or ''}|{identifier['value']}".encode("utf-8", "surrogateescape")
    return "fhir:" + hashlib.sha256(key + b"\x1e" + raw).hexdigest()


def _coded_as(concept: Any, code: str) -> bool:
    codings = concept.get("coding") if isinstance(concept, dict) else None
    return any(isinstance(c, dict) and c.get("code") == code for c in codings or [])


_GENDERS = ("male", "female", "other", "unknown")  # FHIR administrative-gender


def bundle_to_request(
    bundle: dict[str, Any], codemap: CodeMap | None = None, *, today: date | None = None
) -> dict[str, Any]:
    """The contract request dict of a FHIR R4 Bundle (see translate_bundle)."""
    return translate_bundle(bundle, codemap, today=today).request


# --------------------------------------------------------------------------------------------
# Outbound
# --------------------------------------------------------------------------------------------


# The report's business identifier, unique per interpretation: the stored record's id (records store
# on), else the request id (X-Request-ID), else a fresh UUID. The ruleset version is not an identifier
# (every report of one release would share it): it is the extension RULESET_VERSION_EXTENSION.
NAMINGSYSTEM_BASE = "https://mgi.example/fhir/NamingSystem"
INTERPRETATION_ID_SYSTEM = f"{NAMINGSYSTEM_BASE}/interpretation-id"
REQUEST_ID_SYSTEM = f"{NAMINGSYSTEM_BASE}/request-id"
RULESET_VERSION_EXTENSION = "https://mgi.example/fhir/StructureDefinition/ruleset-version"


def _report_identifier(record_id: str, request_id: str | None) -> dict[str, str]:
    if record_id:
        return {"system": INTERPRETATION_ID_SYSTEM, "value": record_id}
    if request_id:
        return {"system": REQUEST_ID_SYSTEM, "value": request_id}
    return {"system": "urn:ietf:rfc:3986", "value": f"urn:uuid:{uuid.uuid4()}"}


def _cc(suffix: str, code: str, display: str | None = None) -> dict[str, Any]:
    coding: dict[str, Any] = {"system": f"{CODESYSTEM_BASE}/{suffix}", "code": code}
    if display:
        coding["display"] = display
    return {"coding": [coding]}


def _check_linked(
    linking: list[tuple[str, bool, frozenset[str], bool]], patient_ids: frozenset[str], has_patient: bool
) -> None:
    """Every result that names its subject must be shown to be about the one patient: one named in a
    form that nothing links to the others' (an identifier beside references to a Patient without it, a
    display only) could be another patient's, and is refused, never merged. A result that names no
    subject is the Bundle's (Observation.subject is optional in FHIR)."""
    named = [row for row in linking if row[1] or row[2] or row[3]]
    # Beside one reference, identifiers of different systems are the same patient's numbers (the LIS's
    # own, a national one); two values in one system are two patients, or a mix-up.
    seen: dict[str, tuple[str, str]] = {}
    for place, has_ref, ids, _ in named:
        for key in ids if has_ref else ():
            system, _, value = key.partition("|")
            first = seen.setdefault(system, (value, place))
            if first[0] != value:
                why = (
                    f"subject identifier {system}|{value} beside {system}|{first[0]} at {first[1]}: the "
                    "results name different patients"
                )
                raise FhirError(f"{place}: {why}: send one patient per request", {place: [why]})
    by_reference = has_patient or any(row[1] for row in named)
    linked_ids = patient_ids.union(*(row[2] for row in named if row[1]))
    for place, has_ref, ids, has_display in named:
        if has_ref:
            continue
        if ids and by_reference and not ids & linked_ids:
            why = (
                "named by identifier only, and neither the Bundle's Patient nor the results named by "
                "reference carry that identifier: it cannot be shown to be the same patient"
            )
            raise FhirError(f"{place}: {why}", {place: [why]})
        if not ids and has_display and (by_reference or any(row[2] for row in named)):
            why = "named by display only: a name cannot be matched to the patient the other results name"
            raise FhirError(f"{place}: {why}", {place: [why]})


def _identifier_key(identifier: Any, where: str) -> str:
    value = identifier.get("value") if isinstance(identifier, dict) else None
    system = identifier.get("system", "") if isinstance(identifier, dict) else None
    if not isinstance(value, str) or not isinstance(system, str):
        raise ValueProblem(f"{where}: an Identifier with a string value (and system) is needed")
    return f"{system}|{value}"


def _patient_ids(patient: Mapping[str, Any]) -> frozenset[str]:
    """A Patient's identifiers as 'system|value' keys."""
    # Identifier.value is optional in FHIR (a type-only identifier): such an entry matches nothing.
    return frozenset(
        _identifier_key(i, "Patient.identifier")
        for i in patient.get("identifier") or []
        if isinstance(i, dict) and isinstance(i.get("value"), str) and isinstance(i.get("system", ""), str)
    )


def _contained_patient_ids(resource: Mapping[str, Any], local_id: str, where: str) -> set[str]:
    """The identifiers of the contained Patient a '#id' subject points to (refused when there is none,
    or it has no identifier: the result could not be matched to the others)."""
    for contained in resource.get("contained") or []:
        if isinstance(contained, dict) and contained.get("id") == local_id:
            if contained.get("resourceType") != "Patient":
                raise ValueProblem(
                    f"{where}: #{local_id} is a contained {contained.get('resourceType')}, not a Patient"
                )
            ids = set(_patient_ids(contained))
            if not ids:
                raise ValueProblem(
                    f"{where}: the contained Patient #{local_id} has no identifier, so the result cannot "
                    "be matched to the Bundle's other results"
                )
            return ids
    raise ValueProblem(f"{where}: #{local_id} names no contained resource")


def _subject_keys(subject: Mapping[str, Any], where: str) -> dict[str, str]:
    """The identifier ('system|value') and display a Reference names its subject by."""
    keys: dict[str, str] = {}
    identifier = subject.get("identifier")
    if identifier is not None:
        keys["identifier"] = _identifier_key(identifier, f"{where}.identifier")
    display = subject.get("display")
    if display is not None:
        if not isinstance(display, str):
            raise ValueProblem(f"{where}.display: a string is needed")
        keys["display"] = display
    return keys


def _subject(bundle: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """The report's subject: the Bundle's Patient, else the one subject every result names, by
    reference or, when the results name it by identifier only, by that identifier."""
    for entry in (bundle or {}).get("entry") or []:
        resource = entry.get("resource") or {}
        if resource.get("resourceType") == "Patient":
            if resource.get("id"):
                return {"reference": f"Patient/{resource['id']}"}
            if entry.get("fullUrl"):
                return {"reference": entry["fullUrl"]}
    named = {
        ref
        for _, resource in _resources(bundle or {}, [])
        if resource.get("resourceType") in ("Observation", "Condition")
        and isinstance(resource.get("subject"), dict)
        and isinstance(ref := resource["subject"].get("reference"), str)
        and ref
        and not ref.startswith("#")
    }
    if named:
        return {"reference": named.pop()} if len(named) == 1 else None
    return _identified_subject(bundle or {})


def _identified_subject(bundle: Mapping[str, Any]) -> dict[str, Any] | None:
    """The identifier-only Reference every result names its subject by (no Patient, no reference):
    the input's own Reference when all results write it alike, else its identifier. None when the
    results name no subject, or not one identifier."""
    subjects = [
        resource["subject"]
        for _, resource in _resources(bundle, [])
        if resource.get("resourceType") in ("Observation", "Condition")
        and isinstance(resource.get("subject"), dict)
    ]
    identifiers = [s.get("identifier") for s in subjects]
    if not identifiers or not all(isinstance(i, dict) and _has_value(i) for i in identifiers):
        return None
    if len({(i.get("system"), i["value"]) for i in identifiers if isinstance(i, dict)}) != 1:
        return None
    if all(s == subjects[0] for s in subjects):
        return dict(subjects[0])
    return {"identifier": identifiers[0]}


def _effective_of(bundle: Mapping[str, Any] | None) -> str | None:
    # The results the interpretation used: an ignored (e.g. cancelled) Observation dates nothing.
    frame = _date_frame(bundle or {})
    dates = [
        d
        for _, resource in _resources(bundle or {}, [])
        if resource.get("resourceType") == "Observation"
        and resource.get("status") in _USED_STATUSES
        and (d := _effective(resource, frame))
    ]
    return max(dates).isoformat() if dates else None


# A contained Observation is released with its report: its status says what the report's does
# (preliminary while a review is pending, final, amended after an amending review).
_OBSERVATION_STATUS_OF_REPORT = {"partial": "preliminary", "appended": "amended"}
_OBSERVATION_STATUS_CODES = frozenset(
    {"registered", "preliminary", "final", "amended", "corrected", "cancelled", "entered-in-error", "unknown"}
)


def _observation_status(report_status: str) -> str:
    """The Observation status (FHIR observation-status) of a report status."""
    if report_status in _OBSERVATION_STATUS_CODES:
        return report_status
    return _OBSERVATION_STATUS_OF_REPORT.get(report_status, "unknown")


def _observation_out(
    obs_id: str, code: str, display: str, subject: dict[str, Any] | None, status: str = "final"
) -> dict[str, Any]:
    obs: dict[str, Any] = {
        "resourceType": "Observation",
        "id": obs_id,
        "status": status,
        "code": _cc("observation", code, display),
    }
    if subject:
        obs["subject"] = subject
    return obs


def _risk_observation(
    name: str, entry: Mapping[str, Any], subject: dict[str, Any] | None, status: str = "final"
) -> dict[str, Any]:
    obs = _observation_out(
        f"risk-{name.replace('_', '-')}",
        f"RISK_{name.upper()}",
        RISK_LABELS.get(name, name),
        subject,
        status,
    )
    group = entry.get("group")
    if group:
        obs["valueCodeableConcept"] = _cc("risk-group", str(group))
    else:
        # A model that does not apply to the category (the SMM models for an MGUS) is not-applicable;
        # one that applies but that data not given leave open (its possible groups) is unknown.
        absent = "not-applicable" if entry.get("applies") is False else "unknown"
        obs["dataAbsentReason"] = {
            "coding": [{"system": "http://terminology.hl7.org/CodeSystem/data-absent-reason", "code": absent}]
        }
    notes = [
        str(entry[k])
        for k in ("reason", "why", "note", "explanation", "comment")
        if isinstance(entry.get(k), str) and entry[k]
    ]
    possible = next(
        (entry[k] for k in ("possible_groups", "groups", "open_between") if isinstance(entry.get(k), list)),
        None,
    )
    if possible:
        notes.append("possible groups: " + ", ".join(str(g) for g in possible))
    if notes:
        obs["note"] = [{"text": text} for text in notes]
    score = entry.get("score")
    if isinstance(score, int | float) and not isinstance(score, bool):
        quantity: dict[str, Any] = {"value": score}
        if entry.get("score_is_lower_bound") is True:
            # Data not given could add points: the score is at least this value, never exactly it.
            quantity["comparator"] = ">="
        obs["component"] = [
            {"code": _cc("observation", "RISK_SCORE", "Risk score"), "valueQuantity": quantity}
        ]
    return obs


def _flag_observation(
    number: int, flag: Mapping[str, Any], subject: dict[str, Any] | None, status: str = "final"
) -> dict[str, Any]:
    obs = _observation_out(f"flag-{number}", "FLAG", "Interpretive flag", subject, status)
    value = _cc("flag", str(flag.get("code", "")))
    if flag.get("message"):
        value["text"] = str(flag["message"])
    obs["valueCodeableConcept"] = value
    components: list[dict[str, Any]] = []
    if flag.get("severity"):
        components.append(
            {
                "code": _cc("observation", "FLAG_SEVERITY", "Flag severity"),
                "valueCodeableConcept": _cc("flag-severity", str(flag["severity"])),
            }
        )
    for specialty in flag.get("refer_to") or []:
        components.append({"code": _cc("observation", "REFER_TO", "Refer to"), "valueString": str(specialty)})
    if components:
        obs["component"] = components
    return obs


def interpretation_to_diagnostic_report(
    interpretation: Mapping[str, Any],
    request_bundle: Mapping[str, Any] | None = None,
    *,
    now: datetime | None = None,
    input_notes: Sequence[str] = (),
    status: str = "final",
    request_id: str | None = None,
) -> dict[str, Any]:
    """A DiagnosticReport dict (validated with fhir.resources) carrying the interpretation and the
    translation's notes on its input (resources ignored, and why). ``status`` is the report's
    (preliminary while a review is pending, final, amended after an amending review); every contained
    Observation takes the matching Observation status. ``identifier`` names this interpretation: the
    stored record's id (``interpretation["id"]``), else ``request_id``, else a fresh UUID; the ruleset
    version is the extension ``RULESET_VERSION_EXTENSION``."""
    subject = _subject(request_bundle)
    obs_status = _observation_status(status)
    classification = interpretation.get("classification") or {}
    contained: list[dict[str, Any]] = []
    if classification:
        provisional = _observation_out(
            "classification-provisional",
            "CLASSIFICATION_PROVISIONAL",
            "Classification provisional",
            subject,
            obs_status,
        )
        provisional["valueBoolean"] = bool(classification.get("provisional"))
        contained.append(provisional)
        if classification.get("isotype"):
            isotype = _observation_out("isotype", "ISOTYPE", "Isotype", subject, obs_status)
            isotype["valueString"] = str(classification["isotype"])
            contained.append(isotype)
    for name, entry in (interpretation.get("risk") or {}).items():
        if isinstance(entry, Mapping):
            contained.append(_risk_observation(name, entry, subject, obs_status))
    for number, flag in enumerate(interpretation.get("flags") or [], start=1):
        contained.append(_flag_observation(number, flag, subject, obs_status))
    if input_notes:
        # Never silent: the sender sees which of its resources the interpretation did not use.
        notes = _observation_out(
            "input-notes", "INPUT_NOTES", "Notes on the input Bundle", subject, obs_status
        )
        notes["valueInteger"] = len(input_notes)
        notes["note"] = [{"text": str(text)} for text in input_notes]
        contained.append(notes)
    moment = now or datetime.now(UTC)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    report: dict[str, Any] = {
        "resourceType": "DiagnosticReport",
        "status": status,
        "category": [
            {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v2-0074", "code": "LAB"}]}
        ],
        "code": {
            **_cc("report", "MGI_INTERPRETATION", "Monoclonal gammopathy interpretation"),
            "text": "Monoclonal gammopathy interpretation",
        },
        "issued": moment.isoformat(),
    }
    if interpretation.get("id"):
        # The stored record's id (records store on): GET /v1/interpretations/{id} and its audit trail.
        report["id"] = str(interpretation["id"])
    if contained:
        report["contained"] = contained
        report["result"] = [{"reference": f"#{obs['id']}"} for obs in contained]
    if subject:
        report["subject"] = subject
    effective = _effective_of(request_bundle)
    if effective:
        report["effectiveDateTime"] = effective
    if interpretation.get("comment"):
        report["conclusion"] = str(interpretation["comment"])
    if classification.get("code"):
        label = str(classification.get("label") or classification["code"])
        concept = _cc("classification", str(classification["code"]), label)
        concept["text"] = label + (" (provisional)" if classification.get("provisional") else "")
        report["conclusionCode"] = [concept]
    report["identifier"] = [_report_identifier(str(interpretation.get("id") or ""), request_id)]
    if interpretation.get("ruleset_version"):
        report["extension"] = [
            {"url": RULESET_VERSION_EXTENSION, "valueString": str(interpretation["ruleset_version"])}
        ]
    return DiagnosticReport.model_validate(report).model_dump(mode="json", exclude_none=True)


def operation_outcome(
    errors: Mapping[str, list[str]] | str,
    status: int,
    *,
    sources: Mapping[str, str] | None = None,
    notes: Sequence[str] = (),
) -> dict[str, Any]:
    """An OperationOutcome dict (validated) for an error string or {location: [messages]}; ``notes``
    (what the reading ignored) follow as issues of severity information.

    With ``sources`` (FhirTranslation.sources), request-schema paths such as
    ``spep.m_protein.unit`` also name the Bundle entry the value came from.
    """
    code = _ISSUE_CODES.get(status, "processing")
    severity = "fatal" if status >= 500 else "error"
    issues: list[dict[str, Any]] = []
    if isinstance(errors, str):
        issues.append({"severity": severity, "code": code, "diagnostics": errors})
    else:
        for path, messages in errors.items():
            expressions = [path] if path and path != "_schema" else []
            origin = None
            for fld, src in sorted((sources or {}).items(), key=lambda i: -len(i[0])):
                if path == fld or path.startswith(fld + "."):
                    origin = src
                    break
            if origin:
                expressions.append(origin.split(" (", 1)[0])
            for message in messages or [""]:
                issue: dict[str, Any] = {
                    "severity": severity,
                    "code": code,
                    "diagnostics": f"{path}: {message}" if path else message,
                }
                if expressions:
                    issue["expression"] = expressions
                issues.append(issue)
    if not issues:
        issues.append({"severity": severity, "code": code, "diagnostics": f"HTTP {status}"})
    issues += [{"severity": "information", "code": "informational", "diagnostics": n} for n in notes]
    outcome = {"resourceType": "OperationOutcome", "issue": issues}
    return OperationOutcome.model_validate(outcome).model_dump(mode="json", exclude_none=True)
