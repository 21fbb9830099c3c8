"""An electrophoresis that found no M-protein may say so in words: 'None detected', 'Not detected',
'No M-spike', 'Absent' or 'Negative' (exact phrases, any case) is an M-protein of 0, read the same way
from HL7 OBX-5 and FHIR valueString, with a note. 'Trace' and any other text stay refused, and no other
result is read from these words."""

from __future__ import annotations

import pytest

from service.adapters.codes import ValueProblem, parse_compared
from service.adapters.fhir import FhirError, translate_bundle
from service.adapters.hl7v2 import Hl7Error, parse_oru

from .test_adapter_fhir import bundle, observation, quantity

NEGATIVE = ["None detected", "Not detected", "No M-spike", "Absent", "Negative", "NONE DETECTED", "  absent "]
REFUSED = ["Trace", "trace band", "None detected.", "Not seen", "Positive", "Faint band"]


def oru(*obx: str) -> str:
    return (
        "\r".join(
            [
                r"MSH|^~\&|LIS|LAB|MGI|HOSP|20240501120000||ORU^R01^ORU_R01|N1|P|2.5.1",
                r"PID|1||12345^^^HOSP^MR||Doe^Jane||19600115|F",
                r"OBR|1|ORD1|FIL1|SPEP^Serum protein electrophoresis^L|||20240501083000",
                *obx,
            ]
        )
        + "\r"
    )


@pytest.mark.parametrize("text", NEGATIVE)
def test_hl7_a_negative_wording_is_an_m_protein_of_zero(codemap, text):
    ctx = parse_oru(oru(f"OBX|1|ST|33358-3^M^LN||{text}|g/dL|||||F"), codemap)
    assert ctx.request["spep"]["m_protein"] == {"value": 0, "unit": "g/dL"}
    assert any(text.strip() in n and "0 g/dL" in n for n in ctx.notes)


def test_hl7_a_negative_wording_without_a_unit_is_zero_in_the_canonical_unit(codemap):
    ctx = parse_oru(oru("OBX|1|ST|33358-3^M^LN||None detected||||||F"), codemap)
    assert ctx.request["spep"]["m_protein"] == {"value": 0, "unit": "g/L"}


def test_hl7_a_urine_m_protein_of_none_detected_is_zero(codemap):
    ctx = parse_oru(oru("OBX|1|ST|42482-0^U^LN||Not detected|mg/24h|||||F"), codemap)
    assert ctx.request["urine"]["m_protein_24h"] == {"value": 0, "unit": "mg/24h"}


@pytest.mark.parametrize("text", REFUSED)
def test_hl7_trace_and_other_texts_stay_refused(codemap, text):
    with pytest.raises(Hl7Error, match="is not a number") as err:
        parse_oru(oru(f"OBX|1|ST|33358-3^M^LN||{text}|g/dL|||||F"), codemap)
    assert err.value.ack_code == "AE"


def test_hl7_another_result_is_not_read_from_a_negative_wording(codemap):
    with pytest.raises(Hl7Error, match="'Not detected' is not a number") as err:
        parse_oru(oru("OBX|1|ST|2000-8^Ca^LN||Not detected|mmol/L|||||F"), codemap)
    assert (err.value.segment, err.value.field) == ("OBX", 5)  # the value is wrong, not the unit


def test_the_wording_rule_is_shared():
    comparator, number = parse_compared("None detected")
    assert (comparator, number) == (None, 0)
    with pytest.raises(ValueProblem):
        parse_compared("Trace")


def fhir_m_protein(text: str) -> dict:
    return observation("33358-3", effectiveDateTime="2024-05-02", valueString=text)


@pytest.mark.parametrize("text", NEGATIVE)
def test_fhir_a_negative_value_string_is_an_m_protein_of_zero(codemap, text):
    result = translate_bundle(bundle(fhir_m_protein(text)), codemap)
    assert result.request["spep"]["m_protein"] == {"value": 0, "unit": "g/L"}
    assert any(text.strip() in n and "0 g/L" in n for n in result.notes)


@pytest.mark.parametrize("text", REFUSED)
def test_fhir_trace_and_other_texts_stay_refused(codemap, text):
    with pytest.raises(FhirError) as err:
        translate_bundle(bundle(fhir_m_protein(text)), codemap)
    assert err.value.status == 422
    assert list(err.value.errors) == ["Bundle.entry[0].resource"]


def test_fhir_another_result_is_not_read_from_a_negative_wording(codemap):
    calcium = observation("2000-8", effectiveDateTime="2024-05-02", valueString="Not detected")
    with pytest.raises(FhirError, match="needs a valueQuantity"):
        translate_bundle(bundle(calcium), codemap)


def test_fhir_a_quantity_m_protein_is_still_read(codemap):
    m_protein = observation("33358-3", effectiveDateTime="2024-05-02", **quantity(12, "g/L"))
    assert translate_bundle(bundle(m_protein), codemap).request["spep"]["m_protein"]["value"] == 12
