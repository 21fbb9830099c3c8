"""Request content types: the JSON endpoints take application/json (with or without
charset=utf-8), the FHIR endpoint application/fhir+json or application/json; any other type, another
+json type included, is a 415 in the standard error body."""

from __future__ import annotations

import json

import pytest

PANEL = {
    "spep": {"m_protein": {"value": 1.2, "unit": "g/dL"}},
    "serum_ife": {"result": "positive", "clones": [{"heavy_chain": "IgG", "light_chain": "kappa"}]},
}
OTHER_JSON = [
    "application/vnd.anything+json",
    "application/problem+json",
    "application/json-patch+json",
    "text/json",
    "application/x-json",
    "text/plain",
]
BODIES = {"/v1/interpretations": PANEL, "/v1/interpretations/batch": {"items": [PANEL]}}


@pytest.mark.parametrize("mimetype", [*OTHER_JSON, "application/fhir+json"])
@pytest.mark.parametrize("path", sorted(BODIES))
def test_a_json_endpoint_refuses_another_content_type(client, path, mimetype):
    r = client.post(path, data=json.dumps(BODIES[path]), content_type=mimetype)
    assert r.status_code == 415, r.get_data(as_text=True)
    assert r.get_json()["code"] == 415 and r.get_json()["status"] == "Unsupported Media Type"
    assert "application/json" in r.get_json()["message"]


@pytest.mark.parametrize(
    "mimetype", ["application/json", "application/json; charset=utf-8", "Application/JSON;charset=UTF-8"]
)
@pytest.mark.parametrize("path", sorted(BODIES))
def test_a_json_endpoint_takes_application_json_with_or_without_its_charset(client, path, mimetype):
    assert client.post(path, data=json.dumps(BODIES[path]), content_type=mimetype).status_code == 200


def test_the_fhir_endpoint_takes_fhir_json_and_json_only(client, worked_bundle):
    data = json.dumps(worked_bundle)
    for mimetype in ["application/fhir+json", "application/json", "application/fhir+json; charset=utf-8"]:
        assert client.post("/v1/fhir/interpretations", data=data, content_type=mimetype).status_code == 200
    for mimetype in OTHER_JSON:
        r = client.post("/v1/fhir/interpretations", data=data, content_type=mimetype)
        assert r.status_code == 415, (mimetype, r.get_data(as_text=True))
        assert r.get_json()["code"] == 415


@pytest.fixture
def worked_bundle():
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    return json.loads((root / "adapters" / "samples" / "bundle_worked_example_s6.json").read_text())
