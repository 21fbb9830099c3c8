"""Serial-result rules never fail on extreme values (a huge Decimal once overflowed a rounding)."""

from __future__ import annotations

import orjson
from hypothesis import given, settings
from hypothesis import strategies as st

from service.api.schemas import InterpretationRequestSchema
from service.api.serialize import to_dict
from service.domain import interpret

SCHEMA = InterpretationRequestSchema()
values = st.floats(min_value=0, max_value=1e308, allow_nan=False, allow_infinity=False)


@settings(max_examples=150, deadline=None)
@given(st.lists(values, min_size=3, max_size=3), values, st.lists(values, min_size=3, max_size=3))
def test_any_serial_m_protein_and_haemoglobin_series_is_interpreted_to_strict_json(mps, current, hbs):
    dates = ["2025-01-10", "2025-03-10", "2025-05-10"]
    body = {
        "collected_on": "2025-06-10",
        "serum_ife": {"result": "positive", "clones": [{"heavy_chain": "IgG", "light_chain": "kappa"}]},
        "spep": {"m_protein": {"value": current, "unit": "g/L"}},
        "history": [
            {
                "collected_on": d,
                "spep": {"m_protein": {"value": m, "unit": "g/dL"}},
                "labs": {"hemoglobin": {"value": h, "unit": "g/dL"}},
            }
            for d, m, h in zip(dates, mps, hbs, strict=True)
        ],
    }
    out = to_dict(interpret(SCHEMA.load(body)))
    orjson.loads(orjson.dumps(out))
    for flag in out["flags"]:
        for ev in flag["evidence"]:
            assert ev.get("change_percent") is None or isinstance(ev["change_percent"], float)
