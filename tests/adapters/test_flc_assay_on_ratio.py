"""The FLC assay named on any result of the FLC panel (kappa, lambda or the kappa/lambda ratio) is the
panel's: a ratio OBX-17 or a ratio Observation's method naming N Latex is never read as Freelite."""

from __future__ import annotations

import copy
import json
from datetime import date

import pytest

from service.adapters import fhir
from service.adapters.hl7v2 import Hl7Error, parse_oru

TODAY = date(2024, 8, 1)
HL7 = "x-application/hl7-v2+er7"


def message(ratio_method: str, kappa_method: str = "") -> str:
    return (
        "\r".join(
            [
                r"MSH|^~\&|LIS|LAB|MGI|HOSP|20240502103000||ORU^R01^ORU_R01|FLCR1|P|2.5.1",
                "PID|1||E1^^^EPI^MR||DOE^JANE||19600315|F",
                "OBR|1|ORD1|LAB1|SPEP^SPEP^L|||20240501083000",
                "OBX|1|NM|33358-3^M-protein^LN||1.2|g/dL|||||F",
                "OBX|2|ST|25700-6^IFE^LN||IgG kappa||||||F",
                f"OBX|3|NM|36916-5^Kappa^LN||1500|mg/L|||||F||||||{kappa_method}",
                "OBX|4|NM|33944-0^Lambda^LN||10|mg/L|||||F",
                f"OBX|5|NM|48378-4^Kappa/Lambda ratio^LN||150||||||F||||||{ratio_method}",
            ]
        )
        + "\r"
    )


def test_the_assay_named_on_the_ratio_obx_is_the_panel_s(codemap):
    ctx = parse_oru(message("NLATEX^N Latex FLC^L"), codemap, today=TODAY)
    assert ctx.request["flc"]["assay"] == "n_latex"
    assert not any("Freelite assumed" in note for note in ctx.notes), ctx.notes


def test_two_assays_named_on_the_panel_are_refused_naming_both(codemap):
    with pytest.raises(Hl7Error) as err:
        parse_oru(message("NLATEX^N Latex FLC^L", kappa_method="FREELITE^Freelite^L"), codemap, today=TODAY)
    assert (err.value.segment, err.value.index, err.value.field, err.value.ack_code) == ("OBX", 5, 17, "AE")
    assert "N Latex" in str(err.value) and "Freelite" in str(err.value)


def test_over_http_a_non_freelite_ratio_is_not_a_myeloma_defining_event(client):
    resp = client.post("/v1/hl7v2", data=message("NLATEX^N Latex FLC^L").encode(), content_type=HL7)
    body = resp.get_data(as_text=True)
    assert resp.status_code == 200, body[:300]
    assert "MYELOMA_DEFINING_EVENT" not in body and "NON_FREELITE_ASSAY" in body


BUNDLE = {
    "resourceType": "Bundle",
    "type": "collection",
    "entry": [
        {"resource": {"resourceType": "Patient", "id": "p1", "gender": "female", "birthDate": "1960-03-15"}},
        {
            "resource": {
                "resourceType": "Observation",
                "status": "final",
                "code": {"coding": [{"system": "http://loinc.org", "code": "33358-3"}]},
                "effectiveDateTime": "2024-05-01",
                "valueQuantity": {
                    "value": 12,
                    "unit": "g/L",
                    "system": "http://unitsofmeasure.org",
                    "code": "g/L",
                },
            }
        },
        {
            "resource": {
                "resourceType": "Observation",
                "status": "final",
                "code": {"coding": [{"system": "http://loinc.org", "code": "48378-4"}]},
                "effectiveDateTime": "2024-05-01",
                "method": {"text": "N Latex FLC"},
                "valueQuantity": {"value": 150, "unit": "{ratio}"},
                "component": [
                    {
                        "code": {"coding": [{"system": "http://loinc.org", "code": "36916-5"}]},
                        "valueQuantity": {"value": 1500, "unit": "mg/L"},
                    },
                    {
                        "code": {"coding": [{"system": "http://loinc.org", "code": "33944-0"}]},
                        "valueQuantity": {"value": 10, "unit": "mg/L"},
                    },
                ],
            }
        },
    ],
}


def test_fhir_the_method_of_the_ratio_observation_is_the_assay_of_its_components(codemap):
    tr = fhir.translate_bundle(copy.deepcopy(BUNDLE), codemap)
    assert tr.request["flc"]["assay"] == "n_latex"
    assert not any("Freelite was assumed" in note for note in tr.notes), tr.notes


def test_fhir_a_ratio_method_and_a_kappa_method_naming_different_assays_are_refused(client):
    bundle = copy.deepcopy(BUNDLE)
    ratio = bundle["entry"][2]["resource"]
    kappa, lam = ratio.pop("component")
    for part, method in ((kappa, {"text": "Freelite"}), (lam, None)):
        obs = {"resourceType": "Observation", "status": "final", "effectiveDateTime": "2024-05-01", **part}
        if method:
            obs["method"] = method
        bundle["entry"].append({"resource": obs})
    resp = client.post("/v1/fhir/interpretations", json=bundle)
    assert resp.status_code == 422, resp.get_json()
    text = json.dumps(resp.get_json())
    assert "n_latex" in text and "freelite" in text


def test_a_ratio_obx_without_a_value_still_names_the_panel_s_assay(codemap):
    # A ratio not calculated (OBX-5 empty) still says which reagent measured the chains: an N Latex panel
    # is never read as Freelite, whose ratio >= 100 would be a myeloma-defining event.
    msg = message("NLATEX^N Latex FLC^L").replace("||150||||||F||||||", "||||||||F||||||")
    ctx = parse_oru(msg, codemap, today=TODAY)
    assert ctx.request["flc"]["assay"] == "n_latex"
    assert not any("Freelite assumed" in note for note in ctx.notes), ctx.notes
