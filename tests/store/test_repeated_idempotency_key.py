"""An Idempotency-Key header sent more than once is a 422 naming header.Idempotency-Key ("Sent more than
once") on every route that reads it, with the store on or off: the WSGI layer joins repeated headers
into one value with a comma ("A,B" under gunicorn, "A, B" under Werkzeug), which read as one key would
bind neither A nor B."""

from __future__ import annotations

import pytest

from service.api import create_app

from .test_fhir_identity import MRN, bundle
from .test_hl7_identity import message
from .test_interface_idempotency_key import fhir, hl7

SPIKE = {
    "spep": {"m_protein": {"value": 1.2, "unit": "g/dL"}},
    "serum_ife": {"result": "positive", "clones": [{"heavy_chain": "IgG", "light_chain": "kappa"}]},
}
TWICE = [("Idempotency-Key", "key-A"), ("Idempotency-Key", "key-B")]


def repeated(r) -> bool:
    errors = r.json["errors"] if r.status_code == 422 else {}
    return list(errors) == ["header.Idempotency-Key"] and errors["header.Idempotency-Key"][0].startswith(
        "Sent more than once"
    )


def every_route(client, rid: str | None) -> list:
    answers = [
        client.post("/v1/interpretations", json=SPIKE, headers=TWICE),
        hl7(client, message("C1", "20250110", "1.0"), TWICE),
        fhir(client, bundle("2025-01-10", 10.0, [MRN]), TWICE),
    ]
    if rid is not None:
        review = {"decision": "approve", "reviewer": "Dr Rita Ng"}
        answers.append(client.post(f"/v1/interpretations/{rid}/reviews", json=review, headers=TWICE))
    return answers


def test_a_repeated_key_is_refused_on_every_route_with_the_store_on(client, store):
    rid = client.post("/v1/interpretations", json=SPIKE).json["id"]
    before = store.count()
    for r in every_route(client, rid):
        assert repeated(r), (r.status_code, r.get_data(as_text=True)[:300])
    assert store.count() == before
    assert client.get(f"/v1/interpretations/{rid}").json["reviews"] == []
    batch = client.post("/v1/interpretations/batch", json={"items": [SPIKE]}, headers=TWICE)
    assert batch.status_code == 422 and list(batch.json["errors"]) == ["header.Idempotency-Key"]
    # One key is taken; so is the same key again (a retry).
    one = [("Idempotency-Key", "key-A")]
    first = client.post("/v1/interpretations", json=SPIKE, headers=one)
    assert first.status_code == 201
    assert client.post("/v1/interpretations", json=SPIKE, headers=one).json["id"] == first.json["id"]


@pytest.mark.parametrize("joined", ["key-A,key-B", "key-A, key-B", ","])
def test_a_key_as_the_server_joins_repeated_headers_is_refused(client, store, joined):
    """gunicorn joins repeated headers with ',' and Werkzeug with ', ': the application sees one value."""
    r = client.post("/v1/interpretations", json=SPIKE, headers={"Idempotency-Key": joined})
    assert repeated(r) and store.count() == 0


def test_with_the_store_off_a_repeated_key_is_refused_too():
    c = create_app({"TESTING": True, "DEV_MODE": True, "STORE": "off"}).test_client()
    for r in every_route(c, None):
        assert repeated(r), (r.status_code, r.get_data(as_text=True)[:300])


def test_the_documented_key_grammar_has_no_comma(app):
    doc = app.test_client().get("/openapi.json").get_json()
    op = doc["paths"]["/v1/interpretations"]["post"]
    (param,) = [p for p in op["parameters"] if p["name"] == "Idempotency-Key"]
    assert param["schema"]["pattern"] == r"^[ -+\--~]{1,255}$"
