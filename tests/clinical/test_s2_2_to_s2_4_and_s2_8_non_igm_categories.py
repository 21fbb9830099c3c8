"""§2.2-§2.4 and §2.8: multiple myeloma, smouldering myeloma, non-IgM MGUS, non-secretory disease and
solitary plasmacytoma."""

from __future__ import annotations

import pytest

from .bodies import LABS, B, Z, b, flags, igd_body, post


def test_a_30_percent_plasmacytosis_by_morphology_without_m_protein_is_not_no_m_protein(client):
    out = post(client, {**Z, "marrow": {"plasma_cells_percent": 30}, "labs": LABS})
    assert out["classification"]["code"] == "INDETERMINATE"
    assert "marrow.clonal_plasma_cells_percent" in out["missing_data"]


def test_clonal_plasma_cells_without_m_protein_follow_the_myeloma_rules(client):
    out = post(
        client,
        {
            **Z,
            "marrow": {"clonal_plasma_cells_percent": 30},
            "labs": LABS,
            "imaging": {"osteolytic_lesions": 0, "mri_focal_lesions": 0},
        },
    )
    assert out["classification"]["code"] == "SMOLDERING_MYELOMA"


def test_the_mgus_reason_does_not_claim_what_was_not_assessed(client):
    out = post(client, {"serum_ife": B["serum_ife"]})
    reason = out["classification"]["reasons"][0]
    assert "not quantified" in reason and "no CRAB feature" not in reason


def test_an_mde_with_morphology_plasmacytosis_and_no_m_protein_is_not_myeloma(client):
    out = post(
        client,
        {
            **Z,
            "flc": B["flc"],
            "marrow": {"plasma_cells_percent": 30},
            "labs": dict(LABS, hemoglobin={"value": 80, "unit": "g/L"}),
        },
    )
    assert out["classification"]["code"] == "INDETERMINATE"


def test_the_basis_names_events_in_words_not_codes(client):
    out = post(
        client,
        b(
            labs=dict(LABS, calcium={"value": 3.0, "unit": "mmol/L"}),
            marrow={"clonal_plasma_cells_percent": 15},
        ),
    )
    assert out["classification"]["code"] == "MULTIPLE_MYELOMA"
    assert "hypercalcaemia" in out["classification"]["reasons"][0]
    assert "calcium 3 mmol/L" in out["comment"]


@pytest.mark.parametrize(
    ("mri", "code"), [(0, "SOLITARY_PLASMACYTOMA"), (1, "INDETERMINATE"), (2, "MULTIPLE_MYELOMA")]
)
def test_a_plasmacytoma_is_solitary_only_with_imaging_normal_apart_from_it(client, mri, code):
    body = b(
        clinical={"plasmacytoma": True, "amyloidosis": False},
        marrow={"clonal_plasma_cells_percent": 0},
        imaging={"osteolytic_lesions": 0, "mri_focal_lesions": mri},
    )
    assert post(client, body)["classification"]["code"] == code


@pytest.mark.parametrize(
    ("heavy", "m_protein", "expected"),
    [
        ("IgD", 29.99, "MGUS_NON_IGM"),
        ("IgD", 30, "INDETERMINATE"),
        ("IgE", 30.01, "INDETERMINATE"),
        ("IgA", 30, "SMOLDERING_MYELOMA"),
        ("IgG", 29.99, "MGUS_NON_IGM"),
    ],
)
def test_the_smouldering_m_protein_criterion_is_for_igg_or_iga_only(client, heavy, m_protein, expected):
    """IMWG 2014 (§2.3): serum M-protein (IgG or IgA) >= 30 g/L; non-IgM MGUS needs < 30 g/L (§2.4)."""
    out = post(client, igd_body(m_protein, heavy))
    assert out["classification"]["code"] == expected
    if expected == "INDETERMINATE":
        assert "HEMATOLOGY_REFERRAL" in flags(out)
        assert "REFER_HEMATOLOGY" in {r["code"] for r in out["recommendations"]}


def test_an_igd_clone_with_marrow_in_the_smouldering_range_is_smouldering_myeloma(client):
    out = post(client, igd_body(35, marrow={"clonal_plasma_cells_percent": 15}))
    assert out["classification"]["code"] == "SMOLDERING_MYELOMA"


def test_an_igd_clone_of_35_g_l_without_marrow_asks_for_the_marrow(client):
    body = igd_body(35)
    body.pop("marrow")
    out = post(client, body)
    assert out["classification"]["code"] == "INDETERMINATE"
    assert "marrow.clonal_plasma_cells_percent" in out["missing_data"]


def test_the_complete_reference_panel_is_final_mgus(client):
    out = post(client, b())
    assert (out["classification"]["code"], out["classification"]["provisional"]) == ("MGUS_NON_IGM", False)
    assert out["missing_data"] == []


def test_a_plasmacytoma_that_section_2_8_cannot_place_is_still_referred_to_haematology(client):
    body = b(clinical={"plasmacytoma": True, "amyloidosis": False})
    body["imaging"] = {"osteolytic_lesions": 0, "mri_focal_lesions": 1}
    body["marrow"] = {"clonal_plasma_cells_percent": 0}
    out = post(client, body)
    assert out["classification"]["code"] == "INDETERMINATE"
    assert "HEMATOLOGY_REFERRAL" in flags(out)
    assert "REFER_HEMATOLOGY" in {r["code"] for r in out["recommendations"]}


@pytest.mark.parametrize(
    ("urine_ife", "code"),
    [
        ({"result": "negative", "clones": []}, "MGUS_NON_IGM"),
        (
            {"result": "positive", "clones": [{"heavy_chain": "IgG", "light_chain": "kappa"}]},
            "SMOLDERING_MYELOMA",
        ),
        (None, "SMOLDERING_MYELOMA"),  # no urine immunofixation: the 24-hour M-protein as sent
    ],
)
def test_the_urine_criterion_of_smouldering_myeloma_needs_a_band_not_shown_negative(client, urine_ife, code):
    urine = {"m_protein_24h": {"value": 600, "unit": "mg/24h"}}
    if urine_ife is not None:
        urine["ife"] = urine_ife
    out = post(client, b(urine=urine))
    assert out["classification"]["code"] == code
    criterion = next(c for c in out["criteria"] if c["id"] == "urine_m_protein_ge_500")
    assert criterion["status"] == ("not_assessable" if code == "MGUS_NON_IGM" else "met")
    if code == "MGUS_NON_IGM":
        assert out["classification"]["provisional"] is True and "urine.ife" in out["missing_data"]


@pytest.mark.parametrize(("urine", "open_"), [(499, False), (500, True)])  # ref: §2.3 urine >= 500 mg/24h
def test_a_negative_urine_immunofixation_holds_mgus_open_only_for_a_band_that_could_meet_500(
    client, urine, open_
):
    body = b(
        urine={
            "m_protein_24h": {"value": urine, "unit": "mg/24h"},
            "ife": {"result": "negative", "clones": []},
        }
    )
    out = post(client, body)
    assert out["classification"]["code"] == "MGUS_NON_IGM"
    assert ("urine.ife" in out["missing_data"]) is open_
    assert out["classification"]["provisional"] is open_


def test_smouldering_myeloma_without_crab_labs_says_no_event_among_those_assessed(client):
    body = b(marrow={"clonal_plasma_cells_percent": 20})
    del body["labs"]
    out = post(client, body)
    assert out["classification"]["reasons"][0].endswith(
        "without myeloma-defining events among those assessed"
    )
