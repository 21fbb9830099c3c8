"""Error paths are unambiguous: an unknown key that would read as another path (a dot, a bracket, digits,
the empty key, "_schema") is quoted (labs["calcium.value"], [""]), so it is never taken for a real
field (labs.calcium.value) or for the body as a whole (_schema)."""

from __future__ import annotations

import copy

import pytest

from service.api.errors import flatten

VALID = {
    "spep": {"m_protein": {"value": 1.2, "unit": "g/dL"}},
    "serum_ife": {"result": "positive", "clones": [{"heavy_chain": "IgG", "light_chain": "kappa"}]},
    "labs": {"calcium": {"value": 2.3, "unit": "mmol/L"}},
}
UNKNOWN = ["Unknown field."]


def body_with(path: tuple[str, ...], key: str) -> dict:
    body = copy.deepcopy(VALID)
    node = body
    for k in path:
        node = node[k]
    node[key] = 1
    return body


@pytest.mark.parametrize(
    ("where", "key", "expected"),
    [
        ((), "labs.calcium.value", '["labs.calcium.value"]'),
        (("labs",), "calcium.value", 'labs["calcium.value"]'),
        ((), "", '[""]'),
        (("labs",), "", 'labs[""]'),
        (("spep", "m_protein"), "", 'spep.m_protein[""]'),
        ((), "_schema", '["_schema"]'),
        (("labs",), "0", 'labs["0"]'),
        ((), 'a"b[c]\\', '["a\\"b[c]\\\\"]'),
        (("labs",), "mrn", "labs.mrn"),  # a plain name stays as it is
    ],
)
def test_an_unknown_key_is_named_by_a_path_no_real_field_has(client, where, key, expected):
    r = client.post("/v1/interpretations", json=body_with(where, key))
    assert r.status_code == 422, r.get_data(as_text=True)
    assert r.json["errors"] == {expected: UNKNOWN}


def test_in_a_batch_the_item_s_error_quotes_the_key_too(client):
    r = client.post(
        "/v1/interpretations/batch", json={"items": [VALID, body_with(("labs",), "calcium.value")]}
    )
    assert r.status_code == 200
    assert r.json["results"][1]["error"]["errors"] == {'labs["calcium.value"]': UNKNOWN}


def test_a_query_parameter_with_a_dot_is_quoted(client):
    r = client.get("/healthz?a.b=1")
    assert r.status_code == 422 and r.json["errors"] == {'query["a.b"]': ["Unknown query parameter."]}


def test_paths_the_checks_build_and_whole_object_problems_are_kept():
    messages = {
        "history.0.collected_on": ["date is in the future"],
        "history": {1: {"labs": {"x": UNKNOWN}}},
        "serum_ife": {"_schema": ["a positive immunofixation needs at least one clone"]},
        "_schema": ["at least one screening result is required"],
    }
    assert flatten(messages) == {
        "history.0.collected_on": ["date is in the future"],
        "history.1.labs.x": UNKNOWN,
        "serum_ife": ["a positive immunofixation needs at least one clone"],
        "_schema": ["at least one screening result is required"],
    }
