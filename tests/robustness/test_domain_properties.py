"""Hypothesis over the domain: any contract-shaped valid request body loads, is interpreted without an
exception, and the interpretation is self-consistent, serialisable and deterministic."""

from __future__ import annotations

import json
from datetime import date, timedelta
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, note, settings
from hypothesis import strategies as st

from service.api.schemas import InterpretationRequestSchema, InterpretationResponseSchema
from service.api.serialize import to_dict
from service.domain import interpret
from service.domain.plausibility import NEEDS_REFERENCE_LIMITS
from service.domain.quantity import UNITS, Analyte, accepted_units, convert
from service.domain.ruleset import PLAUSIBILITY, Window

REQUEST = InterpretationRequestSchema()
RESPONSE = InterpretationResponseSchema()

MGUS_CODES = {"MGUS_NON_IGM", "MGUS_IGM", "MGUS_LIGHT_CHAIN"}
NO_MDE_CODES = MGUS_CODES | {"NO_MONOCLONAL_PROTEIN", "SMOLDERING_MYELOMA", "SMOLDERING_MYELOMA_LIGHT_CHAIN"}
CRITERION_STATUSES = {"met", "not_met", "not_assessable"}
TODAY = date.today()

# Mostly clinically plausible magnitudes, sometimes anything a finite JSON number >= 0 can be.
numbers = st.one_of(
    st.integers(min_value=0, max_value=500),
    st.floats(min_value=0, max_value=500, allow_nan=False, allow_infinity=False),
    st.sampled_from([0, 0.0, 0.1, 1, 1.5, 3, 10, 30, 60, 100, 165]),
    st.floats(min_value=0, max_value=1e12, allow_nan=False, allow_infinity=False),
    st.floats(min_value=0, max_value=1e-6, allow_nan=False, allow_infinity=False),
    st.floats(min_value=0, allow_nan=False, allow_infinity=False),  # up to 1.8e308
)
percentages = st.one_of(
    st.none(),
    st.integers(0, 100),
    st.floats(min_value=0, max_value=100, allow_nan=False, allow_infinity=False),
)
tristate = st.sampled_from([True, False, None])


@st.composite
def ranges(draw) -> dict:
    low, high = sorted((draw(numbers), draw(numbers)))
    return {"low": low, "high": high}


# Haemoglobin's lower limit drawn from the part of its window that fits a patient of either sex
# (female 100-125, male 115-140 g/L, clinical-reference §1.1), since the patient is drawn apart.
HB_LOWER_LIMIT_ANY_SEX = Window(
    PLAUSIBILITY["hemoglobin"].lower_limit_male.low, PLAUSIBILITY["hemoglobin"].lower_limit_female.high
)


def in_window(analyte: Analyte, unit: str, window: Window):
    """Numbers in ``unit`` whose canonical value is inside ``window`` (§1.1): spread over it, its ends
    included, and the subnormal floats when it starts at 0."""
    mul, div = UNITS[analyte][1][unit]
    low, high = float(window.low * div / mul), float(window.high * div / mul)
    inside = lambda x: window.holds(convert(Decimal(repr(float(x))), analyte, unit))  # noqa: E731
    edges = [x for x in (low, high) if inside(x)]
    parts = [st.floats(min_value=low, max_value=high, allow_nan=False, allow_infinity=False).filter(inside)]
    if edges:
        parts.append(st.sampled_from(edges))
    if window.low == 0:
        parts += [st.just(0), st.floats(min_value=0, max_value=1e-6, allow_nan=False)]
    return st.one_of(parts)


@st.composite
def quantities(draw, analyte: Analyte) -> dict:
    """A plausible quantity (§1.1): value and reference limits inside their windows, in any accepted unit."""
    unit = draw(st.sampled_from(accepted_units(analyte)))
    p = PLAUSIBILITY[analyte.value]
    q = {"value": draw(in_window(analyte, unit, p.value)), "unit": unit}
    if draw(st.booleans()):
        # "< 0" allows no value (quantities are >= 0) and is a 422; every other bound is valid.
        q["comparator"] = draw(st.sampled_from(["<=", ">", ">="] + (["<"] if q["value"] != 0 else [])))
    # A quantity without reference-limit windows (M-proteins, clearance, eGFR) takes no reference range:
    # no rule reads one, and one sent is a 422.
    takes_range = p.lower_limit is not None and p.upper_limit is not None
    if takes_range and ((analyte, unit) in NEEDS_REFERENCE_LIMITS or draw(st.booleans())):
        lower = HB_LOWER_LIMIT_ANY_SEX if analyte is Analyte.HEMOGLOBIN else p.lower_limit
        low = draw(in_window(analyte, unit, lower))
        high = draw(in_window(analyte, unit, p.upper_limit).filter(lambda h, low=low: h >= low))
        q["reference_range"] = {"low": low, "high": high}
    return q


def maybe(strategy):
    """A value, or null (the section/field reported as not done)."""
    return st.one_of(st.none(), strategy)


@st.composite
def sections(draw, fields: dict) -> dict:
    """A random subset of the given fields, each drawn from its strategy."""
    keys = draw(st.sets(st.sampled_from(sorted(fields))))
    return {k: draw(fields[k]) for k in sorted(keys)}


clones = st.builds(
    lambda h, lc: {"heavy_chain": h, "light_chain": lc},
    st.sampled_from(["IgG", "IgA", "IgM", "IgD", "IgE", None]),
    st.sampled_from(["kappa", "lambda"]),
)


@st.composite
def ife(draw) -> dict:
    if draw(st.booleans()):
        cl = draw(
            st.lists(clones, min_size=1, max_size=2, unique_by=lambda c: (c["heavy_chain"], c["light_chain"]))
        )
        return {"result": "positive", "clones": cl}
    out: dict = {"result": "negative"}
    if draw(st.booleans()):
        out["clones"] = []
    return out


spep = sections({"m_protein": maybe(quantities(Analyte.SERUM_M_PROTEIN))})
urine = sections({"m_protein_24h": maybe(quantities(Analyte.URINE_M_PROTEIN)), "ife": maybe(ife())})
flc = sections(
    {
        "kappa": maybe(quantities(Analyte.FREE_LIGHT_CHAIN)),
        "lambda": maybe(quantities(Analyte.FREE_LIGHT_CHAIN)),
        "assay": st.sampled_from(["freelite", "n_latex", "sebia", "other"]),
        "ratio_reference_range": maybe(ranges()),
    }
)
labs = sections(
    {
        "calcium": maybe(quantities(Analyte.CALCIUM)),
        "creatinine": maybe(quantities(Analyte.CREATININE)),
        "creatinine_clearance": maybe(quantities(Analyte.CREATININE_CLEARANCE)),
        "egfr": maybe(quantities(Analyte.EGFR)),
        "hemoglobin": maybe(quantities(Analyte.HEMOGLOBIN)),
        "tsh": maybe(quantities(Analyte.TSH)),
    }
)
SECTIONS = {
    "patient": sections(
        {
            "age_years": maybe(
                st.one_of(st.integers(0, 150), st.floats(min_value=0, max_value=150, allow_nan=False))
            ),
            "sex": maybe(st.sampled_from(["female", "male", "other", "unknown"])),
        }
    ),
    "spep": spep,
    "serum_ife": ife(),
    "urine": urine,
    "flc": flc,
    "marrow": sections(
        {
            k: percentages
            for k in (
                "clonal_plasma_cells_percent",
                "plasma_cells_percent",
                "lymphoplasmacytic_infiltrate_percent",
                "flow_plasma_cells_percent",
            )
        }
    ),
    "labs": labs,
    "imaging": sections(
        {"osteolytic_lesions": maybe(st.integers(0, 1000)), "mri_focal_lesions": maybe(st.integers(0, 1000))}
    ),
    "cytogenetics": sections({k: tristate for k in ("t_4_14", "t_14_16", "gain_1q", "del_13q")}),
    "clinical": sections(
        {
            "scleromyxedema": maybe(st.sampled_from(["confirmed", "suspected", "absent"])),
            **{
                k: tristate
                for k in (
                    "papular_eruption",
                    "sclerodermoid_induration",
                    "histology_mucin_fibrosis",
                    "fever",
                    "neurologic_signs",
                    "thyroid_disease",
                    "amyloidosis",
                    "plasmacytoma",
                    "igm_related_symptoms",
                    "end_stage_renal_disease",
                )
            },
        }
    ),
}
SCREENING = ("spep", "serum_ife", "urine", "flc")
history_entry_sections = {
    "spep": maybe(spep),
    "flc": maybe(flc),
    "urine": maybe(urine),
    "labs": maybe(sections({"hemoglobin": maybe(quantities(Analyte.HEMOGLOBIN))})),
}


def _born_by(current: date, age: float | None) -> date | None:
    """The earliest date a history result can carry: age + 1 years before the current panel."""
    if age is None:
        return None
    day = 28 if (current.month, current.day) == (2, 29) else current.day
    return current.replace(year=current.year - int(age) - 1, day=day)


@st.composite
def request_bodies(draw) -> dict:
    """A valid InterpretationRequest: random sections, at least one screening section present."""
    body: dict = {}
    screening = draw(st.sets(st.sampled_from(SCREENING), min_size=1))
    others = draw(st.sets(st.sampled_from(sorted(set(SECTIONS) - screening))))
    for name in sorted(screening | others):
        strategy = SECTIONS[name] if name in screening else maybe(SECTIONS[name])
        body[name] = draw(strategy)
    # A screening section must carry a result (an empty {} is a 422): give one a negative IFE if none does.
    has_result = (
        body.get("serum_ife") is not None
        or (body.get("spep") or {}).get("m_protein") is not None
        or any((body.get("urine") or {}).get(k) is not None for k in ("m_protein_24h", "ife"))
        or any((body.get("flc") or {}).get(k) is not None for k in ("kappa", "lambda"))
    )
    if not has_result:
        body["serum_ife"] = {"result": "negative", "clones": []}
    if draw(st.booleans()):
        current = draw(st.dates(min_value=date(2000, 1, 1), max_value=TODAY))
        body["collected_on"] = current.isoformat()
        # Earlier panels, oldest first, distinct dates strictly before the current one.
        gaps = draw(st.lists(st.integers(1, 400), max_size=4))
        day, entries = current, []
        born_by = _born_by(current, (body.get("patient") or {}).get("age_years"))
        for gap in gaps:
            day -= timedelta(days=gap)
            if born_by is not None and day < born_by:
                break  # a result dated before the patient's birth is refused (a data-entry check)
            entries.append({"collected_on": day.isoformat(), **draw(sections(history_entry_sections))})
        if entries or draw(st.booleans()):
            body["history"] = entries[::-1]
    elif draw(st.booleans()):
        body["collected_on"] = None
    return body


def _flag_codes(d: dict) -> set[str]:
    return {f["code"] for f in d["flags"]}


def _sclero_reported(body: dict) -> bool:
    c = body.get("clinical") or {}
    # Stated, or read from the eruption (Rongioletti 1) when no diagnosis is stated and the histology is
    # not reported negative (flags.scleromyxedema_status).
    eruption = all(c.get(k) is True for k in ("papular_eruption", "sclerodermoid_induration"))
    return (
        c.get("scleromyxedema") in ("confirmed", "suspected")
        or (c.get("scleromyxedema") is None and eruption and c.get("histology_mucin_fibrosis") is not False)
        or (
            # Reported absent beside Rongioletti (1) and (3) met and (4) not refuted: read as suspected.
            c.get("scleromyxedema") == "absent"
            and eruption
            and c.get("histology_mucin_fibrosis") is True
            and c.get("thyroid_disease") is not True
            and not _tsh_out_of_range(body)
        )
    )


def _tsh_out_of_range(body: dict) -> bool:
    tsh = (body.get("labs") or {}).get("tsh")
    rr = (tsh or {}).get("reference_range")
    if not tsh or not rr:
        return False
    # a bound counts as out of range only when the whole of it is outside (as the engine reads it)
    value, comparator = tsh["value"], tsh.get("comparator")
    low, high = rr["low"], rr["high"]
    below = comparator in (None, "<", "<=") and (value < low or (comparator == "<" and value == low))
    above = comparator in (None, ">", ">=") and (value > high or (comparator == ">" and value == high))
    return below or above


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large]
)
@given(request_bodies())
def test_any_valid_panel_is_interpreted_consistently(body):
    note(f"request body: {json.dumps(body)}")
    panel = REQUEST.load(body)  # a ValidationError here means the strategy or the schema is wrong
    d = to_dict(interpret(panel))
    code = d["classification"]["code"]
    mde = d["myeloma_defining_events"]
    flags = _flag_codes(d)

    # Myeloma-defining events exclude the pre-malignant and the negative categories.
    # Beside an IgM clone the events are listed with the flag, but the IgM category does not rest on
    # them (§2.5).
    if mde and code != "MGUS_IGM":
        assert code not in NO_MDE_CODES, (code, mde)
    if code == "MULTIPLE_MYELOMA" and not mde:
        # §2.8: a biopsy-proven plasmacytoma with clonal BMPC >= 10 % is myeloma without an MDE.
        assert (body.get("clinical") or {}).get("plasmacytoma") is True, "MULTIPLE_MYELOMA without basis"
    # The flag is raised for any CRAB or SLiM finding (api-contract), beside an IgM clone too, where
    # the IgM criteria (§2.5) make none of them myeloma-defining for the category.
    found = {
        c["id"].split(".")[1] for c in d["criteria"] if c["id"].startswith("mde.") and c["status"] == "met"
    }
    if code == "NO_MONOCLONAL_PROTEIN":  # CRAB values only, attributable to no clone (§2.1)
        assert ("CRAB_WITHOUT_MONOCLONAL_PROTEIN" in flags) == bool(found), (flags, found)
        found = set()
    assert ("MYELOMA_DEFINING_EVENT" in flags) == bool(found), (flags, found)
    if mde:
        assert set(mde) == found, (mde, found)

    # Scleromyxoedema flags only when reported, and never both kinds together.
    if "MGCS_SCLEROMYXEDEMA" in flags:
        assert _sclero_reported(body), body.get("clinical")
    assert not {"MGCS_SCLEROMYXEDEMA", "SCLEROMYXEDEMA_NO_PARAPROTEIN"} <= flags

    for c in d["criteria"]:
        assert c["status"] in CRITERION_STATUSES, c
    if d["classification"]["provisional"]:
        assert d["missing_data"], "provisional classification with nothing listed as missing"
    assert set(d["risk"]) == {"mgus_mayo_2005", "smm_mayo_2018", "smm_imwg_2020"}
    for name, r in d["risk"].items():
        if r["group"] is None:
            assert r["reason"], f"{name}: group null without a reason"
        else:
            assert r["group"] in r["possible_groups"], (name, r["group"], r["possible_groups"])

    assert RESPONSE.validate(d) == {}
    text = json.dumps(d, allow_nan=False)  # no NaN/Infinity may leak into the JSON

    # Deterministic: the same panel again gives the same answer.
    assert json.dumps(to_dict(interpret(panel)), allow_nan=False) == text


# A SLiM biomarker is itself a sign of a plasma-cell disorder: without a detectable monoclonal protein
# it is still never "no M-protein" (non-secretory disease; §2.9: no marrow result, marrow urgently).
SLIM_WITHOUT_PROTEIN = [
    {"serum_ife": {"result": "negative"}, "imaging": {"mri_focal_lesions": 2}},
    {"spep": {"m_protein": {"value": 0, "unit": "g/dL"}}, "imaging": {"mri_focal_lesions": 3}},
]


@pytest.mark.parametrize("body", SLIM_WITHOUT_PROTEIN, ids=["mri-lesions", "mri-lesions-no-ife"])
def test_a_slim_biomarker_is_never_reported_with_no_monoclonal_protein(body):
    d = to_dict(interpret(REQUEST.load(body)))
    assert d["classification"]["code"] not in NO_MDE_CODES, d["classification"]["code"]
    assert "MYELOMA_DEFINING_EVENT" in _flag_codes(d)


# CRAB is end-organ damage attributable to a plasma-cell disorder (§2.1): with a negative screen (the
# commonest reason for one: anaemia, renal failure, hypercalcaemia) nothing is attributable.
CRAB_WITHOUT_PROTEIN = [
    (
        {
            "spep": {"m_protein": {"value": 0, "unit": "g/dL"}},
            "labs": {"hemoglobin": {"value": 8, "unit": "g/dL"}},
        },
        ["serum_ife", "flc.kappa", "flc.lambda"],
    ),
    (
        {
            "serum_ife": {"result": "negative"},
            "flc": {"kappa": {"value": 10, "unit": "mg/L"}, "lambda": {"value": 10, "unit": "mg/L"}},
            "labs": {"calcium": {"value": 12, "unit": "mg/dL"}},
        },
        [],
    ),
    (
        {"serum_ife": {"result": "negative"}, "labs": {"creatinine": {"value": 300, "unit": "umol/L"}}},
        ["flc.kappa", "flc.lambda"],
    ),
    (
        {"serum_ife": {"result": "negative"}, "imaging": {"osteolytic_lesions": 1}},
        ["flc.kappa", "flc.lambda"],
    ),
]


@pytest.mark.parametrize(
    ("body", "missing"),
    CRAB_WITHOUT_PROTEIN,
    ids=["anaemia-no-ife", "hypercalcaemia", "renal-no-flc", "lytic-lesion"],
)
def test_crab_values_without_a_monoclonal_protein_are_reported_but_not_myeloma_defining(body, missing):
    d = to_dict(interpret(REQUEST.load(body)))
    assert d["classification"]["code"] == "NO_MONOCLONAL_PROTEIN"
    assert d["classification"]["provisional"] is bool(missing)
    assert d["missing_data"] == missing  # what would still find a clone: immunofixation, FLC
    assert d["myeloma_defining_events"] == []
    flags = _flag_codes(d)
    assert "MYELOMA_DEFINING_EVENT" not in flags and "CRAB_WITHOUT_MONOCLONAL_PROTEIN" in flags
    assert any(c["id"].startswith("mde.") and c["status"] == "met" for c in d["criteria"])
