"""§1: nothing is rounded before comparing; the figures the answer shows are rounded, and a shown figure
never reads as a cut-off the value is on the other side of (an eGFR of 39.9988 beside "< 40")."""

from __future__ import annotations

import json

import pytest

from service.domain.words import figure, places_clear_of

from .helpers import q, run, status


@pytest.mark.parametrize(
    ("value", "digits", "limits", "shown"),
    [
        (39.9988, 4, (40.0,), "39.999"),
        (40.0, 4, (40.0,), "40"),  # on the cut-off: shown as it is
        (40.0012, 4, (40.0,), "40.001"),
        (1.6508, 3, (0.26, 1.65), "1.651"),
        (1.6492, 3, (0.26, 1.65), "1.649"),
        (1.65, 3, (0.26, 1.65), "1.65"),
        (2.1234, 3, (0.26, 1.65), "2.12"),  # away from any limit: the usual figure
    ],
)
def test_a_figure_is_never_shown_as_a_limit_it_is_not(value, digits, limits, shown):
    assert figure(value, digits, limits) == shown


def test_places_clear_of_keeps_one_decimal_away_from_the_cut_offs():
    from decimal import Decimal as D

    assert places_clear_of(D("39.9988"), 1, (D(40), D(60))) == D("39.999")
    assert places_clear_of(D("59.96"), 1, (D(40), D(60))) == D("59.96")
    assert places_clear_of(D("45.06"), 1, (D(40), D(60))) == D("45.1")


def egfr_body(creatinine_umol_l: float) -> dict:
    return {
        "patient": {"age_years": 70, "sex": "male"},
        "spep": {"m_protein": q(10, "g/L")},
        "serum_ife": {"result": "positive", "clones": [{"heavy_chain": "IgG", "light_chain": "kappa"}]},
        "labs": {"creatinine": q(creatinine_umol_l, "umol/L")},
    }


def test_an_estimate_just_below_40_is_met_and_never_shown_as_40():
    out = run(egfr_body(159.1))  # CKD-EPI 2021: 39.9988 mL/min/1.73m2
    assert status(out, "mde.renal_insufficiency.clearance") == "met"
    assert out["derived"]["egfr"]["value"] == pytest.approx(39.999)
    assert "39.999 mL/min/1.73m2 (< 40" in out["comment"]


def test_a_ratio_just_above_the_interval_is_abnormal_and_never_shown_as_its_limit():
    body = egfr_body(80) | {"flc": {"kappa": q(19.81, "mg/L"), "lambda": q(12, "mg/L"), "assay": "freelite"}}
    out = run(body)
    assert out["flc"]["abnormal"] is True
    assert "FLC kappa/lambda ratio 1.651 (abnormal" in out["comment"]


def test_a_refused_figure_is_quoted_as_sent_not_rounded_into_the_window(client):
    # §1.1: 9.819 mg/dL (2.44998 mmol/L) is just below the plausible upper calcium limit of 2.45 mmol/L
    # (about 9.82 mg/dL); quoted as "9.82" the message read as if the limit were inside its own window.
    body = {
        "spep": {"m_protein": {"value": 10, "unit": "g/L"}},
        "labs": {
            "calcium": {"value": 9.218, "unit": "mg/dL", "reference_range": {"low": 8.6, "high": 9.819}}
        },
    }
    r = client.post("/v1/interpretations", json=body)
    assert r.status_code == 422
    text = json.dumps(r.get_json(), ensure_ascii=False)
    assert "9.819 mg/dL is outside the plausible upper reference limit" in text
    assert "the range 8.6–9.819" in text


@pytest.mark.parametrize(("kappa", "lam"), [(999.96, 10), (199.999, 2), (10, 999.96)])
def test_a_ratio_just_below_100_is_never_quoted_as_100_in_the_comment(kappa, lam):
    # §2.1 Li: 99.996 is not met; quoted "ratio 100" beside a smouldering answer it read as met.
    from .helpers import clone, ife, smm_igg

    light = "kappa" if kappa > lam else "lambda"
    out = run(
        smm_igg(flc={"kappa": q(kappa, "mg/L"), "lambda": q(lam, "mg/L")}, serum_ife=ife(clone("IgG", light)))
    )
    assert out["classification"]["code"] == "SMOLDERING_MYELOMA"
    assert "ratio 100 " not in out["comment"] and "ratio 0.01 " not in out["comment"]
