"""§5: in MGCS the clone is characterised whatever its size (marrow recommended for a monoclonal gammopathy
with scleromyxoedema unless a marrow result is given), and IVIg makes IgG-based values unreliable for about
3 months after the last dose (read as 3 calendar months: ruleset.IVIG_WINDOW_MONTHS)."""

from __future__ import annotations

from datetime import date

import pytest
from marshmallow import ValidationError

from service.api.schemas import InterpretationRequestSchema

from .helpers import code, flag, flag_codes, mgus_igg, q, run, s6_body

# --- Marrow in MGCS -----------------------------------------------------------------------------


def test_the_worked_example_without_its_marrow_result_is_recommended_a_marrow_examination():
    body = s6_body()
    body.pop("marrow")
    out = run(body)
    assert "MGCS_SCLEROMYXEDEMA" in flag_codes(out)
    assert "MARROW_EXAMINATION_RECOMMENDED" in flag_codes(out)
    assert "whatever the Mayo risk group" in flag(out, "MARROW_EXAMINATION_RECOMMENDED")["message"]


def test_the_worked_example_with_its_marrow_result_is_not_asked_for_another():
    assert "MARROW_EXAMINATION_RECOMMENDED" not in flag_codes(run(s6_body()))


@pytest.mark.parametrize("status", ["confirmed", "suspected"])
def test_a_low_risk_mgus_with_scleromyxoedema_and_no_marrow_is_recommended_one(status):
    body = mgus_igg(clinical={"scleromyxedema": status})
    body.pop("marrow")
    out = run(body)
    assert out["risk"]["mgus_mayo_2005"]["group"] == "low"
    assert "MARROW_EXAMINATION_RECOMMENDED" in flag_codes(out)


def test_a_low_risk_mgus_without_scleromyxoedema_and_no_marrow_is_not():
    body = mgus_igg(clinical={"scleromyxedema": "absent"})
    body.pop("marrow")
    assert "MARROW_EXAMINATION_RECOMMENDED" not in flag_codes(run(body))


# --- IVIg ---------------------------------------------------------------------------------------


def ivig(last_dose: str, collected_on: str = "2026-06-15", **labs) -> dict:
    body = mgus_igg(clinical={"ivig_last_dose_on": last_dose}, labs=labs)
    body["collected_on"] = collected_on
    return body


@pytest.mark.parametrize(
    ("last_dose", "collected_on", "inside"),
    [
        ("2026-03-15", "2026-06-15", True),  # exactly 3 months after: still inside
        ("2026-03-14", "2026-06-15", False),  # 3 months and a day
        ("2026-06-15", "2026-06-15", True),  # the day of the dose
        ("2025-11-30", "2026-02-28", True),  # no 30 February: the month's end closes the window
        ("2025-11-30", "2026-03-01", False),
    ],
)
def test_igg_based_values_are_reported_unreliable_within_3_calendar_months_of_the_last_ivig_dose(
    last_dose, collected_on, inside
):
    out = run(ivig(last_dose, collected_on))
    assert ("IVIG_IGG_UNRELIABLE" in flag_codes(out)) is inside
    if inside:
        message = flag(out, "IVIG_IGG_UNRELIABLE")["message"]
        assert "unreliable" in message and "immunofixation" in message
        assert "unreliable" in out["comment"]
    assert code(out) == "MGUS_NON_IGM"  # the category itself is unchanged


@pytest.mark.parametrize(
    ("labs", "caveat"),
    [
        ({"creatinine": q(177.1, "umol/L")}, True),
        ({"creatinine": q(177, "umol/L")}, False),
        ({"hemoglobin": q(99.9, "g/L", rr=(120, 160))}, True),
        ({"hemoglobin": q(100, "g/L", rr=(120, 160))}, False),
    ],
)
def test_renal_insufficiency_or_anaemia_within_the_ivig_window_carries_the_ivig_caveat(labs, caveat):
    out = run(ivig("2026-05-01", **labs))
    message = flag(out, "IVIG_IGG_UNRELIABLE")["message"]
    assert ("raise creatinine or cause haemolysis" in message) is caveat


def load_errors(body: dict) -> dict:
    try:
        InterpretationRequestSchema().load(body)
    except ValidationError as e:
        return e.normalized_messages()
    return {}


def test_an_ivig_date_after_the_panel_is_refused():
    errors = load_errors(ivig("2026-06-16", "2026-06-15"))
    assert "clinical.ivig_last_dose_on" in errors


def test_an_ivig_date_in_the_future_is_refused():
    body = ivig("2099-01-01")
    body.pop("collected_on")
    assert "future" in load_errors(body)["clinical.ivig_last_dose_on"][0]


def test_an_ivig_date_without_a_panel_date_is_read_against_today():
    body = ivig(date.today().isoformat())
    body.pop("collected_on")
    out = run(body)
    assert "collection date was not given" in flag(out, "IVIG_IGG_UNRELIABLE")["message"]


@pytest.mark.parametrize("bad", ["2026-02-30", "20260301", 20260301, "2026-W01-1"])
def test_an_ivig_date_that_is_not_yyyy_mm_dd_is_refused(bad):
    assert "clinical" in load_errors(ivig(bad))
