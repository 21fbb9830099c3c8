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
_LOAD_INTERNALS = (
    "_do_load",
    "_deserialize",
    "_invoke_load_processors",
    "_invoke_field_validators",
    "_invoke_schema_validators",
    "_run_validator",
    "_invoke_processors",
    "_call_and_store",
)
_HOOK_TAGS = {PRE_DUMP, POST_DUMP, PRE_LOAD, POST_LOAD, VALIDATES, VALIDATES_SCHEMA}
_HOOK_OPTIONS = {VALIDATES_SCHEMA: {"pass_original", "skip_on_field_errors"}, POST_LOAD: {"pass_original"}}


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
    """A loader for one schema level, raising Declined/ValidationError on what it does not accept.

    The loader is generated as Python source, one straight block per field, and compiled once: a
    closure per field and a loop over a field plan cost about a third of a load (a panel has ~150
    field slots, most of them absent). The block is marshmallow's sequence for that field: missing
    (skip, required, default), None (allow_none), conversion, validators."""
    _check_schema(schema, unknown, path)
    ns: dict[str, Any] = {"Declined": Declined, "missing": missing, "dict": dict, "type": type}
    body: list[str] = []
    keys = []
    for i, (attr_name, f) in enumerate(schema.load_fields.items()):
        data_key = f.data_key if f.data_key is not None else attr_name
        out_key = f.attribute or attr_name
        if "." in out_key:  # marshmallow's set_value would nest it
            raise _refuse(_join(path, attr_name), f"dotted attribute {out_key!r}")
        keys.append(data_key)
        body.extend(_field_source(i, f, data_key, out_key, _join(path, data_key), report, ns))
    ns["known"] = frozenset(keys)
    head = "    if type(data) is not dict"  # JSON objects are dicts; another Mapping is left to marshmallow
    head += " or not known.issuperset(data):" if unknown == RAISE else ":"
    # Bound once: marshmallow looks each hook up by name per call; the arguments are what its
    # _run_validator and _invoke_processors pass for a single (many=False) load.
    hooks = []
    for j, (name, _, _) in enumerate(schema._hooks.get(VALIDATES_SCHEMA, ())):
        ns[f"validator_{j}"] = getattr(schema, name)
        hooks.append(f"    validator_{j}(out, partial=partial, many=False, unknown=unknown)")
    for j, (name, _, _) in enumerate(schema._hooks.get(POST_LOAD, ())):
        ns[f"processor_{j}"] = getattr(schema, name)
        hooks.append(f"    out = processor_{j}(out, many=False, partial=partial, unknown=unknown)")
    ns["partial"], ns["unknown"] = schema.partial, unknown
    lines = [
        "def load(data):",
        head,
        "        raise Declined",
        "    out = {}",
        *body,
        *hooks,
        "    return out",
    ]
    return _exec(lines, path, ns)["load"]


def _field_source(
    i: int, f: fields.Field, attr: str, out_key: str, path: str, report: _Report, ns: dict[str, Any]
) -> list[str]:
    """The generated block for one field: ``data[attr]`` loaded into ``out[out_key]``."""
    key, name = repr(attr), repr(out_key)
    if _needs_whole_deserialize(f):
        # Not the standard missing/None/validate sequence: the field's own deserialize does it all.
        report.fallbacks.append(f"{path} ({type(f).__name__})")
        ns[f"whole_{i}"] = f.deserialize
        return [
            f"    x = whole_{i}(data.get({key}, missing), {key}, data)",
            f"    if x is not missing: out[{name}] = x",
        ]
    lines = [f"    v = data.get({key}, missing)", "    if v is missing:"]
    if f.required:
        lines.append("        raise Declined")
    elif f.load_default is missing:
        lines.append("        pass")
    else:
        ns[f"default_{i}"] = f.load_default
        call = "()" if callable(f.load_default) else ""
        lines += [f"        x = default_{i}{call}", f"        if x is not missing: out[{name}] = x"]
    # Field.deserialize: None is an error unless allow_none, and then skips conversion and validators.
    none = f"        out[{name}] = None" if f.allow_none else "        raise Declined"
    lines += ["    elif v is None:", none, "    else:"]
    lines += ["        " + line for line in _value_source(i, f, key, path, report, ns)]
    lines.append(f"        if x is not missing: out[{name}] = x")  # a field may load to ``missing``
    return lines


def _value_source(
    i: int, field_: fields.Field, key: str, path: str, report: _Report, ns: dict[str, Any]
) -> list[str]:
    """Statements setting ``x`` to the loaded non-None value ``v``: ``f._deserialize(v, attr, data)``
    (the fast form where there is one), then the field's validators."""
    # Told apart by exact class below, so the subclass attributes (many, schema, inner...) exist.
    f: Any = field_
    cls = type(f)
    ns[f"deserialize_{i}"] = f._deserialize
    slow = f"deserialize_{i}(v, {key}, data)"
    if "compiled_converter" in cls.__dict__ and (own := f.compiled_converter()) is not None:
        # Only a class's own declaration counts: a subclass may accept other things than its parent.
        ns[f"convert_{i}"] = own
        lines = [f"x = convert_{i}(v, {key}, data)"]
    elif cls is fields.Nested and not f.many and not f.schema.many:
        # Nested._deserialize is schema.load(value, unknown=f.unknown): compiled for a dict.
        unknown = f.schema.unknown if f.unknown is None else f.unknown
        ns[f"nested_{i}"] = _compile(f.schema, unknown, path, report)
        lines = [f"x = nested_{i}(v) if type(v) is dict else {slow}"]
    elif cls is fields.List or cls.__dict__.get("compiled_as_list"):
        # List._deserialize calls inner.deserialize(item): no attr, no data. A bounded list checks
        # its length first (an over-long one goes to its own _deserialize, which refuses it at once).
        ns[f"item_{i}"] = _item_loader(f.inner, _join(path, "*"), report)
        bound = getattr(f, "max_length", None) if cls is not fields.List else None
        fits = "type(v) is list" if bound is None else f"type(v) is list and len(v) <= {int(bound)}"
        lines = [f"x = [item_{i}(each, None) for each in v] if {fits} else {slow}"]
    elif cls is fields.String:
        # String._deserialize returns str(value) for a str: the value itself when exactly a str.
        lines = [f"x = v if type(v) is str else {slow}"]
    elif cls is fields.Integer and f.strict:
        # Integer(strict)._validated returns int(value) for an int that is not a bool: the value itself.
        lines = [f"x = v if type(v) is int else {slow}"]
    elif cls is fields.Raw:
        lines = ["x = v"]
    else:
        report.own_deserialize.append(f"{path} ({cls.__name__})")
        lines = [f"x = {slow}"]
    for j, v in enumerate(f.validators):
        ns[f"check_{i}_{j}"] = _check(v)
        lines.append(f"check_{i}_{j}(x)")
    return lines


def _needs_whole_deserialize(f: fields.Field) -> bool:
    cls = type(f)
    return bool(
        cls.deserialize is not fields.Field.deserialize
        or cls._validate_missing is not fields.Field._validate_missing
        or cls._validate is not fields.Field._validate
        or cls._validate_all is not fields.Field._validate_all
        or getattr(f, "pre_load", None)
        or getattr(f, "post_load", None)
    )


def _item_loader(f: fields.Field, path: str, report: _Report) -> _ValueLoader:
    """A list item's loader: ``f.deserialize(item)`` as List._deserialize calls it (no attr, no data)."""
    if _needs_whole_deserialize(f):
        report.fallbacks.append(f"{path} ({type(f).__name__})")
        deserialize = f.deserialize
        return lambda value, data: deserialize(value, None, data)
    ns: dict[str, Any] = {"Declined": Declined, "missing": missing, "type": type}
    lines = [
        "def item(v, data):",
        "    if v is None:",
        "        return None" if f.allow_none else "        raise Declined",
    ]
    lines += ["    " + line for line in _value_source(0, f, "None", path, report, ns)]
    lines.append("    return x")
    return _exec(lines, path, ns)["item"]


def _exec(lines: list[str], path: str, ns: dict[str, Any]) -> dict[str, Any]:
    exec(compile("\n".join(lines) + "\n", f"<compiled loader {path or '(root)'}>", "exec"), ns)  # noqa: S102
    return ns


def _check(validator: Callable[[Any], Any]) -> Callable[[Any], None]:
    """A validator as a check raising Declined; validators of other types are called as they are."""
    # Told apart by exact class below, so each one's attributes (min, max, choices...) exist.
    v: Any = validator
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

    def load(
        self, data: Any, *, many: bool | None = None, partial: Any = None, unknown: str | None = None
    ) -> Any:
        """Schema.load; the compiled loader answers a plain call for data it accepts."""
        if many is None and partial is None and unknown is None:
            loader = self._compiled_loader
            # A copy of the instance (Nested(instance, only=...)) may have other fields: full load.
            if loader is not None and loader.schema is self:
                result = loader(data)
                if result is not DECLINE:
                    return result
        return super().load(data, many=many, partial=partial, unknown=unknown)  # type: ignore[misc]
