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


# --- IVIg and the serial M-protein rules (§5, §3.5) --------------------------------------------


def ivig_serial(last_dose: str | None, heavy: str = "IgG", history: tuple = (("2026-06-01", 10),)) -> dict:
    """An IgG (or other) clone at 16 g/L on 2026-11-01 after lower M-proteins: a rise of >= 25 % and
    >= 5 g/L within 12 months (§3.5) when every value is read."""
    body = mgus_igg(
        spep={"m_protein": q(16, "g/L")},
        serum_ife={"result": "positive", "clones": [{"heavy_chain": heavy, "light_chain": "lambda"}]},
        clinical={"ivig_last_dose_on": last_dose} if last_dose else {},
    )
    body["collected_on"] = "2026-11-01"
    body["history"] = [{"collected_on": on, "spep": {"m_protein": q(v, "g/L")}} for on, v in history]
    return body


def test_without_ivig_the_rise_is_an_evolving_m_protein():
    assert "EVOLVING_M_PROTEIN" in flag_codes(run(ivig_serial(None)))


def test_within_the_ivig_window_an_igg_rise_raises_no_evolving_flag_and_says_why():
    out = run(ivig_serial("2026-10-15"))
    assert "IVIG_IGG_UNRELIABLE" in flag_codes(out)
    assert not flag_codes(out) & {"EVOLVING_M_PROTEIN", "RISING_M_PROTEIN_SUCCESSIVE"}
    assert not any(r["code"] == "EVOLVING_PATTERN_REVIEW" for r in out["recommendations"])
    assert "did not read the IgG M-protein of 2026-06-01, 2026-11-01" in out["comment"]


def test_two_successive_rises_within_the_ivig_window_are_no_high_risk_marker():
    out = run(ivig_serial("2026-10-15", history=(("2026-06-01", 10), ("2026-09-01", 13))))
    assert "RISING_M_PROTEIN_SUCCESSIVE" not in flag_codes(out)
    assert "RISING_M_PROTEIN_SUCCESSIVE" in flag_codes(
        run(ivig_serial(None, history=(("2026-06-01", 10), ("2026-09-01", 13))))
    )


def test_an_iga_clone_is_not_blurred_by_ivig():
    assert "EVOLVING_M_PROTEIN" in flag_codes(run(ivig_serial("2026-10-15", heavy="IgA")))


@pytest.mark.parametrize(
    ("last_dose", "evolving"),
    [
        ("2026-02-28", True),  # window ends 2026-05-28: both values read
        ("2026-03-01", False),  # window ends 2026-06-01: the earlier value is in it
    ],
)
def test_only_values_up_to_the_end_of_the_ivig_window_are_left_out(last_dose, evolving):
    out = run(ivig_serial(last_dose))
    assert ("EVOLVING_M_PROTEIN" in flag_codes(out)) is evolving
    assert "IVIG_IGG_UNRELIABLE" not in flag_codes(out)  # the panel itself is after the window


# --- A marrow result in MGCS is a plasma-cell figure for a non-IgM clone --------------------------


@pytest.mark.parametrize("infiltrate", [0, 4])
def test_an_infiltrate_figure_alone_is_no_marrow_result_for_an_igg_clone_with_scleromyxoedema(infiltrate):
    body = mgus_igg(clinical={"scleromyxedema": "confirmed"})
    body["marrow"] = {"lymphoplasmacytic_infiltrate_percent": infiltrate}
    out = run(body)
    assert "MARROW_EXAMINATION_RECOMMENDED" in flag_codes(out)
    assert "whatever the Mayo risk group" in flag(out, "MARROW_EXAMINATION_RECOMMENDED")["message"]


# --- Thyroid disease beside a confirmed scleromyxoedema (§5, Rongioletti 4) --------------------------


@pytest.mark.parametrize(("thyroid", "qualified"), [(True, True), (False, False)])
def test_a_confirmed_scleromyxoedema_with_thyroid_disease_is_not_called_confirmed_unqualified(
    thyroid, qualified
):
    body = s6_body()
    body["clinical"]["thyroid_disease"] = thyroid
    message = flag(run(body), "MGCS_SCLEROMYXEDEMA")["message"]
    assert ("confirmed as reported; thyroid disease to exclude first" in message) is qualified
    assert ("scleromyxoedema (confirmed):" in message) is not qualified
