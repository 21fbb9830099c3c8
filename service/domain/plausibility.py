"""Plausibility of reported values and of the lab's reference limits (clinical-reference §1.1).

A value outside its plausible window, or a reference limit outside its window, is a data-entry error
(most often a unit mix-up: a g/dL range sent with a g/L value, a mg/dL range with a mmol/L value). It is
refused, naming the field, the window and the unit the figure looks like; it is never interpreted.
These are data-entry checks, not clinical thresholds: the windows are ``ruleset.PLAUSIBILITY``.

"Looks like": the figures as sent are read in each other unit the analyte accepts (§1); every unit in
which all of them are plausible values of the analyte (its value window) is named. A value is read alone;
a reference range as a pair (both limits in one unit). The value window rather than the limit windows:
a lab's limits can sit just outside a limit window in their true unit too (8.6–9.6 mg/dL is 2.15–2.40
mmol/L, an upper limit below the 2.45–2.80 window), and the unit is still the useful hint. When no
accepted unit makes the figures plausible, the message says so.

Paths in ``Implausible.errors`` are relative to the quantity (``value``, ``reference_range.high``); the
edge prefixes the field's own path (``labs.calcium.reference_range.high``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import date, datetime, timedelta
from decimal import Decimal

from .quantity import UNITS, Analyte, Quantity, convert, to_decimal
from .ruleset import PLAUSIBILITY, Window

Number = float | int | Decimal

# A data-entry check, not a clinical number (the clinical reference gives none): a laboratory date before
# 1900 is a typing error (e.g. "1800-01-01"). The request schema and the HL7 reader both hold dates to it.
EARLIEST_DATE = date(1900, 1, 1)

# The easternmost civil time zone is UTC+14: a calendar date has begun somewhere until UTC reaches it
# plus 14 hours, so a laboratory east of the server (UTC+12 to +14) that dates a sample collected minutes
# ago is never told that its date is in the future. A fact of the calendar, not a clinical number.
LATEST_UTC_OFFSET = timedelta(hours=14)


def latest_date(now_utc: datetime) -> date:
    """The latest calendar date that has begun anywhere at the instant ``now_utc`` (aware, UTC): a
    sample dated later than this is dated in the future."""
    return (now_utc + LATEST_UTC_OFFSET).date()


NAMES = {
    Analyte.SERUM_M_PROTEIN: "serum M-protein",
    Analyte.URINE_M_PROTEIN: "urine M-protein",
    Analyte.FREE_LIGHT_CHAIN: "free light chain",
    Analyte.CALCIUM: "calcium",
    Analyte.CREATININE: "creatinine",
    Analyte.HEMOGLOBIN: "haemoglobin",
    Analyte.CREATININE_CLEARANCE: "creatinine clearance",
    Analyte.EGFR: "eGFR",
    Analyte.PERCENT: "marrow percentage",
    Analyte.TSH: "TSH",
}

# ref: §1.1 — overlapping units: haemoglobin in mmol/L (5–12) overlaps g/dL and creatinine in mmol/L
# overlaps mg/dL, so these are accepted only with the lab's reference limits in the same unit.
NEEDS_REFERENCE_LIMITS: frozenset[tuple[Analyte, str]] = frozenset(
    {(Analyte.HEMOGLOBIN, "mmol/L"), (Analyte.CREATININE, "mmol/L")}
)

SECTION = "clinical-reference §1.1"


class Implausible(ValueError):
    """Figures no patient or laboratory can have: {relative path: [message]}, nested like marshmallow's."""

    def __init__(self, errors: dict[str, list[str]]) -> None:
        super().__init__("; ".join(f"{path}: {' '.join(msgs)}" for path, msgs in errors.items()))
        self.errors = errors

    def nested(self) -> dict[str, object]:
        """The errors as nested dicts ({"reference_range": {"high": [...]}}), marshmallow's shape."""
        out: dict[str, object] = {}
        for path, msgs in self.errors.items():
            node = out
            *parents, last = path.split(".")
            for key in parents:
                node = node.setdefault(key, {})  # type: ignore[assignment]
            node[last] = msgs
        return out


def lower_limit_window(analyte: Analyte, sex: str | None) -> Window | None:
    """The lower reference limit's window: haemoglobin's is sex-specific for a female or male patient,
    the wider one otherwise (§1.1)."""
    p = PLAUSIBILITY[analyte.value]
    if sex == "female" and p.lower_limit_female is not None:
        return p.lower_limit_female
    if sex == "male" and p.lower_limit_male is not None:
        return p.lower_limit_male
    return p.lower_limit


def checker(analyte: Analyte) -> Callable[[Quantity, str, Number, Sequence[Number] | None], None]:
    """``check`` for one analyte, its windows looked up once: the edge runs it on every quantity, and a
    plausible one (nearly all) costs a few comparisons. Anything else goes to ``check`` for the messages."""
    p = PLAUSIBILITY[analyte.value]
    v_lo, v_hi = p.value.low, p.value.high
    lower, upper = p.lower_limit, p.upper_limit
    needs_limits = frozenset(unit for a, unit in NEEDS_REFERENCE_LIMITS if a is analyte)

    def fast(q: Quantity, unit: str, value: Number, reference_range: Sequence[Number] | None) -> None:
        if v_lo <= q.value <= v_hi:
            rr = q.reference_range
            if rr is None:
                if unit not in needs_limits:
                    return
            elif (lower is None or lower.low <= rr.low <= lower.high) and (
                upper is None or upper.low <= rr.high <= upper.high
            ):
                return
        check(analyte, q, unit, value, reference_range)

    return fast


def check(
    analyte: Analyte,
    q: Quantity,
    unit: str,
    value: Number,
    reference_range: Sequence[Number] | None,
) -> None:
    """Raise Implausible when the reported quantity (``q`` in canonical units; ``value``, ``unit`` and
    ``reference_range`` as sent) has a figure outside its window, or is in a unit that needs the lab's
    limits and came without them (§1.1). Haemoglobin's lower limit is held to the wider window here;
    ``check_lower_limit_for_sex`` applies the patient's own once the sex is known."""
    p = PLAUSIBILITY[analyte.value]
    rr = q.reference_range
    lower, upper = p.lower_limit, p.upper_limit
    if (
        p.value.holds(q.value)
        and (
            rr is None or ((lower is None or lower.holds(rr.low)) and (upper is None or upper.holds(rr.high)))
        )
        and (rr is not None or (analyte, unit) not in NEEDS_REFERENCE_LIMITS)
    ):
        return
    errors: dict[str, list[str]] = {}
    name = NAMES[analyte]
    if not p.value.holds(q.value):
        sent = to_decimal(value)
        errors["value"] = [
            f"{_sent(sent)} {unit} is outside the plausible {name} window, {_window(analyte, p.value, unit)} "
            f"({SECTION}); {_looks_like(analyte, unit, [sent])}. Not interpreted."
        ]
    if rr is None:
        if (analyte, unit) in NEEDS_REFERENCE_LIMITS:
            errors["reference_range"] = [
                f"{name} in {unit} is accepted only with the laboratory's reference limits in {unit} "
                f"(reference_range with low and high): values in {unit} overlap another unit's, and the "
                f"limits are what shows a mislabelled unit ({SECTION}). Send the limits, or the value in "
                f"{_canonical(analyte)}."
            ]
        return _raise(errors)
    assert reference_range is not None  # rr is built from it
    low, high = to_decimal(reference_range[0]), to_decimal(reference_range[1])
    looks = _looks_like(analyte, unit, [low, high], pair=True)
    for side, canonical, window in (("low", rr.low, lower), ("high", rr.high, upper)):
        if window is None or window.holds(canonical):
            continue
        which = "lower" if side == "low" else "upper"
        errors[f"reference_range.{side}"] = [
            f"{_sent(low if side == 'low' else high)} {unit} is outside the plausible {which} reference "
            f"limit of {name}, {_window(analyte, window, unit)} ({SECTION}); the range "
            f"{_sent(low)}–{_sent(high)} {looks}. Not interpreted."
        ]
    return _raise(errors)


def check_lower_limit_for_sex(analyte: Analyte, q: Quantity, sex: str | None) -> None:
    """Raise Implausible when the lab's lower limit is outside the window for the patient's sex (§1.1:
    haemoglobin, female 100–125 g/L, male 115–140 g/L). Figures are canonical: the limit has passed the
    wider window already (``check``), so no other unit can explain it; the limit or the sex is wrong."""
    window = lower_limit_window(analyte, sex)
    rr = q.reference_range
    if (
        rr is None
        or window is None
        or window is PLAUSIBILITY[analyte.value].lower_limit
        or window.holds(rr.low)
    ):
        return
    canonical = _canonical(analyte)
    raise Implausible(
        {
            "reference_range.low": [
                f"a lower reference limit of {_fmt(rr.low)} {canonical} is outside the plausible lower "
                f"reference limit of {NAMES[analyte]} for a {sex} patient, {window.low}–{window.high} "
                f"{canonical} ({SECTION}): check the limit and patient.sex. Not interpreted."
            ]
        }
    )


def _raise(errors: dict[str, list[str]]) -> None:
    if errors:
        raise Implausible(errors)


def _canonical(analyte: Analyte) -> str:
    return UNITS[analyte][0]


def _other_units(analyte: Analyte, unit: str) -> list[str]:
    """One spelling per conversion the analyte accepts, other than the sent unit's (§1)."""
    factors = UNITS[analyte][1]
    sent = factors.get(unit)
    seen = {sent}
    out = []
    for spelling, factor in factors.items():
        if factor not in seen:
            seen.add(factor)
            out.append(spelling)
    return out


def _looks_like(analyte: Analyte, unit: str, figures: list[Decimal], *, pair: bool = False) -> str:
    """Which other accepted units make every figure a plausible value of the analyte, as a clause."""
    canonical = _canonical(analyte)
    window = PLAUSIBILITY[analyte.value].value
    fits = []
    for other in _other_units(analyte, unit):
        converted = [convert(x, analyte, other) for x in figures]
        if all(window.holds(c) for c in converted):
            shown = "–".join(_fmt(c) for c in converted)
            approx = "" if converted == figures else "≈ "
            fits.append(f"{other} (read as {other}: {approx}{shown} {canonical})")
    subject = "" if pair else "it "
    tried = ", ".join(_other_units(analyte, unit)) or "none"
    if not fits:
        return (
            f"{subject}does not look like any other accepted unit ({tried} would not make it a plausible "
            f"{NAMES[analyte]} value): check the {'limits' if pair else 'value'}"
        )
    advice = "send the value and its range in one unit" if pair else "send it in the unit it was measured in"
    return f"{subject}looks like " + " or ".join(fits) + f": {advice}"


def _window(analyte: Analyte, window: Window, unit: str) -> str:
    canonical = _canonical(analyte)
    text = f"{window.low}–{window.high} {canonical}"  # as the reference writes them
    if unit != canonical and unit in UNITS[analyte][1]:
        mul, div = UNITS[analyte][1][unit]
        if (mul, div) != (Decimal(1), Decimal(1)):
            low, high = window.low * div / mul, window.high * div / mul
            text += f" (≈ {_fmt(low)}–{_fmt(high)} {unit})"
    return text


def _sent(x: Decimal) -> str:
    """A figure the client sent, as sent (a rounded 9.819 would read as inside a window from 9.82); a
    figure of more than 12 significant digits as ``_fmt`` shows it."""
    digits = x.normalize().as_tuple().digits
    return f"{x.normalize():f}" if len(digits) <= 12 and abs(x) < Decimal("1e15") else _fmt(x)


def _fmt(x: Decimal) -> str:
    """A figure for a message: as sent when short, else to three significant digits below 1 and two
    decimals above (messages only; nothing compared is rounded)."""
    if x == x.to_integral_value():
        return f"{x.quantize(Decimal(1)):f}" if abs(x) < Decimal("1e15") else f"{x:g}"
    exponent = x.normalize().as_tuple().exponent
    if isinstance(exponent, int) and exponent >= -2:
        return f"{x.normalize():f}"
    if abs(x) < 1:
        return f"{x:.3g}" if abs(x) >= Decimal("0.001") else f"{x:.2e}"
    return f"{x.quantize(Decimal('0.01')).normalize():f}"
