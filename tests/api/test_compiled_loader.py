"""The compiled loader (service/api/compiled.py) against marshmallow's own load.

The contract: for any input, if marshmallow's load raises, the compiled loader declines; if it succeeds,
the compiled loader returns an equal object with the same repr (repr tells Decimal('67') from
Decimal('67.0'), which == does not). These tests compare the two on small schemas built here, on the
service's request schema (boundaries, every example panel, hypothesis over valid and mutated bodies),
through HTTP, and check what the compiler refuses to compile.
"""

from __future__ import annotations

import copy
import json
import sys
from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, event, given, note, settings
from hypothesis import strategies as st
from marshmallow import (
    EXCLUDE,
    INCLUDE,
    Schema,
    ValidationError,
    fields,
    post_load,
    pre_load,
    validate,
    validates,
    validates_schema,
)
from marshmallow.utils import missing

from bench.panels import PANELS
from service.api import views
from service.api.compiled import (
    DECLINE,
    CompiledLoader,
    CompiledLoadMixin,
    Declined,
    UnsupportedSchema,
    compile_schema,
)
from service.api.schemas import InterpretationRequestSchema
from service.domain.plausibility import latest_date
from tests.conftest import ROOT
from tests.robustness.test_domain_properties import request_bodies
from tests.robustness.test_hostile_inputs import CASES

FAILED = object()


class Crashed:
    """marshmallow's load raised something other than a ValidationError (a schema bug, not an error)."""

    def __init__(self, e: Exception):
        self.type = type(e)

    def __eq__(self, other):
        return isinstance(other, Crashed) and other.type is self.type


def full_load(schema: Schema, data):
    """marshmallow's own load (bypassing any CompiledLoadMixin), FAILED on a ValidationError."""
    try:
        return Schema.load(schema, copy.deepcopy(data))
    except ValidationError:
        return FAILED
    except Exception as e:
        return Crashed(e)


def fast_load(schema: Schema | CompiledLoader, data):
    """The compiled loader without its safety net: DECLINE for Declined/ValidationError."""
    loader = schema if isinstance(schema, CompiledLoader) else compile_schema(schema)
    try:
        return loader.load_strict(copy.deepcopy(data))
    except (Declined, ValidationError):
        return DECLINE
    except Exception as e:
        return Crashed(e)


def assert_same(schema: Schema | CompiledLoader, data, *, accepted: bool | None = None) -> None:
    """Both loaders agree: the compiled one declines exactly when marshmallow fails."""
    expected = full_load(schema.schema if isinstance(schema, CompiledLoader) else schema, data)
    got = fast_load(schema, data)
    if isinstance(expected, Crashed):
        # Only on input no JSON body can carry (a datetime for a Date field): the compiled loader
        # must not answer it, so the full load raises exactly what it raises without the loader.
        assert got is DECLINE or got == expected, (data, got)
        assert accepted is None
    elif isinstance(got, Crashed):
        raise AssertionError(f"the compiled loader raised {got.type.__name__} on {data!r}")
    elif expected is FAILED:
        assert got is DECLINE, (data, got)
    else:
        assert got is not DECLINE, (data, expected)
        assert got == expected and repr(got) == repr(expected), (data, got, expected)
    if accepted is not None:
        assert (expected is not FAILED) == accepted, (data, expected)


def _not_13(value):
    if value == 13:
        raise ValidationError("unlucky")


class Inner(Schema):
    code = fields.String(required=True, validate=validate.OneOf(["a", "b"]))
    n = fields.Integer(
        strict=True, allow_none=True, validate=validate.Range(0, 10, min_inclusive=False, max_inclusive=False)
    )

    @post_load
    def _make(self, d, **kw):
        return ("inner", tuple(sorted(d.items())), tuple(sorted(kw.items())))


class Outer(Schema):
    class Meta:
        unknown = "raise"

    name = fields.String(data_key="Name", attribute="name_attr")
    when = fields.Date(allow_none=True)
    tags = fields.List(fields.String(), load_default=list, validate=validate.Length(min=1, max=2))
    pair = fields.List(fields.Raw(), validate=validate.Length(equal=2))
    kind = fields.String(load_default="plain", validate=validate.OneOf(("plain", "fancy")))
    inner = fields.Nested(Inner, allow_none=True)
    inners = fields.List(fields.Nested(Inner))
    loose = fields.Nested(Inner, unknown=EXCLUDE)
    amount = fields.Float(validate=validate.Range(min=1.5))
    count = fields.Integer(validate=lambda v: _not_13(v))
    flag = fields.Boolean()
    default_none = fields.String(load_default=None)

    @validates_schema
    def _check(self, d, **kw):
        assert kw == {"partial": None, "many": False, "unknown": "raise"}, kw
        if d.get("name_attr") == "bad":
            raise ValidationError("bad name", "name")

    @post_load
    def _first(self, d, **kw):
        return {"first": dict(d), "kw": kw}

    @post_load
    def _second(self, d, **kw):
        return ("outer", d)


OUTER = Outer()


@pytest.mark.parametrize(
    "data",
    [
        {},
        {"Name": "x"},
        {"name": "x"},  # the attribute name is not the data key: unknown
        {"Name": "bad"},
        {"Name": None},
        {"Name": b"bytes are decoded by String"},
        {"Name": b"\xff"},
        {"when": "2024-02-29"},
        {"when": "2023-02-29"},
        {"when": None},
        {"when": date(2024, 1, 1)},
        {"when": "20240101"},
        {"when": 20240101},
        {"tags": []},
        {"tags": ["a"]},
        {"tags": ["a", "b"]},
        {"tags": ["a", "b", "c"]},
        {"tags": ("a",)},
        {"tags": "ab"},
        {"tags": [1]},
        {"tags": None},
        {"tags": [None]},
        {"pair": [1, None]},
        {"pair": [1]},
        {"pair": [{}, []]},
        {"kind": "fancy"},
        {"kind": "other"},
        {"kind": ["plain"]},
        {"kind": None},
        {"inner": {"code": "a"}},
        {"inner": {"code": "c"}},
        {"inner": {}},
        {"inner": None},
        {"inner": {"code": "a", "n": 1}},
        {"inner": {"code": "a", "n": 0}},
        {"inner": {"code": "a", "n": 10}},
        {"inner": {"code": "a", "n": 9}},
        {"inner": {"code": "a", "n": 5.0}},
        {"inner": {"code": "a", "n": True}},
        {"inner": {"code": "a", "x": 1}},
        {"inner": OrderedDict(code="a")},
        {"inner": []},
        {"inner": "a"},
        {"inners": [{"code": "a"}, {"code": "b", "n": None}]},
        {"inners": [{"code": "a"}, None]},
        {"inners": ({"code": "a"},)},
        {"inners": [{"code": "a", "zz": 1}]},
        {"loose": {"code": "b", "extra": 1}},
        {"loose": {"extra": 1}},
        {"amount": 1.5},
        {"amount": 1.4999},
        {"amount": 2},
        {"amount": "2.5"},
        {"amount": float("nan")},
        {"amount": 10**400},
        {"amount": True},
        {"count": 12},
        {"count": 13},
        {"count": "12"},
        {"count": 12.0},
        {"count": 12.5},
        {"flag": True},
        {"flag": "yes"},
        {"flag": 1},
        {"flag": 2},
        {"flag": []},
        {"default_none": None},
        {"default_none": "x"},
        {"extra": 1},
    ],
)
def test_a_compiled_schema_loads_exactly_what_marshmallow_loads(data):
    assert_same(OUTER, data)


def test_non_dict_input_is_declined_at_every_level():
    for data in (None, [], "x", 1, [{"Name": "x"}], OrderedDict(Name="x")):
        assert fast_load(OUTER, data) is DECLINE


def test_schema_hooks_get_the_keyword_arguments_marshmallow_passes():
    got = compile_schema(OUTER).load_strict({"inner": {"code": "a"}, "tags": ["t"]})
    expected = Schema.load(OUTER, {"inner": {"code": "a"}, "tags": ["t"]})
    assert got == expected
    assert got[1]["kw"] == {"many": False, "partial": None, "unknown": "raise"}
    assert got[1]["first"]["inner"][2] == (("many", False), ("partial", None), ("unknown", "raise"))


class Incomparable:
    """== raises TypeError, which OneOf turns into a validation error."""

    def __eq__(self, other):
        raise TypeError("not comparable")

    __hash__ = None


class Bounds(Schema):
    closed = fields.Integer(strict=True, validate=validate.Range(min=0, max=10))
    open_ = fields.Integer(
        strict=True,
        data_key="open",
        validate=validate.Range(min=0, max=10, min_inclusive=False, max_inclusive=False),
    )
    low_only = fields.Raw(validate=validate.Range(min=5))
    high_only = fields.Raw(validate=validate.Range(max=5, max_inclusive=False))
    between = fields.List(fields.Raw(), validate=validate.Length(min=1, max=2))
    exactly = fields.List(fields.Raw(), validate=validate.Length(equal=2))
    chosen = fields.Raw(validate=validate.OneOf([1, "a", None]))


@pytest.mark.parametrize(
    ("data", "accepted"),
    [
        ({"closed": 0}, True),
        ({"closed": 10}, True),
        ({"closed": -1}, False),
        ({"closed": 11}, False),
        ({"open": 0}, False),
        ({"open": 1}, True),
        ({"open": 9}, True),
        ({"open": 10}, False),
        ({"low_only": 5}, True),
        ({"low_only": 4.999}, False),
        ({"low_only": "x"}, None),
        ({"high_only": 4.999}, True),
        ({"high_only": 5}, False),
        ({"between": []}, False),
        ({"between": [1]}, True),
        ({"between": [1, 2]}, True),
        ({"between": [1, 2, 3]}, False),
        ({"exactly": [1]}, False),
        ({"exactly": [1, 2]}, True),
        ({"exactly": [1, 2, 3]}, False),
        ({"chosen": 1}, True),
        ({"chosen": 1.0}, True),
        ({"chosen": True}, True),
        ({"chosen": "a"}, True),
        ({"chosen": "b"}, False),
        ({"chosen": []}, False),
        ({"chosen": {}}, False),
        ({"chosen": Incomparable()}, False),
    ],
)
def test_compiled_validators_keep_each_bound_inclusive_or_exclusive_as_declared(data, accepted):
    if accepted is None:  # a TypeError from Range in marshmallow too: the compiled loader declines
        with pytest.raises(TypeError):
            Schema.load(Bounds(), data)
        assert compile_schema(Bounds())(data) is DECLINE
        return
    assert_same(Bounds(), data, accepted=accepted)


class Odd(fields.Field):
    """A field overriding deserialize itself: loaded through it, whole."""

    def deserialize(self, value, attr=None, data=None, **kwargs):
        if value is missing:
            return "absent"
        if value == "":
            return missing  # marshmallow leaves a field that loads to missing out of the result
        return super().deserialize(value, attr, data, **kwargs)


class Upper(fields.String):
    def _deserialize(self, value, attr, data, **kwargs):
        return super()._deserialize(value, attr, data, **kwargs).upper()


class WithOdd(Schema):
    odd = Odd(allow_none=True)
    upper = Upper()


def test_a_field_type_without_a_fast_form_is_loaded_through_its_own_code_and_listed():
    loader = compile_schema(WithOdd())
    assert loader.fallbacks == ("odd (Odd)",)
    assert loader.own_deserialize == ("upper (Upper)",)
    for data in ({}, {"odd": ""}, {"odd": None}, {"odd": 3}, {"upper": "ab"}, {"upper": 1}):
        assert_same(WithOdd(), data)


class Num(fields.Float):
    def compiled_converter(self):
        return lambda value, attr, data: -1.0


class NumChild(Num):
    pass


def test_a_fast_form_is_taken_only_from_the_class_that_declares_it():
    class S(Schema):
        a = Num()
        b = NumChild()

    loader = compile_schema(S())
    assert loader.load_strict({"a": 2, "b": 2}) == {"a": -1.0, "b": 2.0}
    assert loader.own_deserialize == ("b (NumChild)",)


def _schema_with(**attrs) -> type[Schema]:
    return type("Custom", (Schema,), {"x": fields.Raw(), **attrs})


@pytest.mark.parametrize(
    ("attrs", "message"),
    [
        ({"_p": pre_load(lambda self, d, **kw: d)}, "pre_load"),
        ({"_p": post_load(pass_original=True)(lambda self, d, o, **kw: d)}, "pass_original"),
        ({"_p": post_load(pass_collection=True)(lambda self, d, **kw: d)}, "pass_collection"),
        ({"_v": validates_schema(pass_original=True)(lambda self, d, o, **kw: None)}, "pass_original"),
        ({"_v": validates_schema(pass_collection=True)(lambda self, d, **kw: None)}, "pass_collection"),
        ({"_v": validates("x")(lambda self, v, **kw: None)}, "validates"),
        ({"Meta": type("Meta", (), {"unknown": INCLUDE})}, "unknown='include'"),
        ({"_deserialize": lambda self, *a, **kw: {}}, "_deserialize is overridden"),
        ({"_do_load": lambda self, *a, **kw: {}}, "_do_load is overridden"),
        ({"load": lambda self, *a, **kw: {}}, "load is overridden"),
        ({"dict_class": OrderedDict}, "dict_class"),
        ({"y": fields.Raw(attribute="a.b")}, "dotted attribute"),
    ],
)
def test_the_compiler_refuses_what_it_does_not_reproduce(attrs, message):
    with pytest.raises(UnsupportedSchema, match=message):
        compile_schema(_schema_with(**attrs)())


def test_the_compiler_refuses_an_unsupported_hook_in_a_nested_schema_too():
    nested = _schema_with(_p=pre_load(lambda self, d, **kw: d))

    class Parent(Schema):
        child = fields.List(fields.Nested(nested))

    with pytest.raises(UnsupportedSchema, match=r"child\.\*: a pre_load hook"):
        compile_schema(Parent())


@pytest.mark.parametrize(
    "kwargs", [{"many": True}, {"partial": True}, {"partial": ("x",)}, {"unknown": INCLUDE}]
)
def test_the_compiler_refuses_schema_instances_loading_other_than_one_object_strictly(kwargs):
    with pytest.raises(UnsupportedSchema):
        compile_schema(_schema_with()(**kwargs))


def test_a_schema_the_compiler_refuses_still_loads_through_marshmallow_alone():
    class Hooked(CompiledLoadMixin, Schema):
        x = fields.Raw()

        @pre_load
        def _p(self, d, **kw):
            return {**d, "x": d["x"] + 1}

    s = Hooked()
    assert s._compiled_loader is None
    assert "pre_load" in s.compile_refusal
    assert s.load({"x": 1}) == {"x": 2}  # the hook ran: marshmallow did the load


@pytest.mark.parametrize("kwargs", [{"many": True}, {"partial": True}, {"unknown": INCLUDE}])
def test_request_schema_instances_with_other_load_options_use_marshmallow(kwargs):
    s = InterpretationRequestSchema(**kwargs)
    assert s._compiled_loader is None
    body = {
        "spep": {"m_protein": {"value": 1.2, "unit": "g/dL"}},
        "serum_ife": {"result": "positive", "clones": [{"heavy_chain": "IgG", "light_chain": "kappa"}]},
    }
    loaded = s.load([body, body] if kwargs.get("many") else body)
    assert loaded == ([REQUEST.load(body)] * 2 if kwargs.get("many") else REQUEST.load(body))


def test_the_services_own_request_schema_is_compiled():
    # The fallback above must never switch the optimisation off silently for the service itself.
    assert views.REQUEST_SCHEMA._compiled_loader is not None
    assert views.REQUEST_SCHEMA._compiled_loader.schema is views.REQUEST_SCHEMA


def test_the_batch_schema_is_compiled_and_loads_what_marshmallow_loads():
    from service.api.schemas import BatchRequestSchema

    schema = BatchRequestSchema()
    assert schema._compiled_loader is not None
    for data in (
        {"items": [{"a": 1}, None, [], "x"]},
        {"items": []},
        {"items": [{}] * 1001},
        {"items": None},
        {"items": "x"},
        {"items": [{}], "more": 1},
        {},
        [],
    ):
        assert_same(schema._compiled_loader, data)


def test_validates_schema_with_skip_on_field_errors_false_is_still_exact():
    class S(Schema):
        x = fields.Integer(strict=True)

        @validates_schema(skip_on_field_errors=False)
        def _v(self, d, **kw):
            if d.get("x") == 3:
                raise ValidationError("three")

    for data in ({"x": 1}, {"x": 3}, {"x": "1"}, {}):
        assert_same(S(), data)


def test_load_with_arguments_or_on_a_copy_takes_the_full_marshmallow_load():
    class S(CompiledLoadMixin, Schema):
        class Meta:
            unknown = "raise"

        x = fields.Raw()

    s = S()
    assert s.load({"x": 1}) == {"x": 1}
    assert s.load({"x": 1, "y": 2}, unknown=EXCLUDE) == {"x": 1}
    with pytest.raises(ValidationError) as e:
        s.load({"y": 2})
    assert e.value.messages == {"y": ["Unknown field."]}
    for other in (copy.copy(s), copy.deepcopy(s)):
        assert other._compiled_loader.schema is s  # so the identity check sends the copy to marshmallow
        assert other.load({"x": 1}) == {"x": 1}


# --- The service's request schema ------------------------------------------------------------------
REQUEST = InterpretationRequestSchema()
LOADER = REQUEST._compiled_loader
TODAY = date.today()
# The latest date begun anywhere (UTC+14): the first date after it is in the future everywhere.
FUTURE = latest_date(datetime.now(UTC)) + timedelta(days=1)
QTY = {"value": 1.2, "unit": "g/dL"}
VALID = {
    "spep": {"m_protein": QTY},
    "serum_ife": {"result": "positive", "clones": [{"heavy_chain": "IgG", "light_chain": "kappa"}]},
}
ABSENT = object()


def at(path: str, value, body: dict | None = None) -> dict:
    """A copy of ``body`` (VALID by default) with ``value`` at the dotted path (ABSENT deletes it)."""
    body = copy.deepcopy(VALID if body is None else body)
    *parents, last = path.split(".")
    node = body
    for k in parents:
        node = node[int(k)] if isinstance(node, list) else node.setdefault(k, {})
    if value is ABSENT:
        del node[last]
    else:
        node[last] = value
    return body


def history(n: int, **extra) -> dict:
    entries = [
        {"collected_on": (TODAY - timedelta(days=n - i)).isoformat(), "spep": {"m_protein": QTY}}
        for i in range(n)
    ]
    return {**VALID, "collected_on": TODAY.isoformat(), "history": entries, **extra}


def example_bodies() -> list[tuple[str, object]]:
    """The bench panels and every request body under examples/ (batch.json item by item)."""
    out: list[tuple[str, object]] = [(f"bench:{name}", body) for name, body, _ in PANELS]
    for path in sorted((ROOT / "examples").glob("*.json")):
        doc = json.loads(path.read_text())
        if "items" in doc:
            out += [(f"{path.name}[{i}]", item) for i, item in enumerate(doc["items"])]
        else:
            out.append((path.name, doc))
    return out


EXAMPLES = example_bodies()
INVALID_EXAMPLES = {"batch.json[2]"}  # a wrong unit, on purpose: the batch example shows an item error


@pytest.mark.parametrize(("name", "body"), EXAMPLES, ids=[n for n, _ in EXAMPLES])
def test_every_example_and_bench_panel_is_answered_by_the_compiled_loader(name, body):
    assert_same(LOADER, body, accepted=name not in INVALID_EXAMPLES)
    if name not in INVALID_EXAMPLES:
        assert LOADER(copy.deepcopy(body)) is not DECLINE  # else the optimisation is silently off


def test_the_request_schema_compiles_without_falling_back_to_marshmallow_for_any_field():
    # A new field type (or option) shows up here: give it a fast form or accept it knowingly.
    assert LOADER.fallbacks == ()
    kinds = {p.rsplit(" ", 1)[1] for p in LOADER.own_deserialize}
    assert kinds == {"(QuantityField)", "(StrictBoolean)", "(IsoDate)"}, LOADER.own_deserialize


BIG = int(sys.float_info.max)


@pytest.mark.parametrize(
    ("body", "accepted"),
    [
        (at("marrow.clonal_plasma_cells_percent", 100), True),
        (at("marrow.clonal_plasma_cells_percent", 100.0), True),
        (at("marrow.clonal_plasma_cells_percent", 100.0000001), False),
        (at("marrow.plasma_cells_percent", 0), True),
        (at("marrow.plasma_cells_percent", -0.0), True),
        (at("marrow.plasma_cells_percent", -1e-300), False),
        (at("marrow.plasma_cells_percent", 5e-324), True),
        (at("marrow.plasma_cells_percent", None), True),
        (at("marrow.flow_plasma_cells_percent", True), False),
        (at("marrow.flow_plasma_cells_percent", False), False),
        (at("marrow.flow_plasma_cells_percent", "50"), False),
        (at("marrow.flow_plasma_cells_percent", float("nan")), False),
        (at("marrow.flow_plasma_cells_percent", float("inf")), False),
        (at("marrow.flow_plasma_cells_percent", 10**400), False),
        (at("marrow.flow_plasma_cells_percent", Decimal("5")), False),
        (at("patient.age_years", 150), True),
        (at("patient.age_years", 150.0), True),
        (at("patient.age_years", 150.5), False),
        (at("patient.age_years", 150.00000000000003), False),
        (at("patient.age_years", -1), False),
        (at("patient.sex", "other"), True),
        (at("patient.sex", "Other"), False),
        (at("patient.sex", 1), False),
        (at("imaging.osteolytic_lesions", 1000), True),
        (at("imaging.osteolytic_lesions", 1001), False),
        (at("imaging.osteolytic_lesions", 0), True),
        (at("imaging.osteolytic_lesions", -1), False),
        (at("imaging.osteolytic_lesions", 1.0), False),
        (at("imaging.osteolytic_lesions", True), False),
        (at("imaging.mri_focal_lesions", "3"), False),
        (at("imaging.mri_focal_lesions", None), True),
        (at("cytogenetics.t_4_14", True), True),
        (at("cytogenetics.t_4_14", None), True),
        (at("cytogenetics.t_4_14", 1), False),
        (at("cytogenetics.t_4_14", 0), False),
        (at("cytogenetics.t_4_14", "true"), False),
        (at("clinical.scleromyxedema", "absent"), True),
        (at("clinical.scleromyxedema", "ABSENT"), False),
        (at("clinical.scleromyxedema", b"absent"), True),  # not JSON, but String decodes bytes
        (at("clinical.fever", 1), False),
        (at("flc.assay", "sebia"), True),
        (at("flc.assay", None), False),
        (at("flc.lambda", QTY | {"unit": "mg/L"}), True),
        (at("flc.lambda_", QTY | {"unit": "mg/L"}), False),
        (at("flc.ratio_reference_range", {"low": 1, "high": 1}), True),
        (at("flc.ratio_reference_range", {"low": 2, "high": 1}), False),
        (at("flc.ratio_reference_range", {"low": 0.26}), False),
        (at("flc.ratio_reference_range", {"low": 0, "high": BIG}), True),
        (at("flc.ratio_reference_range", {"low": 0, "high": BIG + 1}), True),  # float() rounds it down
        (at("flc.ratio_reference_range", {"low": 0, "high": 2**1024}), False),
        (at("flc.ratio_reference_range", {"low": 0, "high": 1.7976931348623157e308}), True),
        (at("flc.ratio_reference_range", {"low": -1, "high": 1}), False),
        (at("flc.ratio_reference_range", None), True),
        (at("labs.calcium", {"value": 2**1024, "unit": "mg/dL"}), False),
        (at("labs.calcium", {"value": 0, "unit": "mg/dL", "comparator": "<"}), False),
        (at("serum_ife.clones", [{"heavy_chain": "IgG", "light_chain": "kappa"}] * 2), False),
        (
            at(
                "serum_ife.clones",
                [
                    {"heavy_chain": "IgG", "light_chain": "kappa"},
                    {"heavy_chain": "IgA", "light_chain": "kappa"},
                    {"heavy_chain": "IgM", "light_chain": "kappa"},
                ],
            ),
            False,
        ),
        (at("serum_ife.clones", []), False),
        (at("serum_ife.clones", ABSENT), False),
        (at("serum_ife", {"result": "negative"}), True),
        (at("serum_ife.clones.0.heavy_chain", None), True),
        (at("serum_ife.clones.0.heavy_chain", ABSENT), False),
        (at("serum_ife.clones.0.light_chain", None), False),
        (at("collected_on", TODAY.isoformat()), True),
        (at("collected_on", FUTURE.isoformat()), False),
        (at("collected_on", "2025-02-30"), False),
        (at("collected_on", "20250314"), False),  # YYYY-MM-DD only (IsoDate), though fromisoformat reads it
        (at("collected_on", None), True),
        (history(50), True),
        (history(51), False),
        (history(3, collected_on=None), True),  # dated today by the post_load hook
        (at("history.1.collected_on", TODAY.isoformat(), history(3)), False),
        # clinical.ivig_last_dose_on (contract 1.1): a YYYY-MM-DD date on or before the panel's date.
        (at("clinical.ivig_last_dose_on", TODAY.isoformat()), True),
        (at("clinical.ivig_last_dose_on", (TODAY - timedelta(days=400)).isoformat()), True),
        (at("clinical.ivig_last_dose_on", FUTURE.isoformat()), False),
        (at("clinical.ivig_last_dose_on", "2025-02-30"), False),
        (at("clinical.ivig_last_dose_on", "20250314"), False),
        (at("clinical.ivig_last_dose_on", None), True),
        (
            at(
                "clinical.ivig_last_dose_on",
                TODAY.isoformat(),
                {**VALID, "collected_on": (TODAY - timedelta(days=1)).isoformat()},
            ),
            False,
        ),
        ({}, False),
        ({"extra": 1, **VALID}, False),
        ({"spep": {}}, False),
    ],
)
def test_each_converter_accepts_and_rejects_at_the_same_boundary_as_marshmallow(body, accepted):
    assert_same(LOADER, body, accepted=accepted)


@pytest.mark.parametrize("data", [None, [], "x", 1, [VALID], OrderedDict(VALID)])
def test_a_body_that_is_not_a_json_object_is_declined(data):
    assert LOADER(data) is DECLINE


# Values a mutation puts anywhere in a body: wrong JSON types, bounds, enum near-misses, dates around
# today, and a few Python-only types (the schema is also used directly, not only behind JSON).
class IntSub(int):
    pass


class StrSub(str):
    pass


class FloatSub(float):
    pass


HOSTILE = [
    None,
    True,
    False,
    0,
    1,
    -1,
    0.0,
    -0.0,
    0.5,
    1.5,
    -1e-9,
    99.99,
    100,
    100.0,
    100.0000001,
    150,
    150.5,
    1000,
    1001,
    10**400,
    -(10**400),
    BIG,
    float("nan"),
    float("inf"),
    float("-inf"),
    1.7976931348623157e308,
    "",
    "1",
    "true",
    "IgG",
    "IgM",
    "kappa",
    "lambda",
    "positive",
    "negative",
    "freelite",
    "sebia",
    "g/dL",
    "mg/L",
    "<",
    ">=",
    "confirmed",
    "absent",
    "female",
    "2024-01-01",
    "2999-01-01",
    "2025-02-30",
    "20240101",
    TODAY.isoformat(),
    (TODAY + timedelta(days=1)).isoformat(),
    (TODAY - timedelta(days=1)).isoformat(),
    [],
    [None],
    [{}],
    {},
    {"value": 1, "unit": "g/dL"},
    {"value": 0, "unit": "g/dL", "comparator": "<"},
    {"low": 2, "high": 1},
    {"low": 1, "high": 2},
    {"heavy_chain": "IgG", "light_chain": "kappa"},
    {"heavy_chain": None, "light_chain": "lambda"},
    {"result": "negative", "clones": []},
]
PYTHON_ONLY = [
    b"IgG",
    b"2024-01-01",
    (1, 2),
    ({"heavy_chain": "IgG", "light_chain": "kappa"},),
    Decimal("1.5"),
    date(2024, 1, 1),
    datetime(2024, 1, 1, 12),
    IntSub(3),
    StrSub("kappa"),
    FloatSub(1.5),
    OrderedDict(value=1, unit="g/dL"),
    {1: 2},
]
EXTRA_KEYS = [
    "extra",
    "",
    "lambda_",
    "LAMBDA",
    "Value",
    "_schema",
    "collected_on_assumed",
    "value",
    "low",
    "unit",
    "result",
    "clones",
    "history",
    "spep",
    "kappa",
    "assay",
    "age_years",
    "t_4_14",
]
values = st.one_of(
    st.sampled_from(HOSTILE),
    st.sampled_from(PYTHON_ONLY),
    st.integers(-3, 1100),
    st.floats(),
    st.text(max_size=4),
    st.dates(TODAY - timedelta(days=800), TODAY + timedelta(days=2)).map(date.isoformat),
)


def _containers(node, out: list) -> list:
    if isinstance(node, dict | list):
        out.append(node)
        for child in node.values() if isinstance(node, dict) else node:
            _containers(child, out)
    return out


@st.composite
def mutated(draw, base) -> dict:
    """A body from ``base`` with one to three edits: replace, delete, add a key or item, grow a list."""
    body = copy.deepcopy(draw(base))
    for _ in range(draw(st.integers(1, 3))):
        node = draw(st.sampled_from(_containers(body, [])))
        op = draw(st.sampled_from(["replace", "delete", "add", "grow"]))
        if isinstance(node, dict):
            keys = sorted(node, key=str)
            if op == "replace" and keys:
                node[draw(st.sampled_from(keys))] = copy.deepcopy(draw(values))
            elif op == "delete" and keys:
                del node[draw(st.sampled_from(keys))]
            else:
                node[draw(st.sampled_from(EXTRA_KEYS))] = copy.deepcopy(draw(values))
        elif op == "replace" and node:
            node[draw(st.integers(0, len(node) - 1))] = copy.deepcopy(draw(values))
        elif op == "delete" and node:
            del node[draw(st.integers(0, len(node) - 1))]
        elif op == "grow" and node:
            node.extend(copy.deepcopy(node[-1]) for _ in range(draw(st.integers(1, 52))))
        else:
            node.append(copy.deepcopy(draw(values)))
    return body


BASES = st.one_of(request_bodies(), st.sampled_from([b for _, b in EXAMPLES]))


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(request_bodies())
def test_the_compiled_loader_answers_every_valid_body_exactly_as_marshmallow_does(body):
    note(repr(body))
    assert_same(LOADER, body, accepted=True)


@settings(
    max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large]
)
@given(mutated(BASES))
def test_on_any_mutated_body_the_compiled_loader_declines_exactly_when_marshmallow_fails(body):
    note(repr(body))
    expected = full_load(REQUEST, body)
    event(
        "marshmallow refuses"
        if expected is FAILED
        else "marshmallow crashes"
        if isinstance(expected, Crashed)
        else "marshmallow accepts"
    )
    assert_same(LOADER, body)
    if isinstance(expected, Crashed):
        assert LOADER(copy.deepcopy(body)) is DECLINE


def test_the_compiled_loader_gives_the_same_answers_from_many_threads_at_once():
    bodies = [b for n, b in EXAMPLES if n not in INVALID_EXAMPLES] * 20
    expected = [repr(REQUEST.load(b)) for b in bodies]
    with ThreadPoolExecutor(8) as pool:
        got = list(pool.map(lambda b: repr(REQUEST.load(b)), bodies))
    assert got == expected


# --- Through HTTP ----------------------------------------------------------------------------------
class Spy:
    """Stands in for the request schema's compiled loader, recording whether it answered."""

    def __init__(self, loader: CompiledLoader, *, always_decline: bool = False):
        self.loader, self.schema, self.always_decline = loader, loader.schema, always_decline
        self.answered: list[bool] = []

    def __call__(self, data):
        result = DECLINE if self.always_decline else self.loader(data)
        self.answered.append(result is not DECLINE)
        return result


def test_both_endpoints_use_the_compiled_loader_for_a_valid_body(client, monkeypatch):
    spy = Spy(views.REQUEST_SCHEMA._compiled_loader)
    monkeypatch.setattr(views.REQUEST_SCHEMA, "_compiled_loader", spy)
    assert client.post("/v1/interpretations", json=VALID).status_code == 200
    assert client.post("/v1/interpretations", json=at("spep.m_protein.value", -1)).status_code == 422
    resp = client.post("/v1/interpretations/batch", json={"items": [VALID, {"spep": 1}, PANELS[4][1]]})
    assert [r["status"] for r in resp.get_json()["results"]] == [200, 422, 200]
    assert spy.answered == [True, False, True, False, True]


HTTP_BODIES = [json.dumps(b).encode() for _, b in EXAMPLES] + [
    body for _, body, content_type, status, _ in CASES if status == 422 and content_type is not None
]


def _responses(client) -> list:
    out = []
    for body in HTTP_BODIES:
        r = client.post("/v1/interpretations", data=body, content_type="application/json")
        out.append((r.status_code, r.get_json()))
    items = [json.loads(b) for b in HTTP_BODIES if len(b) < 100_000]
    r = client.post("/v1/interpretations/batch", json={"items": items})
    out.append((r.status_code, r.get_json()))
    return out


def test_responses_and_error_bodies_are_the_same_with_and_without_the_compiled_loader(client, monkeypatch):
    with_compiled = _responses(client)
    monkeypatch.setattr(
        views.REQUEST_SCHEMA,
        "_compiled_loader",
        Spy(views.REQUEST_SCHEMA._compiled_loader, always_decline=True),
    )
    assert _responses(client) == with_compiled
    statuses = [s for s, _ in with_compiled[:-1]]
    assert statuses.count(200) >= 10 and statuses.count(422) >= 30, statuses


def test_a_field_error_keeps_its_dotted_path_and_marshmallows_message(client):
    r = client.post(
        "/v1/interpretations",
        json=at("labs.calcium", {"value": -1, "unit": "mg/dL", "reference_range": {"low": 2}}),
    )
    assert r.status_code == 422
    assert r.get_json()["errors"] == {
        "labs.calcium.value": ["Must be greater than or equal to 0."],
        "labs.calcium.reference_range.high": ["Missing data for required field."],
    }


def test_the_stored_history_schema_is_compiled_and_loads_what_marshmallow_loads():
    # Serial memory loads each stored panel through it (service/api/records.py).
    from service.api.history_merge import SECTIONS as HISTORY_SECTIONS
    from service.api.records import HISTORY_SCHEMA

    assert HISTORY_SCHEMA._compiled_loader is not None
    assert HISTORY_SCHEMA._compiled_loader.schema is HISTORY_SCHEMA
    for _, body, _ in PANELS:
        entry = {"collected_on": "2025-01-01", **{k: body[k] for k in HISTORY_SECTIONS if k in body}}
        assert_same(HISTORY_SCHEMA, entry, accepted=True)
        for k in HISTORY_SECTIONS:
            if k in entry:
                broken = copy.deepcopy(entry)
                broken[k] = {"nonsense": 1}
                assert_same(HISTORY_SCHEMA, broken, accepted=False)
        assert_same(HISTORY_SCHEMA, {**entry, "collected_on": "2025-02-30"}, accepted=False)
        assert_same(HISTORY_SCHEMA, {k: v for k, v in entry.items() if k != "collected_on"}, accepted=False)
    spep = {"m_protein": {"value": 3.5, "unit": "g/dL"}}
    for value in (-0.01, 0, 0.01, 10.0, 1e9, "1", None, True):
        assert_same(
            HISTORY_SCHEMA,
            {"collected_on": "2025-01-01", "spep": {**spep, "m_protein": {"value": value, "unit": "g/dL"}}},
        )
