"""Quantities, canonical units (clinical-reference §1) and three-valued comparison of bounded results.

Values are held as ``Decimal`` built from the shortest decimal text of the reported number, so that a
value sitting exactly on a threshold stays exactly on it after a unit conversion (0.33 mg/dL x 10 is
3.3 mg/L, not 3.3000000000000003). Nothing is rounded before comparing (§1).
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from enum import StrEnum
from typing import Any, NamedTuple

INF = Decimal("Infinity")
ZERO = Decimal(0)


class Comparator(StrEnum):
    """How a reported value bounds the true value (FHIR Quantity.comparator)."""

    LT = "<"
    LE = "<="
    GT = ">"
    GE = ">="


class Analyte(StrEnum):
    """Measured quantities the engine knows, each with one canonical unit."""

    SERUM_M_PROTEIN = "serum_m_protein"
    URINE_M_PROTEIN = "urine_m_protein"
    FREE_LIGHT_CHAIN = "free_light_chain"
    CALCIUM = "calcium"
    CREATININE = "creatinine"
    HEMOGLOBIN = "hemoglobin"
    CREATININE_CLEARANCE = "creatinine_clearance"
    EGFR = "egfr"
    PERCENT = "percent"
    TSH = "tsh"


class UnitError(ValueError):
    """A unit that is not accepted for the analyte (never guessed, §1)."""


# ref: §1 — (canonical unit, {accepted spelling: (multiplier, divisor)}).
# Calcium mg/dL -> mmol/L is "× 0.2495 (÷ 4.0078)": we divide by 4.0078 (the molar mass of calcium
# / 10), the exact form of which 0.2495 is the rounding, so nothing is rounded before comparing.
# Creatinine and haemoglobin in mmol/L (§1) are accepted only with the lab's reference limits in the
# same unit (§1.1, overlapping units): plausibility.py refuses them without.
# Spellings: the UCUM forms of §1 plus a few unambiguous aliases an LIS sends (µ as the micro sign,
# the Greek mu or "u"; UCUM's "{1.73_m2}" and "/(24.h)" forms; "/d" for per day = per 24 h).
_ONE = Decimal(1)
UNITS: dict[Analyte, tuple[str, dict[str, tuple[Decimal, Decimal]]]] = {
    Analyte.SERUM_M_PROTEIN: ("g/L", {"g/L": (_ONE, _ONE), "g/dL": (Decimal(10), _ONE)}),
    Analyte.URINE_M_PROTEIN: (
        "mg/24h",
        {
            "mg/24h": (_ONE, _ONE),
            "mg/(24.h)": (_ONE, _ONE),
            "mg/d": (_ONE, _ONE),
            "g/24h": (Decimal(1000), _ONE),
            "g/(24.h)": (Decimal(1000), _ONE),
            "g/d": (Decimal(1000), _ONE),
        },
    ),
    Analyte.FREE_LIGHT_CHAIN: ("mg/L", {"mg/L": (_ONE, _ONE), "mg/dL": (Decimal(10), _ONE)}),
    Analyte.CALCIUM: ("mmol/L", {"mmol/L": (_ONE, _ONE), "mg/dL": (_ONE, Decimal("4.0078"))}),
    Analyte.CREATININE: (
        "umol/L",
        {
            "umol/L": (_ONE, _ONE),
            "µmol/L": (_ONE, _ONE),
            "μmol/L": (_ONE, _ONE),
            "mg/dL": (Decimal("88.4"), _ONE),
            "mmol/L": (Decimal(1000), _ONE),  # ref: §1 — mmol/L × 1000
        },
    ),
    Analyte.HEMOGLOBIN: (
        "g/L",
        {
            "g/L": (_ONE, _ONE),
            "g/dL": (Decimal(10), _ONE),
            "mmol/L": (Decimal("16.11"), _ONE),  # ref: §1 — mmol/L × 16.11 (monomer basis, Dutch convention)
        },
    ),
    Analyte.CREATININE_CLEARANCE: ("mL/min", {"mL/min": (_ONE, _ONE)}),
    Analyte.EGFR: (
        "mL/min/1.73m2",
        {"mL/min/1.73m2": (_ONE, _ONE), "mL/min/{1.73_m2}": (_ONE, _ONE)},
    ),
    Analyte.PERCENT: ("%", {"%": (_ONE, _ONE)}),
    Analyte.TSH: (
        "mIU/L",
        {
            "mIU/L": (_ONE, _ONE),
            "m[IU]/L": (_ONE, _ONE),
            "uIU/mL": (_ONE, _ONE),
            "µIU/mL": (_ONE, _ONE),
            "μIU/mL": (_ONE, _ONE),
            "u[IU]/mL": (_ONE, _ONE),
        },
    ),
}


def accepted_units(analyte: Analyte) -> tuple[str, ...]:
    """The unit spellings accepted for an analyte."""
    return tuple(UNITS[analyte][1])


def to_decimal(number: float | int | Decimal | str) -> Decimal:
    """Exact decimal of a reported number, via its shortest text form (repr of a float)."""
    if isinstance(number, Decimal):
        return number
    if isinstance(number, float):
        return Decimal(repr(number))
    return Decimal(number)


def convert(value: Decimal, analyte: Analyte, unit: str) -> Decimal:
    """Convert a value in ``unit`` to the analyte's canonical unit (§1)."""
    try:
        mul, div = UNITS[analyte][1][unit]
    except KeyError:
        raise UnitError(
            f"unit {unit!r} is not accepted for {analyte.value}; "
            f"use one of {', '.join(accepted_units(analyte))}"
        ) from None
    if div == _ONE:
        return value * mul if mul != _ONE else value
    return value * mul / div


class Interval(NamedTuple):
    """The set of values a result allows: [lo, hi] with open or closed ends.

    Immutable record types of the domain are NamedTuples rather than frozen dataclasses: a frozen
    dataclass sets each field through ``object.__setattr__`` and costs about 4x as much to build, and
    a panel builds a few dozen of them per request."""

    lo: Decimal
    hi: Decimal
    lo_open: bool = False
    hi_open: bool = False

    @property
    def exact(self) -> bool:
        """True when the result is a single value."""
        return self.lo == self.hi and not (self.lo_open or self.hi_open)

    @classmethod
    def point(cls, v: Decimal) -> Interval:
        """A single exact value."""
        return _new(cls, (v, v, False, False))

    def over(self, other: Interval) -> Interval:
        """Quotient of two non-negative intervals, each end divided exactly (x/y, not x * (1/y): a
        reciprocal that does not terminate is rounded, and 300 * (1/3) falls short of 100)."""
        return _new(
            Interval,
            (
                _div(self.lo, other.hi),
                _div(self.hi, other.lo),
                self.lo_open or other.hi_open,
                self.hi_open or other.lo_open,
            ),
        )

    def times(self, other: Interval) -> Interval:
        """Product of two non-negative intervals."""
        return _new(
            Interval,
            (
                _mul(self.lo, other.lo),
                _mul(self.hi, other.hi),
                self.lo_open or other.lo_open,
                self.hi_open or other.hi_open,
            ),
        )


_new = tuple.__new__
_repr = repr  # a module global: found before the builtins in the builders


def _mul(a: Decimal, b: Decimal) -> Decimal:
    # 0 × ∞ only arises for an unbounded partner of a zero; the product is then unbounded.
    if (a == 0 and b == INF) or (b == 0 and a == INF):
        return INF
    return a * b


def _div(a: Decimal, b: Decimal) -> Decimal:
    # x/∞ = 0 (∞/∞ unbounded), x/0 = ∞ (0/0 unbounded too): the ends of a quotient of ranges ≥ 0.
    if b == INF:
        return INF if a == INF else ZERO
    if b == 0 or a == INF:
        return INF
    return a / b


def interval_of(value: Decimal, comparator: Comparator | None) -> Interval:
    """The values a reported result allows; all quantities are ≥ 0 (contract)."""
    if comparator is None:
        return _new(Interval, (value, value, False, False))
    if comparator is Comparator.LT:
        return _new(Interval, (ZERO, value, False, True))
    if comparator is Comparator.LE:
        return _new(Interval, (ZERO, value, False, False))
    if comparator is Comparator.GT:
        return _new(Interval, (value, INF, True, True))
    return _new(Interval, (value, INF, False, True))


# Three-valued comparisons of an interval with a threshold: True when every value in ``iv`` satisfies
# ``x op t``, False when none does, None when only some do (a bound that does not settle it). One
# function per operator: they run a few dozen times per panel.
def ge(iv: Interval, t: Decimal) -> bool | None:
    """x >= t over the interval."""
    if iv.lo >= t:
        return True
    if iv.hi < t or (iv.hi == t and iv.hi_open):
        return False
    return None


def gt(iv: Interval, t: Decimal) -> bool | None:
    """x > t over the interval."""
    if iv.lo > t or (iv.lo == t and iv.lo_open):
        return True
    if iv.hi <= t:
        return False
    return None


def lt(iv: Interval, t: Decimal) -> bool | None:
    """x < t over the interval."""
    if iv.hi < t or (iv.hi == t and iv.hi_open):
        return True
    if iv.lo >= t:
        return False
    return None


def le(iv: Interval, t: Decimal) -> bool | None:
    """x <= t over the interval."""
    if iv.hi <= t:
        return True
    if iv.lo > t or (iv.lo == t and iv.lo_open):
        return False
    return None


class Range(NamedTuple):
    """A laboratory reference range in canonical units."""

    low: Decimal
    high: Decimal


class _QuantityRecord(NamedTuple):
    value: Decimal
    unit: str
    comparator: Comparator | None
    reference_range: Range | None
    interval: Interval


class Quantity(_QuantityRecord):
    """A measured value in canonical units, with its bound and the lab's reference range.

    ``interval`` (the values the result allows) is derived from value and comparator once, at
    construction, because every criterion reads it."""

    __slots__ = ()

    def __new__(
        cls,
        value: Decimal,
        unit: str,
        comparator: Comparator | None = None,
        reference_range: Range | None = None,
    ) -> Quantity:
        return _new(cls, (value, unit, comparator, reference_range, interval_of(value, comparator)))

    def __getnewargs__(self) -> tuple[Decimal, str, Comparator | None, Range | None]:
        # copy, deepcopy and pickle rebuild through __new__: pass the four inputs, not the derived
        # interval.
        return (self.value, self.unit, self.comparator, self.reference_range)

    def _replace(self, **changes: object) -> Quantity:
        """A copy with fields changed; ``interval`` is derived again, never set."""
        if "interval" in changes:
            raise ValueError("interval is derived from value and comparator")
        inputs: dict[str, Any] = {
            "value": self.value,
            "unit": self.unit,
            "comparator": self.comparator,
            "reference_range": self.reference_range,
        }
        if unknown := changes.keys() - inputs.keys():
            raise ValueError(f"Got unexpected field names: {sorted(unknown)!r}")
        return Quantity(**{**inputs, **changes})

    @property
    def exact(self) -> bool:
        """True when reported as a value rather than a bound."""
        return self.comparator is None


_COMPARATOR_OF = {str(c): c for c in Comparator}


def _comparator(text: Comparator | str) -> Comparator:
    comp = _COMPARATOR_OF.get(text)
    return comp if comp is not None else Comparator(text)  # raises ValueError for anything else


def quantity_builder(analyte: Analyte) -> Callable[..., Quantity]:
    """``quantity`` for one analyte, its unit table looked up once (the edge builds a dozen per request).

    The returned function takes (value, unit, comparator=None, reference_range=None)."""
    canonical_unit, factors = UNITS[analyte]
    # Spellings of the canonical unit itself: nothing to convert.
    identity = frozenset(u for u, (mul, div) in factors.items() if mul == _ONE and div == _ONE)

    def build(
        value: float | int | Decimal | str,
        unit: str,
        comparator: Comparator | str | None = None,
        reference_range: tuple[float | Decimal, float | Decimal] | None = None,
    ) -> Quantity:
        # A dozen per request: the usual JSON float is converted inline (to_decimal's first case).
        raw = Decimal(_repr(value)) if value.__class__ is float else to_decimal(value)
        rr = None
        if unit in identity:
            canonical = raw
            if reference_range is not None:
                rr = _new(Range, (to_decimal(reference_range[0]), to_decimal(reference_range[1])))
        else:
            canonical = convert(raw, analyte, unit)  # raises UnitError for a unit not accepted
            if reference_range is not None:
                low, high = reference_range
                rr = _new(
                    Range, (convert(to_decimal(low), analyte, unit), convert(to_decimal(high), analyte, unit))
                )
        comp = None if comparator is None else _comparator(comparator)
        return _new(Quantity, (canonical, canonical_unit, comp, rr, interval_of(canonical, comp)))

    return build


_BUILDERS = {analyte: quantity_builder(analyte) for analyte in Analyte}


def quantity(
    value: float | int | Decimal | str,
    unit: str,
    analyte: Analyte,
    comparator: Comparator | str | None = None,
    reference_range: tuple[float | Decimal, float | Decimal] | None = None,
) -> Quantity:
    """Build a canonical-unit quantity from a reported value, unit, bound and reference range."""
    return _BUILDERS[analyte](value, unit, comparator, reference_range)


def band_below_limit(q: Quantity) -> bool:
    """An M-protein sent as an upper bound above 0 ("< 16 g/L"): a band seen but not quantified, the
    clinical reference's own encoding of an unquantified peak (§6), not a reported absence."""
    return q.comparator in (Comparator.LT, Comparator.LE) and q.value > 0
