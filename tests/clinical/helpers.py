"""Contract-shaped request bodies and a domain runner for the clinical test battery.

Expectations in the tests are derived from clinical-reference.md, never from the engine's output.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

from service.api.schemas import InterpretationRequestSchema
from service.api.serialize import to_dict
from service.domain import interpret

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE_S6 = ROOT / "examples" / "worked-example-s6.json"

# Normal CRAB/SLiM data: every myeloma-defining event decidable and absent.
NORMAL_LABS: dict[str, Any] = {
    "calcium": {"value": 2.35, "unit": "mmol/L", "reference_range": {"low": 2.15, "high": 2.55}},
    "creatinine": {"value": 80, "unit": "umol/L"},
    "creatinine_clearance": {"value": 95, "unit": "mL/min"},
    "egfr": {"value": 95, "unit": "mL/min/1.73m2"},
    "hemoglobin": {"value": 135, "unit": "g/L", "reference_range": {"low": 120, "high": 160}},
}
NORMAL_IMAGING: dict[str, Any] = {"osteolytic_lesions": 0, "mri_focal_lesions": 0}
NO_EXTRAS: dict[str, Any] = {"amyloidosis": False, "plasmacytoma": False}
FISH_NEGATIVE: dict[str, Any] = {"t_4_14": False, "t_14_16": False, "gain_1q": False, "del_13q": False}

KAPPA_RR = {"low": 3.3, "high": 19.4}
LAMBDA_RR = {"low": 5.7, "high": 26.3}


def q(value: float, unit: str, comparator: str | None = None, rr: tuple[float, float] | None = None) -> dict:
    """A contract quantity object."""
    out: dict[str, Any] = {"value": value, "unit": unit}
    if comparator is not None:
        out["comparator"] = comparator
    if rr is not None:
        out["reference_range"] = {"low": rr[0], "high": rr[1]}
    return out


def clone(heavy: str | None, light: str) -> dict:
    return {"heavy_chain": heavy, "light_chain": light}


def ife(*clones: dict) -> dict:
    return {"result": "positive", "clones": list(clones)} if clones else {"result": "negative", "clones": []}


def merge(base: dict, overrides: dict) -> dict:
    """Deep-merge overrides into a copy of base; a value of None deletes the key; quantities
    (dicts with a "value") replace rather than merge, so units and reference ranges never mix."""
    out = copy.deepcopy(base)
    for k, v in overrides.items():
        if v is None:
            out.pop(k, None)
        elif isinstance(v, dict) and isinstance(out.get(k), dict) and "value" not in v:
            out[k] = merge(out[k], v)
        else:
            out[k] = copy.deepcopy(v)
    return out


def complete(body: dict) -> dict:
    """Add normal labs, imaging and clinical negatives unless the body sets them."""
    base = {"labs": NORMAL_LABS, "imaging": NORMAL_IMAGING, "clinical": NO_EXTRAS}
    return merge(base, body)


def mgus_igg(**over: Any) -> dict:
    """Fully worked-up low-risk IgG-kappa MGUS: 12 g/L, normal FLC ratio, clonal BMPC 5 %."""
    body = complete(
        {
            "patient": {"age_years": 62, "sex": "male"},
            "spep": {"m_protein": q(12, "g/L")},
            "serum_ife": ife(clone("IgG", "kappa")),
            "flc": {
                "kappa": q(15, "mg/L", rr=(3.3, 19.4)),
                "lambda": q(12, "mg/L", rr=(5.7, 26.3)),
                "assay": "freelite",
            },
            "marrow": {"clonal_plasma_cells_percent": 5},
        }
    )
    return merge(body, over)


def smm_igg(**over: Any) -> dict:
    """Fully worked-up IgG-kappa SMM by marrow: 12 g/L, clonal BMPC 15 %, normal FLC, FISH negative."""
    body = mgus_igg(marrow={"clonal_plasma_cells_percent": 15}, cytogenetics=FISH_NEGATIVE)
    return merge(body, over)


def igm(**over: Any) -> dict:
    """Fully worked-up IgM-kappa MGUS: 10 g/L, infiltration 5 %, no IgM-related features."""
    body = complete(
        {
            "spep": {"m_protein": q(10, "g/L")},
            "serum_ife": ife(clone("IgM", "kappa")),
            "flc": {"kappa": q(15, "mg/L"), "lambda": q(12, "mg/L")},
            "marrow": {"clonal_plasma_cells_percent": 2, "lymphoplasmacytic_infiltrate_percent": 5},
            "clinical": {"igm_related_symptoms": False},
        }
    )
    return merge(body, over)


def light_chain(kappa: dict, lam: dict, **over: Any) -> dict:
    """No heavy chain (serum IFE negative, no M-spike), no urine M-protein, no clonal BMPC (0 %: clonal cells
    without a monoclonal protein are a clone of their own, see test_s2_9_clonal_cells_without_protein)."""
    body = complete(
        {
            "spep": {"m_protein": q(0, "g/L")},
            "serum_ife": ife(),
            "urine": {"m_protein_24h": q(0, "mg/24h"), "ife": ife()},
            "flc": {"kappa": kappa, "lambda": lam, "assay": "freelite"},
            "marrow": {"clonal_plasma_cells_percent": 0},
        }
    )
    return merge(body, over)


def s6_body() -> dict:
    """Clinical-reference §6 (the shipped example when present, else built here)."""
    if EXAMPLE_S6.exists():
        return json.loads(EXAMPLE_S6.read_text())
    return {
        "patient": {"age_years": 34, "sex": "female"},
        "spep": {"m_protein": q(16, "g/L", "<")},
        "serum_ife": ife(clone("IgG", "kappa")),
        "flc": {
            "kappa": q(14.0, "mg/L", rr=(3.3, 19.4)),
            "lambda": q(13.0, "mg/L", rr=(5.7, 26.3)),
            "assay": "freelite",
        },
        "marrow": {"plasma_cells_percent": 8, "flow_plasma_cells_percent": 0.8},
        "labs": {
            "calcium": q(2.35, "mmol/L", rr=(2.15, 2.55)),
            "creatinine": q(70, "umol/L"),
            "egfr": q(100, "mL/min/1.73m2"),
            "hemoglobin": q(135, "g/L", rr=(120, 155)),
            "tsh": q(1.9, "mIU/L", rr=(0.4, 4.0)),
        },
        "imaging": {"osteolytic_lesions": 0},
        "clinical": {
            "scleromyxedema": "confirmed",
            "papular_eruption": True,
            "sclerodermoid_induration": True,
            "histology_mucin_fibrosis": True,
            "fever": False,
            "neurologic_signs": False,
            "thyroid_disease": False,
            "amyloidosis": False,
            "plasmacytoma": False,
        },
    }


def run(body: dict) -> dict:
    """Interpret a contract-shaped request body through the domain; the contract-shaped answer."""
    panel = InterpretationRequestSchema().load(body)
    return to_dict(interpret(panel))


def code(result: dict) -> str:
    return result["classification"]["code"]


def status(result: dict, criterion_id: str) -> str:
    """The status of one criterion; fails loudly when the engine did not evaluate it."""
    found = [c["status"] for c in result["criteria"] if c["id"] == criterion_id]
    assert found, f"criterion {criterion_id!r} not in {[c['id'] for c in result['criteria']]}"
    assert len(set(found)) == 1, f"criterion {criterion_id!r} reported with conflicting statuses {found}"
    return found[0]


def flag_codes(result: dict) -> set[str]:
    return {f["code"] for f in result["flags"]}


def flag(result: dict, flag_code: str) -> dict:
    found = [f for f in result["flags"] if f["code"] == flag_code]
    assert found, f"flag {flag_code} missing; flags: {sorted(flag_codes(result))}"
    return found[0]


def risk(result: dict, model: str) -> dict:
    return result["risk"][model]


def factor(result: dict, model: str, factor_id: str) -> dict:
    found = [f for f in risk(result, model)["factors"] if f["id"] == factor_id]
    assert found, f"factor {factor_id} not in {model}: {[f['id'] for f in risk(result, model)['factors']]}"
    return found[0]
