"""POST /v1/interpretations/batch: each item answered on its own, in order, as the single endpoint would."""

from __future__ import annotations

import json

import pytest

from service.api.views import BATCH_CHUNK
from tests.conftest import ROOT

EXAMPLES = sorted(p for p in (ROOT / "examples").glob("*.json") if p.stem != "batch")
BAD = ({"spep": {"m_protein": {"value": -1, "unit": "g/L"}}}, None, "x", {"labs": {"calcium": 2.5}})


def single(client, item):
    r = client.post("/v1/interpretations", data=json.dumps(item), content_type="application/json")
    body = r.get_json()
    return r.status_code, body


@pytest.mark.parametrize("bad_at", ((), (0,), (BATCH_CHUNK - 1, BATCH_CHUNK), (0, 5, 2 * BATCH_CHUNK + 3)))
def test_each_item_gets_the_single_endpoints_answer_in_order_whatever_fails_around_it(client, bad_at):
    n = 3 * BATCH_CHUNK + 1  # crosses chunk boundaries, with a short last chunk
    items = [json.loads(EXAMPLES[i % len(EXAMPLES)].read_text()) for i in range(n)]
    for k, i in enumerate(bad_at):
        items[i] = BAD[k % len(BAD)]
    answer = client.post("/v1/interpretations/batch", json={"items": items}).get_json()
    assert [r["index"] for r in answer["results"]] == list(range(n))
    assert answer["count"] == n and answer["failed"] == len(bad_at) and answer["succeeded"] == n - len(bad_at)
    for i, result in enumerate(answer["results"]):
        status, body = single(client, items[i])
        assert result["status"] == status
        assert result["interpretation" if status == 200 else "error"] == body
