"""Serial-result rules never fail on extreme values (a huge Decimal once overflowed a rounding).

The panel is built in the domain directly: the request schema refuses values outside the plausibility
windows of clinical-reference §1.1, but the engine must stay total on whatever it is given."""

from __future__ import annotations

from datetime import date

import orjson
from hypothesis import given, settings
from hypothesis import strategies as st

from service.api.serialize import to_dict
from service.domain import interpret
from service.domain.panel import (
    Clone,
    HeavyChain,
    HistoryEntry,
    IfeResult,
    Immunofixation,
    Labs,
    LightChain,
    Panel,
    Spep,
)
from service.domain.quantity import Analyte, quantity

values = st.floats(min_value=0, max_value=1e308, allow_nan=False, allow_infinity=False)


@settings(max_examples=150, deadline=None)
@given(st.lists(values, min_size=3, max_size=3), values, st.lists(values, min_size=3, max_size=3))
def test_any_serial_m_protein_and_haemoglobin_series_is_interpreted_to_strict_json(mps, current, hbs):
    dates = [date(2025, 1, 10), date(2025, 3, 10), date(2025, 5, 10)]
    panel = Panel(
        collected_on=date(2025, 6, 10),
        serum_ife=Immunofixation(IfeResult.POSITIVE, (Clone(HeavyChain.IGG, LightChain.KAPPA),)),
        spep=Spep(quantity(current, "g/L", Analyte.SERUM_M_PROTEIN)),
        history=tuple(
            HistoryEntry(
                d,
                spep=Spep(quantity(m, "g/dL", Analyte.SERUM_M_PROTEIN)),
                labs=Labs(hemoglobin=quantity(h, "g/dL", Analyte.HEMOGLOBIN)),
            )
            for d, m, h in zip(dates, mps, hbs, strict=True)
        ),
    )
    out = to_dict(interpret(panel))
    orjson.loads(orjson.dumps(out))
    for flag in out["flags"]:
        for ev in flag["evidence"]:
            assert ev.get("change_percent") is None or isinstance(ev["change_percent"], float)
