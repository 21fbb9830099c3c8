"""The compiled loader (service/api/compiled.py) against marshmallow's own load.

The contract: for any input, if marshmallow's load raises, the compiled loader declines; if it succeeds,
the compiled loader returns an equal object with the same repr (repr tells Decimal('67') from
Decimal('67.0'), which == does not). These tests compare the two on small schemas built here, on
boundaries, and refuse-at-compile-time cases.
"""

from __future__ import annotations

import copy
from collections import OrderedDict
from datetime import date

import pytest
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

from service.api.compiled import (
    DECLINE,
    CompiledLoadMixin,
    Declined,
    UnsupportedSchema,
    compile_schema,
)

FAILED = object()


def full_load(schema: Schema, data):
    """marshmallow's own load (bypassing any CompiledLoadMixin), or FAILED on a ValidationError."""
    try:
        return Schema.load(schema, copy.deepcopy(data))
    except ValidationError:
        return FAILED


def fast_load(schema: Schema, data):
    """The compiled loader without its safety net: any exception but Declined/ValidationError fails."""
    try:
        return compile_schema(schema).load_strict(copy.deepcopy(data))
    except (Declined, ValidationError):
        return DECLINE


def assert_same(schema: Schema, data, *, accepted: bool | None = None) -> None:
    """Both loaders agree: the compiled one declines exactly when marshmallow fails."""
    expected = full_load(schema, data)
    got = fast_load(schema, data)
    if expected is FAILED:
        assert got is DECLINE, (data, got)
    else:
        assert got is not DECLINE, (data, expected)
        assert got == expected and repr(got) == repr(expected), (data, got, expected)
    if accepted is not None:
        assert (expected is not FAILED) == accepted, (data, expected)


class Inner(Schema):
    code = fields.String(required=True, validate=validate.OneOf(["a", "b"]))
    n = fields.Integer(strict=True, allow_none=True, validate=validate.Range(0, 10, min_inclusive=False,
                                                                            max_inclusive=False))

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
    count = fields.Integer(validate=lambda v: None if v != 13 else (_ for _ in ()).throw(
        ValidationError("unlucky")))
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


@pytest.mark.parametrize("data", [
    {},
    {"Name": "x"},
    {"name": "x"},  # the attribute name is not the data key: unknown
    {"Name": "bad"},
    {"Name": None},
    {"Name": b"bytes are decoded by String"},
    {"Name": b"\xff"},
    {"when": "2024-02-29"}, {"when": "2023-02-29"}, {"when": None}, {"when": date(2024, 1, 1)},
    {"when": "20240101"}, {"when": 20240101},
    {"tags": []}, {"tags": ["a"]}, {"tags": ["a", "b"]}, {"tags": ["a", "b", "c"]}, {"tags": ("a",)},
    {"tags": "ab"}, {"tags": [1]}, {"tags": None}, {"tags": [None]},
    {"pair": [1, None]}, {"pair": [1]}, {"pair": [{}, []]},
    {"kind": "fancy"}, {"kind": "other"}, {"kind": ["plain"]}, {"kind": None},
    {"inner": {"code": "a"}}, {"inner": {"code": "c"}}, {"inner": {}}, {"inner": None},
    {"inner": {"code": "a", "n": 1}}, {"inner": {"code": "a", "n": 0}}, {"inner": {"code": "a", "n": 10}},
    {"inner": {"code": "a", "n": 9}}, {"inner": {"code": "a", "n": 5.0}}, {"inner": {"code": "a", "n": True}},
    {"inner": {"code": "a", "x": 1}}, {"inner": OrderedDict(code="a")}, {"inner": []}, {"inner": "a"},
    {"inners": [{"code": "a"}, {"code": "b", "n": None}]}, {"inners": [{"code": "a"}, None]},
    {"inners": ({"code": "a"},)}, {"inners": [{"code": "a", "zz": 1}]},
    {"loose": {"code": "b", "extra": 1}}, {"loose": {"extra": 1}},
    {"amount": 1.5}, {"amount": 1.4999}, {"amount": 2}, {"amount": "2.5"}, {"amount": float("nan")},
    {"amount": 10**400}, {"amount": True},
    {"count": 12}, {"count": 13}, {"count": "12"}, {"count": 12.0}, {"count": 12.5},
    {"flag": True}, {"flag": "yes"}, {"flag": 1}, {"flag": 2}, {"flag": []},
    {"default_none": None}, {"default_none": "x"},
    {"extra": 1},
])
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
    open_ = fields.Integer(strict=True, data_key="open",
                           validate=validate.Range(min=0, max=10, min_inclusive=False, max_inclusive=False))
    low_only = fields.Raw(validate=validate.Range(min=5))
    high_only = fields.Raw(validate=validate.Range(max=5, max_inclusive=False))
    between = fields.List(fields.Raw(), validate=validate.Length(min=1, max=2))
    exactly = fields.List(fields.Raw(), validate=validate.Length(equal=2))
    chosen = fields.Raw(validate=validate.OneOf([1, "a", None]))


@pytest.mark.parametrize(("data", "accepted"), [
    ({"closed": 0}, True), ({"closed": 10}, True), ({"closed": -1}, False), ({"closed": 11}, False),
    ({"open": 0}, False), ({"open": 1}, True), ({"open": 9}, True), ({"open": 10}, False),
    ({"low_only": 5}, True), ({"low_only": 4.999}, False), ({"low_only": "x"}, None),
    ({"high_only": 4.999}, True), ({"high_only": 5}, False),
    ({"between": []}, False), ({"between": [1]}, True), ({"between": [1, 2]}, True),
    ({"between": [1, 2, 3]}, False),
    ({"exactly": [1]}, False), ({"exactly": [1, 2]}, True), ({"exactly": [1, 2, 3]}, False),
    ({"chosen": 1}, True), ({"chosen": 1.0}, True), ({"chosen": True}, True), ({"chosen": "a"}, True),
    ({"chosen": "b"}, False), ({"chosen": []}, False), ({"chosen": {}}, False),
    ({"chosen": Incomparable()}, False),
])
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


@pytest.mark.parametrize(("attrs", "message"), [
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
])
def test_the_compiler_refuses_what_it_does_not_reproduce(attrs, message):
    with pytest.raises(UnsupportedSchema, match=message):
        compile_schema(_schema_with(**attrs)())


def test_the_compiler_refuses_an_unsupported_hook_in_a_nested_schema_too():
    nested = _schema_with(_p=pre_load(lambda self, d, **kw: d))

    class Parent(Schema):
        child = fields.List(fields.Nested(nested))

    with pytest.raises(UnsupportedSchema, match=r"child\.\*: a pre_load hook"):
        compile_schema(Parent())


@pytest.mark.parametrize("kwargs", [{"many": True}, {"partial": True}, {"partial": ("x",)},
                                    {"unknown": INCLUDE}])
def test_the_compiler_refuses_schema_instances_loading_other_than_one_object_strictly(kwargs):
    with pytest.raises(UnsupportedSchema):
        compile_schema(_schema_with()(**kwargs))


def test_a_schema_mixing_in_the_compiled_load_refuses_at_construction():
    class Hooked(CompiledLoadMixin, Schema):
        x = fields.Raw()

        @pre_load
        def _p(self, d, **kw):
            return d

    with pytest.raises(UnsupportedSchema, match="pre_load"):
        Hooked()


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
