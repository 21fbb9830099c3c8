"""§1.1 spirit (data-entry checks, not clinical thresholds): a date before 1900-01-01, or a history result
dated before the patient's birth (more than age + 1 years before the panel), is refused with a 422 naming
the field. The reference gives no date window: 1900-01-01 is a data-entry bound, not a clinical number."""

from __future__ import annotations

import pytest

from .helpers import mgus_igg, q


def post(client, body: dict):
    return client.post("/v1/interpretations", json=body)


@pytest.mark.parametrize(
    ("on", "accepted"), [("1899-12-31", False), ("1900-01-01", True), ("1900-01-02", True)]
)
def test_a_panel_dated_before_1900_is_refused_as_a_data_entry_error(client, on, accepted):
    body = mgus_igg()
    body["collected_on"] = on
    resp = post(client, body)
    if accepted:
        assert resp.status_code == 200
    else:
        assert resp.status_code == 422
        errors = resp.get_json()["errors"]
        assert "collected_on" in errors
        assert "1900-01-01" in errors["collected_on"][0]


def test_an_ivig_date_of_1800_is_refused(client):
    body = mgus_igg(clinical={"ivig_last_dose_on": "1800-01-01"})
    body["collected_on"] = "2026-11-01"
    resp = post(client, body)
    assert resp.status_code == 422
    assert "clinical.ivig_last_dose_on" in resp.get_json()["errors"]


@pytest.mark.parametrize(
    ("on", "accepted"), [("1964-10-31", False), ("1964-11-01", True), ("1964-11-02", True)]
)
def test_a_history_result_dated_before_the_patients_birth_is_refused(client, on, accepted):
    # A 61-year-old on 2026-11-01 was born after 1964-11-01.
    body = mgus_igg()
    body["patient"] = {"age_years": 61, "sex": "male"}
    body["collected_on"] = "2026-11-01"
    body["history"] = [{"collected_on": on, "spep": {"m_protein": q(10, "g/L")}}]
    resp = post(client, body)
    if accepted:
        assert resp.status_code == 200, resp.get_json()
    else:
        assert resp.status_code == 422
        assert "history.0.collected_on" in resp.get_json()["errors"]
