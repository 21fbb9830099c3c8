"""Serial-result rules never fail on extreme values (a huge Decimal once overflowed a rounding).

Values span the whole plausible window of clinical-reference §1.1, from the subnormal floats up to its
upper end; beyond it a request is refused before any rule runs (tests/api/test_plausibility.py)."""

from __future__ import annotations

import orjson
from hypothesis import given, settings
from hypothesis import strategies as st

from service.api.schemas import InterpretationRequestSchema
from service.api.serialize import to_dict
from service.domain import interpret

SCHEMA = InterpretationRequestSchema()


def values(high: float, low: float = 0):
    """Floats over a plausible window (bounds included), tiny ones included when it starts at 0."""
    return st.floats(min_value=low, max_value=high, allow_nan=False, allow_infinity=False)


@settings(max_examples=150, deadline=None)
@given(
    st.lists(values(15), min_size=3, max_size=3),  # serum M-protein 0-150 g/L, sent in g/dL
    values(150),  # g/L
    st.lists(values(25, 2), min_size=3, max_size=3),  # haemoglobin 20-250 g/L, sent in g/dL
)
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
