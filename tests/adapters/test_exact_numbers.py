"""A number with more significant digits than a float holds exactly is refused at its field (HL7 AE
at OBX-5, FHIR 422 at the element): '29.99999999999999999' g/L would be read as 30.0 and meet the
>= 30 g/L threshold it does not. Numbers a float keeps as written (at most 15 significant digits, or
more when the float is that number, trailing zeros aside) are read as before."""

from __future__ import annotations

import json
from datetime import date
from typing import Any

import pytest

from service.adapters.codes import InexactNumber, json_float, parse_number
from service.adapters.fhir import FhirError, translate_bundle
from service.adapters.hl7v2 import Hl7Error, parse_oru

TODAY = date(2024, 8, 1)


def message(value: str, value_type: str = "NM") -> str:
    return "\r".join(
        [
            r"MSH|^~\&|LIS|LAB|MGI|HOSP|20240501120000||ORU^R01^ORU_R01|PR1|P|2.5.1",
            "PID|1||P1^^^HOSP^MR||Doe^John||19500101|M",
            "OBR|1|ORD1|FIL1|SPEP^Panel^L|||20240501083000",
            "OBX|1|ST|25700-6^x^LN||IgG kappa||||||F",
            "OBX|2|NM|11118-7^x^LN||5|%|||||F",
            f"OBX|3|{value_type}|33358-3^x^LN||{value}|g/L|||||F",
        ]
    )


class TestHl7:
    @pytest.mark.parametrize(
        ("value", "value_type"),
        [("29.99999999999999999", "NM"), ("<^29.99999999999999999", "SN"), ("<29.99999999999999999", "ST")],
    )
    def test_more_digits_than_a_float_holds_is_refused_at_obx5(self, codemap, value, value_type):
        with pytest.raises(Hl7Error) as err:
            parse_oru(message(value, value_type), codemap, today=TODAY)
        assert (err.value.segment, err.value.index, err.value.field) == ("OBX", 3, 5)
        assert err.value.ack_code == "AE"
        assert "more significant digits than are read exactly" in str(err.value)
        assert "30.0" in str(err.value)

    @pytest.mark.parametrize(
        ("value", "read"),
        [
            ("29.9999999999999", 29.9999999999999),
            ("29.99999999999999", 29.99999999999999),
            ("30.00000000000000000", 30.0),
        ],
    )
    def test_a_number_the_float_keeps_is_read(self, codemap, value, read):
        ctx = parse_oru(message(value), codemap, today=TODAY)
        assert ctx.request["spep"]["m_protein"]["value"] == read

    def test_a_whole_number_beyond_a_float_is_refused(self):
        with pytest.raises(ValueError, match="more significant digits"):
            parse_number("12345678901234567")

    def test_through_the_endpoint_it_is_an_ae_not_smouldering_myeloma(self, client):
        response = client.post(
            "/v1/hl7v2",
            data=message("29.99999999999999999").encode(),
            content_type="x-application/hl7-v2+er7",
        )
        assert response.status_code == 422
        assert "ERR||OBX^3^5|102^" in response.data.decode()


def bundle(value: str) -> str:
    observation: dict[str, Any] = {
        "resourceType": "Observation",
        "status": "final",
        "code": {"coding": [{"system": "http://loinc.org", "code": "33358-3"}]},
        "subject": {"reference": "Patient/p1"},
        "effectiveDateTime": "2024-05-01",
        "valueQuantity": {
            "value": "VALUE",
            "unit": "g/L",
            "system": "http://unitsofmeasure.org",
            "code": "g/L",
        },
    }
    patient = {"resourceType": "Patient", "id": "p1", "gender": "male", "birthDate": "1950-01-01"}
    body = {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [{"resource": patient}, {"resource": observation}],
    }
    return json.dumps(body).replace('"VALUE"', value)


class TestFhir:
    def test_json_float_marks_only_numbers_a_float_does_not_keep(self):
        assert isinstance(json_float("29.99999999999999999"), InexactNumber)
        assert type(json_float("29.99999999999999")) is float
        assert type(json_float("0.80")) is float

    def test_more_digits_than_a_float_holds_is_refused_at_the_element(self, codemap):
        with pytest.raises(FhirError) as err:
            translate_bundle(
                json.loads(bundle("29.99999999999999999"), parse_float=json_float), codemap, today=TODAY
            )
        assert "Bundle.entry[1].resource.valueQuantity.value" in str(err.value)
        assert "more significant digits than are read exactly" in str(err.value)

    def test_through_the_endpoint_it_is_a_422_at_the_element(self, client):
        response = client.post(
            "/v1/fhir/interpretations",
            data=bundle("29.99999999999999999"),
            content_type="application/fhir+json",
        )
        assert response.status_code == 422
        issue = response.get_json()["issue"][0]
        assert issue["expression"] == ["Bundle.entry[1].resource.valueQuantity.value"]

    @pytest.mark.parametrize("value", ["29.99999999999999", "30.0", "12"])
    def test_a_number_the_float_keeps_is_read(self, client, value):
        response = client.post(
            "/v1/fhir/interpretations", data=bundle(value), content_type="application/fhir+json"
        )
        assert response.status_code == 200, response.get_json()
