"""Quantities in canonical units (§1): the per-analyte builder the edge uses, and ``quantity`` built on it."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from service.domain.quantity import (
    UNITS,
    Analyte,
    Comparator,
    Interval,
    Quantity,
    Range,
    UnitError,
    accepted_units,
    convert,
    quantity,
    quantity_builder,
    to_decimal,
)

UNIT_CASES = [(a, u) for a in Analyte for u in accepted_units(a)]
numbers = st.one_of(
    st.integers(min_value=0, max_value=10**20),
    st.floats(min_value=0, max_value=1e12, allow_nan=False, allow_infinity=False),
)
comparators = st.sampled_from([None, *(str(c) for c in Comparator)])


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(UNIT_CASES), numbers, comparators, st.none() | st.tuples(numbers, numbers))
def test_the_builder_and_quantity_give_the_exact_canonical_quantity_for_every_unit(case, value, comp, rr):
    analyte, unit = case
    # The reference, from the primitives: exact decimal of the reported number, §1 conversion.
    expected = Quantity(
        convert(to_decimal(value), analyte, unit),
        UNITS[analyte][0],
        None if comp is None else Comparator(comp),
        None
        if rr is None
        else Range(convert(to_decimal(rr[0]), analyte, unit), convert(to_decimal(rr[1]), analyte, unit)),
    )
    for got in (quantity_builder(analyte)(value, unit, comp, rr), quantity(value, unit, analyte, comp, rr)):
        assert got == expected
        assert repr(got) == repr(expected)  # Decimal('3.3') and Decimal('3.30') are == but not the same text


@pytest.mark.parametrize(
    ("analyte", "unit", "value", "canonical"),
    [
        (Analyte.CALCIUM, "mg/dL", 11, Decimal(11) / Decimal("4.0078")),
        (Analyte.SERUM_M_PROTEIN, "g/dL", 3.0, Decimal("30.0")),
        (Analyte.FREE_LIGHT_CHAIN, "mg/dL", 0.33, Decimal("3.30")),
        (Analyte.CREATININE, "mg/dL", 2, Decimal("176.8")),
        (Analyte.HEMOGLOBIN, "g/L", 99.9, Decimal("99.9")),
    ],
)
def test_the_builder_converts_to_the_canonical_unit_exactly(analyte, unit, value, canonical):
    q = quantity_builder(analyte)(value, unit)
    assert q.value == canonical
    assert q.interval == Interval(canonical, canonical)


def test_a_bound_keeps_its_comparator_and_interval():
    q = quantity_builder(Analyte.SERUM_M_PROTEIN)(16, "g/L", "<")
    assert q.comparator is Comparator.LT
    assert q.interval == Interval(Decimal(0), Decimal(16), False, True)


def test_the_builder_refuses_a_unit_the_analyte_does_not_accept():
    with pytest.raises(UnitError):
        quantity_builder(Analyte.CALCIUM)(2.5, "g/L")


def test_the_builder_refuses_a_comparator_that_is_not_one():
    with pytest.raises(ValueError):
        quantity_builder(Analyte.CALCIUM)(2.5, "mmol/L", "~")


def test_quantities_and_panels_survive_copy_deepcopy_and_pickle():
    import copy
    import pickle

    from service.api.schemas import InterpretationRequestSchema
    from tests.conftest import ROOT

    body = __import__("json").loads((ROOT / "examples" / "worked-example-s6.json").read_text())
    panel = InterpretationRequestSchema().load(body)
    for clone in (copy.copy(panel), copy.deepcopy(panel), pickle.loads(pickle.dumps(panel))):
        assert clone == panel
        assert repr(clone) == repr(panel)
    q = quantity(1.5, "g/L", Analyte.SERUM_M_PROTEIN, "<", (1, 2))
    assert pickle.loads(pickle.dumps(q)) == q
    assert copy.deepcopy(q) == q


def test_replacing_a_quantitys_value_derives_its_interval_again():
    q = quantity(1.5, "g/L", Analyte.SERUM_M_PROTEIN, "<")
    r = q._replace(value=Decimal(0), comparator=None)
    assert r.interval == Interval(Decimal(0), Decimal(0))
    with pytest.raises(ValueError):
        q._replace(interval=Interval(Decimal(1), Decimal(1)))
