"""Estimated GFR by the race-free CKD-EPI 2021 equation (clinical-reference §2.1 R).

Used only when neither a creatinine clearance nor an eGFR is sent but creatinine, age (≥ 18 years) and
sex (female or male) are. The estimate is computed in floating point from the exact canonical
creatinine and is never rounded before it is compared (§1); ``display`` is the one-decimal figure a
report shows.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from decimal import Decimal
from typing import NamedTuple

from . import ruleset as R
from .panel import Panel
from .quantity import Comparator, Quantity
from .words import places_clear_of

EGFR_UNIT = "mL/min/1.73m2"
INPUTS = ("labs.creatinine", "patient.age_years", "patient.sex")
# A creatinine bound gives the opposite eGFR bound: the equation falls as creatinine rises.
_FLIPPED = {
    Comparator.GT: Comparator.LT,
    Comparator.GE: Comparator.LE,
    Comparator.LT: Comparator.GT,
    Comparator.LE: Comparator.GE,
}


class EstimatedGfr(NamedTuple):
    """The estimate as a quantity (for the rules) and as the figure the answer reports."""

    quantity: Quantity
    display: Decimal
    sex: str
    age_years: Decimal


def ckd_epi_2021(creatinine_umol_l: Decimal, age_years: Decimal, sex: str) -> Decimal:
    """eGFR (mL/min/1.73m2) from creatinine in µmol/L; sex 'female' or 'male'."""
    # ref: §2.1 R — Scr in mg/dL (µmol/L ÷ 88.4, §1); κ and α by sex; 1.012 for women.
    scr = float(creatinine_umol_l / R.CREATININE_UMOL_PER_MG_DL) / float(R.CKD_EPI_KAPPA[sex])
    if scr <= 0:
        return Decimal("Infinity")
    value = (
        float(R.CKD_EPI_CONSTANT)
        * min(scr, 1.0) ** float(R.CKD_EPI_ALPHA[sex])
        * max(scr, 1.0) ** float(R.CKD_EPI_HIGH_EXPONENT)
        * float(R.CKD_EPI_AGE_BASE) ** float(age_years)
    )
    if sex == "female":
        value *= float(R.CKD_EPI_FEMALE_FACTOR)
    return Decimal(repr(value)) if math.isfinite(value) else Decimal("Infinity")


def estimate(panel: Panel) -> EstimatedGfr | None:
    """The CKD-EPI 2021 estimate when §2.1 calls for it, else None."""
    labs, patient = panel.labs, panel.patient
    if labs is None or patient is None or labs.creatinine is None:
        return None
    if labs.creatinine_clearance is not None or labs.egfr is not None:
        return None  # a sent clearance or eGFR is used as it is
    age, sex = patient.age_years, patient.sex
    if age is None or age < R.CKD_EPI_MIN_AGE_YEARS or sex not in R.CKD_EPI_KAPPA:
        return None
    cr = labs.creatinine
    value = ckd_epi_2021(cr.value, age, sex)
    if not value.is_finite():
        return None  # a creatinine of 0 (or "< 0"-like bound) gives no estimate
    comp = None if cr.comparator is None else _FLIPPED[cr.comparator]
    # ref: §2.1 R (clearance < 40) and §4 (renal interval below 60): the shown figure never lands on
    # a cut-off the estimate is on the other side of.
    shown = places_clear_of(value, 1, (R.CREATININE_CLEARANCE_ML_MIN, R.FLC_RENAL_CUTOFF))
    return EstimatedGfr(Quantity(value, EGFR_UNIT, comp), shown, sex, age)


def lowest_plausible(creatinine: Quantity, age_years: Decimal | None, sex: str | None) -> Decimal | None:
    """The lowest CKD-EPI 2021 estimate any adult could have with this creatinine, when the estimate
    itself cannot be made (§2.1 R): the given age when it is >= 18, else (age not given) every age from
    18 to the oldest the request accepts; the given sex when female or male, else either. None when the
    creatinine has no upper bound (e.g. "> 150 umol/L"), and for a patient under 18: the equation is an
    adults' one (§2.1 R: age >= 18), and says nothing of a child's clearance. The equation falls as
    creatinine and age rise."""
    hi = creatinine.interval.hi
    if not hi.is_finite():
        return None
    return _over_unknowns(hi, age_years, R.ADULT_AGE_MAX_YEARS, sex, min)


def highest_plausible(creatinine: Quantity, age_years: Decimal | None, sex: str | None) -> Decimal | None:
    """The highest CKD-EPI 2021 estimate any adult could have with this creatinine, when the estimate
    itself cannot be made (the counterpart of ``lowest_plausible``): the given age when it is >= 18, else
    18; the given sex when female or male, else either. None when the creatinine has no positive lower
    bound (e.g. "< 90 umol/L"), and for a patient under 18 (§2.1 R: age >= 18)."""
    lo = creatinine.interval.lo
    if lo <= 0:
        return None
    return _over_unknowns(lo, age_years, R.CKD_EPI_MIN_AGE_YEARS, sex, max)


def _over_unknowns(
    creatinine_umol_l: Decimal,
    age_years: Decimal | None,
    extreme_age: Decimal,
    sex: str | None,
    pick: Callable[[Iterable[Decimal]], Decimal],
) -> Decimal | None:
    """The equation at the given age (else ``extreme_age``, the age at which it is lowest or highest)
    for the given sex (else ``pick`` of both); None for a patient under 18."""
    if age_years is not None and age_years < R.CKD_EPI_MIN_AGE_YEARS:  # ref: §2.1 R — age >= 18
        return None
    age = age_years if age_years is not None else extreme_age
    sexes = (sex,) if sex in R.CKD_EPI_KAPPA else tuple(R.CKD_EPI_KAPPA)
    return pick(ckd_epi_2021(creatinine_umol_l, age, s) for s in sexes)
