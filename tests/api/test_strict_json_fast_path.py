"""The strict JSON parser's orjson fast path (service/api/parsing.py) against the strict parser alone.

The contract: for any body, loads_strict gives what json.loads with the duplicate-key and NaN hooks
gives (same value, same types, same repr), or raises the same error; the fast path only answers for
bodies it can prove free of duplicate keys.
"""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bench.panels import BODIES
from service.api.parsing import _MISS, _BadJson, _fast, loads_strict


def strict_only(raw: bytes):
    """The parser without the fast path: the reference."""
    from service.api.parsing import _constant, _pairs

    return json.loads(raw, object_pairs_hook=_pairs, parse_constant=_constant)


def outcome(fn, raw: bytes):
    try:
        value = fn(raw)
    except (ValueError, RecursionError) as e:  # _BadJson and JSONDecodeError are ValueErrors
        return ("error", type(e).__name__, str(e))
    return ("value", repr(value))


keys = st.sampled_from(["a", "b", "value", "unit", "a, b", 'q"":', "é", "\u2028"])
scalars = (
    st.none()
    | st.booleans()
    | st.integers(-(2**70), 2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=6)
)
# Objects as lists of pairs, so that duplicate keys can be written.
documents = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.lists(st.tuples(keys, inner), max_size=4).map(lambda pairs: _Pairs(pairs))
    ),
    max_leaves=12,
)


class _Pairs(list):
    """A JSON object written member by member (duplicates allowed)."""


def encode(doc, item_sep: str, key_sep: str, ensure_ascii: bool) -> str:
    if isinstance(doc, _Pairs):
        members = (
            f"{json.dumps(k, ensure_ascii=ensure_ascii)}{key_sep}{encode(v, item_sep, key_sep, ensure_ascii)}"
            for k, v in doc
        )
        return "{" + item_sep.join(members) + "}"
    if isinstance(doc, list):
        return "[" + item_sep.join(encode(v, item_sep, key_sep, ensure_ascii) for v in doc) + "]"
    return json.dumps(doc, ensure_ascii=ensure_ascii)


@settings(max_examples=600, deadline=None)
@given(
    documents,
    st.sampled_from([(",", ":"), (", ", ": "), (",", ": "), (" , ", " :")]),
    st.booleans(),
    st.sampled_from(["", " ", "\n", "\t\r\n "]),
)
def test_the_fast_path_never_changes_what_a_body_parses_to(doc, seps, ensure_ascii, pad):
    raw = (pad + encode(doc, *seps, ensure_ascii) + pad).encode()
    assert outcome(loads_strict, raw) == outcome(strict_only, raw)


@pytest.mark.parametrize(
    ("raw", "message"),
    (
        (b'{"a":1,"a":2}', "duplicate key 'a'"),
        (b'{"a": 1, "a": 2}', "duplicate key 'a'"),
        (b'{"x":{"b":[1,{"c":1,"c":1}]}}', "duplicate key 'c'"),
        (b'{"a":NaN}', "NaN is not a valid JSON number"),
        (b'{"a":-Infinity}', "-Infinity is not a valid JSON number"),
    ),
)
def test_a_duplicate_key_or_a_non_finite_literal_is_refused_with_its_name(raw, message):
    with pytest.raises(_BadJson, match=message):
        loads_strict(raw)


@pytest.mark.parametrize(
    ("raw", "fast"),
    (
        (b'{"a":1,"b":[1,2]}', True),  # compact: orjson's own form
        (b'{"a": 1, "b": [1, 2]}', True),  # Python's json.dumps default
        (b'  {"a":1}\n', True),  # whitespace around the value
        (b'{\n  "a": 1\n}', False),  # pretty-printed: strict parser
        (b'{"a":1e2}', False),  # another spelling of 100.0
        (b'{"a":12345678901234567890123}', False),  # orjson would give a float
        (b'{"a":1,"a":1}', False),
        (b"[" * 300 + b"]" * 300, False),  # orjson reads 1,024 levels but writes only 254
    ),
)
def test_the_fast_path_answers_only_for_bodies_it_can_prove_free_of_duplicates(raw, fast):
    assert (_fast(raw) is not _MISS) is fast
    assert outcome(loads_strict, raw) == outcome(strict_only, raw)


def test_the_benchmark_and_lis_style_bodies_take_the_fast_path():
    for raw in BODIES:
        assert _fast(raw) is not _MISS
        assert repr(loads_strict(raw)) == repr(strict_only(raw))
