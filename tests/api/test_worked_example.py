"""Clinical-reference §6, through the HTTP API: the reason the product exists."""

from __future__ import annotations

import json

import pytest

from tests.conftest import ROOT


def test_the_34_year_old_with_igg_kappa_and_scleromyxoedema_is_mgcs_not_mgus(client, worked_example):
    body = client.post("/v1/interpretations", json=worked_example).get_json()
    assert body["classification"]["code"] == "MGUS_NON_IGM"
    assert body["classification"]["isotype"] == "IgG kappa"
    assert "clinical significance" in body["classification"]["label"]
    assert body["myeloma_defining_events"] == []
    flags = {f["code"]: f for f in body["flags"]}
    assert "MYELOMA_DEFINING_EVENT" not in flags
    mgcs = flags["MGCS_SCLEROMYXEDEMA"]
    assert mgcs["severity"] == "refer"
    assert set(mgcs["refer_to"]) == {"hematology", "dermatology"}
    assert "IVIg" in mgcs["message"] and "2 g/kg" in mgcs["message"]
    assert "DERMATO_NEURO_SYNDROME" not in flags
    assert "SCLEROMYXEDEMA_NO_PARAPROTEIN" not in flags


def test_the_worked_example_mayo_risk_asks_for_the_m_protein_value_instead_of_guessing(
    client, worked_example
):
    mayo = client.post("/v1/interpretations", json=worked_example).get_json()["risk"]["mgus_mayo_2005"]
    assert mayo["group"] is None
    assert mayo["possible_groups"] == ["low", "low_intermediate"]
    assert "spep.m_protein" in mayo["needed"]
    status = {f["id"]: f["status"] for f in mayo["factors"]}
    assert status == {
        "m_protein_ge_15_g_l": "unknown",
        "non_igg_isotype": "absent",
        "abnormal_flc_ratio": "absent",
    }


def test_the_worked_example_uses_morphology_plasma_cells_and_says_so(client, worked_example):
    body = client.post("/v1/interpretations", json=worked_example).get_json()
    bmpc = next(c for c in body["criteria"] if c["id"] == "bmpc_ge_10")
    assert bmpc["status"] == "not_met" and bmpc["value"] == 8
    assert "morphology" in bmpc["note"]
    assert "morphology" in body["comment"]


def test_fever_in_the_same_patient_is_an_emergency(client, worked_example):
    worked_example["clinical"]["fever"] = True
    body = client.post("/v1/interpretations", json=worked_example).get_json()
    flags = {f["code"]: f for f in body["flags"]}
    assert flags["DERMATO_NEURO_SYNDROME"]["severity"] == "urgent"
    assert body_first(client, worked_example) == "DERMATO_NEURO_SYNDROME"


def body_first(client, body):
    return client.post("/v1/interpretations", json=body).get_json()["flags"][0]["code"]


@pytest.mark.parametrize("path", sorted((ROOT / "examples").glob("*.json")), ids=lambda p: p.stem)
def test_every_example_request_file_is_accepted(client, path):
    body = json.loads(path.read_text())
    url = "/v1/interpretations/batch" if path.stem == "batch" else "/v1/interpretations"
    assert client.post(url, json=body).status_code == 200


def test_the_worked_example_lists_the_four_rongioletti_criteria_as_met(client, worked_example):
    body = client.post("/v1/interpretations", json=worked_example).get_json()
    status = {c["id"]: c["status"] for c in body["criteria"] if c["id"].startswith("scleromyxedema.")}
    assert status == {
        "scleromyxedema.papular_sclerodermoid_eruption": "met",
        "scleromyxedema.monoclonal_gammopathy": "met",
        "scleromyxedema.histology": "met",
        "scleromyxedema.no_thyroid_disease": "met",
    }


def test_thyroid_disease_leaves_rongioletti_4_unmet_and_raises_the_exclusion_flag(client, worked_example):
    worked_example["labs"]["tsh"]["value"] = 9.5
    body = client.post("/v1/interpretations", json=worked_example).get_json()
    crit = {c["id"]: c["status"] for c in body["criteria"]}
    assert crit["scleromyxedema.no_thyroid_disease"] == "not_met"
    assert "THYROID_DISEASE_EXCLUSION" in {f["code"] for f in body["flags"]}
