"""Each classification code and each flag code of the contract: present where it must fire, absent where
it must not; and the clinical-reference §6 worked example end to end through HTTP."""

from __future__ import annotations

import pytest

from .helpers import (
    clone,
    code,
    flag,
    flag_codes,
    ife,
    igm,
    light_chain,
    merge,
    mgus_igg,
    q,
    run,
    s6_body,
    smm_igg,
)

SCLERO = {
    "scleromyxedema": "confirmed",
    "papular_eruption": True,
    "sclerodermoid_induration": True,
    "histology_mucin_fibrosis": True,
    "fever": False,
    "neurologic_signs": False,
    "thyroid_disease": False,
}


def no_protein(**over):
    """No M-spike, negative serum and urine immunofixation, normal FLC ratio, normal CRAB data."""
    body = light_chain(q(12, "mg/L", rr=(3.3, 19.4)), q(14, "mg/L", rr=(5.7, 26.3)))
    return merge(body, over)


def lc_mgus(**over):
    return merge(light_chain(q(40, "mg/L", rr=(3.3, 19.4)), q(10, "mg/L", rr=(5.7, 26.3))), over)


def lc_smm(**over):
    return lc_mgus(urine={"m_protein_24h": q(700, "mg/24h"), "ife": ife(clone(None, "kappa"))}, **over)


def myeloma(**over):
    return smm_igg(labs={"calcium": q(3.0, "mmol/L", rr=(2.15, 2.55))}, **over)


def waldenstrom(**over):
    return igm(spep={"m_protein": q(35, "g/L")}, **over)


def plasmacytoma(**over):
    return mgus_igg(
        spep={"m_protein": q(5, "g/L")},
        clinical={"plasmacytoma": True},
        marrow={"clonal_plasma_cells_percent": 0},
        **over,
    )


def spike_without_ife():
    return mgus_igg(serum_ife=None)


def mde_without_marrow():
    return mgus_igg(marrow=None, labs={"calcium": q(3.0, "mmol/L", rr=(2.15, 2.55))})


# --- Classification codes --------------------------------------------------------------------------------
CATEGORY_CASES = [
    ("negative_ife_normal_flc_is_no_monoclonal_protein", no_protein(), "NO_MONOCLONAL_PROTEIN"),
    ("igg_kappa_12_gl_bmpc_5_is_non_igm_mgus", mgus_igg(), "MGUS_NON_IGM"),
    (
        "iga_lambda_8_gl_is_non_igm_mgus",
        mgus_igg(serum_ife=ife(clone("IgA", "lambda")), spep={"m_protein": q(0.8, "g/dL")}),
        "MGUS_NON_IGM",
    ),
    ("igm_kappa_10_gl_is_igm_mgus", igm(), "MGUS_IGM"),
    ("free_kappa_ratio_4_is_light_chain_mgus", lc_mgus(), "MGUS_LIGHT_CHAIN"),
    ("igg_bmpc_15_is_smm", smm_igg(), "SMOLDERING_MYELOMA"),
    ("igg_35_gl_bmpc_5_is_smm", mgus_igg(spep={"m_protein": q(35, "g/L")}), "SMOLDERING_MYELOMA"),
    ("bence_jones_700_mg_is_light_chain_smm", lc_smm(), "SMOLDERING_MYELOMA_LIGHT_CHAIN"),
    ("bmpc_15_with_hypercalcaemia_is_myeloma", myeloma(), "MULTIPLE_MYELOMA"),
    ("bmpc_70_alone_is_myeloma", smm_igg(marrow={"clonal_plasma_cells_percent": 70}), "MULTIPLE_MYELOMA"),
    (
        "plasmacytoma_with_anaemia_is_myeloma",
        plasmacytoma(labs={"hemoglobin": q(90, "g/L", rr=(120, 160))}),
        "MULTIPLE_MYELOMA",
    ),
    ("igm_35_gl_is_waldenstrom_range", waldenstrom(), "WALDENSTROM_RANGE"),
    ("plasmacytoma_clean_marrow_is_solitary", plasmacytoma(), "SOLITARY_PLASMACYTOMA"),
    ("m_spike_without_immunofixation_is_indeterminate", spike_without_ife(), "INDETERMINATE"),
    ("mde_without_marrow_is_indeterminate", mde_without_marrow(), "INDETERMINATE"),
]


@pytest.mark.parametrize(
    ("body", "expected"), [c[1:] for c in CATEGORY_CASES], ids=[c[0] for c in CATEGORY_CASES]
)
def test_each_classification_code_for_a_realistic_case(body, expected):
    assert code(run(body)) == expected


def test_mgus_without_marrow_is_provisional_and_names_the_marrow_as_missing():
    result = run(mgus_igg(marrow=None))
    assert code(result) == "MGUS_NON_IGM"
    assert result["classification"]["provisional"] is True
    assert any(m.startswith("marrow") for m in result["missing_data"])


def test_fully_worked_up_mgus_is_not_provisional():
    result = run(mgus_igg())
    assert result["classification"]["provisional"] is False
    assert result["classification"]["isotype"] == "IgG kappa"


def test_light_chain_smm_says_the_definition_is_not_imwg_2014():
    result = run(lc_smm())
    text = " ".join(
        [
            result["classification"]["label"],
            result["comment"],
            *result.get("notes", []),
            *result["classification"].get("reasons", []),
        ]
    )
    assert "IMWG 2014" in text and "not" in text.lower()


def test_igm_clone_with_hypercalcaemia_is_not_classified_by_myeloma_crab_logic():
    result = run(
        igm(labs={"calcium": q(3.0, "mmol/L", rr=(2.15, 2.55))}, marrow={"clonal_plasma_cells_percent": 15})
    )
    assert code(result) not in {"MULTIPLE_MYELOMA", "SMOLDERING_MYELOMA"}


def test_mde_without_marrow_asks_for_the_marrow():
    result = run(mde_without_marrow())
    assert "MARROW_EXAMINATION_RECOMMENDED" in flag_codes(result)
    assert "MYELOMA_DEFINING_EVENT" in flag_codes(result)
    assert any(m.startswith("marrow") for m in result["missing_data"])


# --- MGCS / scleromyxoedema -----------------------------------------------------------------------------
@pytest.mark.parametrize("status", ["confirmed", "suspected"])
def test_mgcs_flag_for_a_monoclonal_protein_with_scleromyxoedema(status):
    result = run(mgus_igg(clinical=SCLERO | {"scleromyxedema": status}))
    f = flag(result, "MGCS_SCLEROMYXEDEMA")
    assert f["severity"] == "refer"
    assert {"hematology", "dermatology"} <= set(f["refer_to"])
    assert "IVIg" in f["message"]


def test_mgcs_flag_also_for_a_smouldering_clone_with_scleromyxoedema():
    assert "MGCS_SCLEROMYXEDEMA" in flag_codes(run(smm_igg(clinical=SCLERO)))


@pytest.mark.parametrize(
    "body",
    [
        mgus_igg(),
        mgus_igg(clinical={"scleromyxedema": "absent"}),
        no_protein(clinical=SCLERO),
    ],
    ids=["mgus_without_skin_disease", "mgus_scleromyxoedema_absent", "scleromyxoedema_without_paraprotein"],
)
def test_mgcs_flag_never_without_both_scleromyxoedema_and_a_monoclonal_protein(body):
    assert "MGCS_SCLEROMYXEDEMA" not in flag_codes(run(body))


def test_scleromyxoedema_without_paraprotein_asks_to_repeat_the_search():
    result = run(no_protein(clinical=SCLERO))
    assert code(result) == "NO_MONOCLONAL_PROTEIN"
    f = flag(result, "SCLEROMYXEDEMA_NO_PARAPROTEIN")
    assert f["severity"] == "refer"
    assert "repeat" in f["message"].lower()


def test_dermato_neuro_syndrome_fires_even_before_a_paraprotein_is_found():
    result = run(no_protein(clinical=SCLERO | {"neurologic_signs": True}))
    assert flag(result, "DERMATO_NEURO_SYNDROME")["severity"] == "urgent"


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (igm(labs={"hemoglobin": q(95, "g/L", rr=(120, 160))}), False),
        (igm(clinical={"igm_related_symptoms": True}), False),
        (igm(), True),
    ],
    ids=["igm_with_anaemia", "igm_with_related_symptoms", "igm_without_features"],
)
def test_igm_mgus_requires_the_absence_of_igm_related_features(body, expected):
    assert (code(run(body)) == "MGUS_IGM") is expected


def test_no_paraprotein_flag_absent_when_a_paraprotein_is_found():
    assert "SCLEROMYXEDEMA_NO_PARAPROTEIN" not in flag_codes(run(mgus_igg(clinical=SCLERO)))


@pytest.mark.parametrize(
    ("clinical", "fires"),
    [
        (SCLERO | {"fever": True}, True),
        (SCLERO | {"neurologic_signs": True}, True),
        (SCLERO | {"fever": True, "neurologic_signs": True}, True),
        (SCLERO, False),
        ({"scleromyxedema": "absent", "fever": True, "neurologic_signs": True}, False),
    ],
    ids=["fever", "neurological_signs", "both", "neither", "fever_and_confusion_without_scleromyxoedema"],
)
def test_dermato_neuro_syndrome_is_urgent_in_scleromyxoedema_with_fever_or_neurological_signs(
    clinical, fires
):
    result = run(mgus_igg(clinical=clinical))
    assert ("DERMATO_NEURO_SYNDROME" in flag_codes(result)) is fires
    if fires:
        assert flag(result, "DERMATO_NEURO_SYNDROME")["severity"] == "urgent"


@pytest.mark.parametrize(
    ("clinical", "tsh", "fires"),
    [
        (SCLERO | {"thyroid_disease": True}, None, True),
        (SCLERO, q(4.1, "mIU/L", rr=(0.4, 4.0)), True),
        (SCLERO, q(4.0, "mIU/L", rr=(0.4, 4.0)), False),
        (SCLERO, q(0.4, "mIU/L", rr=(0.4, 4.0)), False),
        (SCLERO, q(0.39, "mIU/L", rr=(0.4, 4.0)), True),
        (SCLERO, q(4.1, "uIU/mL", rr=(0.4, 4.0)), True),
        (SCLERO, q(1.9, "uIU/mL", rr=(0.4, 4.0)), False),
        ({"scleromyxedema": "absent", "thyroid_disease": True}, q(8, "mIU/L", rr=(0.4, 4.0)), False),
    ],
    ids=[
        "known_thyroid_disease",
        "tsh_4.1_above_range",
        "tsh_exactly_upper_limit",
        "tsh_exactly_lower_limit",
        "tsh_0.39_below_range",
        "tsh_4.1_uiu_ml_above_range",
        "tsh_normal_uiu_ml",
        "no_scleromyxoedema",
    ],
)
def test_thyroid_disease_exclusion_flag(clinical, tsh, fires):
    body = mgus_igg(clinical=clinical)
    if tsh is not None:
        body["labs"]["tsh"] = tsh
    result = run(body)
    assert ("THYROID_DISEASE_EXCLUSION" in flag_codes(result)) is fires
    if fires:
        assert flag(result, "THYROID_DISEASE_EXCLUSION")["severity"] == "info"


# --- Myeloma-defining event, marrow, haematology referral -------------------------------------------------
@pytest.mark.parametrize(
    "body",
    [
        myeloma(),
        mde_without_marrow(),
        smm_igg(marrow={"clonal_plasma_cells_percent": 70}),
        smm_igg(imaging={"mri_focal_lesions": 2}),
    ],
    ids=["hypercalcaemia", "hypercalcaemia_without_marrow", "bmpc_70", "two_mri_lesions"],
)
def test_mde_flag_is_urgent_whenever_an_mde_is_present(body):
    result = run(body)
    assert flag(result, "MYELOMA_DEFINING_EVENT")["severity"] == "urgent"
    assert result["myeloma_defining_events"]


MGUS_VARIANTS = [
    mgus_igg(),
    mgus_igg(marrow=None),
    igm(),
    lc_mgus(),
    mgus_igg(clinical=SCLERO),
    mgus_igg(
        labs={
            "calcium": q(2.75, "mmol/L", rr=(2.15, 2.55)),
            "creatinine": q(177, "umol/L"),
            "hemoglobin": q(100, "g/L", rr=(115, 160)),
        }
    ),
    mgus_igg(
        marrow={"clonal_plasma_cells_percent": 9.9}, imaging={"osteolytic_lesions": 0, "mri_focal_lesions": 1}
    ),
]


@pytest.mark.parametrize("body", MGUS_VARIANTS, ids=[f"mgus_variant_{i}" for i in range(len(MGUS_VARIANTS))])
def test_mde_flag_never_with_an_mgus_code(body):
    result = run(body)
    assert code(result) in {"MGUS_NON_IGM", "MGUS_IGM", "MGUS_LIGHT_CHAIN"}
    assert "MYELOMA_DEFINING_EVENT" not in flag_codes(result)
    assert result["myeloma_defining_events"] == []


@pytest.mark.parametrize(
    "body", [smm_igg(), mgus_igg(), no_protein(), igm()], ids=["smm", "mgus", "no_protein", "igm_mgus"]
)
def test_no_mde_flag_without_an_mde(body):
    assert "MYELOMA_DEFINING_EVENT" not in flag_codes(run(body))


@pytest.mark.parametrize(
    ("body", "fires"),
    [
        (mgus_igg(marrow=None, serum_ife=ife(clone("IgA", "kappa"))), True),
        (mgus_igg(marrow=None, spep={"m_protein": q(15, "g/L")}), True),
        (mgus_igg(marrow=None, flc={"kappa": q(40, "mg/L"), "lambda": q(10, "mg/L")}), True),
        (mgus_igg(marrow=None), False),
        (mgus_igg(serum_ife=ife(clone("IgA", "kappa"))), False),
        (mde_without_marrow(), True),
    ],
    ids=[
        "iga_mgus_no_marrow_intermediate_risk",
        "m_protein_15_no_marrow",
        "abnormal_ratio_no_marrow",
        "low_risk_igg_mgus_no_marrow",
        "iga_mgus_marrow_done",
        "mde_no_marrow",
    ],
)
def test_marrow_examination_recommended_when_indicated_and_not_given(body, fires):
    result = run(body)
    assert ("MARROW_EXAMINATION_RECOMMENDED" in flag_codes(result)) is fires
    if fires:
        assert flag(result, "MARROW_EXAMINATION_RECOMMENDED")["severity"] == "refer"


@pytest.mark.parametrize(
    ("body", "fires"),
    [
        (smm_igg(), True),
        (lc_smm(), True),
        (myeloma(), True),
        (waldenstrom(), True),
        (plasmacytoma(), True),
        (mgus_igg(), False),
        (no_protein(), False),
        (lc_mgus(), False),
    ],
    ids=[
        "smm",
        "light_chain_smm",
        "myeloma",
        "waldenstrom_range",
        "plasmacytoma",
        "low_risk_mgus",
        "no_protein",
        "light_chain_mgus",
    ],
)
def test_haematology_referral_for_smm_myeloma_waldenstrom_and_plasmacytoma(body, fires):
    result = run(body)
    assert ("HEMATOLOGY_REFERRAL" in flag_codes(result)) is fires
    if fires:
        f = flag(result, "HEMATOLOGY_REFERRAL")
        assert f["severity"] == "refer"
        assert "hematology" in f["refer_to"]


# --- FLC interval flags -------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("labs", "fires"),
    [
        ({"egfr": q(59, "mL/min/1.73m2"), "creatinine_clearance": None}, True),
        ({"egfr": q(60, "mL/min/1.73m2"), "creatinine_clearance": None}, False),
        ({"egfr": None, "creatinine_clearance": q(59.9, "mL/min")}, True),
        ({"egfr": None, "creatinine_clearance": q(60, "mL/min")}, False),
    ],
    ids=["egfr_59", "egfr_exactly_60", "crcl_59.9", "crcl_exactly_60"],
)
def test_renal_flc_interval_flag(labs, fires):
    result = run(mgus_igg(labs=labs))
    assert ("RENAL_FLC_INTERVAL_APPLIED" in flag_codes(result)) is fires
    assert result["flc"]["renal_interval"] is fires
    if fires:
        assert flag(result, "RENAL_FLC_INTERVAL_APPLIED")["severity"] == "info"


@pytest.mark.parametrize(
    ("assay", "fires"), [("freelite", False), ("n_latex", True), ("sebia", True), ("other", True)]
)
def test_non_freelite_assay_flag(assay, fires):
    result = run(mgus_igg(flc={"assay": assay}))
    assert ("NON_FREELITE_ASSAY" in flag_codes(result)) is fires
    if fires:
        assert flag(result, "NON_FREELITE_ASSAY")["severity"] == "info"


# --- Serial flags (rule edges in test_serial.py) -----------------------------------------------------------
def _serial(mp, hb):
    body = mgus_igg(
        spep={"m_protein": q(mp[-1], "g/L")}, labs={"hemoglobin": q(hb[-1], "g/L", rr=(120, 160))}
    )
    dates = ["2024-01-10", "2024-04-10", "2024-07-10"]
    body["collected_on"] = dates[-1]
    body["history"] = [
        {"collected_on": d, "spep": {"m_protein": q(m, "g/L")}, "labs": {"hemoglobin": q(h, "g/L")}}
        for d, m, h in zip(dates[:-1], mp[:-1], hb[:-1], strict=True)
    ]
    return body


@pytest.mark.parametrize(
    ("mp", "hb", "expected"),
    [
        ((20, 23, 26), (140, 140, 140), {"EVOLVING_M_PROTEIN"}),
        ((20, 20, 20), (140, 137, 134), {"EVOLVING_HEMOGLOBIN"}),
        ((8, 10, 12.5), (140, 140, 140), {"RISING_M_PROTEIN_SUCCESSIVE"}),
        ((20, 20.5, 21), (140, 139, 138), set()),
    ],
    ids=["evolving_m_protein", "evolving_haemoglobin", "successive_rise", "stable"],
)
def test_serial_flags_present_exactly_when_their_rule_is_met(mp, hb, expected):
    serial = {"EVOLVING_M_PROTEIN", "EVOLVING_HEMOGLOBIN", "RISING_M_PROTEIN_SUCCESSIVE"}
    assert flag_codes(run(_serial(mp, hb))) & serial == expected


# --- §6 worked example through HTTP ------------------------------------------------------------------------
@pytest.fixture
def s6():
    return s6_body()


def test_worked_example_is_non_igm_mgus_with_mgcs_referral_through_http(client, s6):
    resp = client.post("/v1/interpretations", json=s6)
    assert resp.status_code in (200, 201), resp.get_json()
    r = resp.get_json()
    assert r["classification"]["code"] == "MGUS_NON_IGM"
    assert "IgG" in r["classification"]["isotype"] and "kappa" in r["classification"]["isotype"]
    assert r["myeloma_defining_events"] == []
    codes = {f["code"] for f in r["flags"]}
    assert "MYELOMA_DEFINING_EVENT" not in codes
    mgcs = [f for f in r["flags"] if f["code"] == "MGCS_SCLEROMYXEDEMA"]
    assert mgcs and mgcs[0]["severity"] == "refer"
    assert {"hematology", "dermatology"} <= set(mgcs[0]["refer_to"])
    assert "IVIg" in mgcs[0]["message"]
    assert not codes & {
        "DERMATO_NEURO_SYNDROME",
        "THYROID_DISEASE_EXCLUSION",
        "SCLEROMYXEDEMA_NO_PARAPROTEIN",
        "HEMATOLOGY_REFERRAL",
    }
    mayo = r["risk"]["mgus_mayo_2005"]
    assert mayo["group"] is None
    assert mayo["possible_groups"] == ["low", "low_intermediate"]
    assert "spep.m_protein" in mayo["needed"]


def test_worked_example_uses_morphology_not_flow_for_the_marrow_thresholds(s6):
    r = run(s6)
    bmpc = [c for c in r["criteria"] if c["id"] == "bmpc_ge_10"]
    assert bmpc and bmpc[0]["status"] == "not_met"
    assert bmpc[0]["value"] == pytest.approx(8)
    said = " ".join([bmpc[0].get("note") or "", *r.get("notes", []), r["comment"]]).lower()
    assert "morpholog" in said
