"""Three-valued logic: the two-value helpers agree with the general ones; comparisons of bounds."""

from __future__ import annotations

from decimal import Decimal
from itertools import product

import pytest

from service.domain.quantity import INF, ZERO, Interval, ge, gt, le, lt
from service.domain.tri import all_of, any_of, both, either

TRI = (True, False, None)


@pytest.mark.parametrize(("a", "b"), list(product(TRI, TRI)))
def test_either_and_both_agree_with_any_of_and_all_of(a, b):
    assert either(a, b) is any_of((a, b))
    assert both(a, b) is all_of((a, b))


T = Decimal(30)


@pytest.mark.parametrize(
    ("iv", "op", "expected"),
    [
        (Interval(Decimal("29.9"), Decimal("29.9")), ge, False),  # just below
        (Interval(T, T), ge, True),  # at
        (Interval(Decimal("30.1"), Decimal("30.1")), ge, True),  # just above
        (Interval(T, T), gt, False),
        (Interval(T, T), lt, False),
        (Interval(T, T), le, True),
        (Interval(ZERO, T, False, True), lt, True),  # "< 30" is certainly below 30
        (Interval(ZERO, T, False, True), ge, False),
        (Interval(ZERO, T), le, True),  # "<= 30"
        (Interval(ZERO, T), lt, None),  # "<= 30" may be 30
        (Interval(T, INF, True, True), gt, True),  # "> 30"
        (Interval(T, INF, False, True), gt, None),  # ">= 30" may be 30
        (Interval(T, INF, False, True), ge, True),
        (Interval(ZERO, Decimal(40), False, True), ge, None),  # "< 40" against 30: undecided
    ],
)
def test_a_bounded_result_settles_a_threshold_only_when_every_value_it_allows_does(iv, op, expected):
    assert op(iv, T) is expected
