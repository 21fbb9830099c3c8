"""Every interface gives the same interpretation for the same data (issue #5): JSON, HL7 v2, FHIR."""

from __future__ import annotations

import json

import pytest

from service.api import create_app
from tests.conftest import ROOT

SAMPLES = ROOT / "tests" / "adapters" / "samples"


@pytest.fixture
def lab_client():
    """An app with the lab's own code mapping (local codes for scleromyxoedema and the marrow)."""
    app = create_app({"TESTING": True, "DEV_MODE": True, "CODEMAP_FILE": str(SAMPLES / "lab-codemap.yaml")})
    return app.test_client()


def essence(body: dict) -> dict:
    """What must agree: category, criteria outcomes, events, risk groups, flags, missing data."""
    return {
        "classification": {k: body["classification"][k] for k in ("code", "provisional", "isotype")},
        "criteria": sorted((c["id"], c["status"]) for c in body["criteria"]),
        "mde": body["myeloma_defining_events"],
        "risk": {k: (v["group"], v["possible_groups"]) for k, v in body["risk"].items()},
        "flags": sorted(f["code"] for f in body["flags"]),
        "missing": sorted(body["missing_data"]),
    }


def test_the_worked_example_is_interpreted_alike_through_json_hl7_and_fhir(lab_client, worked_example):
    via_json = lab_client.post("/v1/interpretations", json=worked_example).get_json()

    hl7 = lab_client.post(
        "/v1/hl7v2",
        data=(SAMPLES / "oru_worked_example_s6.hl7").read_bytes(),
        content_type="x-application/hl7-v2+er7",
    )
    assert hl7.status_code == 200, hl7.data
    text = hl7.data.decode()
    assert f"|{via_json['classification']['code']}^" in text
    assert "MGCS_SCLEROMYXEDEMA" in text

    fhir = lab_client.post(
        "/v1/fhir/interpretations",
        data=(SAMPLES / "bundle_worked_example_s6.json").read_bytes(),
        content_type="application/fhir+json",
    )
    assert fhir.status_code == 200, fhir.data
    report = fhir.get_json()
    assert report["resourceType"] == "DiagnosticReport"
    assert report["conclusionCode"][0]["coding"][0]["code"] == via_json["classification"]["code"]
    assert report["conclusion"] == via_json["comment"]


@pytest.mark.parametrize("name", ["oru_basic_lf", "oru_v23_crlf", "oru_local_codes", "oru_worked_example_s6"])
def test_an_hl7_message_gives_the_same_interpretation_as_its_json_translation(lab_client, name):
    from service.adapters import hl7v2
    from service.adapters.codes import load_codemap

    raw = (SAMPLES / f"{name}.hl7").read_bytes()
    ctx = hl7v2.parse_oru(raw, load_codemap(str(SAMPLES / "lab-codemap.yaml")))
    via_json = lab_client.post("/v1/interpretations", json=ctx.request).get_json()
    text = lab_client.post("/v1/hl7v2", data=raw, content_type="text/plain").data.decode()
    assert f"|{via_json['classification']['code']}^" in text
    for flag in via_json["flags"]:
        assert flag["code"] in text


def test_a_fhir_bundle_gives_the_same_interpretation_as_its_json_translation(lab_client):
    from service.adapters import fhir
    from service.adapters.codes import load_codemap

    bundle = json.loads((SAMPLES / "bundle_worked_example_s6.json").read_text())
    request = fhir.bundle_to_request(bundle, load_codemap(str(SAMPLES / "lab-codemap.yaml")))
    via_json = lab_client.post("/v1/interpretations", json=request).get_json()
    worked = json.loads((ROOT / "examples" / "worked-example-s6.json").read_text())
    assert essence(via_json) == essence(lab_client.post("/v1/interpretations", json=worked).get_json())


def test_malformed_hl7_gets_an_ack_ar_and_never_a_500(lab_client):
    resp = lab_client.post("/v1/hl7v2", data=b"not an hl7 message", content_type="text/plain")
    assert resp.status_code == 400
    assert b"MSA|AR" in resp.data


def test_hl7_needs_an_hl7_content_type(lab_client):
    resp = lab_client.post("/v1/hl7v2", data=b"MSH|", content_type="application/json")
    assert resp.status_code == 415 and resp.get_json()["code"] == 415


ORU = (
    "MSH|^~\\&|LIS|LAB|MGI|HOSP|20240501120000||ORU^R01^ORU_R01|MSG7|P|2.5.1\r"
    "PID|1||123^^^HOSP^MR||Doe^Jane||19900115|F\r"
    "OBR|1|ORD1|FIL1|SPEP^SPEP^L|||20240501083000\r"
    "OBX|1|NM|33358-3^Protein.monoclonal^LN||1.2|{unit}|||||{status}\r"
    "OBX|2|TX|25700-6^Immunofixation^LN||IgG kappa||||||F\r"
)


def test_an_obx_status_outside_hl7_table_0085_is_an_ae_naming_obx_11(lab_client):
    resp = lab_client.post("/v1/hl7v2", data=ORU.format(unit="g/dL", status="Q"), content_type="text/plain")
    assert resp.status_code == 422
    text = resp.data.decode()
    assert "MSA|AE" in text and "ERR||OBX^1^11|103" in text


def test_a_unit_error_in_an_hl7_message_names_the_obx_and_field(lab_client):
    resp = lab_client.post(
        "/v1/hl7v2", data=ORU.format(unit="furlongs", status="F"), content_type="text/plain"
    )
    assert resp.status_code == 422
    text = resp.data.decode()
    assert "MSA|AE" in text and "ERR||OBX^1^6|103" in text


def test_a_valid_minimal_oru_is_interpreted(lab_client):
    resp = lab_client.post("/v1/hl7v2", data=ORU.format(unit="g/dL", status="F"), content_type="text/plain")
    assert resp.status_code == 200 and "MGUS_NON_IGM" in resp.data.decode()


def test_a_fhir_bundle_about_two_patients_is_refused(lab_client):
    bundle = json.loads((SAMPLES / "bundle_worked_example_s6.json").read_text())
    observations = [e for e in bundle["entry"] if e["resource"]["resourceType"] == "Observation"]
    observations[0]["resource"]["subject"] = {"reference": "Patient/someone-else"}
    resp = lab_client.post("/v1/fhir/interpretations", json=bundle)
    assert resp.status_code == 422
    assert resp.get_json()["resourceType"] == "OperationOutcome"
    issues = resp.get_json()["issue"]
    assert any("Patient/someone-else" in i["diagnostics"] for i in issues)
    assert any("Patient/pat-034" in i["diagnostics"] for i in issues)


@pytest.mark.parametrize("field", ["verificationStatus", "clinicalStatus"])
def test_a_condition_status_outside_its_fhir_value_set_is_refused(lab_client, field):
    bundle = json.loads((SAMPLES / "bundle_worked_example_s6.json").read_text())
    cond = next(e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == "Condition")
    cond[field] = {"coding": [{"code": "bogus"}]}
    resp = lab_client.post("/v1/fhir/interpretations", json=bundle)
    assert resp.status_code == 422 and resp.get_json()["resourceType"] == "OperationOutcome"


# --- the forms laboratories send (tests/adapters/realworld) -------------------------------------------

REALWORLD = ROOT / "tests" / "adapters" / "realworld"


def _corpus(name: str) -> str:
    return "\n".join(line for line in (REALWORLD / name).read_text().splitlines() if not line.startswith("#"))


@pytest.fixture(scope="module")
def realworld_client():
    app = create_app({"TESTING": True, "DEV_MODE": True, "CODEMAP_FILE": str(REALWORLD / "lab-codemap.yaml")})
    return app.test_client()


def _hl7_answer(text: str) -> dict:
    """Classification, isotype, flags and missing data as an ORU^R01 reply carries them."""
    lines = [line.split("|") for line in text.split("\r") if line.startswith("OBX|")]
    by_code: dict[str, list[str]] = {}
    for seg in lines:
        by_code.setdefault(seg[3].split("^")[0], []).append(seg[5])
    return {
        "classification": by_code["CLASSIFICATION"][0].split("^")[0],
        "isotype": (by_code.get("ISOTYPE") or [None])[0],
        "flags": sorted(v.split("^")[0] for v in by_code.get("FLAG", [])),
        "missing": sorted(m for v in by_code.get("MISSING_DATA", []) for m in v.split("~")),
    }


def _json_answer(body: dict) -> dict:
    return {
        "classification": body["classification"]["code"],
        "isotype": body["classification"]["isotype"],
        "flags": sorted(f["code"] for f in body["flags"]),
        "missing": sorted(body["missing_data"]),
    }


@pytest.mark.parametrize(
    "name",
    [
        "nist_elr_251_si_hypercalcaemia.hl7",
        "cerner_healthsentry_alternate_coding.hl7",
        "labcorp_v23_zsegment_biclonal_subids.hl7",
        "arup_231_ife_wording.hl7",
        "athena_local_codes_no_system.hl7",
    ],
)
def test_a_laboratory_s_hl7_message_gives_the_interpretation_of_its_json_translation(realworld_client, name):
    from service.adapters import hl7v2
    from service.adapters.codes import load_codemap

    text = _corpus(name)
    request = hl7v2.parse_oru(text, load_codemap(str(REALWORLD / "lab-codemap.yaml"))).request
    via_json = realworld_client.post("/v1/interpretations", json=request)
    assert via_json.status_code == 200, via_json.get_json()
    reply = realworld_client.post("/v1/hl7v2", data=text.encode(), content_type="text/plain")
    assert reply.status_code == 200, reply.data
    assert _hl7_answer(reply.data.decode()) == _json_answer(via_json.get_json())


@pytest.mark.parametrize(
    "name",
    [
        "fhir_r4_f205_components_collection.json",
        "fhir_r4_f204_local_code_sender_map.json",
        "fhir_r4_f005_document.json",
        "fhir_r4_ghp_report_searchset.json",
        "fhir_r4_message_bundle_hypercalcaemia.json",
    ],
)
def test_a_laboratory_s_fhir_bundle_gives_the_interpretation_of_its_json_translation(realworld_client, name):
    from service.adapters import fhir
    from service.adapters.codes import load_codemap

    bundle = json.loads(_corpus(name))
    request = fhir.translate_bundle(bundle, load_codemap(str(REALWORLD / "lab-codemap.yaml"))).request
    via_json = realworld_client.post("/v1/interpretations", json=request)
    report = realworld_client.post("/v1/fhir/interpretations", json=bundle)
    if via_json.status_code != 200:  # refused alike (e.g. a reference range no laboratory uses)
        assert report.status_code == via_json.status_code == 422
        return
    assert report.status_code == 200, report.get_json()
    body = via_json.get_json()
    assert report.get_json()["conclusionCode"][0]["coding"][0]["code"] == body["classification"]["code"]
    assert report.get_json()["conclusion"] == body["comment"]


def test_each_message_of_a_batch_is_interpreted_as_if_it_came_alone(realworld_client):
    batch = _corpus("cdc_prime_batch_fhs_bhs.hl7")
    reply = realworld_client.post("/v1/hl7v2", data=batch.encode(), content_type="text/plain").data.decode()
    first_message = batch.split("\nMSH|")[1].split("\nMSH|")[0]
    alone = realworld_client.post(
        "/v1/hl7v2", data=("MSH|" + first_message).encode(), content_type="text/plain"
    ).data.decode()
    in_batch = reply.split("\rMSH|")[2]  # FHS, BHS, the ACK's MSH, then the ORU^R01's
    assert _hl7_answer("MSH|" + in_batch) == _hl7_answer(alone)
