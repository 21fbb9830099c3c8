"""A negative zero sent in a JSON body is stored as 0: the stored request never carries a signed zero."""

from __future__ import annotations

import math


def test_a_negative_zero_is_stored_as_zero(client):
    raw = (
        b'{"spep": {"m_protein": {"value": -0.0, "unit": "g/L"}}, "serum_ife": {"result": "negative"},'
        b' "labs": {"egfr": {"value": -0.0, "unit": "mL/min/1.73m2"}}, "specimen_id": "NZ-1"}'
    )
    r = client.post("/v1/interpretations", data=raw, content_type="application/json")
    assert r.status_code == 201, r.get_data(as_text=True)
    stored = client.get(f"/v1/interpretations/{r.json['id']}").json
    for value in (
        stored["request"]["spep"]["m_protein"]["value"],
        stored["request"]["labs"]["egfr"]["value"],
    ):
        assert value == 0 and math.copysign(1.0, value) == 1.0
    assert "-0" not in stored["interpretation"]["comment"]
