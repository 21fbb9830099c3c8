"""Request bodies and helpers shared by the clinical tests grouped by guideline section (panels as
reviewers reproduced them)."""

from __future__ import annotations

import copy

LABS = {
    "calcium": {"value": 2.3, "unit": "mmol/L", "reference_range": {"low": 2.15, "high": 2.55}},
    "creatinine": {"value": 80, "unit": "umol/L"},
    "egfr": {"value": 90, "unit": "mL/min/1.73m2"},
    "hemoglobin": {"value": 140, "unit": "g/L", "reference_range": {"low": 120, "high": 160}},
}


B = {
    "spep": {"m_protein": {"value": 10, "unit": "g/L"}},
    "serum_ife": {"result": "positive", "clones": [{"heavy_chain": "IgG", "light_chain": "kappa"}]},
    "flc": {"kappa": {"value": 15, "unit": "mg/L"}, "lambda": {"value": 12, "unit": "mg/L"}},
    "marrow": {"clonal_plasma_cells_percent": 5},
    "urine": {"m_protein_24h": {"value": 0, "unit": "mg/24h"}, "ife": {"result": "negative", "clones": []}},
    "labs": LABS,
    "imaging": {"osteolytic_lesions": 0, "mri_focal_lesions": 0},
    "clinical": {"plasmacytoma": False, "amyloidosis": False},
}


Z = {"spep": {"m_protein": {"value": 0, "unit": "g/L"}}, "serum_ife": {"result": "negative", "clones": []}}


IGM_KAPPA = {"result": "positive", "clones": [{"heavy_chain": "IgM", "light_chain": "kappa"}]}


IGM_LAMBDA = {"result": "positive", "clones": [{"heavy_chain": "IgM", "light_chain": "lambda"}]}


BICLONAL = {
    "result": "positive",
    "clones": [
        {"heavy_chain": "IgG", "light_chain": "kappa"},
        {"heavy_chain": "IgM", "light_chain": "lambda"},
    ],
}


def post(client, body):
    resp = client.post("/v1/interpretations", json=body)
    assert resp.status_code == 200, resp.get_json()
    return resp.get_json()


def b(**changes):
    body = copy.deepcopy(B)
    body.update(changes)
    return body


def flags(body):
    return {f["code"] for f in body["flags"]}


def biclonal_with_infiltrate(clonal_percent: float) -> dict:
    """IgM + IgG biclonal, lymphoplasmacytic infiltrate 20 %, no IgM symptoms, no amyloidosis."""
    return b(
        serum_ife=BICLONAL,
        marrow={"clonal_plasma_cells_percent": clonal_percent, "lymphoplasmacytic_infiltrate_percent": 20},
        clinical={"igm_related_symptoms": False, "amyloidosis": False},
    )


LC_KAPPA = {
    "serum_ife": {"result": "negative", "clones": []},
    "flc": {"kappa": {"value": 58, "unit": "mg/L"}, "lambda": {"value": 11, "unit": "mg/L"}},
    "urine": {"m_protein_24h": {"value": 40, "unit": "mg/24h"}},
    "labs": LABS,
    "imaging": {"osteolytic_lesions": 0, "mri_focal_lesions": 0},
}


NEG = {"result": "negative", "clones": []}


def igd_body(m_protein: float, heavy: str = "IgD", **changes) -> dict:
    body = b(
        spep={"m_protein": {"value": m_protein, "unit": "g/L"}},
        serum_ife={"result": "positive", "clones": [{"heavy_chain": heavy, "light_chain": "lambda"}]},
        flc={"kappa": {"value": 10, "unit": "mg/L"}, "lambda": {"value": 20, "unit": "mg/L"}},
    )
    body.update(changes)
    return body


IGG_LAMBDA = {"result": "positive", "clones": [{"heavy_chain": "IgG", "light_chain": "lambda"}]}


def with_lab(name, **quantity):
    body = b()
    body["labs"] = {**LABS, name: quantity}
    return body


def sclero_criterion(out):
    return next(c["status"] for c in out["criteria"] if c["id"] == "scleromyxedema.monoclonal_gammopathy")


def flc_only(kappa, lam, **extra):
    return {
        **Z,
        "flc": {"kappa": {"value": kappa, "unit": "mg/L"}, "lambda": {"value": lam, "unit": "mg/L"}},
        **extra,
    }


NEG_URINE = {"m_protein_24h": {"value": 600, "unit": "mg/24h"}, "ife": {"result": "negative", "clones": []}}


def eruption(**more):
    return {"papular_eruption": True, "sclerodermoid_induration": True, **more}
