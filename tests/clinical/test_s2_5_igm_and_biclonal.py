"""§2.5: IgM MGUS, the Waldenström range, and biclonal IgM + non-IgM gammopathies."""

from __future__ import annotations

import pytest

from .bodies import BICLONAL, IGM_KAPPA, IGM_LAMBDA, LABS, b, biclonal_with_infiltrate, flags, post


def test_the_igm_clone_of_a_biclonal_gammopathy_is_judged_by_the_igm_criteria(client):
    out = post(client, biclonal_with_infiltrate(5))
    assert out["classification"]["code"] == "WALDENSTROM_RANGE"
    assert any(
        c["id"] == "lymphoplasmacytic_infiltrate_ge_10" and c["status"] == "met" for c in out["criteria"]
    )


@pytest.mark.parametrize(("total", "expected"), [(29.9, "not_met"), (35, "not_assessable")])
def test_a_biclonal_igm_and_igg_spike_cannot_be_attributed_to_one_clone(client, total, expected):
    out = post(client, b(serum_ife=BICLONAL, spep={"m_protein": {"value": total, "unit": "g/L"}}))
    status = {c["id"]: c["status"] for c in out["criteria"]}
    assert status["serum_m_protein_ge_30"] == expected
    assert out["classification"]["code"] != "SMOLDERING_MYELOMA"


def test_igm_with_amyloidosis_is_not_igm_mgus_and_is_referred(client):
    out = post(
        client,
        b(
            serum_ife=IGM_LAMBDA,
            marrow={"lymphoplasmacytic_infiltrate_percent": 5},
            clinical={"amyloidosis": True, "igm_related_symptoms": False},
        ),
    )
    assert out["classification"]["code"] == "INDETERMINATE"
    assert "HEMATOLOGY_REFERRAL" in flags(out)


def test_igm_path_does_not_ask_for_a_haemoglobin_that_was_sent(client):
    labs = dict(LABS, hemoglobin={"value": 135, "unit": "g/L"})
    out = post(
        client,
        b(
            serum_ife=IGM_KAPPA,
            marrow={"lymphoplasmacytic_infiltrate_percent": 5},
            labs=labs,
            clinical={"igm_related_symptoms": False, "amyloidosis": False},
        ),
    )
    assert out["classification"]["code"] == "MGUS_IGM"
    assert "labs.hemoglobin" not in out["missing_data"]


def test_waldenstrom_range_without_marrow_is_provisional_and_asks_for_it(client):
    body = b(
        serum_ife=IGM_KAPPA,
        spep={"m_protein": {"value": 30, "unit": "g/L"}},
        clinical={"igm_related_symptoms": False},
    )
    body.pop("marrow")
    out = post(client, body)
    assert out["classification"]["code"] == "WALDENSTROM_RANGE"
    assert out["classification"]["provisional"] is True
    assert "marrow.lymphoplasmacytic_infiltrate_percent" in out["missing_data"]


def test_crab_features_beside_an_igm_clone_raise_the_urgent_contract_flag_without_changing_the_category(
    client,
):
    labs = dict(LABS, calcium={"value": 3.2, "unit": "mmol/L"})
    out = post(
        client,
        b(
            serum_ife=IGM_KAPPA,
            marrow={"lymphoplasmacytic_infiltrate_percent": 5},
            labs=labs,
            imaging={"osteolytic_lesions": 3, "mri_focal_lesions": 0},
            clinical={"igm_related_symptoms": False, "amyloidosis": False},
        ),
    )
    assert out["classification"]["code"] == "MGUS_IGM"
    mde_flag = next(f for f in out["flags"] if f["code"] == "MYELOMA_DEFINING_EVENT")
    assert mde_flag["severity"] == "urgent"
    assert "IgM" in mde_flag["message"]
    assert {e["event"] for e in mde_flag["evidence"]} == {"hypercalcemia", "bone_lesions"}
    # The list and the flag agree (the category still does not rest on them, §2.5).
    assert out["myeloma_defining_events"] == ["hypercalcemia", "bone_lesions"]
    assert out["flags"][0]["code"] == "MYELOMA_DEFINING_EVENT"  # urgent first


@pytest.mark.parametrize(
    ("labs", "imaging", "flagged"),
    [
        ({"hemoglobin": {"value": 99.9, "unit": "g/L"}}, None, True),
        ({"hemoglobin": {"value": 100, "unit": "g/L"}}, None, False),
        (None, {"osteolytic_lesions": 1}, True),
        (None, {"osteolytic_lesions": 0}, False),
        (None, {"mri_focal_lesions": 2}, True),
        (None, {"mri_focal_lesions": 1}, False),
    ],
)
def test_any_crab_or_slim_finding_beside_an_igm_clone_raises_myeloma_defining_event(
    client, labs, imaging, flagged
):
    body = {
        "serum_ife": IGM_KAPPA,
        "spep": {"m_protein": {"value": 10, "unit": "g/L"}},
        "marrow": {"lymphoplasmacytic_infiltrate_percent": 5},
    }
    if labs:
        body["labs"] = labs
    if imaging:
        body["imaging"] = imaging
    out = post(client, body)
    assert ("MYELOMA_DEFINING_EVENT" in flags(out)) is flagged
    assert bool(out["myeloma_defining_events"]) is flagged  # the list and the flag agree


def test_an_igm_clone_with_75_percent_clonal_plasma_cells_is_not_igm_mgus(client):
    out = post(
        client,
        {
            "serum_ife": IGM_KAPPA,
            "spep": {"m_protein": {"value": 10, "unit": "g/L"}},
            "marrow": {"clonal_plasma_cells_percent": 75, "lymphoplasmacytic_infiltrate_percent": 0},
            "labs": LABS,
            "clinical": {"igm_related_symptoms": False},
        },
    )
    assert out["classification"]["code"] == "INDETERMINATE"
    assert {"MYELOMA_DEFINING_EVENT", "HEMATOLOGY_REFERRAL"} <= flags(out)


def test_igm_with_anaemia_below_the_waldenstrom_thresholds_is_referred_with_a_marrow(client):
    out = post(
        client,
        {
            "serum_ife": IGM_KAPPA,
            "spep": {"m_protein": {"value": 10, "unit": "g/L"}},
            "labs": {"hemoglobin": {"value": 90, "unit": "g/L"}},
        },
    )
    assert out["classification"]["code"] == "INDETERMINATE"
    assert {"HEMATOLOGY_REFERRAL", "MARROW_EXAMINATION_RECOMMENDED"} <= flags(out)


def test_a_biclonal_spike_of_40_g_l_that_cannot_be_attributed_is_indeterminate(client):
    body = b(serum_ife=BICLONAL, spep={"m_protein": {"value": 40, "unit": "g/L"}})
    body.pop("marrow")
    out = post(client, body)
    assert out["classification"]["code"] == "INDETERMINATE"
    assert "attributed" in out["classification"]["label"]


@pytest.mark.parametrize(("total", "referred"), [(29.9, False), (30, True), (60, True)])
def test_an_unattributable_biclonal_spike_of_30_g_l_or_more_is_referred_with_what_would_place_it(
    client, total, referred
):
    """Every placing of such a spike needs haematology (smouldering myeloma, the Waldenström range, or an
    MGUS that is not low-risk): it is referred, and the marrow and open events are asked for, never fewer
    than below 30 g/L."""
    body = {"spep": {"m_protein": {"value": total, "unit": "g/L"}}, "serum_ife": BICLONAL}
    out = post(client, body)
    assert ("HEMATOLOGY_REFERRAL" in flags(out)) is referred
    assert "marrow.clonal_plasma_cells_percent" in out["missing_data"]
    assert "labs.calcium" in out["missing_data"]
    if referred:
        assert out["classification"]["code"] == "INDETERMINATE"


def test_smm_beside_a_waldenstrom_range_igm_component_is_indeterminate(client):
    out = post(client, biclonal_with_infiltrate(15))
    assert out["classification"]["code"] == "INDETERMINATE"


def test_an_igm_clone_with_a_free_light_chain_clone_in_the_lc_smm_range_is_not_igm_mgus(client):
    ife = {
        "result": "positive",
        "clones": [
            {"heavy_chain": "IgM", "light_chain": "kappa"},
            {"heavy_chain": None, "light_chain": "lambda"},
        ],
    }
    out = post(
        client,
        b(
            serum_ife=ife,
            marrow={"lymphoplasmacytic_infiltrate_percent": 5},
            urine={"m_protein_24h": {"value": 900, "unit": "mg/24h"}},
            clinical={"igm_related_symptoms": False, "amyloidosis": False},
        ),
    )
    assert out["classification"]["code"] == "INDETERMINATE"


@pytest.mark.parametrize(
    ("creatinine", "referred"),
    [(177, False), (177.1, True), (200, True)],  # ref: §2.1 R: creatinine > 177 umol/L
)
def test_an_igm_mgus_beside_a_myeloma_defining_finding_is_referred_to_haematology(
    client, creatinine, referred
):
    body = b(serum_ife=IGM_KAPPA, marrow={"lymphoplasmacytic_infiltrate_percent": 5})
    body["labs"] = {**LABS, "creatinine": {"value": creatinine, "unit": "umol/L"}}
    body["clinical"] = {"igm_related_symptoms": False, "amyloidosis": False}
    out = post(client, body)
    assert out["classification"]["code"] == "MGUS_IGM"
    assert ("MYELOMA_DEFINING_EVENT" in flags(out)) is referred
    assert ("HEMATOLOGY_REFERRAL" in flags(out)) is referred
    assert ("REFER_HEMATOLOGY" in {r["code"] for r in out["recommendations"]}) is referred


def test_an_igm_clone_with_a_biopsy_proven_plasmacytoma_is_not_igm_mgus(client):
    body = b(
        serum_ife=IGM_KAPPA,
        marrow={"clonal_plasma_cells_percent": 0, "lymphoplasmacytic_infiltrate_percent": 0},
    )
    body["clinical"] = {"plasmacytoma": True, "igm_related_symptoms": False, "amyloidosis": False}
    out = post(client, body)
    assert out["classification"]["code"] == "INDETERMINATE"
    assert "plasmacytoma" in out["classification"]["label"]
    assert "HEMATOLOGY_REFERRAL" in flags(out)
    body["clinical"]["plasmacytoma"] = False
    assert post(client, body)["classification"]["code"] == "MGUS_IGM"


@pytest.mark.parametrize(
    ("total", "mayo_2018", "imwg_2020"),
    [
        # ref: §3.3 "> 20 g/L" is settled by a total of 20 (the clone is at most 20), open at 25; §3.4
        # "<= 1.5 g/dL: 0; > 1.5-3: 3" is open at both (BMPC 25 % scores 3: a total of 3 or 6).
        (20, ["intermediate"], ["low", "low_intermediate"]),
        (25, ["intermediate", "high"], ["low", "low_intermediate"]),
    ],
)
def test_a_biclonal_igm_smouldering_myeloma_scores_the_spike_only_as_a_bound(
    client, total, mayo_2018, imwg_2020
):
    body = b(
        spep={"m_protein": {"value": total, "unit": "g/L"}},
        serum_ife=BICLONAL,
        marrow={"clonal_plasma_cells_percent": 25, "lymphoplasmacytic_infiltrate_percent": 2},
        flc={"kappa": {"value": 30, "unit": "mg/L"}, "lambda": {"value": 15, "unit": "mg/L"}},
        cytogenetics={"t_4_14": False, "t_14_16": False, "gain_1q": False, "del_13q": False},
    )
    out = post(client, body)
    assert out["classification"]["code"] == "SMOLDERING_MYELOMA"
    assert out["risk"]["smm_mayo_2018"]["possible_groups"] == mayo_2018
    assert out["risk"]["smm_imwg_2020"]["possible_groups"] == imwg_2020
    assert [c["id"] for c in out["criteria"]].count("no_amyloidosis") == 1


def test_the_basis_of_igm_mgus_never_states_what_was_not_measured(client):
    out = post(client, {"serum_ife": IGM_KAPPA})
    assert out["classification"]["code"] == "MGUS_IGM"
    assert out["classification"]["reasons"] == [
        "IgM M-protein not quantified, no marrow result, end-organ features not fully assessed"
    ]
    full = post(
        client,
        b(
            serum_ife=IGM_KAPPA,
            marrow={"lymphoplasmacytic_infiltrate_percent": 5},
            clinical={"igm_related_symptoms": False},
        ),
    )
    assert full["classification"]["reasons"] == [
        "IgM M-protein < 30 g/L, infiltration < 10 %, no end-organ features"
    ]
