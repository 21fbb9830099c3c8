"""Timestamps at the ends of the calendar, with UTC offsets, in HL7 v2 and FHIR: the instant taken to
another offset may fall outside years 1-9999; the message is refused where its dates are checked
(a 422 naming the field), never a 500."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone

import pytest

from service.api import create_app

from .test_adapter_fhir import observation, quantity
from .test_hl7_review_dates import message, mprotein, obr

# (the panel's timestamp, a result's timestamp): the same calendar day or the last one, in two offsets.
HL7_EDGES = [
    ("99991231230000+1400", "99991231230000-1000"),
    ("99991231230000-1000", "99991231230000+1400"),
    ("99991231235959-0100", "99991231235959-0100"),
]
FHIR_EDGES = [
    ("9999-12-31T23:00:00+14:00", "9999-12-31T23:00:00-10:00"),
    ("9999-12-31T23:00:00-10:00", "9999-12-31T23:00:00+14:00"),
    ("9999-12-31T23:59:59-01:00", "9999-12-31T23:59:59-01:00"),
    ("0001-01-01T00:30:00+01:00", "0001-01-01T00:30:00+01:00"),
    ("0001-01-01T01:00:00-10:00", "0001-01-01T01:00:00+14:00"),
]


@pytest.fixture
def client():
    return create_app({"TESTING": True, "DEV_MODE": True}).test_client()


@pytest.mark.parametrize(("panel", "result"), HL7_EDGES)
def test_an_hl7_timestamp_at_the_calendars_end_is_a_422(client, panel, result):
    text = message(obr(panel), mprotein(1, "1.2", result))
    r = client.post("/v1/hl7v2", data=text.encode(), content_type="x-application/hl7-v2+er7")
    assert r.status_code == 422, r.get_data(as_text=True)
    assert "|AE|" in r.get_data(as_text=True)


@pytest.mark.parametrize(("report_time", "result"), FHIR_EDGES)
def test_a_fhir_timestamp_at_the_calendars_end_is_a_422(client, report_time, result):
    bundle = {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [
            {"resource": observation("33358-3", effectiveDateTime=report_time, **quantity(34, "g/L"))},
            {"resource": observation("25700-6", effectiveDateTime=result, valueString="IgG kappa")},
        ],
    }
    r = client.post("/v1/fhir/interpretations", data=json.dumps(bundle), content_type="application/fhir+json")
    assert r.status_code == 422, r.get_data(as_text=True)
    assert r.get_json()["resourceType"] == "OperationOutcome"


# --- A laboratory east of the server (UTC+12 to +14) ---------------------------------------------
# A sample collected 30 minutes ago, dated in the laboratory's own offset, is never "in the future":
# a calendar date is not in the future while it has begun somewhere (UTC+14 is the easternmost zone).


def _ago(offset_hours: int, minutes: int = 30) -> datetime:
    return (datetime.now(UTC) - timedelta(minutes=minutes)).astimezone(
        timezone(timedelta(hours=offset_hours))
    )


@pytest.mark.parametrize("offset", [12, 13, 14])
def test_an_hl7_sample_of_30_minutes_ago_east_of_the_server_is_read(client, offset):
    when = _ago(offset).strftime("%Y%m%d%H%M%S%z")
    text = message(obr(when), mprotein(1, "1.2"), "OBX|2|TX|25700-6^IFE^LN||IgG kappa||||||F")
    r = client.post("/v1/hl7v2", data=text.encode(), content_type="x-application/hl7-v2+er7")
    assert r.status_code == 200, r.get_data(as_text=True)
    assert "ORU^R01" in r.get_data(as_text=True)  # the answer, not an AE


@pytest.mark.parametrize("offset", [12, 13, 14])
def test_a_fhir_sample_of_30_minutes_ago_east_of_the_server_is_read(client, offset):
    when = _ago(offset).isoformat(timespec="seconds")
    bundle = {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [
            {"resource": observation("33358-3", effectiveDateTime=when, **quantity(12, "g/L"))},
            {"resource": observation("25700-6", effectiveDateTime=when, valueString="IgG kappa")},
        ],
    }
    r = client.post("/v1/fhir/interpretations", data=json.dumps(bundle), content_type="application/fhir+json")
    assert r.status_code == 200, r.get_data(as_text=True)


def test_a_json_panel_dated_the_latest_day_begun_anywhere_is_read_and_the_next_is_future(client):
    latest = (datetime.now(UTC) + timedelta(hours=14)).date()
    body = {"spep": {"m_protein": {"value": 12, "unit": "g/L"}}, "collected_on": latest.isoformat()}
    assert client.post("/v1/interpretations", json=body).status_code in (200, 201)
    body["collected_on"] = (latest + timedelta(days=1)).isoformat()
    r = client.post("/v1/interpretations", json=body)
    assert r.status_code == 422 and "date is in the future" in r.get_data(as_text=True)


def test_an_hl7_sample_dated_tomorrow_everywhere_is_still_refused(client):
    when = (datetime.now(UTC) + timedelta(days=2)).strftime("%Y%m%d%H%M%S+0000")
    text = message(obr(when), mprotein(1, "1.2"))
    r = client.post("/v1/hl7v2", data=text.encode(), content_type="x-application/hl7-v2+er7")
    assert r.status_code == 422 and "date is in the future" in r.get_data(as_text=True)
