"""A realistic mix of request bodies for the benchmarks, each with its expected classification code.

    .venv/bin/python bench/panels.py      interprets every panel once (Flask test client) and checks
                                          the classification code; exit status 1 on a mismatch

PANELS is a list of (name, body, expected_code). The mix: IgG-kappa MGUS with full CRAB labs and
reference ranges; smouldering myeloma with marrow, FLC and cytogenetics; multiple myeloma with
hypercalcaemia and lytic lesions; the scleromyxoedema MGCS case of clinical-reference §6 (M-protein as a
bound "< 16 g/L", 8 % plasma cells by morphology); an IgA-lambda MGUS with three history entries.
"""

from __future__ import annotations

import json
import os
import sys
from typing import Any

# bench/ holds a module named "http": keep the directory off sys.path (it would shadow the standard
# library's package) and import the service from the repository root instead.
_BENCH = os.path.dirname(os.path.abspath(__file__))
sys.path[:] = [p for p in sys.path if os.path.abspath(p or os.curdir) != _BENCH]
if os.path.dirname(_BENCH) not in sys.path:
    sys.path.insert(0, os.path.dirname(_BENCH))


def q(
    value: float,
    unit: str,
    low: float | None = None,
    high: float | None = None,
    comparator: str | None = None,
) -> dict[str, Any]:
    """A quantity object of the contract."""
    out: dict[str, Any] = {"value": value, "unit": unit}
    if comparator:
        out["comparator"] = comparator
    if low is not None and high is not None:
        out["reference_range"] = {"low": low, "high": high}
    return out


NORMAL_LABS = {
    "calcium": q(9.4, "mg/dL", 8.6, 10.3),
    "creatinine": q(0.8, "mg/dL", 0.6, 1.2),
    "creatinine_clearance": q(95, "mL/min"),
    "egfr": q(95, "mL/min/1.73m2"),
    "hemoglobin": q(13.1, "g/dL", 12.0, 16.0),
    "tsh": q(1.9, "mIU/L", 0.4, 4.0),
}

MGUS_IGG_KAPPA = {
    "patient": {"age_years": 67, "sex": "male"},
    "spep": {"m_protein": q(1.2, "g/dL")},
    "serum_ife": {"result": "positive", "clones": [{"heavy_chain": "IgG", "light_chain": "kappa"}]},
    "urine": {"m_protein_24h": q(0, "mg/24h"), "ife": {"result": "negative", "clones": []}},
    "flc": {"kappa": q(25.0, "mg/L", 3.3, 19.4), "lambda": q(12.0, "mg/L", 5.7, 26.3), "assay": "freelite"},
    "marrow": {"clonal_plasma_cells_percent": 4, "plasma_cells_percent": 5, "flow_plasma_cells_percent": 0.6},
    "labs": NORMAL_LABS,
    "imaging": {"osteolytic_lesions": 0, "mri_focal_lesions": 0},
    "clinical": {
        "scleromyxedema": "absent",
        "fever": False,
        "neurologic_signs": False,
        "thyroid_disease": False,
        "amyloidosis": False,
        "plasmacytoma": False,
        "igm_related_symptoms": False,
    },
    "collected_on": "2025-03-14",
}

SMOULDERING = {
    "patient": {"age_years": 58, "sex": "female"},
    "spep": {"m_protein": q(32, "g/L")},
    "serum_ife": {"result": "positive", "clones": [{"heavy_chain": "IgA", "light_chain": "lambda"}]},
    "urine": {
        "m_protein_24h": q(180, "mg/24h"),
        "ife": {"result": "positive", "clones": [{"heavy_chain": None, "light_chain": "lambda"}]},
    },
    "flc": {"kappa": q(9.0, "mg/L", 3.3, 19.4), "lambda": q(180.0, "mg/L", 5.7, 26.3), "assay": "freelite"},
    "marrow": {
        "clonal_plasma_cells_percent": 25,
        "plasma_cells_percent": 24,
        "flow_plasma_cells_percent": 3.1,
    },
    "labs": {
        "calcium": q(2.35, "mmol/L", 2.15, 2.55),
        "creatinine": q(72, "umol/L", 45, 90),
        "creatinine_clearance": q(88, "mL/min"),
        "egfr": q(84, "mL/min/1.73m2"),
        "hemoglobin": q(124, "g/L", 120, 160),
    },
    "imaging": {"osteolytic_lesions": 0, "mri_focal_lesions": 1},
    "cytogenetics": {"t_4_14": True, "t_14_16": False, "gain_1q": False, "del_13q": None},
    "clinical": {"fever": False, "amyloidosis": False, "plasmacytoma": False},
    "collected_on": "2025-02-03",
}

MYELOMA = {
    "patient": {"age_years": 71, "sex": "male"},
    "spep": {"m_protein": q(4.6, "g/dL")},
    "serum_ife": {"result": "positive", "clones": [{"heavy_chain": "IgG", "light_chain": "kappa"}]},
    "urine": {
        "m_protein_24h": q(0.65, "g/24h"),
        "ife": {"result": "positive", "clones": [{"heavy_chain": None, "light_chain": "kappa"}]},
    },
    "flc": {
        "kappa": q(42.0, "mg/dL", 0.33, 1.94),
        "lambda": q(0.8, "mg/dL", 0.57, 2.63),
        "assay": "freelite",
    },
    "marrow": {"clonal_plasma_cells_percent": 45, "plasma_cells_percent": 40},
    "labs": {
        "calcium": q(12.1, "mg/dL", 8.6, 10.3),
        "creatinine": q(1.5, "mg/dL", 0.7, 1.3),
        "creatinine_clearance": q(52, "mL/min"),
        "egfr": q(47, "mL/min/1.73m2"),
        "hemoglobin": q(10.6, "g/dL", 13.0, 17.0),
    },
    "imaging": {"osteolytic_lesions": 4, "mri_focal_lesions": 3},
    "cytogenetics": {"t_4_14": False, "t_14_16": False, "gain_1q": True, "del_13q": True},
    "clinical": {"fever": False, "amyloidosis": False, "plasmacytoma": False},
    "collected_on": "2025-04-22",
}

# clinical-reference §6: 34-year-old woman, scleromyxoedema, IgG-kappa, M-protein bounded by the normal
# serum IgG, 8 % plasma cells by morphology, 0.8 % by flow; FLC, thyroid, renal, calcium, blood count
# and bone CT normal.
SCLEROMYXOEDEMA = {
    "patient": {"age_years": 34, "sex": "female"},
    "spep": {"m_protein": q(16, "g/L", comparator="<")},
    "serum_ife": {"result": "positive", "clones": [{"heavy_chain": "IgG", "light_chain": "kappa"}]},
    "flc": {"kappa": q(14.2, "mg/L", 3.3, 19.4), "lambda": q(11.8, "mg/L", 5.7, 26.3), "assay": "freelite"},
    "marrow": {"plasma_cells_percent": 8, "flow_plasma_cells_percent": 0.8},
    "labs": {
        "calcium": q(2.3, "mmol/L", 2.15, 2.55),
        "creatinine": q(62, "umol/L", 45, 90),
        "egfr": q(110, "mL/min/1.73m2"),
        "hemoglobin": q(13.4, "g/dL", 12.0, 16.0),
        "tsh": q(1.6, "mIU/L", 0.4, 4.0),
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

MGUS_WITH_HISTORY = {
    "patient": {"age_years": 62, "sex": "female"},
    "spep": {"m_protein": q(0.9, "g/dL")},
    "serum_ife": {"result": "positive", "clones": [{"heavy_chain": "IgA", "light_chain": "lambda"}]},
    "flc": {"kappa": q(11.0, "mg/L", 3.3, 19.4), "lambda": q(30.0, "mg/L", 5.7, 26.3)},
    "labs": NORMAL_LABS,
    "imaging": {"osteolytic_lesions": 0},
    "collected_on": "2025-05-02",
    "history": [
        {
            "collected_on": "2023-04-11",
            "spep": {"m_protein": q(0.8, "g/dL")},
            "flc": {"kappa": q(10.5, "mg/L"), "lambda": q(27.0, "mg/L")},
            "labs": {"hemoglobin": q(13.3, "g/dL", 12.0, 16.0)},
        },
        {
            "collected_on": "2024-04-16",
            "spep": {"m_protein": q(0.8, "g/dL")},
            "flc": {"kappa": q(10.9, "mg/L"), "lambda": q(28.5, "mg/L")},
            "urine": {"m_protein_24h": q(0, "mg/24h")},
            "labs": {"hemoglobin": q(13.0, "g/dL", 12.0, 16.0)},
        },
        {
            "collected_on": "2024-11-05",
            "spep": {"m_protein": q(0.9, "g/dL")},
            "flc": {"kappa": q(11.2, "mg/L"), "lambda": q(29.1, "mg/L")},
            "labs": {"hemoglobin": q(13.2, "g/dL", 12.0, 16.0), "calcium": q(9.2, "mg/dL", 8.6, 10.3)},
        },
    ],
}

PANELS: list[tuple[str, dict[str, Any], str]] = [
    ("mgus_igg_kappa", MGUS_IGG_KAPPA, "MGUS_NON_IGM"),
    ("smouldering", SMOULDERING, "SMOLDERING_MYELOMA"),
    ("myeloma", MYELOMA, "MULTIPLE_MYELOMA"),
    ("scleromyxoedema_mgcs", SCLEROMYXOEDEMA, "MGUS_NON_IGM"),
    ("mgus_history3", MGUS_WITH_HISTORY, "MGUS_NON_IGM"),
]

BODIES: list[bytes] = [json.dumps(body, separators=(",", ":")).encode() for _, body, _ in PANELS]
EXPECTED: list[str] = [code for _, _, code in PANELS]
NAMES: list[str] = [name for name, _, _ in PANELS]


def check_answers(answers: list[dict[str, Any]]) -> list[str]:
    """Compare interpretation bodies (one per panel, in order) with the expected codes."""
    wrong = []
    for name, answer, expected in zip(NAMES, answers, EXPECTED, strict=True):
        got = answer.get("classification", {}).get("code")
        if got != expected:
            wrong.append(f"{name}: expected {expected}, got {got}")
    return wrong


def main() -> int:
    os.environ.setdefault("MGI_DEV_MODE", "1")
    from service.api import create_app

    real_stderr, sys.stderr = sys.stderr, open(os.devnull, "w")  # noqa: SIM115 - access-log lines
    try:
        client = create_app({"TESTING": True}).test_client()
    finally:
        sys.stderr = real_stderr
    answers = []
    for name, body in zip(NAMES, BODIES, strict=True):
        r = client.post(
            "/v1/interpretations",
            data=body,
            content_type="application/json",
            headers={"Authorization": "Bearer x"},
        )
        if r.status_code != 200:
            print(f"{name}: HTTP {r.status_code} {r.get_data(as_text=True)[:500]}")
            return 1
        a = r.get_json()
        answers.append(a)
        c = a["classification"]
        print(
            f"{name:22s} {c['code']:20s} provisional={c['provisional']!s:5s} "
            f"flags={[f['code'] for f in a['flags']]} response={len(r.get_data())} B "
            f"request={len(body)} B"
        )
    wrong = check_answers(answers)
    for w in wrong:
        print("WRONG:", w)
    print(f"{len(wrong)} wrong answer(s) of {len(answers)}")
    return 1 if wrong else 0


if __name__ == "__main__":
    sys.exit(main())
