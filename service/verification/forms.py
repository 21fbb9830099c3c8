"""A verification case's request body as an HL7 v2.5.1 ORU^R01 message and as a FHIR R4 Bundle.

The codes come from the code map the instance reads (the shipped LOINC/SNOMED CT/ICD-10 defaults plus the
laboratory's own file): for each request field, its enabled code of highest priority. A body with a field
no code maps (a local finding without the lab's code, serial history) cannot be sent in that form: it
raises ``NotExpressible`` naming the field, and the case is run in JSON only.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import date
from typing import Any

from service.adapters.codes import FIELD_KINDS, CodeEntry, CodeMap, Kind

DEFAULT_COLLECTED_ON = "2025-01-15"  # a fixed past date for bodies that do not carry collected_on
_HL7_SEX = {"female": "F", "male": "M", "other": "O", "unknown": "U"}
_UCUM = "http://unitsofmeasure.org"
_NOT_SENT = ("history", "flc.ratio_reference_range")


class NotExpressible(ValueError):
    """The body has a field this form (with this code map) cannot carry."""


def fields_of(body: Mapping[str, Any]) -> Iterator[tuple[str, Any]]:
    """(request field path, value) of every value the adapters read, in the body's order."""
    for section, content in body.items():
        if section in ("patient", "collected_on") or content is None:
            continue
        if section in _NOT_SENT:
            raise NotExpressible(f"{section} has no HL7 v2 / FHIR form here")
        if section == "serum_ife":
            yield section, content
            continue
        if not isinstance(content, Mapping):
            raise NotExpressible(f"{section} is not a section")
        for name, value in content.items():
            path = f"{section}.{name}"
            if value is None:
                continue
            if path in _NOT_SENT:
                raise NotExpressible(f"{path} has no HL7 v2 / FHIR form here")
            if path not in FIELD_KINDS:
                raise NotExpressible(f"{path} is not read from HL7 v2 or FHIR")
            yield path, value


def _carries(entry: CodeEntry, unit: str | None) -> bool:
    """Whether a code may carry a value in ``unit`` (its property fixes its units; the adapter converts)."""
    return unit is None or entry.units is None or unit in entry.units


def code_for(codemap: CodeMap, target: str, unit: str | None = None) -> CodeEntry:
    """The code a message uses for a request field: enabled, carrying the value's unit as it is
    (calcium in mmol/L under LOINC 2000-8, in mg/dL under 17861-6), exact match preferred, lowest
    priority."""
    entries = [
        e
        for table in (codemap.observations, codemap.conditions)
        for e in table.values()
        if e.target == target and e.enabled and _carries(e, unit)
    ]
    if not entries:
        raise NotExpressible(
            f"no code in the code map for {target} (add the laboratory's code with --codemap)"
        )
    return min(entries, key=lambda e: (e.match != "exact", e.priority, e.section != "observations"))


def _unit_of(value: Any) -> str | None:
    return value.get("unit") if isinstance(value, Mapping) and isinstance(value.get("unit"), str) else None


def _system(codemap: CodeMap, key: str, *, url: bool) -> str:
    """A coding-system identifier the code map reads as ``key``: a URL for FHIR, a mnemonic for HL7."""
    aliases = [alias for alias, k in codemap.system_aliases.items() if k == key and alias != key]
    wanted = [a for a in aliases if ("://" in a or a.startswith("urn:")) == url and not a[:1].isdigit()]
    if not wanted:
        return key
    return wanted[0] if url else wanted[0].upper()


def _number(x: Any) -> str:
    return repr(float(x)) if isinstance(x, float) else str(x)


def _ife_texts(ife: Mapping[str, Any]) -> list[str]:
    if ife.get("result") == "negative":
        return ["negative"]
    texts = []
    for clone in ife.get("clones") or []:
        heavy = clone.get("heavy_chain")
        texts.append(f"{heavy} {clone['light_chain']}" if heavy else f"free {clone['light_chain']}")
    return texts


def _birth_date(age: Any, on: str) -> str:
    if int(age) != age:
        raise NotExpressible("patient.age_years with a fraction has no birth date form")
    day = date.fromisoformat(on)
    try:
        born = day.replace(year=day.year - int(age))
    except ValueError:  # 29 February
        born = day.replace(year=day.year - int(age), day=28)
    return born.isoformat()


# --- HL7 v2 ---------------------------------------------------------------------------------------------
def to_hl7(body: Mapping[str, Any], codemap: CodeMap, control_id: str = "VERIFY") -> str:
    """An ER7 ORU^R01 (v2.5.1) carrying the body's values, segments ended by CR."""
    on = str(body.get("collected_on") or DEFAULT_COLLECTED_ON)
    stamp = on.replace("-", "")
    patient = body.get("patient") or {}
    # Each case its own patient (PID-3 is the records store's patient reference): a verification case
    # never becomes another's history.
    pid = ["PID", "1", "", f"{control_id}^^^MGI-VERIFY^MR", "", "Verification^Case", "", "", ""]
    if patient.get("age_years") is not None:
        pid[7] = _birth_date(patient["age_years"], on).replace("-", "")
    if patient.get("sex") is not None:
        pid[8] = _HL7_SEX[patient["sex"]]
    segments = [
        f"MSH|^~\\&|MGI-VERIFY|LAB|MGI|LAB|{stamp}120000||ORU^R01^ORU_R01|{control_id}|P|2.5.1",
        "|".join(pid),
        f"OBR|1|{control_id}|{control_id}|MGV^Verification^L|||{stamp}0800",
    ]
    for n, (path, value) in enumerate(fields_of(body), start=1):
        entry = code_for(codemap, path, _unit_of(value))
        obx3 = f"{entry.code}^{path}^{_system(codemap, entry.system, url=False)}"
        value_type, obx5, unit, ref = _hl7_value(entry.kind, path, value)
        segments.append(f"OBX|{n}|{value_type}|{obx3}||{obx5}|{unit}|{ref}||||F")
    return "\r".join(segments) + "\r"


def _hl7_value(kind: Kind, path: str, value: Any) -> tuple[str, str, str, str]:
    if kind is Kind.QUANTITY:
        rr = value.get("reference_range")
        ref = f"{_number(rr['low'])}-{_number(rr['high'])}" if rr else ""
        comparator = value.get("comparator")
        if comparator:
            return "SN", f"{comparator}^{_number(value['value'])}", value["unit"], ref
        return "NM", _number(value["value"]), value["unit"], ref
    if kind is Kind.IFE:
        return "TX", "~".join(_ife_texts(value)), "", ""
    if kind is Kind.PERCENT:
        return "NM", _number(value), "%", ""
    if kind is Kind.COUNT:
        return "NM", str(value), "", ""
    if kind is Kind.FLAG:
        return "CWE", "Y^Yes^HL70136" if value else "N^No^HL70136", "", ""
    if kind in (Kind.SCLEROMYXEDEMA, Kind.ASSAY):
        return "ST", str(value), "", ""
    raise NotExpressible(f"{path} has no HL7 v2 form here")  # pragma: no cover - FIELD_KINDS guard


# --- FHIR R4 --------------------------------------------------------------------------------------------
def to_fhir(body: Mapping[str, Any], codemap: CodeMap) -> dict[str, Any]:
    """A FHIR R4 collection Bundle: an optional Patient and one Observation per value."""
    on = str(body.get("collected_on") or DEFAULT_COLLECTED_ON)
    entries: list[dict[str, Any]] = []
    patient = body.get("patient") or {}
    if patient.get("age_years") is not None or patient.get("sex") is not None:
        resource: dict[str, Any] = {"resourceType": "Patient", "id": "verify"}
        if patient.get("sex") is not None:
            resource["gender"] = patient["sex"]
        if patient.get("age_years") is not None:
            resource["birthDate"] = _birth_date(patient["age_years"], on)
        entries.append({"fullUrl": "urn:uuid:6d1a3c0e-0000-4000-8000-000000000001", "resource": resource})
    for path, value in fields_of(body):
        entry = code_for(codemap, path, _unit_of(value))
        obs: dict[str, Any] = {
            "resourceType": "Observation",
            "status": "final",
            "code": {"coding": [{"system": _system(codemap, entry.system, url=True), "code": entry.code}]},
            "effectiveDateTime": on,
            **_fhir_value(entry.kind, path, value),
        }
        entries.append({"resource": obs})
    return {"resourceType": "Bundle", "type": "collection", "entry": entries}


def _fhir_value(kind: Kind, path: str, value: Any) -> dict[str, Any]:
    if kind is Kind.QUANTITY:
        quantity: dict[str, Any] = {
            "value": value["value"],
            "unit": value["unit"],
            "system": _UCUM,
            "code": value["unit"],
        }
        if value.get("comparator"):
            quantity["comparator"] = value["comparator"]
        out: dict[str, Any] = {"valueQuantity": quantity}
        rr = value.get("reference_range")
        if rr:
            out["referenceRange"] = [
                {
                    "low": {"value": rr["low"], "unit": value["unit"]},
                    "high": {"value": rr["high"], "unit": value["unit"]},
                }
            ]
        return out
    if kind is Kind.IFE:
        texts = _ife_texts(value)
        return {"valueString": texts[0] if len(texts) == 1 else "biclonal " + " and ".join(texts)}
    if kind is Kind.PERCENT:
        return {"valueQuantity": {"value": value, "unit": "%", "system": _UCUM, "code": "%"}}
    if kind is Kind.COUNT:
        return {"valueInteger": value}
    if kind is Kind.FLAG:
        return {"valueBoolean": bool(value)}
    if kind in (Kind.SCLEROMYXEDEMA, Kind.ASSAY):
        return {"valueString": str(value)}
    raise NotExpressible(f"{path} has no FHIR form here")  # pragma: no cover - FIELD_KINDS guard
