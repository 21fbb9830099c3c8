"""§5: scleromyxoedema, the Rongioletti criteria and MGCS."""

from __future__ import annotations

import pytest

from .bodies import IGG_LAMBDA, LABS, B, Z, b, eruption, flags, post, sclero_criterion


def test_a_suspected_scleromyxoedema_label_says_suspected(client):
    out = post(client, b(clinical={"scleromyxedema": "suspected"}))
    assert "MGCS_SCLEROMYXEDEMA" in flags(out)
    assert "suspected" in out["classification"]["label"]


def test_scleromyxoedema_with_light_chain_mgus_is_mgcs(client):
    flc = {
        "kappa": {"value": 80, "unit": "mg/L"},
        "lambda": {"value": 10, "unit": "mg/L"},
        "assay": "other",
        "ratio_reference_range": {"low": 0.3, "high": 1.5},
    }
    out = post(
        client, {"serum_ife": {"result": "negative"}, "flc": flc, "clinical": {"scleromyxedema": "confirmed"}}
    )
    assert out["classification"]["code"] == "MGUS_LIGHT_CHAIN"
    assert "MGCS_SCLEROMYXEDEMA" in flags(out) and "SCLEROMYXEDEMA_NO_PARAPROTEIN" not in flags(out)
    assert "clinical significance" in out["classification"]["label"]


@pytest.mark.parametrize("dermato_neuro", [False, True])
def test_an_mgcs_report_carries_no_low_risk_mgus_reassurance(client, dermato_neuro):
    """§5: the skin disease, not the size of the clone, drives management."""
    clinical = {"scleromyxedema": "confirmed", "fever": dermato_neuro, "neurologic_signs": dermato_neuro}
    body = b(serum_ife=IGG_LAMBDA, spep={"m_protein": {"value": 9, "unit": "g/L"}}, clinical=clinical)
    body.pop("marrow")
    out = post(client, body)
    assert "MGCS_SCLEROMYXEDEMA" in flags(out)
    follow = [r for r in out["recommendations"] if r["code"] == "FOLLOW_UP"]
    assert len(follow) == 1 and follow[0]["interval_months"] == 6
    assert "2-3 years" not in follow[0]["then"] and "haematology and dermatology" in follow[0]["then"]
    comment = out["comment"]
    for reassurance in ("Low-risk MGUS", "not routinely indicated", "every 2-3 years"):
        assert reassurance not in comment
    assert "marrow.clonal_plasma_cells_percent" in next(
        r["tests"] for r in out["recommendations"] if r["code"] == "COMPLETE_WORKUP"
    )
    assert comment.count("Emergency admission") + comment.count("emergency admission") == int(dermato_neuro)


def test_a_negative_electrophoresis_alone_does_not_rule_out_the_paraprotein_of_scleromyxoedema(client):
    out = post(
        client,
        {"spep": {"m_protein": {"value": 0, "unit": "g/L"}}, "clinical": {"scleromyxedema": "confirmed"}},
    )
    assert sclero_criterion(out) == "not_assessable"
    message = next(f["message"] for f in out["flags"] if f["code"] == "SCLEROMYXEDEMA_NO_PARAPROTEIN")
    assert "Not done yet: serum immunofixation, serum free light chains, urine immunofixation" in message
    assert next(r["text"] for r in out["recommendations"] if r["code"] == "REPEAT_IFE_FLC").startswith(
        "Do serum"
    )


def test_a_negative_immunofixation_and_normal_flc_rule_out_the_paraprotein_of_scleromyxoedema(client):
    body = {**Z, "flc": B["flc"], "urine": B["urine"], "clinical": {"scleromyxedema": "confirmed"}}
    out = post(client, body)
    assert sclero_criterion(out) == "not_met"
    assert "SCLEROMYXEDEMA_NO_PARAPROTEIN" in flags(out)
    assert next(r["text"] for r in out["recommendations"] if r["code"] == "REPEAT_IFE_FLC").startswith(
        "Repeat"
    )


@pytest.mark.parametrize(
    ("bmpc", "code", "mgcs_wording"),
    [(9, "MGUS_NON_IGM", True), (10, "SMOLDERING_MYELOMA", False), (60, "MULTIPLE_MYELOMA", False)],
)
def test_scleromyxoedema_beside_a_clone_beyond_mgus_is_not_called_mgcs(client, bmpc, code, mgcs_wording):
    out = post(
        client, b(marrow={"clonal_plasma_cells_percent": bmpc}, clinical={"scleromyxedema": "confirmed"})
    )
    assert out["classification"]["code"] == code
    message = next(f["message"] for f in out["flags"] if f["code"] == "MGCS_SCLEROMYXEDEMA")
    assert ("not of undetermined significance" in message) is mgcs_wording
    assert "IVIg" in message
    refer = next(r["text"] for r in out["recommendations"] if r["code"] == "REFER_HEMATOLOGY_DERMATOLOGY")
    assert ("monoclonal gammopathy of clinical significance" in refer) is mgcs_wording


@pytest.mark.parametrize(
    ("histology", "suspected"),
    [(None, True), (True, True), (False, False)],
    ids=["histology_pending", "histology_typical", "histology_negative"],
)
def test_the_eruption_with_a_paraprotein_is_suspected_scleromyxoedema_until_histology_rules_it_out(
    client, histology, suspected
):
    clinical = eruption(fever=True, neurologic_signs=True)
    if histology is not None:
        clinical["histology_mucin_fibrosis"] = histology
    out = post(client, b(clinical=clinical))
    assert ("DERMATO_NEURO_SYNDROME" in flags(out)) is suspected
    assert ("MGCS_SCLEROMYXEDEMA" in flags(out)) is suspected
    assert ("EMERGENCY_ADMISSION" in {r["code"] for r in out["recommendations"]}) is suspected
    assert ("clinical.histology_mucin_fibrosis" in out["missing_data"]) is (histology is None)
    if suspected:
        assert out["comment"].startswith("Scleromyxoedema with fever and neurological signs")


def test_the_eruption_alone_without_a_sclerodermoid_induration_is_not_inferred(client):
    out = post(
        client, b(clinical={"papular_eruption": True, "sclerodermoid_induration": False, "fever": True})
    )
    assert not flags(out) & {"MGCS_SCLEROMYXEDEMA", "DERMATO_NEURO_SYNDROME"}


def test_scleromyxoedema_beside_an_unplaced_clone_is_not_called_mgcs_and_a_30_g_spike_is_referred(client):
    out = post(
        client,
        {"spep": {"m_protein": {"value": 45, "unit": "g/L"}}, "clinical": {"scleromyxedema": "confirmed"}},
    )
    assert out["classification"]["code"] == "INDETERMINATE"
    assert out["classification"]["provisional"] is True and out["missing_data"] == ["serum_ife"]
    message = next(f["message"] for f in out["flags"] if f["code"] == "MGCS_SCLEROMYXEDEMA")
    assert "not the size of the clone" not in message and "not settled yet" in message
    assert "HEMATOLOGY_REFERRAL" in flags(out)


def test_a_scleromyxoedema_without_paraprotein_asks_for_the_urine_immunofixation_in_missing_data(client):
    out = post(client, {**Z, "flc": B["flc"], "clinical": {"scleromyxedema": "confirmed"}})
    assert "SCLEROMYXEDEMA_NO_PARAPROTEIN" in flags(out)
    assert out["missing_data"] == ["urine.ife"]


@pytest.mark.parametrize(
    ("tsh", "disease", "status"),
    [
        (1.9, None, "met"),
        (4.1, None, "not_met"),
        (None, False, "met"),
        (None, None, "not_assessable"),
        (1.9, True, "not_met"),
    ],
)
def test_rongioletti_4_is_settled_by_a_tsh_within_its_range_or_a_stated_absence(client, tsh, disease, status):
    body = b(
        clinical={"scleromyxedema": "confirmed", **({} if disease is None else {"thyroid_disease": disease})}
    )
    if tsh is not None:
        body["labs"] = {
            **LABS,
            "tsh": {"value": tsh, "unit": "mIU/L", "reference_range": {"low": 0.4, "high": 4.0}},
        }
    out = post(client, body)
    assert (
        next(c["status"] for c in out["criteria"] if c["id"] == "scleromyxedema.no_thyroid_disease") == status
    )


def test_a_suspected_scleromyxoedema_asks_for_the_tsh_when_thyroid_disease_is_not_settled(client):
    body = b(clinical=eruption(histology_mucin_fibrosis=True))
    out = post(client, body)
    assert "MGCS_SCLEROMYXEDEMA" in flags(out)
    assert "labs.tsh" in out["missing_data"]
    body["labs"] = {
        **LABS,
        "tsh": {"value": 1.9, "unit": "mIU/L", "reference_range": {"low": 0.4, "high": 4.0}},
    }
    assert "labs.tsh" not in post(client, body)["missing_data"]


def test_a_confirmed_scleromyxoedema_against_absent_criteria_is_kept_and_questioned(client):
    out = post(client, b(clinical={"scleromyxedema": "confirmed", "papular_eruption": False}))
    assert "MGCS_SCLEROMYXEDEMA" in flags(out)
    assert any("reported confirmed although Rongioletti" in n for n in out["notes"])


@pytest.mark.parametrize(
    ("histology", "treated_as_suspected"),
    [(True, True), (None, False), (False, False)],
    ids=["histology_typical", "histology_pending", "histology_negative"],
)
def test_scleromyxoedema_reported_absent_beside_the_eruption_and_typical_histology_is_never_silent(
    client, histology, treated_as_suspected
):
    """Rongioletti (1) and (3) reported met with a paraprotein contradict a stated 'absent': the
    contradiction is said, and with the histology typical the MGCS referral and the dermato-neuro
    emergency are not lost to it (§5)."""
    clinical = eruption(scleromyxedema="absent", fever=True, neurologic_signs=True, thyroid_disease=False)
    if histology is not None:
        clinical["histology_mucin_fibrosis"] = histology
    out = post(client, b(clinical=clinical))
    assert ("DERMATO_NEURO_SYNDROME" in flags(out)) is treated_as_suspected
    assert ("MGCS_SCLEROMYXEDEMA" in flags(out)) is treated_as_suspected
    contradiction = [n for n in out.get("notes", []) if "reported absent" in n]
    assert bool(contradiction) is (histology is not False)


@pytest.mark.parametrize(
    "thyroid", [{"thyroid_disease": True}, {}], ids=["thyroid_disease", "thyroid_unknown"]
)
def test_scleromyxoedema_reported_absent_beside_thyroid_disease_is_not_overridden(client, thyroid):
    """Rongioletti (4) needs the absence of thyroid disease: with thyroid disease reported, an eruption
    and typical histology are consistent with a stated 'absent', which stands (no MGCS flag, no note)."""
    clinical = eruption(scleromyxedema="absent", histology_mucin_fibrosis=True, **thyroid)
    out = post(client, b(clinical=clinical))
    overridden = "thyroid_disease" not in thyroid
    assert ("MGCS_SCLEROMYXEDEMA" in flags(out)) is overridden
    assert bool([n for n in out.get("notes", []) if "reported absent" in n]) is overridden


def test_an_mgcs_answer_never_calls_the_category_of_undetermined_significance():
    """§5: the risk models that do not apply name the category as the answer does (MGCS), not as MGUS."""
    from .helpers import run, s6_body

    out = run(s6_body())
    reasons = [r["reason"] for r in out["risk"].values() if r["reason"] and "the category is" in r["reason"]]
    assert reasons
    for reason in reasons:
        after = reason.split("the category is ", 1)[1]
        assert after.startswith("monoclonal gammopathy of clinical significance"), reason


CONFIRMED = {
    "scleromyxedema": "confirmed",
    "papular_eruption": True,
    "sclerodermoid_induration": True,
    "histology_mucin_fibrosis": True,
    "thyroid_disease": False,
}


@pytest.mark.parametrize(
    ("kappa", "lam", "criterion", "provisional_with_urine_missing"),
    [
        (15, 4, "not_assessable", True),  # ratio 3.75: outside its interval, kappa not raised
        (15, 12, "not_met", True),  # a normal ratio: serum IFE and FLC found nothing
    ],
    ids=["ratio_3.75", "ratio_1.25"],
)
def test_rongioletti_2_is_not_absent_beside_an_abnormal_flc_ratio(
    client, kappa, lam, criterion, provisional_with_urine_missing
):
    # §5 (2) monoclonal gammopathy: not met only once serum immunofixation and FLC found nothing; an FLC
    # ratio outside its interval did find something, which §2.6 does not place as a clone. Urine
    # immunofixation not done: a positive one would place a clone, so the answer is provisional.
    body = {
        "patient": {"age_years": 60, "sex": "female"},
        "spep": {"m_protein": {"value": 0, "unit": "g/L"}},
        "serum_ife": {"result": "negative", "clones": []},
        "flc": {"kappa": {"value": kappa, "unit": "mg/L"}, "lambda": {"value": lam, "unit": "mg/L"}},
        "clinical": CONFIRMED,
    }
    out = post(client, body)
    row = next(c for c in out["criteria"] if c["id"] == "scleromyxedema.monoclonal_gammopathy")
    assert row["status"] == criterion
    assert "SCLEROMYXEDEMA_NO_PARAPROTEIN" in flags(out)
    assert out["classification"]["provisional"] is provisional_with_urine_missing
    assert "urine.ife" in out["missing_data"]
    body["urine"] = {"ife": {"result": "negative", "clones": []}}
    assert post(client, body)["classification"]["provisional"] is False  # nothing left to send


@pytest.mark.parametrize(
    ("marrow", "recommended"),
    [
        (
            {"clonal_plasma_cells_percent": 3},
            True,
        ),  # no infiltrate figure: the IgM clone is not characterised
        ({"plasma_cells_percent": 3}, True),
        ({"lymphoplasmacytic_infiltrate_percent": 3}, False),  # the IgM criteria's marrow result
        (None, True),
    ],
    ids=["clonal_only", "morphology_only", "infiltrate", "no_marrow"],
)
def test_an_igm_mgcs_asks_for_the_marrow_until_the_infiltrate_is_given(client, marrow, recommended):
    # §5: marrow whatever the Mayo risk group unless a marrow result is given; §2.5: for an IgM clone the
    # result the criteria read is the lymphoplasmacytic infiltrate (the mirror of a non-IgM clone with
    # only an infiltrate figure, which is no marrow result for it).
    body = {
        "patient": {"age_years": 60, "sex": "female"},
        "spep": {"m_protein": {"value": 5, "unit": "g/L"}},
        "serum_ife": {"result": "positive", "clones": [{"heavy_chain": "IgM", "light_chain": "lambda"}]},
        "flc": {"kappa": {"value": 12, "unit": "mg/L"}, "lambda": {"value": 14, "unit": "mg/L"}},
        "clinical": CONFIRMED,
    }
    if marrow is not None:
        body["marrow"] = marrow
    out = post(client, body)
    assert "MGCS_SCLEROMYXEDEMA" in flags(out)
    assert ("MARROW_EXAMINATION_RECOMMENDED" in flags(out)) is recommended
