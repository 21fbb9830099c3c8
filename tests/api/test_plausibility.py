"""Plausibility (clinical-reference §1.1) on every interface: a value or a reference limit outside its
window is a 422 naming the field, the window and the unit it looks like, and is never interpreted.
Creatinine and haemoglobin in mmol/L (§1) are accepted only with the lab's limits in mmol/L."""

from __future__ import annotations

import copy
import json
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, note, settings
from hypothesis import strategies as st

from service.domain.plausibility import NEEDS_REFERENCE_LIMITS
from service.domain.quantity import UNITS, Analyte
from service.domain.ruleset import PLAUSIBILITY, Window
from tests.api.test_compiled_loader import LOADER, assert_same
from tests.robustness.test_domain_properties import request_bodies

SINGLE, BATCH = "/v1/interpretations", "/v1/interpretations/batch"
IGG_K = {"result": "positive", "clones": [{"heavy_chain": "IgG", "light_chain": "kappa"}]}
# The reviewers' panel: IgG-κ MGUS-sized spike with 12 % clonal plasma cells (SMM unless an MDE is met).
PANEL = {
    "spep": {"m_protein": {"value": 20, "unit": "g/L"}},
    "serum_ife": IGG_K,
    "marrow": {"clonal_plasma_cells_percent": 12},
}


def with_labs(**labs) -> dict:
    return {**copy.deepcopy(PANEL), "labs": labs}


def qty(value, unit, low=None, high=None) -> dict:
    q = {"value": value, "unit": unit}
    if low is not None:
        q["reference_range"] = {"low": low, "high": high}
    return q


# --- The reviewers' reproductions ---------------------------------------------------------------------
REPRODUCTIONS = [
    (
        "calcium_2.70_mmol_with_a_mg_dl_range_8.6_9.6",
        with_labs(calcium=qty(2.70, "mmol/L", 8.6, 9.6)),
        {
            "labs.calcium.reference_range.low": ["1.8–2.4 mmol/L", "8.6–9.6 looks like mg/dL"],
            "labs.calcium.reference_range.high": ["2.45–2.80 mmol/L", "8.6–9.6 looks like mg/dL"],
        },
    ),
    (
        "haemoglobin_105_g_l_with_a_g_dl_range_13_17",
        with_labs(hemoglobin=qty(105, "g/L", 13, 17)),
        {
            "labs.hemoglobin.reference_range.low": ["100–140 g/L", "13–17 looks like g/dL"],
            "labs.hemoglobin.reference_range.high": ["140–200 g/L", "13–17 looks like g/dL"],
        },
    ),
    (
        "calcium_10.8_mg_dl_with_a_mmol_range_2.15_2.40",
        with_labs(calcium=qty(10.8, "mg/dL", 2.15, 2.40)),
        {
            "labs.calcium.reference_range.low": ["1.8–2.4 mmol/L", "2.15–2.4 looks like mmol/L"],
            "labs.calcium.reference_range.high": ["2.45–2.80 mmol/L", "2.15–2.4 looks like mmol/L"],
        },
    ),
    (
        "calcium_9.4_mmol_is_no_calcium",
        with_labs(calcium=qty(9.4, "mmol/L")),
        {"labs.calcium.value": ["1.0–6.0 mmol/L", "looks like mg/dL"]},
    ),
    (
        "haemoglobin_10.5_g_l_is_no_haemoglobin",
        with_labs(hemoglobin=qty(10.5, "g/L")),
        {"labs.hemoglobin.value": ["20–250 g/L", "looks like g/dL", "mmol/L"]},
    ),
]


def _assert_refused(body: dict, expected: dict[str, list[str]]) -> None:
    assert set(body["errors"]) == set(expected), body["errors"]
    for path, fragments in expected.items():
        (message,) = body["errors"][path]
        for fragment in fragments:
            assert fragment in message, (fragment, message)
        assert "clinical-reference §1.1" in message and "Not interpreted" in message
    assert "classification" not in body and "criteria" not in body


@pytest.mark.parametrize(
    ("body", "expected"), [r[1:] for r in REPRODUCTIONS], ids=[r[0] for r in REPRODUCTIONS]
)
def test_a_figure_in_another_unit_is_refused_naming_the_field_the_window_and_the_unit(client, body, expected):
    resp = client.post(SINGLE, json=body)
    assert resp.status_code == 422
    _assert_refused(resp.get_json(), expected)


@pytest.mark.parametrize(
    ("body", "expected"), [r[1:] for r in REPRODUCTIONS], ids=[r[0] for r in REPRODUCTIONS]
)
def test_a_batch_item_with_an_implausible_figure_gets_the_same_422_beside_an_interpreted_one(
    client, body, expected
):
    resp = client.post(BATCH, json={"items": [PANEL, body]})
    assert resp.status_code == 200
    first, second = resp.get_json()["results"]
    assert first["status"] == 200
    assert second["status"] == 422 and "interpretation" not in second
    _assert_refused(second["error"], expected)


@pytest.mark.parametrize(
    ("body", "expected"), [r[1:] for r in REPRODUCTIONS], ids=[r[0] for r in REPRODUCTIONS]
)
def test_the_compiled_loader_refuses_exactly_what_marshmallow_refuses(body, expected):
    assert_same(LOADER, body, accepted=False)


def test_with_its_lab_s_own_range_in_mmol_the_same_calcium_is_interpreted(client):
    resp = client.post(SINGLE, json=with_labs(calcium=qty(2.70, "mmol/L", 2.15, 2.55)))
    assert resp.status_code == 200
    assert resp.get_json()["classification"]["code"] == "SMOLDERING_MYELOMA"


ORU = (
    "MSH|^~\\&|LIS|LAB|MGI|HOSP|20240501120000||ORU^R01^ORU_R01|MSG9|P|2.5.1\r"
    "PID|1||123^^^HOSP^MR||Doe^Jane||19700115|F\r"
    "OBR|1|ORD1|FIL1|MG^MG^L|||20240501083000\r"
    "OBX|1|NM|33358-3^Protein.monoclonal^LN||20|g/L|||||F\r"
    "OBX|2|TX|25700-6^Immunofixation^LN||IgG kappa||||||F\r"
    "{obx3}\r"
)


def test_the_reviewers_hl7_calcium_under_the_mass_code_is_refused_not_interpreted(client):
    # The reproduction as reported: a mmol/L figure under the mass code 17861-6 is refused on its unit
    # (the code fixes mass units; loinc-map.md) before its range is read: an AE, never an answer.
    obx = "OBX|3|NM|17861-6^Calcium^LN||2.70|mmol/L|8.6-9.6||||F"
    resp = client.post("/v1/hl7v2", data=ORU.format(obx3=obx), content_type="x-application/hl7-v2+er7")
    assert resp.status_code == 422
    text = resp.data.decode()
    assert "MSA|AE" in text and "OBX^3" in text and "2000-8" in text, text
    assert "ORU^R01" not in text.split("\r")[0]


def test_hl7_calcium_in_mmol_with_a_mg_dl_range_is_an_ae_naming_obx_3_field_7(client):
    obx = "OBX|3|NM|2000-8^Calcium^LN||2.70|mmol/L|8.6-9.6||||F"
    resp = client.post("/v1/hl7v2", data=ORU.format(obx3=obx), content_type="x-application/hl7-v2+er7")
    assert resp.status_code == 422
    text = resp.data.decode()
    assert "MSA|AE" in text and "ERR||OBX^3^7|102" in text, text
    assert "looks like mg/dL" in text


def test_hl7_calcium_with_its_range_in_mmol_is_interpreted(client):
    obx = "OBX|3|NM|2000-8^Calcium^LN||2.70|mmol/L|2.15-2.55||||F"
    resp = client.post("/v1/hl7v2", data=ORU.format(obx3=obx), content_type="x-application/hl7-v2+er7")
    assert resp.status_code == 200, resp.data


def _bundle(reference_range: list[dict]) -> dict:
    def obs(code, **value):
        return {
            "resource": {
                "resourceType": "Observation",
                "status": "final",
                "code": {"coding": [{"system": "http://loinc.org", "code": code}]},
                **value,
            }
        }

    calcium = obs(
        "2000-8",
        valueQuantity={
            "value": 2.70,
            "unit": "mmol/L",
            "system": "http://unitsofmeasure.org",
            "code": "mmol/L",
        },
    )
    calcium["resource"]["referenceRange"] = reference_range
    return {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [
            obs(
                "33358-3",
                valueQuantity={
                    "value": 20,
                    "unit": "g/L",
                    "system": "http://unitsofmeasure.org",
                    "code": "g/L",
                },
            ),
            obs("25700-6", valueString="IgG kappa"),
            calcium,
        ],
    }


def test_a_fhir_observation_with_a_unitless_reference_range_in_mg_dl_is_an_operation_outcome_naming_it(
    client,
):
    bundle = _bundle([{"low": {"value": 8.6}, "high": {"value": 9.6}}])
    resp = client.post(
        "/v1/fhir/interpretations", data=json.dumps(bundle), content_type="application/fhir+json"
    )
    assert resp.status_code == 422
    outcome = resp.get_json()
    assert outcome["resourceType"] == "OperationOutcome"
    issues = {i["expression"][0]: i for i in outcome["issue"]}
    assert set(issues) == {"labs.calcium.reference_range.low", "labs.calcium.reference_range.high"}
    for issue in issues.values():
        assert "looks like mg/dL" in issue["diagnostics"]
        assert issue["expression"][1] == "Bundle.entry[2].resource"  # the calcium Observation


def test_a_fhir_observation_with_a_unitless_range_in_the_value_s_unit_is_interpreted(client):
    bundle = _bundle([{"low": {"value": 2.15}, "high": {"value": 2.55}}])
    resp = client.post(
        "/v1/fhir/interpretations", data=json.dumps(bundle), content_type="application/fhir+json"
    )
    assert resp.status_code == 200, resp.get_json()


# --- §1: mmol/L creatinine and haemoglobin, only with the lab's limits ---------------------------------
def test_haemoglobin_in_mmol_with_its_limits_is_converted_at_16_11_g_per_mmol(client):
    resp = client.post(SINGLE, json=with_labs(hemoglobin=qty(6.2, "mmol/L", 7.5, 10.0)))
    assert resp.status_code == 200
    crit = {c["id"]: c for c in resp.get_json()["criteria"]}
    anaemia = [c for c in crit.values() if c["unit"] == "g/L" and c["value"] is not None]
    assert any(Decimal(str(c["value"])) == Decimal("99.882") for c in anaemia), anaemia  # 6.2 × 16.11


def test_creatinine_in_mmol_with_its_limits_is_converted_at_1000_umol_per_mmol(client):
    resp = client.post(SINGLE, json=with_labs(creatinine=qty(0.178, "mmol/L", 0.045, 0.09)))
    assert resp.status_code == 200
    crit = [c for c in resp.get_json()["criteria"] if c["unit"] == "umol/L" and c["value"] is not None]
    assert any(c["value"] == 178 and c["status"] == "met" for c in crit), crit


@pytest.mark.parametrize("analyte", ["hemoglobin", "creatinine"])
def test_haemoglobin_or_creatinine_in_mmol_without_limits_is_a_422_asking_for_them(client, analyte):
    value = 8.1 if analyte == "hemoglobin" else 0.08
    resp = client.post(SINGLE, json=with_labs(**{analyte: qty(value, "mmol/L")}))
    assert resp.status_code == 422
    (message,) = resp.get_json()["errors"][f"labs.{analyte}.reference_range"]
    assert "only with the laboratory's reference limits in mmol/L" in message


def test_a_history_entry_is_held_to_the_same_windows_and_named_by_its_index(client):
    body = {
        **copy.deepcopy(PANEL),
        "collected_on": "2025-06-01",
        "history": [{"collected_on": "2025-01-01", "labs": {"hemoglobin": qty(8.1, "mmol/L")}}],
    }
    resp = client.post(SINGLE, json=body)
    assert resp.status_code == 422
    assert set(resp.get_json()["errors"]) == {"history.0.labs.hemoglobin.reference_range"}


# --- Every window edge: below, at and above, in every accepted unit -------------------------------------
KINDS = ("value", "lower_limit", "upper_limit")
STEP = Decimal("0.0001")


def _in_unit(analyte: Analyte, unit: str, canonical: Decimal) -> Decimal:
    mul, div = UNITS[analyte][1][unit]
    return canonical * div / mul


def _inside(analyte: Analyte, unit: str, window: Window) -> Decimal:
    """A figure in ``unit`` well inside the window (its middle, to four decimals)."""
    return _in_unit(analyte, unit, (window.low + window.high) / 2).quantize(STEP)


def _distinct_units(analyte: Analyte) -> list[str]:
    seen, out = set(), []
    for unit, factor in UNITS[analyte][1].items():
        if factor not in seen:
            seen.add(factor)
            out.append(unit)
    return out


def _edge_cases():
    """(id, analyte, unit, kind, figure in unit, accepted): just below, at (when the edge is exact in the
    unit) and just above both ends of each window."""
    for analyte in Analyte:
        if analyte is Analyte.PERCENT:
            continue  # marrow percentages are plain numbers 0-100 (schema Range), not quantities
        p = PLAUSIBILITY[analyte.value]
        for unit in _distinct_units(analyte):
            for kind in KINDS:
                window = getattr(p, kind)
                if window is None:
                    continue
                for end in ("low", "high"):
                    edge = getattr(window, end)
                    exact = _in_unit(analyte, unit, edge)
                    mul, div = UNITS[analyte][1][unit]
                    representable = exact * mul / div == edge and exact == exact.quantize(Decimal("1e-8"))
                    below = (
                        (exact - STEP).quantize(STEP)
                        if representable
                        else exact.quantize(STEP, "ROUND_FLOOR")
                    )
                    above = (
                        (exact + STEP).quantize(STEP)
                        if representable
                        else exact.quantize(STEP, "ROUND_CEILING")
                    )
                    cases = [("below", below, end == "high"), ("above", above, end == "low")]
                    if representable:
                        cases.append(("at", exact, True))
                    for where, figure, accepted in cases:
                        if figure < 0:
                            continue
                        yield (
                            f"{analyte.value}-{unit}-{kind}-{where}-{end}-{figure}",
                            analyte,
                            unit,
                            kind,
                            figure,
                            accepted,
                        )


EDGES = list(_edge_cases())
SECTION_OF = {
    Analyte.SERUM_M_PROTEIN: ("spep", "m_protein"),
    Analyte.URINE_M_PROTEIN: ("urine", "m_protein_24h"),
    Analyte.FREE_LIGHT_CHAIN: ("flc", "kappa"),
    Analyte.CALCIUM: ("labs", "calcium"),
    Analyte.CREATININE: ("labs", "creatinine"),
    Analyte.HEMOGLOBIN: ("labs", "hemoglobin"),
    Analyte.CREATININE_CLEARANCE: ("labs", "creatinine_clearance"),
    Analyte.EGFR: ("labs", "egfr"),
    Analyte.TSH: ("labs", "tsh"),
}


def _edge_body(analyte: Analyte, unit: str, kind: str, figure: Decimal) -> tuple[dict, str]:
    p = PLAUSIBILITY[analyte.value]
    value = figure if kind == "value" else _inside(analyte, unit, p.value)
    q: dict = {"value": float(value), "unit": unit}
    if p.lower_limit is not None and (kind != "value" or (analyte, unit) in NEEDS_REFERENCE_LIMITS):
        low = (
            figure
            if kind == "lower_limit"
            else _in_unit(analyte, unit, p.lower_limit.low).quantize(STEP, "ROUND_CEILING")
        )
        high = (
            figure
            if kind == "upper_limit"
            else _in_unit(analyte, unit, p.upper_limit.high).quantize(STEP, "ROUND_FLOOR")
        )
        q["reference_range"] = {"low": float(low), "high": float(high)}
    section, name = SECTION_OF[analyte]
    body = {"serum_ife": {"result": "negative"}, section: {name: q}}
    path = (
        f"{section}.{name}."
        + {"value": "value", "lower_limit": "reference_range.low", "upper_limit": "reference_range.high"}[
            kind
        ]
    )
    return body, path


@pytest.mark.parametrize(
    ("analyte", "unit", "kind", "figure", "accepted"), [e[1:] for e in EDGES], ids=[e[0] for e in EDGES]
)
def test_each_window_is_closed_and_applied_in_every_unit(client, analyte, unit, kind, figure, accepted):
    body, path = _edge_body(analyte, unit, kind, figure)
    resp = client.post(SINGLE, json=body)
    if accepted:
        assert resp.status_code == 200, resp.get_json()
    else:
        assert resp.status_code == 422
        assert list(resp.get_json()["errors"]) == [path], resp.get_json()
    assert_same(LOADER, body, accepted=accepted)


def test_the_edge_cases_cover_every_window_of_the_reference():
    covered = {(e[1], e[3]) for e in EDGES}
    expected = {(a, k) for a in SECTION_OF for k in KINDS if getattr(PLAUSIBILITY[a.value], k) is not None}
    assert covered == expected
    # Both unit systems: every analyte with a second unit is tested in it.
    assert {(e[1], e[2]) for e in EDGES} >= {(a, u) for a in SECTION_OF for u in _distinct_units(a)}


# Haemoglobin's lower limit: the window for the patient's sex (female 100–125, male 115–140 g/L), the
# wider 100–140 otherwise.
SEX_EDGES = [
    ("female", 99.9, False),
    ("female", 100, True),
    ("female", 125, True),
    ("female", 125.1, False),
    ("male", 114.9, False),
    ("male", 115, True),
    ("male", 140, True),
    ("male", 140.1, False),
    (None, 99.9, False),
    (None, 100, True),
    (None, 140, True),
    (None, 140.1, False),
    ("other", 130, True),
    ("unknown", 130, True),
]


@pytest.mark.parametrize("unit", ["g/L", "g/dL"])
@pytest.mark.parametrize(("sex", "lln_g_l", "accepted"), SEX_EDGES)
def test_the_haemoglobin_lower_limit_is_held_to_the_window_of_the_patient_s_sex(
    client, sex, lln_g_l, accepted, unit
):
    factor = 1 if unit == "g/L" else 10
    body = with_labs(hemoglobin=qty(135 / factor, unit, lln_g_l / factor, 160 / factor))
    if sex is not None:
        body["patient"] = {"sex": sex}
    resp = client.post(SINGLE, json=body)
    assert resp.status_code == (200 if accepted else 422), resp.get_json()
    if not accepted:
        (message,) = resp.get_json()["errors"]["labs.hemoglobin.reference_range.low"]
        # Outside the wider window the field is refused as such, whatever the sex; inside it, for the sex.
        assert (f"for a {sex} patient" in message) == (sex is not None and 100 <= lln_g_l <= 140)
    assert_same(LOADER, body, accepted=accepted)


def test_the_haemoglobin_lower_limit_for_the_sex_applies_to_earlier_panels_too(client):
    body = {
        **with_labs(),
        "patient": {"sex": "female"},
        "collected_on": "2025-06-01",
        "history": [{"collected_on": "2025-01-01", "labs": {"hemoglobin": qty(130, "g/L", 130, 170)}}],
    }
    resp = client.post(SINGLE, json=body)
    assert resp.status_code == 422
    assert list(resp.get_json()["errors"]) == ["history.0.labs.hemoglobin.reference_range.low"]


# --- Property: a plausibility 422 never comes with an interpretation -----------------------------------
FIELDS = [(a, *SECTION_OF[a]) for a in SECTION_OF]


@st.composite
def implausible_bodies(draw) -> tuple[dict, str]:
    """A valid body with one figure moved outside its window (in any accepted unit): (body, field path)."""
    body = draw(request_bodies())
    analyte, section, name = draw(st.sampled_from(FIELDS))
    p = PLAUSIBILITY[analyte.value]
    unit = draw(st.sampled_from(_distinct_units(analyte)))
    kinds = [k for k in KINDS if getattr(p, k) is not None]
    kind = draw(st.sampled_from(kinds))
    window = getattr(p, kind)
    beyond = draw(st.sampled_from(["below", "above"]) if window.low > 0 else st.just("above"))
    edge = _in_unit(analyte, unit, window.low if beyond == "below" else window.high)
    factor = (
        Decimal(draw(st.sampled_from(["0.5", "0.9", "0.99"])))
        if beyond == "below"
        else Decimal(draw(st.sampled_from(["1.01", "1.5", "10", "1e6"])))
    )
    figure = float(edge * factor)
    inside_value = float(_inside(analyte, unit, p.value))
    q: dict = {"value": figure if kind == "value" else inside_value, "unit": unit}
    if p.lower_limit is not None:
        low = float(
            _inside(analyte, unit, Window(p.lower_limit.low, min(p.lower_limit.high, p.upper_limit.low)))
        )
        high = float(_inside(analyte, unit, p.upper_limit))
        if kind == "lower_limit":
            low = figure
            high = max(high, low)
        elif kind == "upper_limit":
            high = figure
            low = min(low, high)
        if kind != "value" or (analyte, unit) in NEEDS_REFERENCE_LIMITS or draw(st.booleans()):
            q["reference_range"] = {"low": low, "high": high}
    body.setdefault(section, {})
    if body[section] is None:
        body[section] = {}
    body[section][name] = q
    return body, f"{section}.{name}"


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.function_scoped_fixture,
    ],
)
@given(implausible_bodies())
def test_a_plausibility_422_never_comes_with_an_interpretation(client, case):
    body, field = case
    note(json.dumps(body))
    resp = client.post(SINGLE, json=body)
    assert resp.status_code == 422
    out = resp.get_json()
    assert set(out) == {"code", "status", "message", "errors"}
    assert any(path.startswith(field + ".") for path in out["errors"]), out["errors"]
    batch = client.post(BATCH, json={"items": [body]}).get_json()["results"][0]
    assert batch["status"] == 422 and "interpretation" not in batch


# --- The documentation says what the service does ------------------------------------------------------
def test_the_units_page_lists_every_accepted_unit_spelling():
    from tests.conftest import ROOT

    page = (ROOT / "docs" / "units.md").read_text()
    for analyte, (_, factors) in UNITS.items():
        for unit in factors:
            if analyte is not Analyte.PERCENT:
                assert f"`{unit}`" in page, unit


def test_the_error_catalogue_example_is_the_service_s_own_answer(client):
    from tests.conftest import ROOT

    page = (ROOT / "docs" / "errors.md").read_text()
    example = page.split("a mg/dL range):\n\n```json\n", 1)[1].split("```", 1)[0]
    resp = client.post(SINGLE, json=with_labs(calcium=qty(2.70, "mmol/L", 8.6, 9.6)))
    assert resp.get_json() == json.loads(example)
