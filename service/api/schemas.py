"""Marshmallow schemas at the edge: the request schema builds the domain Panel; response schemas
document the answer (the view serialises it directly, see serialize.py).

Type discipline is strict on purpose: an LIS sending a string where a number belongs, or "yes" for a
boolean, gets a 422 naming the field rather than a silent coercion.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable
from datetime import UTC, date, datetime
from enum import StrEnum
from typing import Any

from marshmallow import EXCLUDE, RAISE, Schema, ValidationError, fields, post_load, validate, validates_schema

from service.adapters.codes import REFERENCE_RANGE_NOT_READ as UNUSED_RANGE_PATHS
from service.api.compiled import CompiledLoadMixin, Converter
from service.api.parsing import UnreadableNumber
from service.api.query_rules import UNKNOWN as UNKNOWN_QUERY_PARAMETER
from service.domain import panel as P
from service.domain import plausibility
from service.domain.quantity import (
    Analyte,
    Comparator,
    accepted_units,
    quantity,
    quantity_builder,
    to_decimal,
)
from service.domain.ruleset import FlcAssay

MAX_CLONES = 2
MAX_HISTORY = 50
MAX_LESIONS = 1000
MAX_REF = 64  # patient_ref and specimen_id (contract 1.1)


def printable(blank: str) -> Callable[[str], None]:
    """A validator: printable characters only (no control characters, no line breaks), and not only
    spaces; ``blank`` is the message for a value of spaces only, which names what the field wants."""

    blank_check = not_blank(blank)

    def check(value: str) -> None:
        if not value.isprintable():
            raise ValidationError("Must contain printable characters only (no control characters).")
        blank_check(value)

    return check


def not_blank(blank: str) -> Callable[[str], None]:
    """A validator: not only whitespace (``blank`` is the message, naming what the field wants)."""

    def check(value: str) -> None:
        if not value.strip():
            raise ValidationError(blank)

    return check


def text_control_problem(value: str) -> str | None:
    """What is wrong with a free text (a comment, a reason) that carries a control character other than
    a line break or a tab (a NUL, say, which no database text column holds), else None."""
    bad = sorted({f"U+{ord(ch):04X}" for ch in value if ch < " " and ch not in "\n\r\t" or ch == "\x7f"})
    if not bad:
        return None
    return (
        f"Must not contain control characters other than line breaks and tabs (found {', '.join(bad[:3])})."
    )


def plain_text(value: str) -> None:
    """A validator for free text: line breaks and tabs allowed, no other control character."""
    problem = text_control_problem(value)
    if problem:
        raise ValidationError(problem)


# patient_ref: a blank reference would make every such request one patient.
_printable = printable("Must not be blank: send the patient's identifier, or leave patient_ref out.")


class FiniteFloat(fields.Float):
    """A JSON number only (no strings, no booleans), finite; -0.0 is loaded as 0.0."""

    default_error_messages = {
        "invalid": "Not a valid number: send a finite JSON number.",
    }

    def _validated(self, value: Any) -> float:
        if isinstance(value, bool | str) or not isinstance(value, int | float):
            raise self.make_error("invalid")
        if type(value) is UnreadableNumber:
            raise ValidationError(value.problem)
        try:
            return super()._validated(value) + 0.0  # -0.0 + 0.0 is 0.0; any other value is unchanged
        except OverflowError:  # an integer literal beyond float range
            raise self.make_error("invalid") from None

    def compiled_converter(self) -> Converter | None:
        """The fast form of ``_deserialize`` for the compiled request loader (compiled.py)."""
        if self.allow_nan:
            return None
        deserialize = self._deserialize

        def convert(value: Any, attr: str | None, data: Any) -> float:
            # What _validated returns for a JSON number it accepts, without the checks' cost:
            # float(value) for an exact float that is finite or an exact int within float range.
            # Anything else (bool, str, NaN, inf, a huge int, subclasses) goes through the field.
            t = type(value)
            if t is float and value - value == 0.0:  # inf - inf and nan - nan are nan
                return value + 0.0  # no negative zero
            if t is int and -_FLOAT_MAX <= value <= _FLOAT_MAX:
                return float(value)
            return deserialize(value, attr, data)

        return convert


# The largest int that float() converts without OverflowError is a little above this; below it the
# fast form converts, above it the field decides (so the boundary costs time, never correctness).
_FLOAT_MAX = int(sys.float_info.max)


def _num(**kw: Any) -> FiniteFloat:
    return FiniteFloat(allow_nan=False, validate=validate.Range(min=0), **kw)


EARLIEST_DATE = plausibility.EARLIEST_DATE


class IsoDate(fields.Date):
    """A calendar date written YYYY-MM-DD, and only so.

    marshmallow's Date uses date.fromisoformat, which since Python 3.11 also reads "20240101" and
    week dates ("2024-W01-1"): an interface sending those almost certainly has another format wrong
    too, and the contract says YYYY-MM-DD."""

    default_error_messages = {
        "invalid": "Not a valid date: use YYYY-MM-DD.",
        "implausible": f"date before {EARLIEST_DATE.isoformat()}: not plausible (data-entry check)",
    }

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Any:
        if not isinstance(value, str) or _ISO_DATE.fullmatch(value) is None:
            raise self.make_error("invalid")
        out = super()._deserialize(value, attr, data, **kwargs)
        if out < EARLIEST_DATE:
            raise self.make_error("implausible")
        return out


def _years_before(d: date, years: int) -> date | None:
    """The same calendar day ``years`` earlier (28 February for 29 February), None before year 1."""
    if d.year - years < 1:
        return None
    return d.replace(year=d.year - years, day=28 if (d.month, d.day) == (2, 29) else d.day)


_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}", re.ASCII)


class StrictBoolean(fields.Boolean):
    """JSON true/false only: 1, 0, "yes" are rejected (1 == True in Python, so truthy sets are not
    enough)."""

    default_error_messages = {"invalid": "Not a valid boolean: send true or false."}

    def _deserialize(self, value: Any, attr: Any, data: Any, **kwargs: Any) -> bool:
        if not isinstance(value, bool):
            raise self.make_error("invalid")
        return value


def _bool(description: str) -> fields.Boolean:
    return StrictBoolean(allow_none=True, metadata={"description": description})


def _pct(description: str) -> FiniteFloat:
    return FiniteFloat(
        allow_nan=False,
        allow_none=True,
        validate=validate.Range(min=0, max=100),
        metadata={"description": description},
    )


class StrictSchema(Schema):
    """Unknown fields are rejected with 422 naming them."""

    class Meta:
        unknown = RAISE


class RangeSchema(StrictSchema):
    """A reference range (low <= high)."""

    low = _num(required=True)
    high = _num(required=True)

    @validates_schema
    def _ordered(self, data: dict, **_: Any) -> None:
        if data["low"] > data["high"]:
            raise ValidationError("low must not exceed high", "low")


_MISSING_MSG = "Missing data for required field."
_UNKNOWN_MSG = "Unknown field."
_NUMBER_MSG = "Not a valid number: send a finite JSON number."
_QUANTITY_KEYS = frozenset({"value", "unit", "comparator", "reference_range"})
_COMPARATORS = frozenset(c.value for c in Comparator)


def _number_error(v: Any) -> str | None:
    """Why ``v`` is not a finite JSON number >= 0, or None."""
    if isinstance(v, bool) or not isinstance(v, int | float):
        return _NUMBER_MSG
    if type(v) is UnreadableNumber:
        return v.problem
    try:
        f = float(v)
    except OverflowError:
        return "Number too large."
    if f != f or f in (float("inf"), float("-inf")):
        return _NUMBER_MSG
    if f < 0:
        return "Must be greater than or equal to 0."
    return None


_RANGE_KEYS = frozenset({"low", "high"})
# Integers at or beyond this go through the checking path (float() of a huge int overflows there).
_BIG_INT = 10**300


def _plain_number(v: Any) -> bool:
    """A finite JSON number >= 0 of exact type int or float (what _number_error accepts, bar huge ints)."""
    t = type(v)
    if t is float:
        return 0 <= v < _INF  # False for NaN
    return t is int and 0 <= v < _BIG_INT


_INF = float("inf")


def _unsigned(v: Any) -> Any:
    """A float without the sign of a negative zero (-0.0 -> 0.0; any other value unchanged): a signed
    zero means nothing in a quantity and would be shown as "-0"."""
    return v + 0.0 if type(v) is float else v


class QuantityField(fields.Field):
    """A quantity object validated in one pass (value, unit, comparator, reference_range).

    One field instead of two nested schemas: a panel carries up to a dozen quantities, and nested
    schema loads were most of the validation time. Errors keep marshmallow's shape, so each is
    reported under its dotted path (``labs.calcium.reference_range.low``).

    ``reference_range=False``: no rule reads this quantity's reference range, so one sent with it is
    refused (422 naming it) rather than taken and ignored."""

    def __init__(self, analyte: Analyte, *, reference_range: bool = True, **kwargs: Any) -> None:
        self.analyte = analyte
        self.takes_range = reference_range
        self._build = quantity_builder(analyte)
        self._check = plausibility.checker(analyte)
        self.units = accepted_units(analyte)
        self._unit_set = frozenset(self.units)
        units_msg = f"Must be one of: {', '.join(self.units)}."
        self._unit_msg = units_msg
        number = {"type": "number", "minimum": 0}
        rr = {
            "type": ["object", "null"],
            "additionalProperties": False,
            "required": ["low", "high"],
            "properties": {"low": number, "high": number},
            "description": "The laboratory's reference range, in the same unit as value.",
        }
        properties: dict[str, Any] = {
            "value": {**number, "description": "Finite, >= 0."},
            "unit": {"type": "string", "enum": list(self.units)},
            "comparator": {
                "type": ["string", "null"],
                "enum": [*(c.value for c in Comparator), None],
                "description": "The result is a bound: '<', '<=', '>' or '>=' value.",
            },
        }
        description = f"Quantity of {analyte.value}; units: {', '.join(self.units)}."
        if reference_range:
            properties["reference_range"] = rr
        else:
            description += f" No reference_range: {RANGE_NOT_READ}"
        self._range_msg = f"Not used for this quantity: {RANGE_NOT_READ}"
        kwargs.setdefault("metadata", {})
        kwargs["metadata"] = {
            "type": "object",
            "additionalProperties": False,
            "required": ["value", "unit"],
            "properties": properties,
            "description": description,
            **kwargs["metadata"],
        }
        super().__init__(**kwargs)

    def _plausible(self, q: Any, unit: str, value: Any, rr: Any) -> Any:
        """The quantity, or a ValidationError naming each implausible figure (clinical-reference §1.1)."""
        try:
            self._check(q, unit, value, rr)
        except plausibility.Implausible as e:
            raise ValidationError(e.nested()) from None
        return q

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Any:
        # The usual case first: a plain, valid quantity object is built with no error bookkeeping.
        # Anything else (subclasses of JSON types included) takes the checking path below, which
        # accepts exactly the same valid objects and names every problem in the rest.
        v: Any
        unit: Any
        if type(value) is dict and value.keys() <= _QUANTITY_KEYS:
            v = _unsigned(value.get("value"))
            unit = value.get("unit")
            comp = value.get("comparator")
            rr = value.get("reference_range")
            if (
                _plain_number(v)
                and type(unit) is str
                and unit in self._unit_set
                and (
                    comp is None
                    or (type(comp) is str and comp in _COMPARATORS and not (comp == "<" and v == 0))
                )
            ):
                if rr is None:
                    return self._plausible(self._build(v, unit, comp), unit, v, None)
                if self.takes_range and type(rr) is dict and rr.keys() == _RANGE_KEYS:
                    low, high = _unsigned(rr["low"]), _unsigned(rr["high"])
                    if _plain_number(low) and _plain_number(high) and not low > high:
                        return self._plausible(self._build(v, unit, comp, (low, high)), unit, v, (low, high))
        if not isinstance(value, dict):
            raise ValidationError("Not a valid quantity: send an object {value, unit}.")
        errors: dict[str, list[str] | dict] = {}
        for k in value.keys() - _QUANTITY_KEYS:
            errors[k] = [_UNKNOWN_MSG]
        v = _unsigned(value.get("value"))
        if "value" not in value:
            errors["value"] = [_MISSING_MSG]
        elif (msg := _number_error(v)) is not None:
            errors["value"] = [msg]
        unit = value.get("unit")
        if "unit" not in value:
            errors["unit"] = [_MISSING_MSG]
        elif not isinstance(unit, str) or unit not in self._unit_set:
            errors["unit"] = [self._unit_msg]
        comp = value.get("comparator")
        if comp is not None and (not isinstance(comp, str) or comp not in _COMPARATORS):
            errors["comparator"] = [f"Must be one of: {', '.join(sorted(_COMPARATORS))}."]
        elif comp == "<" and "value" not in errors and v == 0:
            errors["comparator"] = ["'< 0' allows no value: quantities are >= 0."]
        rr = value.get("reference_range")
        rr_pair = None
        if rr is not None and not self.takes_range:
            errors["reference_range"] = [self._range_msg]
        elif rr is not None:
            rr_errors = _range_errors(rr)
            if rr_errors:
                errors["reference_range"] = rr_errors
            else:
                rr_pair = (_unsigned(rr["low"]), _unsigned(rr["high"]))
        if errors:
            raise ValidationError(errors)
        return self._plausible(quantity(v, unit, self.analyte, comp, rr_pair), unit, v, rr_pair)


# Why a quantity takes no reference_range (QuantityField(reference_range=False)).
RANGE_NOT_READ = (
    "no rule reads a reference range of this result (only those of calcium, creatinine, haemoglobin, "
    "TSH and the free light chains are read); send the value without one."
)


def without_unused_ranges(request: dict[str, Any]) -> dict[str, Any]:
    """A stored request without the reference ranges its quantities take no more (a range sent with an
    M-protein, a clearance or an eGFR was accepted and never read before it was refused): the results
    stand as history and for re-interpretation, as they were read then. Other content is unchanged."""

    def entry(e: Any) -> Any:
        if not isinstance(e, dict):
            return e
        out = e
        for path in UNUSED_RANGE_PATHS:
            section, name = path.split(".")
            part = out.get(section)
            q = part.get(name) if isinstance(part, dict) else None
            if isinstance(q, dict) and "reference_range" in q:
                bare = {k: v for k, v in q.items() if k != "reference_range"}
                out = {**out, section: {**part, name: bare}}  # type: ignore[dict-item]
        return out

    out = entry(request)
    history = out.get("history")
    if isinstance(history, list):
        cleaned = [entry(h) for h in history]
        if any(a is not b for a, b in zip(cleaned, history, strict=True)):
            out = {**out, "history": cleaned}
    return out


def _range_errors(rr: Any) -> dict[str, list[str]] | list[str]:
    if not isinstance(rr, dict):
        return ["Not a valid reference range: send an object {low, high}."]
    errors: dict[str, list[str]] = {}
    for k in rr.keys() - {"low", "high"}:
        errors[k] = [_UNKNOWN_MSG]
    for k in ("low", "high"):
        if k not in rr:
            errors[k] = [_MISSING_MSG]
        elif (msg := _number_error(rr[k])) is not None:
            errors[k] = [msg]
    if not errors and rr["low"] > rr["high"]:
        errors["low"] = ["low must not exceed high"]
    return errors


def _members(enum: type[StrEnum]) -> dict[str, Any]:
    """Value -> member, for post_load hooks: ``Enum(value)`` costs about 1 us per call on Python 3.11,
    and the values are already checked by the fields' OneOf."""
    return {m.value: m for m in enum}


_HEAVY, _LIGHT, _IFE = _members(P.HeavyChain), _members(P.LightChain), _members(P.IfeResult)
_ASSAY, _SCLERO = _members(FlcAssay), _members(P.Scleromyxedema)


def _q(analyte: Analyte, *, reference_range: bool = True) -> QuantityField:
    return QuantityField(analyte, reference_range=reference_range, allow_none=True)


class PatientSchema(StrictSchema):
    """Demographics only; identifiers are not accepted."""

    age_years = FiniteFloat(allow_nan=False, allow_none=True, validate=validate.Range(min=0, max=150))
    sex = fields.String(allow_none=True, validate=validate.OneOf(["female", "male", "other", "unknown"]))

    @post_load
    def _make(self, d: dict, **_: Any) -> P.Patient:
        age = d.get("age_years")
        return P.Patient(None if age is None else to_decimal(age), d.get("sex"))


class SpepSchema(StrictSchema):
    """Serum protein electrophoresis; m_protein 0 = no M-spike."""

    m_protein = _q(Analyte.SERUM_M_PROTEIN, reference_range=False)

    @post_load
    def _make(self, d: dict, **_: Any) -> P.Spep:
        return P.Spep(d.get("m_protein"))


class CloneSchema(StrictSchema):
    """One monoclonal band; heavy_chain null = free light chain only."""

    heavy_chain = fields.String(
        required=True, allow_none=True, validate=validate.OneOf([h.value for h in P.HeavyChain])
    )
    light_chain = fields.String(required=True, validate=validate.OneOf([c.value for c in P.LightChain]))

    @post_load
    def _make(self, d: dict, **_: Any) -> P.Clone:
        h = d["heavy_chain"]
        return P.Clone(None if h is None else _HEAVY[h], _LIGHT[d["light_chain"]])


class BoundedList(fields.List):
    """A List whose length is checked before its items are loaded: an over-long list (80,000 clones,
    2,000 history entries) is one error at once, not an error built for every item first (which ran
    a batch past the worker timeout and answered a 240 KB body with a 12 MB 422). The message is
    ``validate.Length``'s, which stays attached for the OpenAPI document (maxItems)."""

    compiled_as_list = True  # compiled.py: loaded like fields.List after the same length check

    def __init__(
        self, cls_or_instance: Any, *, max_length: int, min_length: int | None = None, **kwargs: Any
    ) -> None:
        super().__init__(cls_or_instance, validate=validate.Length(min=min_length, max=max_length), **kwargs)
        self.max_length = max_length

    def _deserialize(self, value: Any, attr: Any, data: Any, **kwargs: Any) -> Any:
        if isinstance(value, list | tuple) and len(value) > self.max_length:
            # Length's own message, with both bounds when it has a minimum too.
            length = self.validators[-1]
            raise ValidationError(
                length._format_error(value, length.message_max if length.min is None else length.message_all)  # type: ignore[attr-defined]
            )
        return super()._deserialize(value, attr, data, **kwargs)


class IfeSchema(StrictSchema):
    """Immunofixation: positive with 1-2 clones, or negative with none."""

    result = fields.String(required=True, validate=validate.OneOf([r.value for r in P.IfeResult]))
    clones = BoundedList(
        fields.Nested(CloneSchema),
        max_length=MAX_CLONES,
        load_default=list,
        metadata={"uniqueItems": True},
    )

    @validates_schema
    def _consistent(self, d: dict, **_: Any) -> None:
        clones = d.get("clones") or []
        if d.get("result") == "positive" and not clones:
            raise ValidationError("a positive immunofixation needs at least one clone", "clones")
        if d.get("result") == "negative" and clones:
            raise ValidationError("a negative immunofixation cannot list clones", "clones")
        if len(set(clones)) != len(clones):
            raise ValidationError("the same clone is listed twice", "clones")

    @post_load
    def _make(self, d: dict, **_: Any) -> P.Immunofixation:
        return P.Immunofixation(_IFE[d["result"]], tuple(d.get("clones") or ()))


class UrineSchema(StrictSchema):
    """24-hour urine M-protein and immunofixation."""

    m_protein_24h = _q(Analyte.URINE_M_PROTEIN, reference_range=False)
    ife = fields.Nested(IfeSchema, allow_none=True)

    @post_load
    def _make(self, d: dict, **_: Any) -> P.Urine:
        return P.Urine(d.get("m_protein_24h"), d.get("ife"))


class FlcSchema(StrictSchema):
    """Serum free light chains."""

    kappa = _q(Analyte.FREE_LIGHT_CHAIN)
    lambda_ = QuantityField(Analyte.FREE_LIGHT_CHAIN, allow_none=True, data_key="lambda")
    assay = fields.String(load_default="freelite", validate=validate.OneOf([a.value for a in FlcAssay]))
    ratio_reference_range = fields.Nested(
        RangeSchema,
        allow_none=True,
        metadata={
            "description": "The laboratory's own kappa/lambda ratio interval (overrides the "
            "assay default of clinical-reference §4)."
        },
    )

    @post_load
    def _make(self, d: dict, **_: Any) -> P.Flc:
        rr = d.get("ratio_reference_range")
        return P.Flc(
            d.get("kappa"),
            d.get("lambda_"),
            _ASSAY[d.get("assay", "freelite")],
            (to_decimal(rr["low"]), to_decimal(rr["high"])) if rr else None,
        )


class MarrowSchema(StrictSchema):
    """Bone-marrow plasma cells, percent (plain numbers)."""

    clonal_plasma_cells_percent = _pct("Clonal BMPC (%).")
    plasma_cells_percent = _pct(
        "Total plasma cells by morphology (%); stands in for clonal BMPC "
        "when no clonal figure is given (clinical-reference §2.9)."
    )
    lymphoplasmacytic_infiltrate_percent = _pct("Lymphoplasmacytic infiltration (%), IgM (§2.5).")
    flow_plasma_cells_percent = _pct(
        "Plasma cells by flow cytometry (%): reported back, never used for the 10 %/60 % thresholds (§2.9)."
    )

    @post_load
    def _make(self, d: dict, **_: Any) -> P.Marrow:
        return P.Marrow(
            *(
                None if d.get(k) is None else to_decimal(d[k])
                for k in (
                    "clonal_plasma_cells_percent",
                    "plasma_cells_percent",
                    "lymphoplasmacytic_infiltrate_percent",
                    "flow_plasma_cells_percent",
                )
            )
        )


class LabsSchema(StrictSchema):
    """CRAB-related laboratory results."""

    calcium = _q(Analyte.CALCIUM)
    creatinine = _q(Analyte.CREATININE)
    creatinine_clearance = _q(Analyte.CREATININE_CLEARANCE, reference_range=False)
    egfr = _q(Analyte.EGFR, reference_range=False)
    hemoglobin = _q(Analyte.HEMOGLOBIN)
    tsh = _q(Analyte.TSH)

    @post_load
    def _make(self, d: dict, **_: Any) -> P.Labs:
        return P.Labs(**d)


class ImagingSchema(StrictSchema):
    """Lesion counts."""

    osteolytic_lesions = fields.Integer(
        strict=True,
        allow_none=True,
        validate=validate.Range(min=0, max=MAX_LESIONS),
        metadata={
            "description": "Osteolytic lesions on skeletal radiography, CT or PET-CT, not "
            "counting a biopsied plasmacytoma itself (clinical-reference §2.8)."
        },
    )
    mri_focal_lesions = fields.Integer(
        strict=True,
        allow_none=True,
        validate=validate.Range(min=0, max=MAX_LESIONS),
        metadata={
            "description": "Focal lesions >= 5 mm on MRI, not counting a biopsied plasmacytoma itself."
        },
    )

    @post_load
    def _make(self, d: dict, **_: Any) -> P.Imaging:
        return P.Imaging(d.get("osteolytic_lesions"), d.get("mri_focal_lesions"))


class CytogeneticsSchema(StrictSchema):
    """High-risk FISH results (null or absent = not tested)."""

    t_4_14 = _bool("t(4;14)")
    t_14_16 = _bool("t(14;16)")
    gain_1q = _bool("+1q")
    del_13q = _bool("del(13q) / monosomy 13")

    @post_load
    def _make(self, d: dict, **_: Any) -> P.Cytogenetics:
        return P.Cytogenetics(**d)


class ClinicalSchema(StrictSchema):
    """Clinical findings (absent = not reported, never 'no')."""

    scleromyxedema = fields.String(
        allow_none=True, validate=validate.OneOf([s.value for s in P.Scleromyxedema])
    )
    papular_eruption = _bool("Generalised papular eruption (Rongioletti 1).")
    sclerodermoid_induration = _bool("Sclerodermoid induration (Rongioletti 1).")
    histology_mucin_fibrosis = _bool("Dermal mucin, fibroblast proliferation, fibrosis (Rongioletti 3).")
    fever = _bool("Fever or flu-like illness.")
    neurologic_signs = _bool("Confusion, dysarthria, seizures or coma.")
    thyroid_disease = _bool("Known thyroid disease.")
    amyloidosis = _bool("Systemic (AL) amyloidosis.")
    plasmacytoma = _bool("Biopsy-proven bony or extramedullary plasmacytoma.")
    igm_related_symptoms = _bool(
        "Anaemia, constitutional symptoms, hyperviscosity, lymphadenopathy "
        "or hepatosplenomegaly attributable to an IgM clone."
    )
    end_stage_renal_disease = _bool(
        "End-stage renal disease (selects the Sebia end-stage-renal and the Freelite renal-impairment FLC "
        "intervals)."
    )
    ivig_last_dose_on = IsoDate(
        allow_none=True,
        metadata={
            "description": "YYYY-MM-DD: the last intravenous immunoglobulin (IVIg) dose, on or before the "
            "panel's date. Within 3 calendar months of it IgG-based values are reported as unreliable "
            "(clinical-reference §5)."
        },
    )

    @post_load
    def _make(self, d: dict, **_: Any) -> P.Clinical:
        s = d.pop("scleromyxedema", None)
        return P.Clinical(scleromyxedema=None if s is None else _SCLERO[s], **d)


class HistoryEntrySchema(CompiledLoadMixin, StrictSchema):
    """An earlier dated panel of the same patient."""

    collected_on = IsoDate(required=True)
    spep = fields.Nested(SpepSchema, allow_none=True)
    flc = fields.Nested(FlcSchema, allow_none=True)
    urine = fields.Nested(UrineSchema, allow_none=True)
    labs = fields.Nested(LabsSchema, allow_none=True)

    @post_load
    def _make(self, d: dict, **_: Any) -> P.HistoryEntry:
        return P.HistoryEntry(**d)


SCREENING_SECTIONS = ("spep", "serum_ife", "urine", "flc")


def _has_screening_result(d: dict) -> bool:
    """Whether a screening section carries a result (loaded sections are domain objects)."""
    spep, urine, flc = d.get("spep"), d.get("urine"), d.get("flc")
    return (
        d.get("serum_ife") is not None
        or (spep is not None and spep.m_protein is not None)
        or (urine is not None and (urine.m_protein_24h is not None or urine.ife is not None))
        or (flc is not None and (flc.kappa is not None or flc.lambda_ is not None))
    )


# CompiledLoadMixin: a plain load(data) of a well-formed body is answered by the loader compiled from
# this schema (compiled.py), without marshmallow's per-schema machinery; anything else takes the full
# load, which reports the errors.
class InterpretationRequestSchema(CompiledLoadMixin, StrictSchema):
    """One patient's work-up. At least one of spep, serum_ife, urine, flc."""

    patient = fields.Nested(PatientSchema, allow_none=True)
    spep = fields.Nested(SpepSchema, allow_none=True)
    serum_ife = fields.Nested(IfeSchema, allow_none=True)
    urine = fields.Nested(UrineSchema, allow_none=True)
    flc = fields.Nested(FlcSchema, allow_none=True)
    marrow = fields.Nested(MarrowSchema, allow_none=True)
    labs = fields.Nested(LabsSchema, allow_none=True)
    imaging = fields.Nested(ImagingSchema, allow_none=True)
    cytogenetics = fields.Nested(CytogeneticsSchema, allow_none=True)
    clinical = fields.Nested(ClinicalSchema, allow_none=True)
    collected_on = IsoDate(
        allow_none=True,
        metadata={
            "description": "YYYY-MM-DD, the day the sample was collected in the laboratory's own time zone "
            "(a date after the latest one begun anywhere, UTC+14, is in the future and refused). With "
            "history and no collected_on, the panel is dated today."
        },
    )
    history = BoundedList(
        fields.Nested(HistoryEntrySchema),
        max_length=MAX_HISTORY,
        metadata={"description": f"Earlier dated panels, in any order (at most {MAX_HISTORY})."},
    )
    patient_ref = fields.String(
        allow_none=True,
        validate=[validate.Length(min=1, max=MAX_REF), _printable],
        metadata={
            "description": "The LIS's patient identifier (1-64 printable characters, not blank). Never "
            "stored or logged: the records store keeps a keyed hash of it, which links the patient's panels "
            "(their earlier panels become history when the request sends none). Hashed without leading and "
            "trailing spaces and in Unicode NFC: the padded or decomposed forms of one identifier are one "
            "patient."
        },
    )
    specimen_id = fields.String(
        allow_none=True,
        validate=[
            validate.Length(min=1, max=MAX_REF),
            printable("Must not be blank: send the specimen's identifier, or leave specimen_id out."),
        ],
        metadata={
            "description": "The LIS's specimen identifier (1-64 printable characters), stored with the "
            "record."
        },
    )

    @validates_schema
    def _whole(self, d: dict, **_: Any) -> None:
        errors: dict[str, Any] = {}
        if not _has_screening_result(d):
            errors["_schema"] = [
                "at least one screening result is required: spep.m_protein, serum_ife, "
                "urine.m_protein_24h, urine.ife, flc.kappa or flc.lambda (an empty section is not a result)"
            ]
        today = plausibility.latest_date(datetime.now(UTC))
        current = d.get("collected_on")
        if current is not None and current > today:
            errors["collected_on"] = ["date is in the future"]
        history = d.get("history") or []
        ivig = d["clinical"].ivig_last_dose_on if d.get("clinical") is not None else None
        if (history or ivig is not None) and current is None:
            current = date.today()  # the panel is dated today (said in the output), see _make
        if ivig is not None and current is not None and ivig > current:
            # §5 reads the window back from the panel: a dose after it says nothing about this sample.
            errors["clinical.ivig_last_dose_on"] = [
                "date is in the future"
                if ivig > today
                else "must be on or before the panel's collected_on (the last dose before this sample)"
            ]
        # History may come in any order (the engine sorts it); a date after the current panel, in
        # the future, or shared by two entries is refused, naming the entry.
        seen: dict[date, int] = {}
        # A data-entry check: a result dated more than age + 1 years before the panel predates the birth.
        age = d["patient"].age_years if d.get("patient") is not None else None
        born_by = None
        if age is not None and current is not None:
            born_by = _years_before(current, int(age) + 1)
        for i, h in enumerate(history):
            on = h.collected_on
            msgs = []
            if on > today:
                msgs.append("date is in the future")
            if current is not None and on >= current:
                msgs.append(
                    "must be before the current panel's collected_on"
                    if on > current
                    else "same date as the current panel"
                )
            if born_by is not None and current is not None and on < born_by:
                msgs.append(f"date before the patient's birth (age {age:g} at {current.isoformat()})")
            if on in seen:
                msgs.append(f"duplicate date: history.{seen[on]} has the same date")
            else:
                seen[on] = i
            if msgs:
                errors[f"history.{i}.collected_on"] = msgs
        # ref: §1.1 — haemoglobin's lower reference limit against the window for the patient's sex (the
        # field itself was held to the wider window, before the sex was known).
        patient = d.get("patient")
        sex = None if patient is None else patient.sex
        if sex in ("female", "male"):
            for prefix, labs in (
                ("labs", d.get("labs")),
                *((f"history.{i}.labs", h.labs) for i, h in enumerate(history)),
            ):
                q = None if labs is None else labs.hemoglobin
                if q is None:
                    continue
                try:
                    plausibility.check_lower_limit_for_sex(Analyte.HEMOGLOBIN, q, sex)
                except plausibility.Implausible as e:
                    for path, msgs in e.errors.items():
                        errors[f"{prefix}.hemoglobin.{path}"] = msgs
        if errors:
            raise ValidationError(errors)

    @post_load
    def _make(self, d: dict, **_: Any) -> P.Panel:
        d["history"] = tuple(d.get("history") or ())
        clinical = d.get("clinical")
        ivig = clinical is not None and clinical.ivig_last_dose_on is not None
        if (d["history"] or ivig) and d.get("collected_on") is None:
            d["collected_on"] = date.today()
            d["collected_on_assumed"] = True
        return P.Panel(**d)


# --- Response schemas (documentation and conformance tests) ---------------------------------------
class _Open(Schema):
    class Meta:
        unknown = EXCLUDE


class ClassificationOut(_Open):
    code = fields.String(
        required=True,
        validate=validate.OneOf(
            [
                "NO_MONOCLONAL_PROTEIN",
                "MGUS_NON_IGM",
                "MGUS_IGM",
                "MGUS_LIGHT_CHAIN",
                "SMOLDERING_MYELOMA",
                "SMOLDERING_MYELOMA_LIGHT_CHAIN",
                "MULTIPLE_MYELOMA",
                "WALDENSTROM_RANGE",
                "SOLITARY_PLASMACYTOMA",
                "INDETERMINATE",
            ]
        ),
    )
    label = fields.String(required=True)
    provisional = fields.Boolean(required=True)
    isotype = fields.String(allow_none=True, required=True)
    reasons = fields.List(fields.String())


class CriterionOut(_Open):
    id = fields.String(required=True)
    status = fields.String(required=True, validate=validate.OneOf(["met", "not_met", "not_assessable"]))
    value = fields.Raw(
        allow_none=True, required=True, metadata={"description": "number, boolean, string or null"}
    )
    unit = fields.String(allow_none=True, required=True)
    comparator = fields.String(allow_none=True)
    threshold = fields.String(required=True)
    source = fields.String(required=True)
    note = fields.String(allow_none=True)


class IntervalOut(_Open):
    low = fields.Float(allow_none=True)
    high = fields.Float(allow_none=True)
    basis = fields.String()


class FlcOut(_Open):
    ratio = fields.Float(allow_none=True, required=True)
    ratio_bounds = fields.Nested(IntervalOut, allow_none=True)
    reference_interval = fields.Nested(IntervalOut, required=True)
    abnormal = fields.Boolean(allow_none=True, required=True)
    involved = fields.String(allow_none=True, required=True)
    involved_uninvolved_ratio = fields.Float(allow_none=True, required=True)
    involved_uninvolved_bounds = fields.Nested(IntervalOut, allow_none=True)
    involved_raised = fields.Boolean(allow_none=True)
    assay = fields.String()
    renal_interval = fields.Boolean()


class RiskFactorOut(_Open):
    id = fields.String(required=True)
    status = fields.String(required=True, validate=validate.OneOf(["present", "absent", "unknown", "scored"]))
    value = fields.Raw(allow_none=True)
    unit = fields.String(allow_none=True)
    threshold = fields.String()
    points = fields.Integer(allow_none=True)
    points_max = fields.Integer(allow_none=True)


RISK_GROUPS = ["low", "low_intermediate", "intermediate", "high_intermediate", "high"]
FLAG_CODES = [
    "MGCS_SCLEROMYXEDEMA",
    "DERMATO_NEURO_SYNDROME",
    "SCLEROMYXEDEMA_NO_PARAPROTEIN",
    "THYROID_DISEASE_EXCLUSION",
    "MYELOMA_DEFINING_EVENT",
    "MARROW_EXAMINATION_RECOMMENDED",
    "HEMATOLOGY_REFERRAL",
    "RENAL_FLC_INTERVAL_APPLIED",
    "NON_FREELITE_ASSAY",
    "EVOLVING_M_PROTEIN",
    "EVOLVING_HEMOGLOBIN",
    "RISING_M_PROTEIN_SUCCESSIVE",
    "CRAB_WITHOUT_MONOCLONAL_PROTEIN",
    "FLC_SLIM_RANGE_NON_FREELITE",
    "IVIG_IGG_UNRELIABLE",
]


class RiskOut(_Open):
    applies = fields.Boolean(required=True)
    group = fields.String(allow_none=True, required=True, validate=validate.OneOf(RISK_GROUPS))
    possible_groups = fields.List(fields.String(validate=validate.OneOf(RISK_GROUPS)), required=True)
    reason = fields.String(allow_none=True)
    factors = fields.List(fields.Nested(RiskFactorOut))
    source = fields.String()
    score = fields.Integer(allow_none=True)
    score_max = fields.Integer(allow_none=True)
    score_is_lower_bound = fields.Boolean()
    needed = fields.List(fields.String())
    progression_20y_percent = fields.Float()
    progression_20y_competing_death_percent = fields.Float()
    median_ttp_months = fields.Float()
    progression_2y_percent = fields.Float()


class RiskSetOut(_Open):
    mgus_mayo_2005 = fields.Nested(RiskOut, required=True)
    smm_mayo_2018 = fields.Nested(RiskOut, required=True)
    smm_imwg_2020 = fields.Nested(RiskOut, required=True)


class FlagOut(_Open):
    code = fields.String(required=True, validate=validate.OneOf(FLAG_CODES))
    severity = fields.String(required=True, validate=validate.OneOf(["info", "refer", "urgent"]))
    message = fields.String(required=True)
    refer_to = fields.List(fields.String(), required=True)
    evidence = fields.List(fields.Dict())


class RecommendationOut(_Open):
    code = fields.String(required=True)
    text = fields.String(required=True)
    interval_months = fields.Raw(
        allow_none=True,
        metadata={
            "description": "FOLLOW_UP only: a number of months or {min, max}",
            "oneOf": [
                {"type": "number"},
                {
                    "type": "object",
                    "required": ["min", "max"],
                    "properties": {"min": {"type": "number"}, "max": {"type": "number"}},
                },
            ],
        },
    )
    then = fields.String(allow_none=True)
    tests = fields.List(fields.String())


class DerivedValueOut(_Open):
    value = fields.Float(required=True)
    unit = fields.String(required=True)
    comparator = fields.String(allow_none=True)
    method = fields.String(required=True)
    inputs = fields.List(fields.String(), required=True)
    note = fields.String()


class DerivedOut(_Open):
    egfr = fields.Nested(
        DerivedValueOut,
        metadata={
            "description": "CKD-EPI 2021 eGFR, when neither clearance nor eGFR was sent but creatinine, "
            "age (>= 18) and sex (female or male) were (clinical-reference §2.1 R)."
        },
    )


class ReleaseOut(_Open):
    status = fields.String(
        required=True, validate=validate.OneOf(["auto", "review_required", "reviewed", "amended"])
    )
    reasons = fields.List(fields.String(), required=True)
    reviewer = fields.String(metadata={"description": "After review: who signed it off."})
    reviewed_at = fields.DateTime(metadata={"description": "After review: when."})
    amendment_reason = fields.String(allow_none=True, metadata={"description": "After an amendment: why."})


class InterpretationResponseSchema(_Open):
    ruleset_version = fields.String(required=True)
    classification = fields.Nested(ClassificationOut, required=True)
    criteria = fields.List(fields.Nested(CriterionOut), required=True)
    myeloma_defining_events = fields.List(
        fields.String(),
        required=True,
        metadata={
            "description": "Every clinical-reference §2.1 event met beside a monoclonal protein: non-empty "
            "exactly when the MYELOMA_DEFINING_EVENT flag is raised. Beside an IgM clone the events are "
            "listed too, but the IgM category does not rest on them (§2.5); with no monoclonal protein the "
            "list is empty and CRAB-range values are in criteria and CRAB_WITHOUT_MONOCLONAL_PROTEIN."
        },
    )
    flc = fields.Nested(FlcOut, allow_none=True, required=True)
    risk = fields.Nested(RiskSetOut, required=True)
    flags = fields.List(fields.Nested(FlagOut), required=True)
    recommendations = fields.List(fields.Nested(RecommendationOut), required=True)
    missing_data = fields.List(fields.String(), required=True)
    comment = fields.String(required=True)
    notes = fields.List(fields.String())
    derived = fields.Nested(
        DerivedOut,
        required=True,
        metadata={"description": "Values the service computed (empty when none), e.g. an estimated GFR."},
    )
    release = fields.Nested(
        ReleaseOut,
        metadata={
            "description": "Present in every /v1 answer: the laboratory's release policy decides auto or "
            "review_required, with the reasons; after a review, reviewed or amended with who and when."
        },
    )


class RulesetSchema(_Open):
    ruleset_version = fields.String(required=True)
    rules = fields.List(fields.Dict(), required=True)
    changelog = fields.List(
        fields.Dict(),
        metadata={
            "description": "What changed in each ruleset version, newest first: rules, section, change."
        },
    )


class HealthSchema(_Open):
    status = fields.String(required=True)
    ruleset_version = fields.String(required=True)


class ErrorSchema(_Open):
    code = fields.Integer(required=True)
    status = fields.String(required=True)
    message = fields.String(required=True)
    errors = fields.Dict(keys=fields.String(), values=fields.List(fields.String()), required=True)


MAX_BATCH = 1000


class BatchRequestSchema(CompiledLoadMixin, StrictSchema):
    """Up to 1,000 panels; each item is validated and interpreted on its own.

    Compiled like the request schema: marshmallow's generic List(Raw) load costs ~3 us per item."""

    items = BoundedList(
        fields.Raw(allow_none=True, metadata={"description": "An InterpretationRequest body."}),
        required=True,
        min_length=1,
        max_length=MAX_BATCH,
        metadata={"description": f"1 to {MAX_BATCH} InterpretationRequest bodies."},
    )


class BatchItemOut(_Open):
    index = fields.Integer(required=True)
    status = fields.Integer(
        required=True,
        metadata={
            "description": "200 (201 when stored, with the record's id), or the item's error code: 422 "
            "(the item is invalid), 503 (not started: the batch's time budget ran out first; send it again)"
        },
    )
    interpretation = fields.Nested(InterpretationResponseSchema, metadata={"description": "when 200"})
    error = fields.Nested(ErrorSchema, metadata={"description": "when not 200"})


class BatchResponseSchema(_Open):
    ruleset_version = fields.String(required=True)
    count = fields.Integer(required=True)
    succeeded = fields.Integer(required=True)
    failed = fields.Integer(required=True)
    results = fields.List(fields.Nested(BatchItemOut), required=True)


# --- Records (the store, contract 1.1) --------------------------------------------------------------
RELEASE_STATUSES = ["auto", "review_required", "reviewed", "amended"]


class SinceField(fields.Field):
    """An ISO 8601 date (midnight UTC) or date-time with a zone: records received at or after it."""

    default_error_messages = {
        "invalid": "Not a valid date or date-time: use YYYY-MM-DD or YYYY-MM-DDThh:mm:ss+00:00.",
        "calendar": "Outside the calendar: in UTC this instant is not between 0001-01-01T00:00:00Z and "
        "9999-12-31T23:59:59Z.",
    }

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("metadata", {})
        kwargs["metadata"] = {"type": "string", "format": "date-time", **kwargs["metadata"]}
        super().__init__(**kwargs)

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Any:
        from datetime import UTC, datetime

        if not isinstance(value, str) or len(value) > 40:
            raise self.make_error("invalid")
        if _ISO_DATE.fullmatch(value):
            try:
                return datetime.fromisoformat(value).replace(tzinfo=UTC)
            except ValueError:
                raise self.make_error("invalid") from None
        try:
            dt = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            raise self.make_error("invalid") from None
        if dt.tzinfo is None:
            raise ValidationError("A date-time needs its zone (Z or +hh:mm).")
        try:
            return dt.astimezone(UTC)
        except OverflowError:  # e.g. 9999-12-31T23:59:59-01:00 is in year 10000 in UTC
            raise self.make_error("calendar") from None


class QueryInteger(fields.Integer):
    """A whole number in a query parameter: ASCII digits only. int() would also read other scripts'
    digits ("\uff12", "\u0663"), a sign, spaces and underscores."""

    default_error_messages = {"invalid": "Not a valid integer: send ASCII digits (0-9) only."}

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> int:
        if not isinstance(value, str) or _ASCII_DIGITS.fullmatch(value) is None:
            raise self.make_error("invalid")
        # Beyond any bound a parameter has (and int()'s digit limit): the range check names it.
        return int(value) if len(value) <= 64 else 10**64


_ASCII_DIGITS = re.compile(r"[0-9]+", re.ASCII)


class QuerySchema(StrictSchema):
    """Query parameters: an unknown one is refused with the message every route gives it."""

    error_messages = {"unknown": UNKNOWN_QUERY_PARAMETER}


class RecordListQuery(QuerySchema):
    """Filters of the list of stored interpretations."""

    patient_ref = fields.String(
        validate=[validate.Length(min=1, max=MAX_REF), _printable],
        metadata={
            "description": "One patient's records (matched by its keyed hash, without leading and trailing "
            "spaces, in Unicode NFC; never stored)."
        },
    )
    status = fields.String(
        validate=validate.OneOf(RELEASE_STATUSES), metadata={"description": "Release status."}
    )
    since = SinceField(
        metadata={"description": "Received at or after (YYYY-MM-DD or a date-time with zone)."}
    )
    cursor = fields.String(
        validate=validate.Length(min=1, max=64), metadata={"description": "next_cursor of the previous page."}
    )
    limit = QueryInteger(load_default=50, validate=validate.Range(min=1, max=200))


class AuditQuery(QuerySchema):
    """Filters of the audit trail of reads."""

    interpretation_id = fields.String(validate=validate.Length(min=1, max=32))
    since = SinceField(metadata={"description": "Read at or after (YYYY-MM-DD or a date-time with zone)."})
    cursor = fields.String(validate=validate.Length(min=1, max=64))
    limit = QueryInteger(load_default=100, validate=validate.Range(min=1, max=500))


class HistoryUsedOut(_Open):
    collected_on = fields.Date(required=True)
    source = fields.String(required=True, validate=validate.OneOf(["request", "store"]))
    id = fields.String(
        metadata={"description": "The stored interpretation the panel comes from (store): the day's latest."}
    )
    store_ids = fields.List(
        fields.String(),
        metadata={
            "description": "A request's own entry (source request) whose missing results were filled "
            "from these stored interpretations of the same day (the request's results stand)."
        },
    )
    record_ids = fields.List(
        fields.String(),
        metadata={
            "description": "When the day's results come from more than one stored interpretation: "
            "their ids, oldest first (each result from the latest that has it)."
        },
    )


class StoredInterpretationOut(InterpretationResponseSchema):
    id = fields.String(required=True, metadata={"description": "The stored interpretation's id."})
    history_used = fields.List(
        fields.Nested(HistoryUsedOut),
        required=True,
        metadata={"description": "The earlier panels the serial rules saw, with where each came from."},
    )
    input_notes = fields.List(
        fields.String(),
        metadata={
            "description": "Records of HL7 v2 and FHIR requests: what reading the message noted (the "
            "laboratory's comments carried from NTE or Observation.note, results left out and why), kept "
            "with the answer for its reviewers."
        },
    )


class RecordOut(_Open):
    id = fields.String(required=True)
    received_at = fields.DateTime(required=True)
    collected_on = fields.Date(required=True)
    specimen_id = fields.String(allow_none=True, required=True)
    source = fields.String(required=True, validate=validate.OneOf(["json", "batch", "hl7", "fhir"]))
    api_key_name = fields.String(allow_none=True, required=True)
    request_id = fields.String(allow_none=True, required=True)
    ruleset_version = fields.String(required=True)
    status = fields.String(required=True, validate=validate.OneOf(RELEASE_STATUSES))
    request = fields.Dict(
        required=True, metadata={"description": "The request as received, without patient_ref."}
    )
    interpretation = fields.Nested(InterpretationResponseSchema, required=True)
    reviews = fields.List(fields.Dict(), required=True)


class RecordSummaryOut(_Open):
    id = fields.String(required=True)
    received_at = fields.DateTime(required=True)
    collected_on = fields.Date(required=True)
    specimen_id = fields.String(allow_none=True, required=True)
    source = fields.String(required=True)
    ruleset_version = fields.String(required=True)
    status = fields.String(required=True)
    classification_code = fields.String(
        required=True,
        metadata={"description": "The category in force: a reviewer's amendment, else the computed one."},
    )
    flags = fields.List(fields.String(), required=True, metadata={"description": "Flag codes (sorted)."})
    location = fields.String(required=True)


class RecordListOut(_Open):
    items = fields.List(fields.Nested(RecordSummaryOut), required=True)
    next_cursor = fields.String(allow_none=True, required=True)


class ReadOut(_Open):
    interpretation_id = fields.String(required=True)
    read_at = fields.DateTime(required=True)
    api_key_name = fields.String(allow_none=True, required=True)
    request_id = fields.String(allow_none=True, required=True)
    via = fields.String(
        required=True,
        validate=validate.OneOf(["get", "list", "trend"]),
        metadata={
            "description": "get: the record by id (or a console case); list: a row of a list (or of the "
            "console's queue); trend: one of the patient's other panels in a console case's trend charts."
        },
    )


class AuditOut(_Open):
    items = fields.List(fields.Nested(ReadOut), required=True)
    next_cursor = fields.String(allow_none=True, required=True)


class RulesetImpactRequest(StrictSchema):
    """Which stored panels to re-interpret under the ruleset in force."""

    since = SinceField(metadata={"description": "Only records received at or after this."})
    cursor = fields.String(
        validate=validate.Length(min=1, max=64),
        metadata={"description": "next_cursor of the previous call: continue after its last record."},
    )
    max_records = fields.Integer(
        strict=True,
        load_default=10_000,
        validate=validate.Range(min=1, max=20_000),
        metadata={
            "description": "Records re-interpreted in this call at most (the command line has no bound); "
            "a call also stops at the batch time budget."
        },
    )
    list_limit = fields.Integer(
        strict=True,
        load_default=1000,
        validate=validate.Range(min=0, max=10_000),
        metadata={"description": "Changes listed (all are counted)."},
    )


class ImpactSummaryOut(_Open):
    examined = fields.Integer(required=True)
    changed = fields.Integer(required=True)
    category_changed = fields.Integer(required=True)
    flags_changed = fields.Integer(required=True)
    risk_changed = fields.Integer(required=True)
    not_reinterpretable = fields.Integer(required=True)
    category_transitions = fields.Dict(keys=fields.String(), values=fields.Integer(), required=True)
    listed = fields.Integer(required=True)


class RulesetImpactOut(_Open):
    ruleset_version = fields.String(required=True)
    changes = fields.List(
        fields.Dict(),
        required=True,
        metadata={
            "description": "{id, collected_on, category: {from, to}, flags: {added, removed}, risk: {model: "
            "{from, to}}} (only what changed), or {id, not_reinterpretable: [field paths]}"
        },
    )
    summary = fields.Nested(ImpactSummaryOut, required=True)
    next_cursor = fields.String(
        allow_none=True,
        required=True,
        metadata={"description": "Send it as cursor to continue after the last record examined."},
    )
    stopped = fields.String(
        allow_none=True,
        required=True,
        validate=validate.OneOf(["max_records", "time_budget"]),
        metadata={
            "description": "Why the call ended before the last record (next_cursor continues): max_records "
            "examined, or the batch time budget (MGI_BATCH_TIME_BUDGET) used; null when every record was "
            "examined."
        },
    )
