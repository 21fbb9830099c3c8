"""The FLC assay a FHIR Bundle states (Observation.method, the Device that measured it) is read into
flc.assay; without one, Freelite is assumed and a note says so (clinical-reference §4)."""

from __future__ import annotations

from typing import Any

import pytest

from service.adapters.codes import ValueProblem, assay_of_method
from service.adapters.fhir import FhirError, translate_bundle

from .test_adapter_fhir import bundle, observation, quantity

DAY = "2024-05-02"


def kappa(**extra: Any) -> dict[str, Any]:
    return observation("36916-5", effectiveDateTime=DAY, **quantity(150, "mg/L"), **extra)


def lam(**extra: Any) -> dict[str, Any]:
    return observation("33944-0", effectiveDateTime=DAY, **quantity(1.2, "mg/L"), **extra)


@pytest.mark.parametrize(
    ("text", "assay"),
    [
        ("Siemens N Latex FLC", "n_latex"),
        ("N LATEX FLC kappa", "n_latex"),
        ("n_latex", "n_latex"),
        ("Siemens BN II", "n_latex"),
        ("Atellica CH FLC", "n_latex"),
        ("Freelite", "freelite"),
        ("FREELITE Human Kappa Free Kit", "freelite"),
        ("The Binding Site", "freelite"),
        ("Optilite", "freelite"),
        ("Freelite on Siemens BN II", "freelite"),  # the reagent names the assay, the analyser does not
        ("Sebia FLC", "sebia"),
        ("Nephelometry", "other"),
        ("", None),
        ("   ", None),
    ],
)
def test_assay_of_method_names_the_assay(text, assay):
    assert assay_of_method(text) == assay


def test_assay_of_method_refuses_a_text_naming_two_assays():
    with pytest.raises(ValueProblem, match="names two FLC assays"):
        assay_of_method("Freelite / N Latex")


@pytest.mark.parametrize(
    "method",
    [
        {"text": "Siemens N Latex FLC"},
        {"coding": [{"system": "urn:lab:method", "code": "NLX", "display": "Siemens N Latex FLC"}]},
        {"text": "siemens n latex flc"},
    ],
)
def test_the_method_of_the_free_light_chains_is_the_assay(codemap, method):
    result = translate_bundle(bundle(kappa(method=method), lam(method=method)), codemap)
    assert result.request["flc"]["assay"] == "n_latex"
    assert not any("Freelite was assumed" in n for n in result.notes)


def test_a_device_display_names_the_assay(codemap):
    device = {"display": "Siemens N Latex FLC on BN II"}
    result = translate_bundle(bundle(kappa(device=device), lam(device=device)), codemap)
    assert result.request["flc"]["assay"] == "n_latex"


def test_a_contained_device_names_the_assay(codemap):
    name = {"name": "Optilite", "type": "model-name"}
    contained = [{"resourceType": "Device", "id": "d1", "deviceName": [name]}]
    result = translate_bundle(bundle(kappa(contained=contained, device={"reference": "#d1"}), lam()), codemap)
    assert result.request["flc"]["assay"] == "freelite"
    assert any("Bundle.entry[1].resource" in n and "same assay" in n for n in result.notes)


def test_an_unknown_method_is_other_and_the_note_asks_for_the_ratio_interval(codemap):
    method = {"text": "In-house ELISA"}
    result = translate_bundle(bundle(kappa(method=method), lam(method=method)), codemap)
    assert result.request["flc"]["assay"] == "other"
    assert any("In-house ELISA" in n and "ratio interval" in n for n in result.notes)


def test_kappa_and_lambda_of_different_assays_are_refused_at_the_second_method(codemap):
    with pytest.raises(FhirError) as caught:
        translate_bundle(
            bundle(kappa(method={"text": "Freelite"}), lam(method={"text": "Siemens N Latex FLC"})), codemap
        )
    assert caught.value.status == 422
    assert list(caught.value.errors) == ["Bundle.entry[1].resource.method"]
    assert "flc.assay" in caught.value.message


def test_a_method_naming_two_assays_is_refused_at_the_method(codemap):
    with pytest.raises(FhirError) as caught:
        translate_bundle(bundle(kappa(method={"text": "Freelite or N Latex"}), lam()), codemap)
    assert list(caught.value.errors) == ["Bundle.entry[0].resource.method"]


def test_without_a_method_freelite_is_assumed_and_said(codemap):
    result = translate_bundle(bundle(kappa(), lam()), codemap)
    assert "assay" not in result.request["flc"]  # the request's default: Freelite
    assert any("Freelite was assumed" in n for n in result.notes)


def test_no_assay_note_without_free_light_chains(codemap):
    m_protein = observation("33358-3", effectiveDateTime=DAY, **quantity(12, "g/L"))
    result = translate_bundle(bundle(m_protein), codemap)
    assert not any("Freelite" in n for n in result.notes)


def test_the_n_latex_assay_reaches_the_interpretation(client_app):
    method = {"text": "Siemens N Latex FLC"}
    body = bundle(kappa(method=method), lam(method=method))
    response = client_app.post("/v1/fhir/interpretations", json=body)
    assert response.status_code == 200, response.data
    text = response.get_data(as_text=True)
    assert "(Freelite)" not in text
    assert "N Latex" in text


@pytest.fixture
def client_app():
    from service.api import create_app

    return create_app({"TESTING": True, "DEV_MODE": True}).test_client()
