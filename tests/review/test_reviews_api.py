"""Sign-off through the API: a review is recorded with name and time, sets the release status, and the
stored answer is served as released - JSON, HL7 v2 (OBR-25/OBX-11 P, F, C) and FHIR (preliminary,
final, amended). The agreement report counts how often reviewers amended, by category, flag and rule."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from service.api import create_app

from .conftest import AUTH, body, post


@pytest.fixture
def client(app):
    return app.test_client()


def obx_statuses(hl7: str) -> set[str]:
    return {seg.split("|")[11] for seg in hl7.split("\r") if seg.startswith("OBX|")}


def obr_status(hl7: str) -> str:
    return next(seg.split("|")[25] for seg in hl7.split("\r") if seg.startswith("OBR|"))


def test_a_stored_answer_waiting_for_review_is_preliminary_in_hl7_and_fhir(client):
    rid = post(client, body("mgus"))["id"]
    record = client.get(f"/v1/interpretations/{rid}", headers=AUTH).get_json()
    assert record["status"] == "review_required" == record["interpretation"]["release"]["status"]
    assert record["reviews"] == []
    hl7 = client.get(f"/v1/interpretations/{rid}/hl7", headers=AUTH)
    assert hl7.mimetype == "x-application/hl7-v2+er7"
    text = hl7.get_data(as_text=True)
    assert obx_statuses(text) == {"P"} and obr_status(text) == "P"
    obr = next(seg.split("|") for seg in text.split("\r") if seg.startswith("OBR|"))
    assert obr[3] == f"{rid}^MGI"  # the filler order number names the record
    fhir = client.get(f"/v1/interpretations/{rid}/fhir", headers=AUTH).get_json()
    assert fhir["resourceType"] == "DiagnosticReport" and fhir["status"] == "preliminary"
    assert fhir["id"] == rid  # the record names the report
    from fhir.resources.R4B.diagnosticreport import DiagnosticReport

    DiagnosticReport.model_validate(fhir)  # still a valid R4 DiagnosticReport


def test_an_automatically_released_answer_is_final(client):
    answer = post(client, body("negative"))
    assert answer["release"]["status"] == "auto"
    text = client.get(f"/v1/interpretations/{answer['id']}/hl7", headers=AUTH).get_data(as_text=True)
    assert obx_statuses(text) == {"F"}


def test_approval_records_the_reviewer_and_time_and_makes_the_answer_final(client):
    rid = post(client, body("mgus"))["id"]
    before = datetime.now(UTC)
    resp = client.post(
        f"/v1/interpretations/{rid}/reviews",
        json={"decision": "approve", "reviewer": "Dr Rita Ng"},
        headers=AUTH,
    )
    assert resp.status_code == 201
    assert resp.headers["Location"] == f"/v1/interpretations/{rid}"
    assert resp.get_json()["status"] == "reviewed"
    record = client.get(f"/v1/interpretations/{rid}", headers=AUTH).get_json()
    assert record["status"] == "reviewed"
    release = record["interpretation"]["release"]
    assert release["status"] == "reviewed" and release["reviewer"] == "Dr Rita Ng"
    assert datetime.fromisoformat(release["reviewed_at"]) >= before.replace(microsecond=0)
    assert [r["decision"] for r in record["reviews"]] == ["approve"]
    assert record["reviews"][0]["status_before"] == "review_required"
    text = client.get(f"/v1/interpretations/{rid}/hl7", headers=AUTH).get_data(as_text=True)
    assert obx_statuses(text) == {"F"} and obr_status(text) == "F"
    assert client.get(f"/v1/interpretations/{rid}/fhir", headers=AUTH).get_json()["status"] == "final"
    listed = client.get("/v1/interpretations?status=reviewed", headers=AUTH).get_json()["items"]
    assert [i["id"] for i in listed] == [rid]


def test_an_amendment_releases_the_reviewers_comment_as_corrected_and_keeps_the_original(client):
    first = post(client, body("mgus"))
    rid = first["id"]
    resp = client.post(
        f"/v1/interpretations/{rid}/reviews",
        json={
            "decision": "amend",
            "reviewer": "Dr Rita Ng",
            "comment": "IgG-kappa MGUS, low risk. Repeat SPEP and FLC in 6 months.",
            "reason": "Local follow-up wording",
        },
        headers=AUTH,
    )
    assert resp.status_code == 201 and resp.get_json()["status"] == "amended"
    record = client.get(f"/v1/interpretations/{rid}", headers=AUTH).get_json()
    assert record["interpretation"]["comment"].startswith("IgG-kappa MGUS, low risk.")
    assert record["interpretation"]["release"]["amendment_reason"] == "Local follow-up wording"
    assert record["reviews"][0]["comment"].startswith("IgG-kappa MGUS")
    text = client.get(f"/v1/interpretations/{rid}/hl7", headers=AUTH).get_data(as_text=True)
    assert obx_statuses(text) == {"C"} and "Repeat SPEP and FLC in 6 months" in text
    report = client.get(f"/v1/interpretations/{rid}/fhir", headers=AUTH).get_json()
    assert report["status"] == "amended" and report["conclusion"].startswith("IgG-kappa MGUS, low risk.")
    # An approval after it countersigns the amendment: still amended, still the reviewer's comment.
    client.post(
        f"/v1/interpretations/{rid}/reviews", json={"decision": "approve", "reviewer": "Dr B"}, headers=AUTH
    )
    again = client.get(f"/v1/interpretations/{rid}", headers=AUTH).get_json()
    assert again["status"] == "amended" and again["interpretation"]["comment"].startswith("IgG-kappa MGUS")
    assert again["interpretation"]["release"]["reviewer"] == "Dr B"


def test_an_amended_classification_carries_its_label(client):
    rid = post(client, body("mgus"))["id"]
    client.post(
        f"/v1/interpretations/{rid}/reviews",
        json={
            "decision": "amend",
            "reviewer": "R",
            "classification_code": "INDETERMINATE",
            "comment": "Immunofixation doubtful: repeat serum immunofixation and FLC.",
            "reason": "IFE doubtful",
        },
        headers=AUTH,
    )
    c = client.get(f"/v1/interpretations/{rid}", headers=AUTH).get_json()["interpretation"]["classification"]
    assert c["code"] == "INDETERMINATE" and c["label"]


def test_the_list_shows_the_category_in_force_after_an_amendment(client):
    amended, untouched, comment_only = (
        post(client, {**body("mgus"), "specimen_id": f"LIST-{n}"})["id"] for n in range(3)
    )
    original = client.get(f"/v1/interpretations/{untouched}", headers=AUTH).get_json()
    assert original["interpretation"]["classification"]["code"] == "MGUS_NON_IGM"
    for rid, change in (
        (amended, {"classification_code": "SMOLDERING_MYELOMA"}),
        (amended, {"classification_code": "INDETERMINATE"}),  # the latest amendment is in force
        (comment_only, {}),
    ):
        r = client.post(
            f"/v1/interpretations/{rid}/reviews",
            json={"decision": "amend", "reviewer": "R", "comment": "Repeat IFE.", "reason": "x", **change},
            headers=AUTH,
        )
        assert r.status_code in (200, 201), r.get_json()
    client.post(
        f"/v1/interpretations/{amended}/reviews", json={"decision": "approve", "reviewer": "S"}, headers=AUTH
    )
    items = {i["id"]: i for i in client.get("/v1/interpretations", headers=AUTH).get_json()["items"]}
    assert items[amended]["classification_code"] == "INDETERMINATE"
    assert items[untouched]["classification_code"] == "MGUS_NON_IGM"
    assert items[comment_only]["classification_code"] == "MGUS_NON_IGM"
    released = client.get(f"/v1/interpretations/{amended}", headers=AUTH).get_json()["interpretation"]
    assert released["classification"]["code"] == items[amended]["classification_code"]


def test_a_comment_only_amendment_keeps_the_category_an_earlier_amendment_set(client):
    rid = post(client, {**body("mgus"), "specimen_id": "KEEP-1"})["id"]
    for change in (
        {"classification_code": "INDETERMINATE", "comment": "Immunofixation doubtful: repeat it."},
        {"comment": "Immunofixation doubtful: repeat serum immunofixation and FLC in 4 weeks."},
    ):
        r = client.post(
            f"/v1/interpretations/{rid}/reviews",
            json={"decision": "amend", "reviewer": "R", "reason": "x", **change},
            headers=AUTH,
        )
        assert r.status_code == 201, r.get_json()
    answer = client.get(f"/v1/interpretations/{rid}", headers=AUTH).get_json()["interpretation"]
    assert answer["classification"]["code"] == "INDETERMINATE"
    assert answer["comment"].endswith("in 4 weeks.")
    items = {i["id"]: i for i in client.get("/v1/interpretations", headers=AUTH).get_json()["items"]}
    assert items[rid]["classification_code"] == "INDETERMINATE"


def test_a_new_classification_without_a_rewritten_comment_is_refused(client):
    # The released comment would otherwise still describe the former category beside the new one.
    rid = post(client, body("mgus"))["id"]
    resp = client.post(
        f"/v1/interpretations/{rid}/reviews",
        json={"decision": "amend", "reviewer": "R", "classification_code": "INDETERMINATE", "reason": "x"},
        headers=AUTH,
    )
    assert resp.status_code == 422
    assert "comment" in resp.get_json()["errors"]


@pytest.mark.parametrize(
    ("review", "field"),
    [
        ({"decision": "amend", "reviewer": "R", "comment": "x"}, "reason"),
        ({"decision": "amend", "reviewer": "R", "reason": "why"}, "comment"),
        ({"decision": "approve", "reviewer": "R", "classification_code": "MGUS_IGM"}, "classification_code"),
        ({"decision": "approve", "reviewer": "R", "comment": "A new comment."}, "comment"),
        ({"decision": "reject", "reviewer": "R"}, "decision"),
        ({"decision": "approve"}, "reviewer"),
        ({"decision": "approve", "reviewer": ""}, "reviewer"),
        (
            {"decision": "amend", "reviewer": "R", "classification_code": "MGUS", "reason": "r"},
            "classification_code",
        ),
        ({"decision": "approve", "reviewer": "R", "signature": "x"}, "signature"),
    ],
)
def test_a_malformed_review_is_a_422_naming_the_field(client, review, field):
    rid = post(client, body("mgus"))["id"]
    resp = client.post(f"/v1/interpretations/{rid}/reviews", json=review, headers=AUTH)
    assert resp.status_code == 422
    assert field in resp.get_json()["errors"]
    assert client.get(f"/v1/interpretations/{rid}", headers=AUTH).get_json()["status"] == "review_required"


def test_a_review_of_an_unknown_record_is_a_404(client):
    resp = client.post(
        "/v1/interpretations/" + "0" * 32 + "/reviews",
        json={"decision": "approve", "reviewer": "R"},
        headers=AUTH,
    )
    assert resp.status_code == 404 and resp.get_json()["code"] == 404
    assert client.get("/v1/interpretations/" + "0" * 32 + "/hl7", headers=AUTH).status_code == 404


def test_reviews_need_an_api_key(client):
    rid = post(client, body("mgus"))["id"]
    resp = client.post(f"/v1/interpretations/{rid}/reviews", json={"decision": "approve", "reviewer": "R"})
    assert resp.status_code == 401


def test_with_the_store_off_there_is_nothing_to_review():
    client = create_app({"TESTING": True, "DEV_MODE": True, "STORE": "off"}).test_client()
    resp = client.post("/v1/interpretations/abc/reviews", json={"decision": "approve", "reviewer": "R"})
    assert resp.status_code == 404
    assert client.get("/v1/reports/agreement").status_code == 404


def test_the_agreement_report_counts_amendments_by_category_flag_and_rule_with_links(client):
    s6 = post(client, body("s6"))["id"]  # MGUS_NON_IGM with the MGCS flag
    mgus = post(client, body("mgus"))["id"]  # MGUS_NON_IGM, no flag
    neg = post(client, body("negative"))["id"]
    client.post(
        f"/v1/interpretations/{mgus}/reviews", json={"decision": "approve", "reviewer": "R"}, headers=AUTH
    )
    client.post(
        f"/v1/interpretations/{s6}/reviews",
        json={"decision": "amend", "reviewer": "R", "comment": "Amended.", "reason": "wording"},
        headers=AUTH,
    )
    report = client.get("/v1/reports/agreement", headers=AUTH).get_json()
    assert report["reviewed"] == 2 and report["amended"] == 1 and report["amended_rate"] == 0.5
    category = {r["category"]: r for r in report["by_category"]}
    assert category["MGUS_NON_IGM"]["reviewed"] == 2 and category["MGUS_NON_IGM"]["amended"] == 1
    assert category["MGUS_NON_IGM"]["amended_cases"] == [f"/v1/interpretations/{s6}"]
    flags = {r["flag"]: r for r in report["by_flag"]}
    assert (
        flags["MGCS_SCLEROMYXEDEMA"]["amended"] == 1 and flags["MGCS_SCLEROMYXEDEMA"]["amended_rate"] == 1.0
    )
    assert report["by_rule"] and all(r["reviewed"] >= 1 for r in report["by_rule"])
    assert neg not in str(report)  # never reviewed: not in the report
    later = client.get("/v1/reports/agreement?since=2999-01-01", headers=AUTH).get_json()
    assert later["reviewed"] == 0 and later["amended_rate"] is None
    bad = client.get("/v1/reports/agreement?since=yesterday", headers=AUTH)
    assert bad.status_code == 422 and "query.since" in bad.get_json()["errors"]
    unknown = client.get("/v1/reports/agreement?category=x", headers=AUTH)
    assert unknown.status_code == 422 and "query.category" in unknown.get_json()["errors"]


@pytest.mark.parametrize(
    ("field", "value", "words"),
    [
        ("reviewer", "  ", "the reviewer's name"),
        ("reason", " \n ", "the reason"),
        ("comment", "\t", "the corrected comment"),
    ],
)
def test_a_blank_review_field_is_refused_with_a_message_of_its_own(client, field, value, words):
    rid = post(client, body("mgus"))["id"]
    review = {"decision": "amend", "reviewer": "Dr Rita Ng", "reason": "Marrow report.", "comment": "New."}
    review[field] = value
    r = client.post(f"/v1/interpretations/{rid}/reviews", json=review, headers=AUTH)
    assert r.status_code == 422
    assert list(r.get_json()["errors"]) == [field]
    (message,) = r.get_json()["errors"][field]
    assert "blank" in message and words in message and "patient" not in message
    assert client.get(f"/v1/interpretations/{rid}", headers=AUTH).get_json()["reviews"] == []


@pytest.mark.parametrize("field", ["reason", "comment"])
@pytest.mark.parametrize("char", ["\u0000", "\u001b", "\u007f"])
def test_a_control_character_in_review_text_is_refused_naming_the_field(client, field, char):
    """Line breaks and tabs are text; a NUL (which no database text column holds) or an escape is not."""
    rid = post(client, body("mgus"))["id"]
    review = {
        "decision": "amend",
        "reviewer": "Dr Rita Ng",
        "reason": "Marrow\treport.",
        "comment": "New.\nLine.",
    }
    review[field] = f"a{char}b"
    r = client.post(f"/v1/interpretations/{rid}/reviews", json=review, headers=AUTH)
    assert r.status_code == 422, r.get_data(as_text=True)
    assert list(r.get_json()["errors"]) == [field]
    assert "control characters" in r.get_json()["errors"][field][0]
    review[field] = "plain\ttext\r\nwith lines"
    assert client.post(f"/v1/interpretations/{rid}/reviews", json=review, headers=AUTH).status_code == 201


def test_an_amendment_to_another_category_never_releases_the_original_category_s_risk_and_follow_up(client):
    rid = post(client, body("mgus"))["id"]
    client.post(
        f"/v1/interpretations/{rid}/reviews",
        json={
            "decision": "amend",
            "reviewer": "R",
            "classification_code": "SMOLDERING_MYELOMA",
            "comment": "Trephine 15 % clonal plasma cells: smouldering myeloma.",
            "reason": "trephine count",
        },
        headers=AUTH,
    )
    answer = client.get(f"/v1/interpretations/{rid}", headers=AUTH).get_json()["interpretation"]
    assert answer["classification"]["code"] == "SMOLDERING_MYELOMA"
    assert answer["classification"]["provisional"] is False
    assert (
        "amended the category from MGUS_NON_IGM to SMOLDERING_MYELOMA"
        in answer["classification"]["reasons"][0]
    )
    assert all(m["group"] is None and m["applies"] is False for m in answer["risk"].values())
    (follow,) = [r for r in answer["recommendations"] if r["code"] == "FOLLOW_UP"]
    assert "as the reviewing pathologist states" in follow["text"] and "interval_months" not in follow
    hl7 = client.get(f"/v1/interpretations/{rid}/hl7", headers=AUTH).get_data(as_text=True)
    assert "Low-risk MGUS" not in hl7 and "SMOLDERING_MYELOMA" in hl7
    fhir = client.get(f"/v1/interpretations/{rid}/fhir", headers=AUTH)
    assert fhir.status_code == 200


def test_a_comment_only_amendment_keeps_the_service_s_risk_and_follow_up(client):
    rid = post(client, body("mgus"))["id"]
    before = client.get(f"/v1/interpretations/{rid}", headers=AUTH).get_json()["interpretation"]
    client.post(
        f"/v1/interpretations/{rid}/reviews",
        json={"decision": "amend", "reviewer": "R", "comment": "Reworded.", "reason": "wording"},
        headers=AUTH,
    )
    after = client.get(f"/v1/interpretations/{rid}", headers=AUTH).get_json()["interpretation"]
    assert after["risk"] == before["risk"] and after["recommendations"] == before["recommendations"]


def test_an_amendment_to_another_category_withdraws_the_referral_and_marrow_the_original_called_for(client):
    smm = body("mgus")
    smm["marrow"] = {"clonal_plasma_cells_percent": 15}
    rid = post(client, smm)["id"]
    before = client.get(f"/v1/interpretations/{rid}", headers=AUTH).get_json()["interpretation"]
    assert "HEMATOLOGY_REFERRAL" in {f["code"] for f in before["flags"]}
    client.post(
        f"/v1/interpretations/{rid}/reviews",
        json={
            "decision": "amend",
            "reviewer": "R",
            "classification_code": "MGUS_NON_IGM",
            "comment": "Marrow figure entered in error: MGUS.",
            "reason": "data entry",
        },
        headers=AUTH,
    )
    after = client.get(f"/v1/interpretations/{rid}", headers=AUTH).get_json()["interpretation"]
    codes = {f["code"] for f in after["flags"]}
    assert not codes & {"HEMATOLOGY_REFERRAL", "MARROW_EXAMINATION_RECOMMENDED"}
    assert not {r["code"] for r in after["recommendations"]} & {"REFER_HEMATOLOGY", "MARROW_EXAMINATION"}
    hl7 = client.get(f"/v1/interpretations/{rid}/hl7", headers=AUTH).get_data(as_text=True)
    assert "HEMATOLOGY_REFERRAL" not in hl7


@pytest.mark.parametrize(
    ("allowed", "status"), [(None, 201), ("lis", 201), ("ward-system", 403), ("none", 403)]
)
def test_mgi_review_api_keys_says_which_api_keys_may_sign_off(tmp_path, allowed, status):
    from .conftest import review_app

    app = review_app(tmp_path, **({} if allowed is None else {"REVIEW_API_KEYS": allowed}))
    client = app.test_client()
    rid = post(client, body("mgus"))["id"]
    resp = client.post(
        f"/v1/interpretations/{rid}/reviews", json={"decision": "approve", "reviewer": "vic"}, headers=AUTH
    )
    assert resp.status_code == status, resp.get_data(as_text=True)
    if status == 403:
        assert "may not sign answers off" in resp.get_json()["message"]
        record = client.get(f"/v1/interpretations/{rid}", headers=AUTH).get_json()
        assert record["reviews"] == [] and record["status"] == "review_required"
    app.extensions["mgi.store"].store.dispose()


def _amend(client, rid: str, **change):
    return client.post(
        f"/v1/interpretations/{rid}/reviews",
        json={"decision": "amend", "reviewer": "R", "reason": "x", **change},
        headers=AUTH,
    )


def test_an_amendment_that_changes_nothing_is_refused_naming_the_field(client):
    rid = post(client, {**body("mgus"), "specimen_id": "SAME-1"})["id"]
    answer = client.get(f"/v1/interpretations/{rid}", headers=AUTH).get_json()["interpretation"]
    code = answer["classification"]["code"]
    for change, fields in (
        ({"comment": answer["comment"]}, {"comment"}),
        ({"comment": answer["comment"] + "  \n"}, {"comment"}),  # the same text, padded
        ({"comment": answer["comment"], "classification_code": code}, {"comment", "classification_code"}),
    ):
        resp = _amend(client, rid, **change)
        assert resp.status_code == 422, change
        errors = resp.get_json()["errors"]
        assert set(errors) == fields
        assert errors["comment"][0].startswith("Nothing was changed")
    record = client.get(f"/v1/interpretations/{rid}", headers=AUTH).get_json()
    assert record["status"] == "review_required" and record["reviews"] == []


def test_the_same_amendment_twice_is_one_amendment(client):
    rid = post(client, {**body("mgus"), "specimen_id": "SAME-2"})["id"]
    assert _amend(client, rid, comment="Repeat the FLC in 3 months.").status_code == 201
    again = _amend(client, rid, comment="Repeat the FLC in 3 months.")
    assert again.status_code == 422 and "comment" in again.get_json()["errors"]
    assert len(client.get(f"/v1/interpretations/{rid}", headers=AUTH).get_json()["reviews"]) == 1
