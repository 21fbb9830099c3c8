"""An HL7 coded value (CWE/CE) whose code, text, alternate coding or original text read as different
results is refused at its OBX-5 (AE), as FHIR refuses such a valueCodeableConcept (422): never one of
them chosen."""

from __future__ import annotations

from datetime import date

import pytest

from service.adapters.hl7v2 import Hl7Error, parse_oru

TODAY = date(2024, 8, 1)
HL7 = "x-application/hl7-v2+er7"


def message(ife: str, value_type: str = "CWE") -> str:
    return (
        "\r".join(
            [
                r"MSH|^~\&|LIS|LAB|MGI|HOSP|20240502103000||ORU^R01^ORU_R01|CWE1|P|2.5.1",
                "PID|1||E1^^^EPI^MR||DOE^JANE||19600315|F",
                "OBR|1|ORD1|LAB1|SPEP^SPEP^L|||20240501083000",
                "OBX|1|NM|33358-3^M-protein^LN||1.2|g/dL|||||F",
                f"OBX|2|{value_type}|25700-6^IFE^LN||{ife}||||||F",
            ]
        )
        + "\r"
    )


@pytest.mark.parametrize(
    "ife",
    [
        "NEG^Negative^L^IGGK^IgG kappa^99LOC",
        "Negative^IgG kappa^L",
        "^IgG kappa^L^^IgG lambda^L",
        "IGGK^IgG kappa^L^^^^^^IgA lambda",
    ],
)
def test_codings_that_disagree_are_refused_at_obx_5(codemap, ife):
    with pytest.raises(Hl7Error) as err:
        parse_oru(message(ife), codemap, today=TODAY)
    assert (err.value.segment, err.value.index, err.value.field, err.value.ack_code) == ("OBX", 2, 5, "AE")
    assert "reads as different results" in str(err.value)


@pytest.mark.parametrize(
    ("ife", "result"),
    [
        ("IGGK^IgG kappa^L", "positive"),
        ("NEG^Negative^L", "negative"),
        ("LOC1^IgG kappa^99LOC^^IgG kappa^L", "positive"),
    ],
)
def test_codings_that_agree_are_read(codemap, ife, result):
    assert parse_oru(message(ife), codemap, today=TODAY).request["serum_ife"]["result"] == result


def test_over_http_the_disagreeing_coding_is_an_ae(client):
    resp = client.post(
        "/v1/hl7v2", data=message("NEG^Negative^L^IGGK^IgG kappa^99LOC").encode(), content_type=HL7
    )
    body = resp.get_data(as_text=True)
    assert resp.status_code == 422 and "MSA|AE|CWE1" in body
    assert "OBX^2^5" in body
