"""``python -m service demo-data``: store a demonstration patient for the review console.

Stores, through the service's own POST /v1/interpretations (in-process, so serial memory and the
release policy apply exactly as for a laboratory's requests), three cases:

- patient ``DEMO-S6``: the worked example of clinical-reference §6 (non-IgM MGUS IgG-κ with MGCS,
  scleromyxoedema) on 2024-03-15, after two earlier panels of the same patient (2023-03-15 and
  2023-09-15), so its charts show three dated panels;
- patient ``DEMO-NEG``: a complete negative screen (SPEP, serum immunofixation and FLC), released
  automatically under the default release policy;
- patient ``DEMO-MGUS``: a low-risk IgG-κ MGUS, waiting for review.

The values are demonstration inputs, not patients. Running it twice stores nothing new (the same
patient, specimen and body are one record).
"""

from __future__ import annotations

import copy
import sys
from typing import Any

S6_CURRENT: dict[str, Any] = {
    "patient_ref": "DEMO-S6",
    "specimen_id": "S6-2024-03-15",
    "collected_on": "2024-03-15",
    "patient": {"age_years": 34, "sex": "female"},
    "spep": {"m_protein": {"value": 16, "unit": "g/L", "comparator": "<"}},
    "serum_ife": {"result": "positive", "clones": [{"heavy_chain": "IgG", "light_chain": "kappa"}]},
    "flc": {
        "kappa": {"value": 12.1, "unit": "mg/L", "reference_range": {"low": 3.3, "high": 19.4}},
        "lambda": {"value": 14.3, "unit": "mg/L", "reference_range": {"low": 5.7, "high": 26.3}},
    },
    "marrow": {"plasma_cells_percent": 8},
    "labs": {
        "calcium": {"value": 2.35, "unit": "mmol/L", "reference_range": {"low": 2.15, "high": 2.55}},
        "creatinine": {"value": 62, "unit": "umol/L", "reference_range": {"low": 45, "high": 84}},
        "hemoglobin": {"value": 132, "unit": "g/L", "reference_range": {"low": 120, "high": 160}},
        "tsh": {"value": 1.9, "unit": "mIU/L", "reference_range": {"low": 0.4, "high": 4.0}},
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
    },
}


def _earlier(on: str, m_protein: float, kappa: float, lam: float, hb: float, creat: float) -> dict[str, Any]:
    return {
        "patient_ref": "DEMO-S6",
        "specimen_id": f"S6-{on}",
        "collected_on": on,
        "patient": {"age_years": 33, "sex": "female"},
        "spep": {"m_protein": {"value": m_protein, "unit": "g/L"}},
        "serum_ife": {"result": "positive", "clones": [{"heavy_chain": "IgG", "light_chain": "kappa"}]},
        "flc": {
            "kappa": {"value": kappa, "unit": "mg/L", "reference_range": {"low": 3.3, "high": 19.4}},
            "lambda": {"value": lam, "unit": "mg/L", "reference_range": {"low": 5.7, "high": 26.3}},
        },
        "labs": {
            "creatinine": {"value": creat, "unit": "umol/L", "reference_range": {"low": 45, "high": 84}},
            "hemoglobin": {"value": hb, "unit": "g/L", "reference_range": {"low": 120, "high": 160}},
        },
    }


NEGATIVE: dict[str, Any] = {
    "patient_ref": "DEMO-NEG",
    "specimen_id": "NEG-2024-03-15",
    "collected_on": "2024-03-15",
    "patient": {"age_years": 58, "sex": "male"},
    "spep": {"m_protein": {"value": 0, "unit": "g/L"}},
    "serum_ife": {"result": "negative", "clones": []},
    "flc": {
        "kappa": {"value": 12.0, "unit": "mg/L", "reference_range": {"low": 3.3, "high": 19.4}},
        "lambda": {"value": 13.0, "unit": "mg/L", "reference_range": {"low": 5.7, "high": 26.3}},
    },
}

MGUS: dict[str, Any] = {
    "patient_ref": "DEMO-MGUS",
    "specimen_id": "MGUS-2024-03-14",
    "collected_on": "2024-03-14",
    "patient": {"age_years": 67, "sex": "male"},
    "spep": {"m_protein": {"value": 8, "unit": "g/L"}},
    "serum_ife": {"result": "positive", "clones": [{"heavy_chain": "IgG", "light_chain": "kappa"}]},
    "flc": {"kappa": {"value": 18.2, "unit": "mg/L"}, "lambda": {"value": 14.0, "unit": "mg/L"}},
    "labs": {
        "creatinine": {"value": 80, "unit": "umol/L"},
        "hemoglobin": {"value": 135, "unit": "g/L", "reference_range": {"low": 120, "high": 160}},
    },
}


def requests() -> list[dict[str, Any]]:
    """The demonstration requests, in the order they are stored (a patient's oldest panel first)."""
    return [
        _earlier("2023-03-15", 9, 11.0, 13.1, 134, 60),
        _earlier("2023-09-15", 11, 11.6, 13.6, 133, 61),
        copy.deepcopy(S6_CURRENT),
        copy.deepcopy(NEGATIVE),
        copy.deepcopy(MGUS),
    ]


def store_demo(app: Any, headers: dict[str, str] | None = None) -> list[dict[str, Any]]:
    """POST each demonstration request to ``app`` (in-process); the answers' id, specimen and release."""
    out = []
    client = app.test_client()
    for body in requests():
        resp = client.post("/v1/interpretations", json=body, headers=headers or {})
        if resp.status_code not in (200, 201):
            raise RuntimeError(
                f"{body['specimen_id']}: HTTP {resp.status_code} {resp.get_data(as_text=True)[:300]}"
            )
        data = resp.get_json()
        out.append(
            {
                "id": data.get("id"),
                "specimen_id": body["specimen_id"],
                "category": data["classification"]["code"],
                "release": data["release"]["status"],
                "history_used": len(data.get("history_used") or []),
            }
        )
    return out


def main(argv: list[str] | None = None) -> int:
    if argv:
        print("usage: python -m service demo-data  (no arguments)", file=sys.stderr)
        return 2
    from service.__main__ import _prepare_embedded_store
    from service.api import create_app
    from service.store import read_settings

    if not read_settings().enabled:
        print("the records store is off (MGI_STORE=off): nothing to store", file=sys.stderr)
        return 2
    _prepare_embedded_store()
    app = create_app({"DEV_MODE": True})
    for row in store_demo(app):
        print(
            f"{row['specimen_id']:<16} {row['category']:<24} release {row['release']:<16} "
            f"history {row['history_used']}  /review/cases/{row['id']}"
        )
    return 0
