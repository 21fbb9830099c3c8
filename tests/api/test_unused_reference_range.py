"""A reference range sent with a result whose rules read none (serum and urine M-protein, creatinine
clearance, eGFR) is refused with a 422 naming it, in the request and in its history entries; through
HL7 v2 (OBX-7) and FHIR (referenceRange), where laboratories send ranges with most results, it is left
out with a note and the message is read."""

from __future__ import annotations

import copy

import pytest

from service.adapters.codes import REFERENCE_RANGE_NOT_READ
from service.api.schemas import (
    RANGE_NOT_READ,
    InterpretationRequestSchema,
    QuantityField,
    without_unused_ranges,
)
from service.domain.ruleset import PLAUSIBILITY

BASE = {
    "collected_on": "2025-03-01",
    "spep": {"m_protein": {"value": 12, "unit": "g/L"}},
    "serum_ife": {"result": "positive", "clones": [{"heavy_chain": "IgG", "light_chain": "kappa"}]},
    "urine": {"m_protein_24h": {"value": 100, "unit": "mg/24h"}},
    "flc": {"kappa": {"value": 18, "unit": "mg/L", "reference_range": {"low": 3.3, "high": 19.4}}},
    "labs": {
        "calcium": {"value": 2.3, "unit": "mmol/L", "reference_range": {"low": 2.15, "high": 2.55}},
        "creatinine_clearance": {"value": 80, "unit": "mL/min"},
        "egfr": {"value": 85, "unit": "mL/min/1.73m2"},
    },
}
RANGE = {"low": 500, "high": 9000}
MESSAGE = f"Not used for this quantity: {RANGE_NOT_READ}"


def with_range(body: dict, path: str) -> dict:
    out = copy.deepcopy(body)
    section, name = path.split(".")
    out[section][name]["reference_range"] = dict(RANGE)
    return out


def request_quantities() -> dict[str, QuantityField]:
    schema = InterpretationRequestSchema()
    found = {}
    for section, f in schema.fields.items():
        nested = getattr(f, "schema", None)
        for name, q in nested.fields.items() if nested is not None else ():
            if isinstance(q, QuantityField):
                found[f"{section}.{q.data_key or name}"] = q
    return found


def test_a_base_panel_without_such_ranges_is_interpreted(client):
    assert client.post("/v1/interpretations", json=BASE).status_code == 200


@pytest.mark.parametrize("path", sorted(REFERENCE_RANGE_NOT_READ))
def test_a_range_on_a_result_whose_rules_read_none_is_refused_naming_it(client, path):
    r = client.post("/v1/interpretations", json=with_range(BASE, path))
    assert r.status_code == 422, r.get_data(as_text=True)
    assert r.json["errors"] == {f"{path}.reference_range": [MESSAGE]}


@pytest.mark.parametrize("path", sorted(REFERENCE_RANGE_NOT_READ))
def test_a_range_on_such_a_result_in_a_history_entry_is_refused_naming_it(client, path):
    entry = {k: v for k, v in with_range(BASE, path).items() if k in ("spep", "urine", "labs")}
    body = {**BASE, "history": [{"collected_on": "2024-03-01", **entry}]}
    r = client.post("/v1/interpretations", json=body)
    assert r.status_code == 422, r.get_data(as_text=True)
    assert r.json["errors"] == {f"history.0.{path}.reference_range": [MESSAGE]}


def test_a_null_range_is_no_range(client):
    body = copy.deepcopy(BASE)
    body["spep"]["m_protein"]["reference_range"] = None
    assert client.post("/v1/interpretations", json=body).status_code == 200


def test_the_results_refusing_a_range_are_those_with_no_reference_limit_windows():
    """The schema, the interfaces' list and the domain agree: the rules read the range of a result that
    has plausibility windows for its limits (calcium, creatinine, haemoglobin, TSH, free light chains)."""
    fields = request_quantities()
    refused = {path for path, q in fields.items() if not q.takes_range}
    assert refused == REFERENCE_RANGE_NOT_READ
    for path, q in fields.items():
        p = PLAUSIBILITY[q.analyte.value]
        assert (p.lower_limit is not None and p.upper_limit is not None) == q.takes_range, path
        props = q.metadata["properties"]
        assert ("reference_range" in props) == q.takes_range, path


def test_a_stored_request_made_with_such_a_range_is_read_without_it():
    entry = {k: v for k, v in with_range(BASE, "labs.egfr").items() if k in ("spep", "labs")}
    stored = {**with_range(BASE, "spep.m_protein"), "history": [{**entry, "collected_on": "2024-03-01"}]}
    clean = without_unused_ranges(stored)
    assert "reference_range" not in clean["spep"]["m_protein"]
    assert "reference_range" not in clean["history"][0]["labs"]["egfr"]
    assert clean["labs"]["calcium"]["reference_range"] == BASE["labs"]["calcium"]["reference_range"]
    assert "reference_range" in stored["spep"]["m_protein"]  # the stored request itself is unchanged
    InterpretationRequestSchema().load(clean)


HL7 = "x-application/hl7-v2+er7"


def test_hl7_leaves_out_an_obx7_on_such_a_result_with_a_note(client):
    segments = [
        r"MSH|^~\&|LIS|LAB|MGI|HOSP|20250501120000||ORU^R01^ORU_R01|RR1|P|2.5.1",
        "PID|1||12345^^^HOSP^MR||Doe^Jane||19600115|F",
        "OBR|1|ORD-1|FIL1|MG^MG panel^L|||20250110083000",
        "OBX|1|NM|33358-3^Protein.monoclonal^LN||1.2|g/dL|0-0|H|||F",
        "OBX|2|CWE|25700-6^IFE^LN||IgG kappa||||||F",
        "OBX|3|NM|98979-8^eGFR^LN||75|mL/min/{1.73_m2}|>60||||F",
        "OBX|4|NM|36916-5^Kappa free^LN||18|mg/L|3.3-19.4||||F",
    ]
    r = client.post("/v1/hl7v2", data=("\r".join(segments) + "\r").encode(), content_type=HL7)
    text = r.get_data(as_text=True)
    assert r.status_code == 200 and "|ORU^R01" in text.split("\r")[0], text
    assert "no rule reads a reference range of spep.m_protein" in text
    assert "no rule reads a reference range of labs.egfr" in text


def test_fhir_leaves_out_a_reference_range_on_such_a_result_with_a_note():
    from service.adapters.codes import load_codemap
    from service.adapters.fhir import translate_bundle

    def obs(code: str, value: float, unit: str, rng: dict | None) -> dict:
        o = {
            "resourceType": "Observation",
            "status": "final",
            "code": {"coding": [{"system": "http://loinc.org", "code": code}]},
            "effectiveDateTime": "2025-01-10",
            "valueQuantity": {
                "value": value,
                "unit": unit,
                "system": "http://unitsofmeasure.org",
                "code": unit,
            },
        }
        if rng is not None:
            o["referenceRange"] = [rng]
        return o

    bundle = {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [
            {
                "resource": obs(
                    "33358-3", 12, "g/L", {"low": {"value": 0}, "high": {"value": 0, "unit": "g/dL"}}
                )
            },
            {"resource": obs("98979-8", 75, "mL/min/{1.73_m2}", {"text": ">60"})},
            {"resource": obs("36916-5", 18, "mg/L", {"low": {"value": 3.3}, "high": {"value": 19.4}})},
        ],
    }
    result = translate_bundle(bundle, load_codemap())
    assert "reference_range" not in result.request["spep"]["m_protein"]
    assert "reference_range" not in result.request["labs"]["egfr"]
    assert result.request["flc"]["kappa"]["reference_range"] == {"low": 3.3, "high": 19.4}
    notes = "\n".join(result.notes)
    assert "no rule reads a reference range of spep.m_protein" in notes
    assert "no rule reads a reference range of labs.egfr" in notes
