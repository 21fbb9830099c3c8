"""Three-valued logic: True (met), False (not met), None (not assessable)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from decimal import Decimal
from typing import Any

Tri = bool | None
# A three-valued comparison of an interval with a threshold (quantity.ge, gt, lt, le).
Compare = Callable[[Any, Decimal], Tri]


def any_of(values: Iterable[Tri]) -> Tri:
    """Met if any is met; not met only if all are not met; otherwise not assessable."""
    unknown = False
    for v in values:
        if v is True:
            return True
        if v is None:
            unknown = True
    return None if unknown else False


def all_of(values: Iterable[Tri]) -> Tri:
    """Not met if any is not met; met only if all are met; otherwise not assessable."""
    unknown = False
    for v in values:
        if v is False:
            return False
        if v is None:
            unknown = True
    return None if unknown else True


def negate(v: Tri) -> Tri:
    """Logical not that keeps 'not assessable'."""
    return None if v is None else not v


def either(a: Tri, b: Tri) -> Tri:
    """any_of for two values, without building a sequence (hot path)."""
    if a is True or b is True:
        return True
    return None if a is None or b is None else False


def both(a: Tri, b: Tri) -> Tri:
    """all_of for two values, without building a sequence (hot path)."""
    if a is False or b is False:
        return False
    return None if a is None or b is None else True
