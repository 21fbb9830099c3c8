"""Serial results, clinical-reference §3.5: evolving M-protein, evolving haemoglobin and the successive-rise
marker, each just below / at / just above its percentage, absolute and time-window edges.

Readings of §3.5 used here: "within N months" includes the same calendar day N months later; the
"first 6 months" and "M-protein >= 30 g/L" of the early rule refer to the first (baseline) result.
"""

from __future__ import annotations

import json
import math
from datetime import date, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from service.domain.serial import add_months, within

from .helpers import mgus_igg, q, run

EVOLVING_MP = "EVOLVING_M_PROTEIN"
EVOLVING_HB = "EVOLVING_HEMOGLOBIN"
SUCCESSIVE = "RISING_M_PROTEIN_SUCCESSIVE"


def m_series(*points, unit="g/L"):
    """Request body with dated M-protein values, oldest first; the last is the current panel."""
    *hist, (on, value) = points
    body = mgus_igg(spep={"m_protein": q(value, unit)})
    body["collected_on"] = on
    body["history"] = [{"collected_on": d, "spep": {"m_protein": q(v, unit)}} for d, v in hist]
    return body


def hb_series(*points, unit="g/L"):
    """Request body with dated haemoglobin values (stable M-protein), oldest first."""
    *hist, (on, value) = points
    rr = (12.0, 16.0) if unit == "g/dL" else (120, 160)
    body = mgus_igg(labs={"hemoglobin": q(value, unit, rr=rr)})
    body["collected_on"] = on
    body["history"] = [
        {"collected_on": d, "spep": {"m_protein": q(12, "g/L")}, "labs": {"hemoglobin": q(v, unit)}}
        for d, v in hist
    ]
    return body


def _numbers(obj):
    if isinstance(obj, bool):
        return []
    if isinstance(obj, int | float):
        return [float(obj)]
    if isinstance(obj, dict):
        return [n for v in obj.values() for n in _numbers(v)]
    if isinstance(obj, list | tuple):
        return [n for v in obj for n in _numbers(v)]
    return []


def assert_evidence(result, flag_code, dates, values_g_l):
    """The flag carries the dates and the values (canonical g/L or as reported) that triggered it."""
    flags = [f for f in result["flags"] if f["code"] == flag_code]
    assert flags, f"{flag_code} missing: {[f['code'] for f in result['flags']]}"
    ev = flags[0]["evidence"]
    assert ev, f"{flag_code} carries no evidence"
    text = json.dumps(ev)
    for d in dates:
        assert d in text, f"{d} not in evidence {text}"
    nums = _numbers(ev)
    for v in values_g_l:
        assert any(math.isclose(n, v, rel_tol=1e-9) or math.isclose(n * 10, v, rel_tol=1e-9) for n in nums), (
            f"{v} g/L not in evidence {text}"
        )


# --- Evolving M-protein -------------------------------------------------------------------------------
MP_ROWS = [
    # >= 25 % within 12 months, minimum absolute rise 5 g/L (baseline 20 g/L: 25 % = 5 g/L)
    (
        "rise_24.5_percent_in_10_months_is_not_evolving",
        [("2024-03-01", 20), ("2025-01-01", 24.9)],
        "g/L",
        False,
    ),
    ("rise_exactly_25_percent_and_5_gl_is_evolving", [("2024-03-01", 20), ("2025-01-01", 25)], "g/L", True),
    ("rise_25.5_percent_is_evolving", [("2024-03-01", 20), ("2025-01-01", 25.1)], "g/L", True),
    ("gdl_rise_24.5_percent_is_not_evolving", [("2024-03-01", 2.0), ("2025-01-01", 2.49)], "g/dL", False),
    ("gdl_rise_exactly_25_percent_is_evolving", [("2024-03-01", 2.0), ("2025-01-01", 2.5)], "g/dL", True),
    ("gdl_rise_25.5_percent_is_evolving", [("2024-03-01", 2.0), ("2025-01-01", 2.51)], "g/dL", True),
    # minimum absolute rise (baseline 10 g/L: +49 % but only 4.9 g/L)
    ("rise_4.9_gl_49_percent_is_not_evolving", [("2024-03-01", 10), ("2025-01-01", 14.9)], "g/L", False),
    ("rise_exactly_5_gl_50_percent_is_evolving", [("2024-03-01", 10), ("2025-01-01", 15)], "g/L", True),
    ("rise_5.1_gl_is_evolving", [("2024-03-01", 10), ("2025-01-01", 15.1)], "g/L", True),
    ("gdl_rise_0.49_gdl_is_not_evolving", [("2024-03-01", 1.0), ("2025-01-01", 1.49)], "g/dL", False),
    ("gdl_rise_exactly_0.5_gdl_is_evolving", [("2024-03-01", 1.0), ("2025-01-01", 1.5)], "g/dL", True),
    # 12-month window (30 % and 6 g/L rise)
    ("rise_one_day_under_12_months_is_evolving", [("2024-01-15", 20), ("2025-01-14", 26)], "g/L", True),
    ("rise_at_exactly_12_months_is_evolving", [("2024-01-15", 20), ("2025-01-15", 26)], "g/L", True),
    ("rise_12_months_and_1_day_is_not_evolving", [("2024-01-15", 20), ("2025-01-16", 26)], "g/L", False),
    # early rule: >= 10 % within the first 6 months, only when the M-protein is >= 30 g/L
    (
        "early_rise_9.8_percent_from_50_is_not_evolving",
        [("2024-01-15", 50), ("2024-06-15", 54.9)],
        "g/L",
        False,
    ),
    (
        "early_rise_exactly_10_percent_from_50_is_evolving",
        [("2024-01-15", 50), ("2024-06-15", 55)],
        "g/L",
        True,
    ),
    ("early_rise_10.2_percent_from_50_is_evolving", [("2024-01-15", 50), ("2024-06-15", 55.1)], "g/L", True),
    (
        "gdl_early_rise_exactly_10_percent_from_5_gdl",
        [("2024-01-15", 5.0), ("2024-06-15", 5.5)],
        "g/dL",
        True,
    ),
    ("gdl_early_rise_9.8_percent_from_5_gdl", [("2024-01-15", 5.0), ("2024-06-15", 5.49)], "g/dL", False),
    (
        "early_rise_20_percent_from_exactly_30_is_evolving",
        [("2024-01-15", 30), ("2024-06-15", 36)],
        "g/L",
        True,
    ),
    (
        "early_rise_20_percent_from_29.9_is_not_evolving",
        [("2024-01-15", 29.9), ("2024-06-15", 35.9)],
        "g/L",
        False,
    ),
    (
        "early_rise_10_percent_from_30_is_only_3_gl_not_evolving",
        [("2024-01-15", 30), ("2024-06-15", 33)],
        "g/L",
        False,
    ),
    ("early_rise_at_exactly_6_months_is_evolving", [("2024-01-15", 50), ("2024-07-15", 56)], "g/L", True),
    ("early_rise_6_months_and_1_day_is_not_evolving", [("2024-01-15", 50), ("2024-07-16", 56)], "g/L", False),
]


@pytest.mark.parametrize(
    ("points", "unit", "evolving"), [r[1:] for r in MP_ROWS], ids=[r[0] for r in MP_ROWS]
)
def test_evolving_m_protein_rule(points, unit, evolving):
    result = run(m_series(*points, unit=unit))
    codes = {f["code"] for f in result["flags"]}
    assert (EVOLVING_MP in codes) is evolving
    if evolving:
        factor = 10 if unit == "g/dL" else 1
        assert_evidence(result, EVOLVING_MP, [p[0] for p in points], [p[1] * factor for p in points])


def test_evolving_m_protein_is_said_in_the_comment():
    result = run(m_series(("2024-03-01", 20), ("2025-01-01", 25)))
    assert "evolving" in result["comment"].lower()


def test_a_stable_m_protein_is_not_evolving():
    result = run(m_series(("2024-01-10", 20), ("2024-07-10", 20.5), ("2025-01-10", 21)))
    codes = {f["code"] for f in result["flags"]}
    assert not codes & {EVOLVING_MP, SUCCESSIVE}


# --- Evolving haemoglobin: fall >= 5 g/L within 12 months --------------------------------------------------
HB_ROWS = [
    ("fall_4.9_gl_is_not_evolving", [("2024-03-01", 130), ("2025-01-01", 125.1)], "g/L", False),
    ("fall_exactly_5_gl_is_evolving", [("2024-03-01", 130), ("2025-01-01", 125)], "g/L", True),
    ("fall_5.1_gl_is_evolving", [("2024-03-01", 130), ("2025-01-01", 124.9)], "g/L", True),
    ("gdl_fall_0.49_gdl_is_not_evolving", [("2024-03-01", 13.0), ("2025-01-01", 12.51)], "g/dL", False),
    ("gdl_fall_exactly_0.5_gdl_is_evolving", [("2024-03-01", 13.0), ("2025-01-01", 12.5)], "g/dL", True),
    ("gdl_fall_0.51_gdl_is_evolving", [("2024-03-01", 13.0), ("2025-01-01", 12.49)], "g/dL", True),
    ("fall_one_day_under_12_months_is_evolving", [("2024-01-15", 135), ("2025-01-14", 125)], "g/L", True),
    ("fall_at_exactly_12_months_is_evolving", [("2024-01-15", 135), ("2025-01-15", 125)], "g/L", True),
    ("fall_12_months_and_1_day_is_not_evolving", [("2024-01-15", 135), ("2025-01-16", 125)], "g/L", False),
    ("rise_in_haemoglobin_is_not_evolving", [("2024-03-01", 120), ("2025-01-01", 130)], "g/L", False),
]


@pytest.mark.parametrize(
    ("points", "unit", "evolving"), [r[1:] for r in HB_ROWS], ids=[r[0] for r in HB_ROWS]
)
def test_evolving_haemoglobin_rule(points, unit, evolving):
    result = run(hb_series(*points, unit=unit))
    codes = {f["code"] for f in result["flags"]}
    assert (EVOLVING_HB in codes) is evolving
    if evolving:
        factor = 10 if unit == "g/dL" else 1
        assert_evidence(result, EVOLVING_HB, [p[0] for p in points], [p[1] * factor for p in points])


# --- Rising M-protein >= 25 % on two successive evaluations within 6 months --------------------------------
SUCC_ROWS = [
    # The rise over an earlier result is seen at two consecutive evaluations (a confirmed rise); the
    # baseline and both evaluations fall within 6 months.
    (
        "up_exactly_25_percent_at_two_successive_evaluations",
        [("2024-01-10", 8), ("2024-04-10", 10), ("2024-07-10", 10)],
        "g/L",
        True,
    ),
    (
        "second_evaluation_just_below_25_percent",
        [("2024-01-10", 8), ("2024-04-10", 10), ("2024-07-10", 9.99)],
        "g/L",
        False,
    ),
    (
        "first_evaluation_just_below_25_percent",
        [("2024-01-10", 8), ("2024-04-10", 9.99), ("2024-07-10", 12.5)],
        "g/L",
        False,
    ),
    (
        "both_evaluations_26_percent_up",
        [("2024-01-10", 8), ("2024-04-10", 10.08), ("2024-07-10", 10.08)],
        "g/L",
        True,
    ),
    (
        "compounding_rises_qualify_too",
        [("2024-01-10", 8), ("2024-04-10", 10), ("2024-07-10", 12.5)],
        "g/L",
        True,
    ),
    (
        "the_second_evaluation_need_not_rise_again",
        [("2024-01-10", 8), ("2024-04-10", 10), ("2024-07-10", 12.4)],
        "g/L",
        True,
    ),
    (
        "gdl_up_exactly_25_percent_twice",
        [("2024-01-10", 0.8), ("2024-04-10", 1.0), ("2024-07-10", 1.0)],
        "g/dL",
        True,
    ),
    (
        "gdl_second_evaluation_just_below",
        [("2024-01-10", 0.8), ("2024-04-10", 1.0), ("2024-07-10", 0.999)],
        "g/dL",
        False,
    ),
    (
        "three_results_spanning_6_months_and_1_day",
        [("2024-01-10", 8), ("2024-04-10", 10), ("2024-07-11", 10)],
        "g/L",
        False,
    ),
    (
        "three_results_one_day_inside_6_months",
        [("2024-01-10", 8), ("2024-04-10", 10), ("2024-07-09", 10)],
        "g/L",
        True,
    ),
    ("a_single_rise_is_not_two_successive", [("2024-01-10", 8), ("2024-04-10", 12)], "g/L", False),
    (
        "a_rise_not_held_at_the_next_evaluation",
        [("2024-01-10", 8), ("2024-02-10", 10), ("2024-03-10", 9), ("2024-04-10", 11.25)],
        "g/L",
        False,
    ),
    (
        "an_earlier_baseline_within_the_window",
        [("2024-01-10", 8), ("2024-02-10", 9), ("2024-03-10", 10), ("2024-04-10", 10)],
        "g/L",
        True,
    ),
    (
        "a_baseline_older_than_6_months_is_not_used",
        [("2023-12-01", 8), ("2024-03-01", 9), ("2024-05-01", 10), ("2024-07-01", 10)],
        "g/L",
        False,
    ),
]


@pytest.mark.parametrize(
    ("points", "unit", "rising"), [r[1:] for r in SUCC_ROWS], ids=[r[0] for r in SUCC_ROWS]
)
def test_rising_m_protein_on_two_successive_evaluations(points, unit, rising):
    result = run(m_series(*points, unit=unit))
    codes = {f["code"] for f in result["flags"]}
    assert (SUCCESSIVE in codes) is rising
    if rising and len(points) == 3:
        factor = 10 if unit == "g/dL" else 1
        assert_evidence(result, SUCCESSIVE, [p[0] for p in points], [p[1] * factor for p in points])


def test_successive_rise_flag_is_independent_of_the_5_gl_minimum_of_the_evolving_rule():
    result = run(m_series(("2024-01-10", 8), ("2024-04-10", 10), ("2024-07-10", 12.5)))
    codes = {f["code"] for f in result["flags"]}
    assert SUCCESSIVE in codes
    assert EVOLVING_MP not in codes  # 8 -> 12.5 g/L is a 4.5 g/L rise


def test_no_history_no_serial_flags():
    codes = {f["code"] for f in run(mgus_igg())["flags"]}
    assert not codes & {EVOLVING_MP, EVOLVING_HB, SUCCESSIVE}


# --- Through HTTP -------------------------------------------------------------------------------------------
def _post(client, body):
    resp = client.post("/v1/interpretations", json=body)
    assert resp.status_code in (200, 201), resp.get_json()
    return resp.get_json()


def test_http_evolving_m_protein_refers_to_haematology_with_evidence(client):
    result = _post(client, m_series(("2024-03-01", 2.0), ("2025-01-01", 2.5), unit="g/dL"))
    f = [f for f in result["flags"] if f["code"] == EVOLVING_MP]
    assert f and f[0]["severity"] == "refer"
    assert_evidence(result, EVOLVING_MP, ["2024-03-01", "2025-01-01"], [20, 25])


def test_http_evolving_haemoglobin(client):
    result = _post(client, hb_series(("2024-03-01", 13.0), ("2025-01-01", 12.5), unit="g/dL"))
    f = [f for f in result["flags"] if f["code"] == EVOLVING_HB]
    assert f and f[0]["severity"] == "refer"


def test_http_rising_successive(client):
    result = _post(client, m_series(("2024-01-10", 8), ("2024-04-10", 10), ("2024-07-10", 12.5)))
    f = [f for f in result["flags"] if f["code"] == SUCCESSIVE]
    assert f and f[0]["severity"] == "refer"


@pytest.mark.parametrize(
    "history_dates",
    [
        ["2025-06-01", "2024-06-01"],
        ["2024-06-01", "2024-06-01"],
        ["2024-06-01", "2025-03-01"],
        ["2024-06-01", "2099-01-01"],
    ],
    ids=["after_current_panel", "duplicate_date", "same_date_as_current", "future_date"],
)
def test_http_badly_dated_history_is_a_422_naming_the_entry(client, history_dates):
    body = m_series(*[(d, 10) for d in history_dates], ("2025-03-01", 10))
    # m_series used the last pair as current; rebuild the history from all requested dates.
    body["history"] = [{"collected_on": d, "spep": {"m_protein": q(10, "g/L")}} for d in history_dates]
    resp = client.post("/v1/interpretations", json=body)
    assert resp.status_code == 422
    assert any(k.startswith("history.") for k in resp.get_json()["errors"])


@settings(max_examples=3000, deadline=None)
@given(st.dates(date(1990, 1, 1), date(2100, 12, 31)), st.integers(-40, 800), st.sampled_from([6, 12]))
def test_within_n_months_is_on_or_before_the_same_day_n_months_later(start, offset, months):
    # `within` is computed without building the date: it must agree with the date it stands for,
    # month ends (31 Jan + 1 month = 28/29 Feb) included.
    end = start + timedelta(days=offset)
    assert within(start, end, months) is (end <= add_months(start, months))


@pytest.mark.parametrize(
    ("start", "end", "months", "inside"),
    (
        (date(2025, 8, 31), date(2026, 2, 28), 6, True),  # 31 Aug + 6 months = 28 Feb 2026
        (date(2025, 8, 31), date(2026, 3, 1), 6, False),
        (date(2023, 8, 31), date(2024, 2, 29), 6, True),  # leap year: 29 Feb
        (date(2025, 1, 15), date(2026, 1, 15), 12, True),
        (date(2025, 1, 15), date(2026, 1, 16), 12, False),
    ),
)
def test_month_end_boundaries_of_the_serial_windows(start, end, months, inside):
    assert within(start, end, months) is inside


def test_history_results_no_serial_rule_reads_are_named_never_dropped_unseen():
    """§3.5 reads the serum M-protein and the haemoglobin of earlier panels: a calcium, a creatinine,
    free light chains or an entry with no result sent in history are named in a note."""
    from .helpers import q, run

    body = {
        "collected_on": "2024-03-15",
        "spep": {"m_protein": q(12, "g/L")},
        "history": [
            {
                "collected_on": "2023-09-01",
                "labs": {"calcium": q(3.4, "mmol/L"), "creatinine": q(400, "umol/L")},
            },
            {"collected_on": "2023-10-01"},
            {
                "collected_on": "2023-11-01",
                "spep": {"m_protein": q(11, "g/L")},
                "labs": {"hemoglobin": q(130, "g/L")},
                "flc": {"kappa": q(20, "mg/L"), "lambda": q(10, "mg/L"), "assay": "freelite"},
            },
            {"collected_on": "2023-12-01", "spep": {"m_protein": q(11, "g/L")}},
        ],
    }
    notes = [n for n in run(body)["notes"] if "were not used" in n]
    assert len(notes) == 1
    assert notes[0].endswith(
        "2023-09-01: calcium, creatinine; 2023-10-01: no result; 2023-11-01: free kappa, free lambda."
    )


# --- A rule the bounds leave open is said, never summarised as absent (§3.5 with §2.9) ----------------

UNDECIDED = "can be neither confirmed nor excluded"


def bounded_m_series(history_value: dict, current: float) -> dict:
    body = m_series(("2026-01-15", 1), ("2026-03-15", current))
    body["history"][0]["spep"]["m_protein"] = history_value
    return body


@pytest.mark.parametrize(
    ("history_value", "current", "flag", "undecided"),
    [
        (q(16, "g/L", "<"), 20, False, True),  # 20 - 16 = 4 < 5; from a lower baseline it could be >= 5
        (q(15, "g/L", "<"), 20, True, False),  # at most 15: a rise of at least 5 g/L and 33 %
        (q(16, "g/L", ">"), 20, False, False),  # more than 16: a rise of under 4 g/L, settled
        (q(16, "g/L"), 20, False, False),  # exact: 4 g/L, settled
    ],
)
def test_an_m_protein_bound_that_leaves_the_evolving_rule_open_is_said(
    history_value, current, flag, undecided
):
    result = run(bounded_m_series(history_value, current))
    assert (EVOLVING_MP in {f["code"] for f in result["flags"]}) is flag
    said = [n for n in result["notes"] if UNDECIDED in n]
    assert bool(said) is undecided
    if undecided:
        assert "an evolving M-protein" in said[0] and "on 2026-01-15" in said[0]
        assert UNDECIDED in result["comment"]


@pytest.mark.parametrize(
    ("earlier", "current", "flag", "undecided"),
    [
        (q(130, "g/L", ">"), q(126, "g/L"), False, True),  # could have fallen by 5 g/L or more
        (q(130, "g/L"), q(126, "g/L", "<"), False, True),
        (q(130, "g/L", ">="), q(125, "g/L"), True, False),  # at least 130 to 125: settled, met
        (q(130, "g/L"), q(126, "g/L"), False, False),  # exact: a fall of 4 g/L, settled
    ],
)
def test_a_haemoglobin_bound_that_leaves_the_evolving_rule_open_is_said(earlier, current, flag, undecided):
    body = hb_series(("2025-06-15", 130), ("2026-01-15", 126))
    body["history"][0]["labs"]["hemoglobin"] = earlier
    body["labs"]["hemoglobin"] = {**current, "reference_range": {"low": 120, "high": 160}}
    result = run(body)
    assert (EVOLVING_HB in {f["code"] for f in result["flags"]}) is flag
    assert any(UNDECIDED in n and "an evolving haemoglobin" in n for n in result["notes"]) is undecided


def test_an_evolving_pattern_beside_low_risk_mgus_is_not_given_the_stable_schedule_unqualified():
    # §3.2 low-risk schedule (every 2-3 years, marrow not routinely indicated) is for stable results;
    # §3.5 evolving M-protein and haemoglobin call for haematology review, said in the comment too.
    body = {
        "patient": {"age_years": 65, "sex": "male"},
        "collected_on": "2025-09-15",
        "spep": {"m_protein": {"value": 14.9, "unit": "g/L"}},
        "serum_ife": {"result": "positive", "clones": [{"heavy_chain": "IgG", "light_chain": "kappa"}]},
        "flc": {"kappa": {"value": 15, "unit": "mg/L"}, "lambda": {"value": 12, "unit": "mg/L"}},
        "marrow": {"clonal_plasma_cells_percent": 5},
        "labs": {"hemoglobin": {"value": 135, "unit": "g/L"}},
        "history": [
            {
                "collected_on": "2025-03-15",
                "spep": {"m_protein": {"value": 9.9, "unit": "g/L"}},
                "labs": {"hemoglobin": {"value": 145, "unit": "g/L"}},
            }
        ],
    }
    result = run(body)
    codes = {f["code"] for f in result["flags"]}
    assert {"EVOLVING_M_PROTEIN", "EVOLVING_HEMOGLOBIN"} <= codes
    follow = next(r for r in result["recommendations"] if r["code"] == "FOLLOW_UP")
    assert "hemoglobin" in follow["tests"]
    assert "not stable" in follow["then"]
    assert "Baseline bone-marrow examination and skeletal survey are not routinely" not in result["comment"]
    assert "haematology review now" in result["comment"]
