"""A negative zero (JSON -0.0, HL7 "-0.0", FHIR -0.0) is read as 0: nothing the service answers, shows
or stores carries a signed zero ("serum M-protein -0 g/L")."""

from __future__ import annotations

import json
import math
from typing import Any

from service.adapters.codes import parse_number
from service.api.parsing import parse_body

HL7 = "x-application/hl7-v2+er7"


def body(m_protein: str = "-0.0", egfr: str = "-0.0") -> bytes:
    """A panel with the M-protein and the eGFR written as sent (a JSON number's own spelling)."""
    return (
        (
            '{"spep": {"m_protein": {"value": @M@, "unit": "g/L"}},'
            ' "serum_ife": {"result": "negative"},'
            ' "flc": {"kappa": {"value": 15.0, "unit": "mg/L"}, "lambda": {"value": 14.0, "unit": "mg/L"}},'
            ' "labs": {"egfr": {"value": @E@, "unit": "mL/min/1.73m2"}},'
            ' "marrow": {"plasma_cells_percent": -0.0}, "patient": {"age_years": 60, "sex": "female"}}'
        )
        .replace("@M@", m_protein)
        .replace("@E@", egfr)
        .encode()
    )


def signed_zeros(value: Any, path: str = "") -> list[str]:
    """Paths of every -0.0 in a JSON value."""
    if isinstance(value, float):
        return [path] if value == 0 and math.copysign(1.0, value) < 0 else []
    if isinstance(value, dict):
        return [p for k, v in value.items() for p in signed_zeros(v, f"{path}.{k}")]
    if isinstance(value, list):
        return [p for i, v in enumerate(value) for p in signed_zeros(v, f"{path}.{i}")]
    return []


def assert_no_negative_zero(answer: dict) -> None:
    assert signed_zeros(answer) == []
    text = json.dumps(answer)
    assert "-0 " not in text and "-0.0" not in text and '"-0"' not in text, text


def test_a_negative_zero_in_a_json_body_is_answered_as_zero(client):
    # (-1e-400 is not a zero: a non-zero number too small to be read is refused, test_number_underflow.py)
    for m_protein, egfr in (("-0.0", "-0.0"), ("-0", "-0e0"), ("-0.000", "-0.0e-400")):
        r = client.post("/v1/interpretations", data=body(m_protein, egfr), content_type="application/json")
        assert r.status_code == 200, r.get_data(as_text=True)
        assert_no_negative_zero(r.json)
        egfr_criteria = [c for c in r.json["criteria"] if c["unit"] == "mL/min/1.73m2"]
        assert egfr_criteria and all(c["value"] in (0, None) for c in egfr_criteria)


def test_the_body_parser_reads_every_negative_zero_as_zero_and_leaves_strings_alone():
    parsed = parse_body(b'{"a": -0.0, "b": [-0, -0e3, {"c": -0.0e-400}], "d": "2024-01-05", "e": "-0"}')
    assert parsed == {"a": 0.0, "b": [0, 0.0, {"c": 0.0}], "d": "2024-01-05", "e": "-0"}
    assert signed_zeros(parsed) == []
    assert math.copysign(1.0, parse_body(b"-0.0")) == 1.0


def test_a_negative_zero_in_a_schema_loaded_dict_is_loaded_as_zero():
    """The request schema itself (used for HL7 and FHIR translations) drops the sign too."""
    from service.api.views import REQUEST_SCHEMA

    d = json.loads(body())
    d["flc"]["ratio_reference_range"] = {"low": -0.0, "high": 1.65}
    panel = REQUEST_SCHEMA.load(d)
    for q in (panel.spep.m_protein, panel.labs.egfr):
        assert not str(q.value).startswith("-"), q
    assert not str(panel.flc.ratio_reference_range[0]).startswith("-")
    assert not str(panel.marrow.plasma_cells_percent).startswith("-")


def test_hl7_reads_a_negative_zero_result_as_zero(client):
    assert math.copysign(1.0, parse_number("-0.0")) == 1.0
    assert math.copysign(1.0, parse_number("-0")) == 1.0
    segments = [
        r"MSH|^~\&|LIS|LAB|MGI|HOSP|20250501120000||ORU^R01^ORU_R01|NZ1|P|2.5.1",
        "PID|1||12345^^^HOSP^MR||Doe^Jane||19600115|F",
        "OBR|1|ORD-1|FIL1|MG^MG panel^L|||20250110083000",
        "OBX|1|NM|33358-3^Protein.monoclonal^LN||-0.0|g/dL|||||F",
        "OBX|2|CWE|25700-6^IFE^LN||Negative||||||F",
        "OBX|3|NM|62238-1^eGFR^LN||-0.0|mL/min/1.73m2|||||F",
    ]
    r = client.post("/v1/hl7v2", data=("\r".join(segments) + "\r").encode(), content_type=HL7)
    text = r.get_data(as_text=True)
    assert r.status_code == 200, text
    assert "|ORU^R01" in text.split("\r")[0], text
    assert "-0" not in text.replace("\r", "\n").split("\n", 1)[1].replace("20250", ""), text


def test_fhir_reads_a_negative_zero_value_as_zero():
    from service.adapters.fhir import _number

    assert math.copysign(1.0, _number(-0.0, "valueQuantity.value")) == 1.0
