"""A hostile-input battery through HTTP on POST /v1/interpretations and POST /v1/interpretations/batch.

Every case must be refused with a 4xx carrying the standard error body {code, status, message, errors}
whose code equals the HTTP status: never a 5xx, never a traceback.
"""

from __future__ import annotations

import json
from datetime import date, timedelta

import pytest

from service.api import create_app
from service.api.schemas import InterpretationResponseSchema

SINGLE = "/v1/interpretations"
BATCH = "/v1/interpretations/batch"
JSON = "application/json"

QTY = {"value": 1.2, "unit": "g/dL"}
VALID = {
    "spep": {"m_protein": dict(QTY)},
    "serum_ife": {"result": "positive", "clones": [{"heavy_chain": "IgG", "light_chain": "kappa"}]},
}
VALID_TEXT = json.dumps(VALID)
TRACEBACK_MARKERS = ("Traceback", 'File "', "Error:", "site-packages", "werkzeug", "marshmallow.")


def with_(path: str, value) -> dict:
    """VALID with ``value`` set at the dotted ``path`` (list indices as digits)."""
    body = json.loads(VALID_TEXT)
    keys = path.split(".")
    node = body
    for k in keys[:-1]:
        if isinstance(node, list):
            node = node[int(k)]
        else:
            node = node.setdefault(k, {})
    last = keys[-1]
    if isinstance(node, list):
        node[int(last)] = value
    else:
        node[last] = value
    return body


def history(n: int) -> dict:
    today = date.today()
    entries = [
        {"collected_on": (today - timedelta(days=30 * (n - i))).isoformat(), "spep": {"m_protein": QTY}}
        for i in range(n)
    ]
    return {**VALID, "collected_on": today.isoformat(), "history": entries}


def nested(depth: int, open_: str, close: str) -> str:
    return open_ * depth + close * depth


# Each case: (request body bytes, content type or None, expected status, a field path errors must name).
CASES: list[tuple[str, bytes, str | None, int, str | None]] = []


def case(
    id_: str,
    body: bytes | str | dict | list,
    content_type: str | None = JSON,
    status: int = 422,
    field: str | None = None,
) -> None:
    if isinstance(body, dict | list):
        body = json.dumps(body)
    if isinstance(body, str):
        body = body.encode("utf-8")
    CASES.append((id_, body, content_type, status, field))


# --- malformed JSON (400) ---
case("truncated", VALID_TEXT[:-7], status=400)
case("trailing-garbage", VALID_TEXT + " xyz", status=400)
case("two-documents", VALID_TEXT + VALID_TEXT, status=400)
case("single-quotes", VALID_TEXT.replace('"', "'"), status=400)
case("trailing-comma", '{"spep": {"m_protein": {"value": 1, "unit": "g/L"},},}', status=400)
case("js-comment", "// c\n" + VALID_TEXT, status=400)
case("bare-word", "spep", status=400)
case("empty-body", b"", status=400)
case("whitespace-body", b"   \n\t ", status=400)
case("non-utf8-bytes", b'{"spep": {"m_protein": {"value": 1, "unit": "g/\xff\xfeL"}}}', status=400)
case("latin1-body", '{"patient": {"sex": "f\xe9male"}, "spep": {}}'.encode("latin-1"), status=400)
case("nul-byte", b'{"spep": {}\x00}', status=400)
# --- NaN / Infinity literals (400) ---
for lit in ("NaN", "Infinity", "-Infinity"):
    case(f"literal-{lit}-value", VALID_TEXT.replace("1.2", lit), status=400)
case("literal-NaN-age", VALID_TEXT[:-1] + ', "patient": {"age_years": NaN}}', status=400)
# --- duplicate keys (400) ---
case("duplicate-top-key", VALID_TEXT[:-1] + ', "spep": {}}', status=400)
case("duplicate-nested-key", '{"spep": {"m_protein": {"value": 1, "value": 2, "unit": "g/L"}}}', status=400)
# --- deep nesting (400) ---
case("deep-arrays-10000", nested(10_000, "[", "]"), status=400)
case("deep-objects-10000", nested(10_000, '{"a":', "}")[:-1] + "1" + "}" * 10_000, status=400)
case("deep-in-field-10000", '{"spep": {"m_protein": ' + nested(10_000, "[", "]") + "}}", status=400)
case("deep-arrays-500", nested(500, "[", "]"), status=422)
# --- wrong top-level JSON type (422) ---
case("top-array", [VALID], field="_schema")
case("top-empty-array", [], field="_schema")
case("top-string", '"spep"', field="_schema")
case("top-number", "42", field="_schema")
case("top-true", "true", field="_schema")
case("top-null", "null", field="_schema")
case("empty-object", {}, field="_schema")
case("only-null-sections", {"spep": None, "serum_ife": None, "urine": None, "flc": None}, field="_schema")
# --- wrong types at every level (422) ---
for section in (
    "patient",
    "spep",
    "serum_ife",
    "urine",
    "flc",
    "marrow",
    "labs",
    "imaging",
    "cytogenetics",
    "clinical",
):
    for label, bad in (("string", "x"), ("array", []), ("number", 1), ("bool", True)):
        case(f"{section}-as-{label}", with_(section, bad), field=section)
for path, bad, label in (
    ("spep.m_protein", "1.2 g/dL", "string"),
    ("spep.m_protein", [1.2, "g/dL"], "array"),
    ("spep.m_protein.value", "1.2", "string"),
    ("spep.m_protein.value", True, "bool"),
    ("spep.m_protein.value", None, "null"),
    ("spep.m_protein.value", {"v": 1}, "object"),
    ("spep.m_protein.value", [1.2], "array"),
    ("spep.m_protein.unit", 10, "number"),
    ("spep.m_protein.unit", None, "null"),
    ("spep.m_protein.unit", {"u": "g/L"}, "object"),
    ("spep.m_protein.comparator", "~", "unknown"),
    ("flc.kappa.reference_range", [0, 1], "array"),
    ("flc.kappa.reference_range.low", "0", "string"),
    ("serum_ife.result", True, "bool"),
    ("serum_ife.result", "POSITIVE", "case"),
    ("serum_ife.clones", {"heavy_chain": "IgG"}, "object"),
    ("serum_ife.clones", None, "null"),
    ("serum_ife.clones.0", None, "null"),
    ("serum_ife.clones.0", "IgG kappa", "string"),
    ("serum_ife.clones.0.heavy_chain", ["IgG"], "array"),
    ("serum_ife.clones.0.light_chain", None, "null"),
    ("patient.age_years", "34", "string"),
    ("patient.sex", 1, "number"),
    ("imaging.osteolytic_lesions", 1.5, "float"),
    ("imaging.osteolytic_lesions", True, "bool"),
    ("imaging.osteolytic_lesions", "2", "string"),
    ("cytogenetics.t_4_14", "yes", "string"),
    ("cytogenetics.t_4_14", 1, "number"),
    ("cytogenetics.gain_1q", 1.0, "float"),
    ("clinical.fever", 0, "number"),
    ("clinical.fever", "false", "string"),
    ("clinical.scleromyxedema", True, "bool"),
    ("flc.assay", ["freelite"], "array"),
    ("collected_on", 20240101, "number"),
    ("collected_on", "2024-13-45", "bad-date"),
    ("collected_on", "2999-01-01", "future-date"),
    ("history", {"collected_on": "2020-01-01"}, "object"),
    ("history", [None], "null-entry"),
):
    case(f"{path}-as-{label}", with_(path, bad), field=path + (".0" if label == "null-entry" else ""))
# --- huge and tiny numbers where they cannot be valid (422) ---
case("int-10e400-value", VALID_TEXT.replace("1.2", "1" + "0" * 400), field="spep.m_protein.value")
case(
    "int-10e400-age",
    VALID_TEXT[:-1] + ', "patient": {"age_years": 1' + "0" * 400 + "}}",
    field="patient.age_years",
)
case(
    "int-10e400-lesions",
    VALID_TEXT[:-1] + ', "imaging": {"osteolytic_lesions": 1' + "0" * 400 + "}}",
    field="imaging.osteolytic_lesions",
)
case("float-1e308-age", with_("patient.age_years", 1e308), field="patient.age_years")
case(
    "float-1e308-percent",
    with_("marrow.clonal_plasma_cells_percent", 1e308),
    field="marrow.clonal_plasma_cells_percent",
)
case(
    "float-1e-400-lesions",
    VALID_TEXT[:-1] + ', "imaging": {"osteolytic_lesions": 1e-400}}',
    field="imaging.osteolytic_lesions",
)
# Not zero, but read as zero: refused as 1e309 is, never read as "no M-spike".
case("float-1e-400-m-protein", VALID_TEXT.replace("1.2", "1e-400"), field="spep.m_protein.value")
case("float-minus-1e-400-m-protein", VALID_TEXT.replace("1.2", "-1e-400"), field="spep.m_protein.value")
case("int-5000-digits", VALID_TEXT.replace("1.2", "9" * 5000), status=400)
# --- negative values (422) ---
for path in (
    "spep.m_protein.value",
    "patient.age_years",
    "marrow.clonal_plasma_cells_percent",
    "imaging.osteolytic_lesions",
    "imaging.mri_focal_lesions",
):
    case(f"negative-{path}", with_(path, -1), field=path)
case("negative-value-tiny", with_("spep.m_protein.value", -1e-300), field="spep.m_protein.value")
case(
    "negative-range-low",
    with_("flc.kappa.reference_range", {"low": -1, "high": 2}),
    field="flc.kappa.reference_range.low",
)
case(
    "range-low-above-high",
    with_("flc.kappa.reference_range", {"low": 3, "high": 2}),
    field="flc.kappa.reference_range.low",
)
case("percent-above-100", with_("marrow.plasma_cells_percent", 100.01), field="marrow.plasma_cells_percent")
# --- very long strings (413 past the body limit; 422 below it) ---
case("unit-1MB", with_("spep.m_protein.unit", "g" * 1_000_000), status=413)
case("unit-100KB", with_("spep.m_protein.unit", "g" * 100_000), field="spep.m_protein.unit")
case("key-100KB", {**VALID, "k" * 100_000: 1}, field="k" * 100_000)
case("sex-100KB", with_("patient.sex", "f" * 100_000), field="patient.sex")
case("body-300KB-whitespace", VALID_TEXT + " " * 300_000, status=413)
# --- unknown fields at every level (422 naming them) ---
for path in (
    "x",
    "patient.x",
    "spep.x",
    "spep.m_protein.x",
    "flc.kappa.reference_range.x",
    "serum_ife.x",
    "serum_ife.clones.0.x",
    "urine.x",
    "urine.ife.x",
    "flc.x",
    "flc.kappa.x",
    "marrow.x",
    "labs.x",
    "labs.calcium.x",
    "imaging.x",
    "cytogenetics.x",
    "clinical.x",
    "history.0.x",
    "history.0.spep.x",
    "history.0.labs.hemoglobin.x",
):
    body = json.loads(VALID_TEXT)
    body.update(
        {
            "urine": {"ife": {"result": "negative"}},
            "flc": {"kappa": {"value": 1, "unit": "mg/L", "reference_range": {"low": 3.3, "high": 19.4}}},
            "labs": {"calcium": {"value": 9, "unit": "mg/dL"}},
            "collected_on": date.today().isoformat(),
            "history": [
                {
                    "collected_on": "2020-01-01",
                    "spep": {"m_protein": QTY},
                    "labs": {"hemoglobin": {"value": 12, "unit": "g/dL"}},
                }
            ],
        }
    )
    node = body
    keys = path.split(".")
    for k in keys[:-1]:
        node = node[int(k)] if isinstance(node, list) else node.setdefault(k, {})
    node["x"] = 1
    case(f"unknown-field-{path}", body, field=path)
case(
    "unknown-field-identifier",
    {**VALID, "patient": {"mrn": "123456", "name": "Jane Doe"}},
    field="patient.mrn",
)
case("unknown-field-lone-surrogate", VALID_TEXT[:-1] + ', "\\ud800": 1}', field="\ud800")
case("unknown-field-empty-name", {**VALID, "": 1})
# --- bounded arrays (422) ---
case(
    "three-clones",
    with_("serum_ife.clones", [{"heavy_chain": h, "light_chain": "kappa"} for h in ("IgG", "IgA", "IgM")]),
    field="serum_ife.clones",
)
case("history-51", history(51), field="history")
case(
    "history-duplicate-date",
    {**history(2), "history": [history(2)["history"][0]] * 2},
    field="history.1.collected_on",
)
# --- wrong content types (415) ---
case("text-plain", VALID_TEXT, content_type="text/plain", status=415)
case("form-urlencoded", "spep=1", content_type="application/x-www-form-urlencoded", status=415)
case(
    "multipart",
    b'--b\r\nContent-Disposition: form-data; name="spep"\r\n\r\n1\r\n--b--\r\n',
    content_type="multipart/form-data; boundary=b",
    status=415,
)
case("xml", "<spep/>", content_type="application/xml", status=415)
case("missing-content-type", VALID_TEXT, content_type=None, status=415)
case("json-misspelt", VALID_TEXT, content_type="application/jsn", status=415)

BATCH_CASES: list[tuple[str, bytes, str | None, int, str | None]] = []


def batch_case(id_: str, body, content_type: str | None = JSON, status: int = 422, field: str | None = None):
    if isinstance(body, dict | list):
        body = json.dumps(body)
    if isinstance(body, str):
        body = body.encode("utf-8")
    BATCH_CASES.append((id_, body, content_type, status, field))


# Whole-request problems of the batch endpoint: everything that breaks parsing or the envelope.
for id_, body, ctype, status, _ in CASES:
    if status in (400, 415):
        batch_case(id_, body, ctype, status)
        if status == 400 and body.strip():
            batch_case(f"item-{id_}", b'{"items": [' + body + b"]}", ctype, status)
batch_case("items-1001", {"items": [VALID] * 1001}, field="items")
batch_case("items-empty", {"items": []}, field="items")
batch_case("items-missing", {}, field="items")
batch_case("items-object", {"items": VALID}, field="items")
batch_case("items-string", {"items": "x" * 1000}, field="items")
batch_case("items-null", {"items": None}, field="items")
batch_case("items-number", {"items": 1e308}, field="items")
batch_case("envelope-unknown-field", {"items": [VALID], "x": 1}, field="x")
batch_case("envelope-array", [VALID], field="_schema")
batch_case("envelope-null", "null", field="_schema")
batch_case("envelope-duplicate-items", '{"items": [], "items": [' + VALID_TEXT + "]}", status=400)
batch_case("items-deep-10000", '{"items": ' + nested(10_000, "[", "]") + "}", status=400)
batch_case("body-9MiB", '{"items": ["' + "x" * (9 * 1024 * 1024) + '"]}', status=413)

# Item-level problems: the batch answers 200 and each bad item carries its own standard 422 error body.
# (Not the cases whose number literal is the point: json.loads reads 1e-400 as 0.0, and the item would be
# sent as 0.0; tests/api/test_number_underflow.py sends it raw in a batch.)
LITERAL_CASES = {"float-1e-400-m-protein", "float-minus-1e-400-m-protein"}
ITEM_CASES = [
    (id_, json.loads(body), field)
    for id_, body, _, status, field in CASES
    if status == 422 and body.strip() and body != b"null" and len(body) < 200_000 and id_ not in LITERAL_CASES
]


def assert_standard_error(resp, status: int, field: str | None) -> None:
    text = resp.get_data(as_text=True)
    assert resp.status_code == status, text[:500]
    assert resp.mimetype == JSON
    for marker in TRACEBACK_MARKERS:
        assert marker not in text, f"{marker!r} in error body: {text[:500]}"
    body = json.loads(text)
    assert_error_body(body, status, field)


def assert_error_body(body: dict, status: int, field: str | None) -> None:
    assert set(body) == {"code", "status", "message", "errors"}, body
    assert body["code"] == status
    assert isinstance(body["status"], str) and body["status"]
    assert isinstance(body["message"], str) and body["message"]
    assert isinstance(body["errors"], dict)
    for k, v in body["errors"].items():
        assert isinstance(k, str) and isinstance(v, list) and all(isinstance(m, str) for m in v), (k, v)
    if field is not None:
        assert field in body["errors"], (field[:80], list(body["errors"])[:10])


@pytest.fixture(scope="module")
def client():
    """One app for the whole battery (building an app per case would dominate the runtime).
    DEV_MODE switches authentication off, as in tests/conftest.py."""
    return create_app({"TESTING": True, "DEV_MODE": True}).test_client()


def post(client, path: str, body: bytes, content_type: str | None):
    headers = {} if content_type is None else {"Content-Type": content_type}
    return client.post(path, data=body, headers=headers)


@pytest.mark.parametrize(
    ("body", "content_type", "status", "field"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_single_endpoint_refuses_hostile_input(client, body, content_type, status, field):
    assert_standard_error(post(client, SINGLE, body, content_type), status, field)


@pytest.mark.parametrize(
    ("body", "content_type", "status", "field"), [c[1:] for c in BATCH_CASES], ids=[c[0] for c in BATCH_CASES]
)
def test_batch_endpoint_refuses_hostile_input(client, body, content_type, status, field):
    assert_standard_error(post(client, BATCH, body, content_type), status, field)


@pytest.mark.parametrize(("item", "field"), [c[1:] for c in ITEM_CASES], ids=[c[0] for c in ITEM_CASES])
def test_batch_item_gets_its_own_error_body(client, item, field):
    resp = client.post(BATCH, json={"items": [VALID, item]})
    assert resp.status_code == 200, resp.get_data(as_text=True)[:500]
    body = resp.get_json()
    assert (body["count"], body["succeeded"], body["failed"]) == (2, 1, 1)
    first, second = body["results"]
    assert first["status"] == 200 and "interpretation" in first
    assert second["index"] == 1 and second["status"] == 422
    assert_error_body(second["error"], 422, field)


def _strict_json(text: str):
    def refuse(name):
        raise ValueError(f"non-standard JSON literal {name} in the response")

    return json.loads(text, parse_constant=refuse)


# Legal but extreme numbers (finite, >= 0, inside the plausible windows of clinical-reference §1.1) are
# not errors: the answer is a 200 whose body is still standard JSON (no NaN/Infinity literals) and
# conforms to the documented response.
EXTREMES = [
    ("spep-0e-400", {"spep": {"m_protein": {"value": 0.0, "unit": "g/L"}}, "_raw": "0e-400"}),
    ("spep-5e-324", {"spep": {"m_protein": {"value": 5e-324, "unit": "g/L"}}}),
    (
        "flc-lambda-1e-320",
        {
            "serum_ife": {"result": "negative"},
            "flc": {"kappa": {"value": 10, "unit": "mg/L"}, "lambda": {"value": 1e-320, "unit": "mg/L"}},
        },
    ),
    (
        "age-150-lesions-1000",
        {
            **VALID,
            "patient": {"age_years": 150},
            "imaging": {"osteolytic_lesions": 1000, "mri_focal_lesions": 1000},
        },
    ),
]


@pytest.mark.parametrize("body", [b for _, b in EXTREMES], ids=[i for i, _ in EXTREMES])
def test_extreme_legal_numbers_answer_with_standard_json(client, body):
    body = dict(body)
    raw = body.pop("_raw", None)
    text = json.dumps(body)
    if raw is not None:
        text = text.replace("0.0", raw)
    resp = client.post(SINGLE, data=text, content_type=JSON)
    assert resp.status_code == 200, resp.get_data(as_text=True)[:500]
    parsed = _strict_json(resp.get_data(as_text=True))
    assert InterpretationResponseSchema().validate(parsed) == {}


# Finite numbers beyond any plausible figure (§1.1) are data-entry errors: a 422 in standard JSON naming
# each field, never an interpretation.
IMPLAUSIBLE_EXTREMES = [
    ("spep-1e308-g/dL", {"spep": {"m_protein": {"value": 1e308, "unit": "g/dL"}}}, ["spep.m_protein.value"]),
    (
        "flc-kappa-1e308-mg/dL",
        {"flc": {"kappa": {"value": 1e308, "unit": "mg/dL"}, "lambda": {"value": 1, "unit": "mg/L"}}},
        ["flc.kappa.value"],
    ),
    (
        "creatinine-1e308-mg/dL",
        {"serum_ife": {"result": "negative"}, "labs": {"creatinine": {"value": 1e308, "unit": "mg/dL"}}},
        ["labs.creatinine.value"],
    ),
    (
        "calcium-1e308-range",
        {
            "serum_ife": {"result": "negative"},
            "labs": {
                "calcium": {"value": 1e308, "unit": "mg/dL", "reference_range": {"low": 0, "high": 1e308}}
            },
        },
        ["labs.calcium.value", "labs.calcium.reference_range.low", "labs.calcium.reference_range.high"],
    ),
]


@pytest.mark.parametrize(
    ("body", "fields"), [c[1:] for c in IMPLAUSIBLE_EXTREMES], ids=[c[0] for c in IMPLAUSIBLE_EXTREMES]
)
def test_extreme_numbers_beyond_the_plausible_windows_are_a_422_naming_each_field(client, body, fields):
    resp = client.post(SINGLE, data=json.dumps(body), content_type=JSON)
    assert resp.status_code == 422
    parsed = _strict_json(resp.get_data(as_text=True))
    assert sorted(parsed["errors"]) == sorted(fields)
    assert "classification" not in parsed


def test_a_null_batch_item_gets_its_own_422_like_any_other_bad_item(client):
    resp = client.post(BATCH, json={"items": [None, VALID]})
    assert resp.status_code == 200
    first, second = resp.get_json()["results"]
    assert first["status"] == 422 and first["error"]["code"] == 422
    assert second["status"] == 200
