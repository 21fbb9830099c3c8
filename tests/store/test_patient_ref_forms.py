"""One patient whatever the form of the reference: a patient_ref is hashed without its leading and
trailing spaces (an LIS pads identifiers) and in Unicode normal form C (an accented letter composed or
decomposed), wherever it is hashed: a JSON request, a batch item, the list and erase by patient_ref, an
HL7 v2 PID-3 and a FHIR identifier. Records stored under a reference as written before it was
normalised are still listed and erased by it."""

from __future__ import annotations

import hashlib
import hmac
import json
import subprocess
import sys
import unicodedata

import pytest
from sqlalchemy import update

from service.store.models import Interpretation

from .conftest import ROOT_DIR, SECRET
from .test_fhir_identity import FHIR, bundle
from .test_hl7_identity import HL7, message

IFE = {"result": "positive", "clones": [{"heavy_chain": "IgG", "light_chain": "kappa"}]}
NFC = "LINK-\u00e9"  # é as one code point
NFD = unicodedata.normalize("NFD", NFC)  # e + U+0301
assert NFC != NFD


def panel(ref: str, on: str, g_dl: float = 1.0) -> dict:
    return {
        "spep": {"m_protein": {"value": g_dl, "unit": "g/dL"}},
        "serum_ife": IFE,
        "collected_on": on,
        "patient_ref": ref,
        "specimen_id": f"S-{on}",
    }


def history_dates(answer: dict) -> list[str]:
    return [h["collected_on"] for h in answer["history_used"]]


@pytest.mark.parametrize("later_ref", [NFD, f"{NFC} ", f"  {NFC}", f" {NFD}  "])
def test_a_reference_padded_or_decomposed_is_the_same_patient(client, later_ref):
    first = client.post("/v1/interpretations", json=panel(NFC, "2024-01-01")).json
    later = client.post("/v1/interpretations", json=panel(later_ref, "2024-06-01", 1.5)).json
    assert history_dates(later) == ["2024-01-01"]
    assert later["history_used"][0]["id"] == first["id"]
    for ref in (NFC, NFD, f" {NFC} "):
        listed = client.get("/v1/interpretations", query_string={"patient_ref": ref}).json["items"]
        assert len(listed) == 2, ref


def test_a_padded_reference_sent_again_is_a_retry_of_the_same_record(client, store):
    first = client.post("/v1/interpretations", json=panel("MRN-7", "2024-01-01")).json
    again = client.post("/v1/interpretations", json=panel("MRN-7   ", "2024-01-01")).json
    assert again["id"] == first["id"] and store.count() == 1


def test_a_batch_item_s_reference_is_read_the_same_way(client):
    client.post("/v1/interpretations", json=panel(NFD + " ", "2024-01-01"))
    body = client.post("/v1/interpretations/batch", json={"items": [panel(NFC, "2024-06-01", 1.5)]}).json
    assert history_dates(body["results"][0]["interpretation"]) == ["2024-01-01"]


def test_an_hl7_pid_3_and_a_fhir_identifier_are_read_the_same_way(client):
    # HL7 v2: the reference is ID^^^AUTHORITY; a JSON client sending it decomposed is the same patient.
    raw = message("C1", "20250110", "1.0", pid3=f"{NFC}^^^HOSP^MR")
    assert client.post("/v1/hl7v2", data=raw, content_type=HL7).status_code == 200
    later = client.post("/v1/interpretations", json=panel(f"{NFD}^^^HOSP ", "2025-07-10", 1.5)).json
    assert history_dates(later) == ["2025-01-10"]
    # FHIR: an identifier sent decomposed links to the composed one.
    mrn = {"system": "urn:hosp:mrn", "value": NFD, "type": {"coding": [{"code": "MR"}]}}
    resp = client.post(
        "/v1/fhir/interpretations", data=json.dumps(bundle("2025-01-10", 10, [mrn])), content_type=FHIR
    )
    assert resp.status_code == 200, resp.get_data(as_text=True)
    listed = client.get("/v1/interpretations", query_string={"patient_ref": f"{NFC}^^^urn:hosp:mrn"}).json
    assert len(listed["items"]) == 1


def _as_written_key(ref: str) -> str:
    return hmac.new(SECRET.encode(), ref.encode(), hashlib.sha256).hexdigest()


def test_records_stored_under_the_reference_as_written_are_still_listed_and_erased(
    client, store, database_url
):
    padded = " MRN-OLD "
    old = client.post("/v1/interpretations", json=panel(padded, "2024-01-01")).json["id"]
    new = client.post("/v1/interpretations", json=panel("MRN-OLD", "2024-06-01")).json["id"]
    with store.engine.begin() as conn:  # as it was stored before references were normalised
        conn.execute(
            update(Interpretation.__table__)
            .where(Interpretation.__table__.c.id == old)
            .values(patient_key=_as_written_key(padded))
        )
    listed = client.get("/v1/interpretations", query_string={"patient_ref": padded}).json["items"]
    assert {i["id"] for i in listed} == {old, new}
    done = subprocess.run(
        [sys.executable, "-m", "service", "db", "erase", "--patient-ref", padded],
        capture_output=True,
        text=True,
        cwd=ROOT_DIR,
        timeout=120,
        env={"MGI_DATABASE_URL": database_url, "MGI_PATIENT_KEY_SECRET": SECRET, "PATH": "/usr/bin:/bin"},
    )
    assert done.returncode == 0, done.stderr
    assert "erased 2 record(s)" in done.stdout
    assert client.get(f"/v1/interpretations/{old}").status_code == 404
    assert client.get(f"/v1/interpretations/{new}").status_code == 404


def test_panels_stored_under_the_reference_as_written_stay_the_history_of_that_reference(client, store):
    padded = "MRN-PAD   "  # an LIS that always pads the same way
    old = client.post("/v1/interpretations", json=panel(padded, "2024-01-01")).json["id"]
    with store.engine.begin() as conn:  # as it was stored before references were normalised
        conn.execute(
            update(Interpretation.__table__)
            .where(Interpretation.__table__.c.id == old)
            .values(patient_key=_as_written_key(padded))
        )
    later = client.post("/v1/interpretations", json=panel(padded, "2024-06-01", 1.5)).json
    assert [h.get("id") for h in later["history_used"]] == [old]
    third = client.post("/v1/interpretations", json=panel(padded, "2024-09-01", 1.6)).json
    assert history_dates(third) == ["2024-01-01", "2024-06-01"]
