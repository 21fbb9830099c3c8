"""Malformed input gives the adapters' own errors (-> ACK / OperationOutcome), never a crash."""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from service.adapters.codes import load_codemap
from service.adapters.fhir import FhirError, bundle_to_request
from service.adapters.hl7v2 import Hl7Error, build_ack, parse_oru

from .conftest import sample_bytes

CODEMAP = load_codemap()
HEADER = r"MSH|^~\&|LIS|LAB|MGI|HOSP|20240501120000||ORU^R01^ORU_R01|FUZZ|P|2.5.1"
SEGMENT_TEXT = st.text(alphabet=st.sampled_from(list("OBXPIDNTEG123|^~\\&<>.-,abc kKgL%/ ")), max_size=60)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(SEGMENT_TEXT, max_size=6))
def test_arbitrary_segments_raise_only_hl7error(segments: list[str]) -> None:
    text = "\r".join([HEADER, *("OBX|" + s for s in segments)])
    try:
        parse_oru(text, CODEMAP)
    except Hl7Error as exc:
        ack = build_ack(text, error=exc)
        assert "\rMSA|" in ack


# hl7apy needs ~0.1 s per message of this size: few examples, each a full parse.
@settings(max_examples=40, deadline=None)
@given(st.integers(min_value=0, max_value=2000), st.sampled_from(list("|^~\\&\r\n x9")))
@example(position=3, char=" ")  # a space as field separator: the ACK falls back to "|" (found by this test)
@example(position=3, char="9")
def test_corrupted_samples_raise_only_hl7error(position: int, char: str) -> None:
    data = bytearray(sample_bytes("oru_worked_example_s6.hl7"))
    data[position % len(data)] = ord(char)
    try:
        parse_oru(bytes(data), CODEMAP)
    except Hl7Error as exc:
        assert build_ack(bytes(data), error=exc).startswith("MSH|")


JSONISH = st.recursive(
    st.none() | st.booleans() | st.integers(-5, 5) | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda children: (
        st.lists(children, max_size=3)
        | st.dictionaries(
            st.sampled_from(
                [
                    "resourceType",
                    "type",
                    "entry",
                    "resource",
                    "code",
                    "valueQuantity",
                    "value",
                    "status",
                    "coding",
                    "system",
                ]
            ),
            children,
            max_size=4,
        )
    ),
    max_leaves=12,
)


@settings(max_examples=150, deadline=None)
@given(JSONISH)
def test_arbitrary_json_raises_only_fhirerror(data: Any) -> None:
    try:
        bundle_to_request(data, CODEMAP)
    except FhirError as exc:
        assert exc.operation_outcome()["resourceType"] == "OperationOutcome"


VALUES = st.one_of(
    st.fixed_dictionaries(
        {
            "valueQuantity": st.fixed_dictionaries(
                {"value": st.floats(min_value=0, max_value=1e6, allow_nan=False)},
                optional={
                    "comparator": st.sampled_from(["<", "<=", ">", ">="]),
                    "unit": st.sampled_from(["g/L", "%", "mg", "m[IU]/L"]),
                    "code": st.sampled_from(["g/L", "%", "mg/(24.h)"]),
                },
            )
        }
    ),
    st.fixed_dictionaries({"valueString": st.text(max_size=20)}),
    st.fixed_dictionaries({"valueBoolean": st.booleans()}),
    st.fixed_dictionaries({"valueInteger": st.integers(0, 50)}),
)
CODES = st.sampled_from(
    ["33358-3", "25700-6", "11118-7", "48378-4", "36916-5", "13440-3", "99999-9", "26450-7"]
)


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(CODES, VALUES), max_size=5))
def test_valid_bundles_with_arbitrary_values_raise_only_fhirerror(observations) -> None:
    entries = [
        {
            "resource": {
                "resourceType": "Observation",
                "status": "final",
                "code": {"coding": [{"system": "http://loinc.org", "code": code}]},
                **value,
            }
        }
        for code, value in observations
    ]
    try:
        bundle_to_request({"resourceType": "Bundle", "type": "collection", "entry": entries}, CODEMAP)
    except FhirError as exc:
        assert exc.errors
