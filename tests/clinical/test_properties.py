"""Property tests (issue 3): unit-system invariance, monotone risk groups and κ/λ symmetry."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from .helpers import clone, complete, ife, q, run

SETTINGS = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])

ORDER = {
    "mgus_mayo_2005": ["low", "low_intermediate", "high_intermediate", "high"],
    "smm_mayo_2018": ["low", "intermediate", "high"],
    "smm_imwg_2020": ["low", "low_intermediate", "intermediate", "high"],
}


def _num(n: int, scale: int) -> float:
    """n / 10**scale as the float whose shortest text is that exact decimal."""
    return float(str(Decimal(n).scaleb(-scale)))


@st.composite
def panels(draw):
    """Panel parameters in integer tenths/hundredths so both unit systems are exact decimals."""
    return {
        "heavy": draw(st.sampled_from(["IgG", "IgA", "IgM", None])),
        "light": draw(st.sampled_from(["kappa", "lambda"])),
        "mp_tenths_gl": draw(
            st.one_of(st.integers(0, 600), st.sampled_from([149, 150, 151, 199, 200, 201, 299, 300, 301]))
        ),
        "kappa_hundredths": draw(st.integers(50, 300000)),
        "lambda_hundredths": draw(st.integers(50, 300000)),
        "bmpc_tenths": draw(
            st.one_of(
                st.none(),
                st.integers(0, 700),
                st.sampled_from([99, 100, 150, 151, 200, 201, 300, 301, 400, 401]),
            )
        ),
        "hb_tenths_gl": draw(st.integers(700, 1700)),
        "urine_mg": draw(st.one_of(st.none(), st.integers(0, 1500))),
        "fish": draw(st.one_of(st.none(), st.booleans())),
        "egfr": draw(st.sampled_from([30, 59, 60, 95])),
    }


def body_of(p, *, small_units: bool):
    """The request body in SI-style units (g/L, mg/L, g/L, mg/24h) or in g/dL, mg/dL, g/dL, g/24h."""
    mp = q(_num(p["mp_tenths_gl"], 2), "g/dL") if small_units else q(_num(p["mp_tenths_gl"], 1), "g/L")
    if small_units:
        kappa = q(_num(p["kappa_hundredths"], 3), "mg/dL", rr=(0.33, 1.94))
        lam = q(_num(p["lambda_hundredths"], 3), "mg/dL", rr=(0.57, 2.63))
        hb = q(_num(p["hb_tenths_gl"], 2), "g/dL", rr=(12.0, 16.0))
    else:
        kappa = q(_num(p["kappa_hundredths"], 2), "mg/L", rr=(3.3, 19.4))
        lam = q(_num(p["lambda_hundredths"], 2), "mg/L", rr=(5.7, 26.3))
        hb = q(_num(p["hb_tenths_gl"], 1), "g/L", rr=(120, 160))
    body = complete(
        {
            "spep": {"m_protein": mp},
            "serum_ife": ife(clone(p["heavy"], p["light"])),
            "flc": {"kappa": kappa, "lambda": lam},
            "labs": {"hemoglobin": hb, "egfr": q(p["egfr"], "mL/min/1.73m2"), "creatinine_clearance": None},
            "clinical": {"igm_related_symptoms": False},
        }
    )
    if p["bmpc_tenths"] is not None:
        body["marrow"] = {
            "clonal_plasma_cells_percent": _num(p["bmpc_tenths"], 1),
            "lymphoplasmacytic_infiltrate_percent": 0,
        }
    if p["urine_mg"] is not None:
        body["urine"] = {
            "m_protein_24h": (
                q(_num(p["urine_mg"], 3), "g/24h") if small_units else q(p["urine_mg"], "mg/24h")
            )
        }
    if p["fish"] is not None:
        body["cytogenetics"] = {"t_4_14": p["fish"], "t_14_16": False, "gain_1q": False, "del_13q": False}
    return body


def essence(r):
    """What must not depend on the unit system."""
    return {
        "code": r["classification"]["code"],
        "provisional": r["classification"]["provisional"],
        "criteria": sorted((c["id"], c["status"]) for c in r["criteria"]),
        "mde": sorted(r["myeloma_defining_events"]),
        "flc_abnormal": r["flc"]["abnormal"],
        "risk": {
            m: (v["group"], tuple(v["possible_groups"]), v.get("score"), v.get("score_is_lower_bound"))
            for m, v in r["risk"].items()
        },
        "flags": sorted(f["code"] for f in r["flags"]),
    }


@SETTINGS
@given(panels())
def test_same_panel_in_gdl_and_gl_units_gives_the_same_interpretation(p):
    si = run(body_of(p, small_units=False))
    conv = run(body_of(p, small_units=True))
    assert essence(si) == essence(conv)
    if si["flc"]["ratio"] is not None:
        assert conv["flc"]["ratio"] == pytest.approx(si["flc"]["ratio"], rel=1e-12)


def _assert_no_group_decreases(lower, higher):
    for model, order in ORDER.items():
        a, b = lower["risk"][model], higher["risk"][model]
        if not (a["applies"] and b["applies"]) or a["group"] is None or b["group"] is None:
            continue
        assert order.index(b["group"]) >= order.index(a["group"]), (model, a["group"], b["group"])


@st.composite
def smm_or_mgus(draw):
    """Non-IgM panels (kappa clone) spanning MGUS and SMM."""
    p = draw(panels())
    p["heavy"] = draw(st.sampled_from(["IgG", "IgA"]))
    p["light"] = "kappa"
    return p


@SETTINGS
@given(smm_or_mgus(), st.integers(1, 300))
def test_no_risk_group_decreases_when_the_m_protein_increases(p, step):
    higher = dict(p, mp_tenths_gl=p["mp_tenths_gl"] + step)
    _assert_no_group_decreases(run(body_of(p, small_units=False)), run(body_of(higher, small_units=False)))


@SETTINGS
@given(smm_or_mgus(), st.integers(1, 300))
def test_no_risk_group_decreases_when_marrow_plasma_cells_increase(p, step):
    base = p["bmpc_tenths"] if p["bmpc_tenths"] is not None else 50
    lower = dict(p, bmpc_tenths=base)
    higher = dict(p, bmpc_tenths=min(base + step, 1000))
    _assert_no_group_decreases(
        run(body_of(lower, small_units=False)), run(body_of(higher, small_units=False))
    )


@SETTINGS
@given(smm_or_mgus(), st.integers(1, 100000))
def test_no_risk_group_decreases_when_the_involved_uninvolved_ratio_increases(p, step):
    # kappa clone in excess (involved/uninvolved >= 1): raising kappa with lambda fixed raises the ratio.
    p = dict(p, kappa_hundredths=max(p["kappa_hundredths"], p["lambda_hundredths"]))
    higher = dict(p, kappa_hundredths=p["kappa_hundredths"] + step)
    _assert_no_group_decreases(run(body_of(p, small_units=False)), run(body_of(higher, small_units=False)))


@SETTINGS
@given(
    involved=st.one_of(st.integers(50, 300000), st.sampled_from([1000, 2000, 2500, 4000, 10000])),
    uninvolved=st.one_of(st.integers(50, 5000), st.sampled_from([100, 50, 200, 400, 1000])),
    bmpc=st.sampled_from([5, 15, 25]),
    heavy=st.sampled_from(["IgG", "IgA", None]),
)
def test_involved_uninvolved_ratio_is_symmetric_between_kappa_and_lambda(involved, uninvolved, bmpc, heavy):
    def body(light, k, lam):
        return complete(
            {
                "spep": {"m_protein": q(12, "g/L")},
                "serum_ife": ife(clone(heavy, light)),
                "flc": {"kappa": q(_num(k, 2), "mg/L"), "lambda": q(_num(lam, 2), "mg/L")},
                "marrow": {"clonal_plasma_cells_percent": bmpc},
                "cytogenetics": {"t_4_14": False, "t_14_16": False, "gain_1q": False, "del_13q": False},
            }
        )

    k_clone = run(body("kappa", involved, uninvolved))
    l_clone = run(body("lambda", uninvolved, involved))
    # Swapping the chains swaps the involved one (the clone's chain, or the chain in excess when the
    # ratio is abnormal on the side opposite the clone).
    swap = {"kappa": "lambda", "lambda": "kappa"}
    assert swap[l_clone["flc"]["involved"]] == k_clone["flc"]["involved"]
    assert l_clone["flc"]["involved_uninvolved_ratio"] == pytest.approx(
        k_clone["flc"]["involved_uninvolved_ratio"], rel=1e-12
    )
    assert l_clone["flc"]["ratio"] == pytest.approx(1 / k_clone["flc"]["ratio"], rel=1e-12)
    assert ("mde.flc_ratio_ge_100", _status(k_clone, "mde.flc_ratio_ge_100")) == (
        "mde.flc_ratio_ge_100",
        _status(l_clone, "mde.flc_ratio_ge_100"),
    )
    for model, fid, key in (
        ("smm_mayo_2018", "flc_ratio_gt_20", "status"),
        ("smm_imwg_2020", "flc_ratio", "points"),
    ):
        a, b = k_clone["risk"][model], l_clone["risk"][model]
        assert a["applies"] == b["applies"]
        if a["applies"]:
            fa = [f[key] for f in a["factors"] if f["id"] == fid]
            fb = [f[key] for f in b["factors"] if f["id"] == fid]
            assert fa == fb, (model, fa, fb)


def _status(r, cid):
    return [c["status"] for c in r["criteria"] if c["id"] == cid]
