"""Request loading compiled to plain Python; marshmallow stays the definition and the error reporter.

Why: a full panel is about a dozen nested marshmallow ``Schema.load`` calls, and each pays for the
generic machinery whatever the data (an error store, the many/partial/unknown plumbing, a getter
closure and a try/except per field, hooks looked up by name, ``And`` around each field's validators).
``compile_schema`` walks a schema instance once and builds a loader that does only what that schema's
fields need: the same conversions (a field's own code wherever a fast form is not obviously the same),
the same validators, and the schema's own ``@validates_schema`` and ``@post_load`` methods called with
the arguments marshmallow passes. So the validation rules and the domain objects are still defined
once, in the schema; nothing is restated here but marshmallow's control flow.

The loader only answers for input it accepts. Anything else gives ``DECLINE``, and the caller runs
the full marshmallow ``load``, which then raises the usual ValidationError (messages, dotted paths):
error bodies are marshmallow's by construction, and only the valid path gets faster. (A declined body
may have run some hooks already; they run again in the full load, so hooks must be free of side
effects, as building frozen domain objects is.)

What the compiler cannot reproduce exactly it refuses when it compiles (UnsupportedSchema): load hooks
other than plain ``@validates_schema``/``@post_load``, field-level ``@validates``, ``unknown=INCLUDE``,
``many`` or ``partial`` schemas, overridden load internals. A field with no fast form is loaded through
its own ``_deserialize`` (or its whole ``deserialize`` when that is overridden); the loader lists those
fields, so that a test notices a new one. ``CompiledLoadMixin`` turns a refusal into "marshmallow
alone" for that instance (slower, never different); a test asserts the service's own schema compiles.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from importlib.metadata import version
from typing import Any, Final

from marshmallow import EXCLUDE, RAISE, Schema, fields, validate
from marshmallow.decorators import POST_DUMP, POST_LOAD, PRE_DUMP, PRE_LOAD, VALIDATES, VALIDATES_SCHEMA
from marshmallow.utils import missing

# A fast form of Field._deserialize: (value, attr, data) -> loaded value, raising ValidationError (or
# Declined) for what it does not accept. A field class may offer one as ``compiled_converter()``.
Converter = Callable[[Any, str | None, Any], Any]
# One field's loader for a value present in the input (None included): (value, parent data) -> loaded.
_ValueLoader = Callable[[Any, Any], Any]


class _Decline:
    __slots__ = ()

    def __repr__(self) -> str:
        return "DECLINE"


DECLINE: Final = _Decline()
"""What a compiled loader returns for input it does not answer for: run the full ``load``."""


class Declined(Exception):
    """Raised inside a compiled loader: the input is not one it answers for."""


class UnsupportedSchema(TypeError):
    """The schema uses something the compiler does not reproduce exactly."""


# The load internals whose behaviour the compiled loader restates (marshmallow 4.x).
_LOAD_INTERNALS = ("_do_load", "_deserialize", "_invoke_load_processors", "_invoke_field_validators",
                   "_invoke_schema_validators", "_run_validator", "_invoke_processors", "_call_and_store")
_HOOK_TAGS = {PRE_DUMP, POST_DUMP, PRE_LOAD, POST_LOAD, VALIDATES, VALIDATES_SCHEMA}
_HOOK_OPTIONS = {VALIDATES_SCHEMA: {"pass_original", "skip_on_field_errors"}, POST_LOAD: {"pass_original"}}
_SKIP: Final = object()  # a missing optional field without a load_default: left out of the result
_REQUIRED: Final = object()  # a missing required field: an error, so decline


@dataclass(frozen=True, eq=False)
class CompiledLoader:
    """A schema instance's loader: the loaded value for input it accepts, else DECLINE."""

    schema: Schema
    load_strict: Callable[[Any], Any]  # raises Declined or ValidationError instead of returning DECLINE
    own_deserialize: tuple[str, ...]  # field paths loaded through the field's own _deserialize
    fallbacks: tuple[str, ...]  # field paths loaded through the field's whole deserialize

    def __call__(self, data: Any) -> Any:
        """The loaded value, or DECLINE."""
        try:
            return self.load_strict(data)
        except Exception:
            # Any failure, including one marshmallow would report differently or not at all, means
            # "not answered here": the full load then decides, so a fast-path gap can cost time but
            # never change a response.
            return DECLINE

    def __deepcopy__(self, memo: dict) -> CompiledLoader:
        # The closures are not copied anyway; keeping ``schema`` the original makes a deep-copied
        # schema fail CompiledLoadMixin's identity check and use the full load.
        return self


@dataclass
class _Report:
    own_deserialize: list[str] = field(default_factory=list)
    fallbacks: list[str] = field(default_factory=list)


def compile_schema(schema: Schema) -> CompiledLoader:
    """Compile a schema instance's ``load(data)`` (no many/partial/unknown arguments)."""
    major = int(version("marshmallow").split(".")[0])
    if major != 4:
        raise UnsupportedSchema(f"written against marshmallow 4's load internals, found {major}")
    report = _Report()
    load = _compile(schema, schema.unknown, "", report)
    return CompiledLoader(schema, load, tuple(report.own_deserialize), tuple(report.fallbacks))


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _refuse(path: str, why: str) -> UnsupportedSchema:
    return UnsupportedSchema(f"{path or '(root)'}: {why}; the compiled loader would not match marshmallow")


def _check_schema(schema: Schema, unknown: str, path: str) -> None:
    cls = type(schema)
    if schema.many:
        raise _refuse(path, "many=True")
    if schema.partial is not None:
        raise _refuse(path, "partial is set")
    if unknown not in (RAISE, EXCLUDE):
        raise _refuse(path, f"unknown={unknown!r}")
    if schema.dict_class is not dict:
        raise _refuse(path, f"dict_class {schema.dict_class!r}")
    for name in _LOAD_INTERNALS:
        if getattr(cls, name) is not getattr(Schema, name):
            raise _refuse(path, f"{name} is overridden")
    if cls.load is not Schema.load and cls.load is not CompiledLoadMixin.load:
        raise _refuse(path, "load is overridden")
    for tag, hooks in schema._hooks.items():
        if not hooks or tag in (PRE_DUMP, POST_DUMP):
            continue
        if tag not in _HOOK_TAGS or tag in (PRE_LOAD, VALIDATES):
            raise _refuse(path, f"a {tag} hook ({hooks[0][0]})")
        for attr_name, pass_collection, options in hooks:
            if pass_collection:
                raise _refuse(path, f"{attr_name} has pass_collection=True")
            if options.get("pass_original"):
                raise _refuse(path, f"{attr_name} has pass_original=True")
            if not options.keys() <= _HOOK_OPTIONS[tag]:
                raise _refuse(path, f"{attr_name} has options {sorted(options)}")
        # skip_on_field_errors needs nothing: the loader calls schema validators only when every
        # field loaded, which is when marshmallow calls them whatever that option says.


def _compile(schema: Schema, unknown: str, path: str, report: _Report) -> Callable[[Any], Any]:
    """A loader for one schema level, raising Declined/ValidationError on what it does not accept."""
    _check_schema(schema, unknown, path)
    plan = []
    for attr_name, f in schema.load_fields.items():
        data_key = f.data_key if f.data_key is not None else attr_name
        out_key = f.attribute or attr_name
        if "." in out_key:  # marshmallow's set_value would nest it
            raise _refuse(_join(path, attr_name), f"dotted attribute {out_key!r}")
        load_value, on_missing = _field(f, data_key, _join(path, data_key), report)
        plan.append((data_key, out_key, load_value, on_missing))
    plan_t = tuple(plan)
    known = frozenset(key for key, _, _, _ in plan_t)
    check_unknown = unknown == RAISE
    # Bound once: marshmallow looks each hook up by name per call; the arguments are what its
    # _run_validator and _invoke_processors pass for a single (many=False) load.
    validators = tuple(getattr(schema, name) for name, _, _ in schema._hooks.get(VALIDATES_SCHEMA, ()))
    processors = tuple(getattr(schema, name) for name, _, _ in schema._hooks.get(POST_LOAD, ()))
    partial = schema.partial

    def load(data: Any) -> Any:
        # JSON objects are dicts; another Mapping is left to marshmallow.
        if type(data) is not dict or (check_unknown and not known.issuperset(data)):
            raise Declined
        out: dict[str, Any] = {}
        for key, name, load_value, on_missing in plan_t:
            value = data.get(key, missing)
            if value is missing:
                if on_missing is _SKIP:
                    continue
                if on_missing is _REQUIRED:
                    raise Declined
                value = on_missing(data)
            else:
                value = load_value(value, data)
            if value is not missing:  # a field may load to ``missing``: marshmallow leaves it out
                out[name] = value
        for validator in validators:
            validator(out, partial=partial, many=False, unknown=unknown)
        for processor in processors:
            out = processor(out, many=False, partial=partial, unknown=unknown)
        return out

    return load


def _field(f: fields.Field, attr: str | None, path: str, report: _Report) -> tuple[_ValueLoader, Any]:
    """A present value's loader and what to do when the key is missing, for one field."""
    cls = type(f)
    if (cls.deserialize is not fields.Field.deserialize
            or cls._validate_missing is not fields.Field._validate_missing
            or cls._validate is not fields.Field._validate
            or cls._validate_all is not fields.Field._validate_all
            or getattr(f, "pre_load", None) or getattr(f, "post_load", None)):
        # Not the standard missing/None/validate sequence: the field's own deserialize does it all.
        report.fallbacks.append(f"{path} ({cls.__name__})")

        def load_whole(value: Any, data: Any) -> Any:
            return f.deserialize(value, attr, data)

        def missing_whole(data: Any) -> Any:
            return f.deserialize(missing, attr, data)

        return load_whole, missing_whole

    if f.required:
        on_missing: Any = _REQUIRED
    elif f.load_default is missing:
        on_missing = _SKIP
    elif callable(f.load_default):
        on_missing = _call_default(f.load_default)
    else:
        on_missing = _constant_default(f.load_default)

    convert = _converter(f, path, report)
    checks = tuple(_check(v) for v in f.validators)
    allow_none = f.allow_none
    # Field.deserialize: None is an error unless allow_none, and then skips conversion and validators.
    def load_value(value: Any, data: Any) -> Any:
        if value is None:
            if allow_none:
                return None
            raise Declined
        out = convert(value, attr, data)
        for check in checks:
            check(out)
        return out

    return load_value, on_missing


def _call_default(default: Callable[[], Any]) -> Callable[[Any], Any]:
    return lambda data: default()


def _constant_default(default: Any) -> Callable[[Any], Any]:
    return lambda data: default


def _converter(f: fields.Field, path: str, report: _Report) -> Converter:
    """The fast form of ``f._deserialize``: the exact JSON types inline, everything else via the field."""
    cls = type(f)
    # Only a class's own declaration counts: a subclass may accept other things than its parent.
    if "compiled_converter" in cls.__dict__ and (own := f.compiled_converter()) is not None:
        return own
    deserialize = f._deserialize
    if cls is fields.Nested and not f.many and not f.schema.many:
        nested = _compile(f.schema, f.schema.unknown if f.unknown is None else f.unknown, path, report)

        def load_nested(value: Any, attr: str | None, data: Any) -> Any:
            # Nested._deserialize is schema.load(value, unknown=f.unknown): compiled for a dict.
            return nested(value) if type(value) is dict else deserialize(value, attr, data)

        return load_nested
    if cls is fields.List:
        # List._deserialize calls inner.deserialize(item): no attr, no data.
        item, _ = _field(f.inner, None, _join(path, "*"), report)

        def load_list(value: Any, attr: str | None, data: Any) -> Any:
            if type(value) is list:
                return [item(each, None) for each in value]
            return deserialize(value, attr, data)

        return load_list
    if cls is fields.String:
        # String._deserialize returns str(value) for a str: the value itself when exactly a str.
        return lambda value, attr, data: value if type(value) is str else deserialize(value, attr, data)
    if cls is fields.Integer and f.strict:
        # Integer(strict)._validated returns int(value) for an int that is not a bool: the value itself.
        return lambda value, attr, data: value if type(value) is int else deserialize(value, attr, data)
    if cls is fields.Raw:
        return lambda value, attr, data: value
    report.own_deserialize.append(f"{path} ({cls.__name__})")
    return deserialize


def _check(v: Callable[[Any], Any]) -> Callable[[Any], None]:
    """A validator as a check raising Declined; validators of other types are called as they are."""
    t = type(v)
    if t is validate.Range:
        return _range_check(v)
    if t is validate.OneOf and isinstance(v.choices, list | tuple):
        choices = v.choices

        def one_of(value: Any) -> None:
            try:
                ok = value in choices  # the same membership test as OneOf, on the same object
            except TypeError:
                raise Declined from None
            if not ok:
                raise Declined

        return one_of
    if t is validate.Length:
        lo, hi, equal = v.min, v.max, v.equal

        def length(value: Any) -> None:
            n = len(value)
            if equal is not None:
                if n != equal:
                    raise Declined
            elif (lo is not None and n < lo) or (hi is not None and n > hi):
                raise Declined

        return length
    # Any other validator raises ValidationError itself (And ignores return values in marshmallow 4).
    return v


def _range_check(v: validate.Range) -> Callable[[Any], None]:
    lo, hi = v.min, v.max
    lo_open, hi_open = not v.min_inclusive, not v.max_inclusive

    def in_range(value: Any) -> None:
        if lo is not None and (value <= lo if lo_open else value < lo):
            raise Declined
        if hi is not None and (value >= hi if hi_open else value > hi):
            raise Declined

    return in_range


class CompiledLoadMixin:
    """Put before the Schema base: a plain ``load(data)`` is answered by the compiled loader."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Compiled at construction, once per instance, so no call does lazy set-up or shared writes.
        # An instance the compiler does not reproduce (many=True, partial, unknown=INCLUDE, another
        # marshmallow major version, a hook it refuses) loads through marshmallow alone: slower, never
        # different. A test asserts that the service's own request schema does compile.
        try:
            loader: CompiledLoader | None = compile_schema(self)  # type: ignore[arg-type]
        except UnsupportedSchema as exc:
            loader = None
            self.compile_refusal = str(exc)
        self._compiled_loader = loader

    def load(self, data: Any, *, many: bool | None = None, partial: Any = None,
             unknown: str | None = None) -> Any:
        """Schema.load; the compiled loader answers a plain call for data it accepts."""
        if many is None and partial is None and unknown is None:
            loader = self._compiled_loader
            # A copy of the instance (Nested(instance, only=...)) may have other fields: full load.
            if loader is not None and loader.schema is self:
                result = loader(data)
                if result is not DECLINE:
                    return result
        return super().load(data, many=many, partial=partial, unknown=unknown)  # type: ignore[misc]
