"""The table of criteria: one row per criterion an answer can carry, evaluated, explained and published
from the same data.

A row names its stable id (the ``criteria[].id`` of an answer), the clinical-reference section it
implements, the fact it reads, the operator, the cut-off (a cited constant of ``ruleset``) and the
request field(s) whose absence makes it not assessable. Its wording (``threshold``) is filled from its
own operator and cut-off when the module is imported, so the text an answer shows, the ruleset a
laboratory reads (``GET /v1/ruleset``) and the comparison the engine makes cannot disagree.

The order of precedence between criteria (the IMWG categories) is code, in ``classify``: it reads the
outcomes recorded here by id.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from . import ruleset as R
from .quantity import Comparator, Interval, Quantity, ge, gt, le, lt
from .results import Criterion, Status
from .tri import Tri

if TYPE_CHECKING:
    from .facts import Facts

Number = Decimal | int

_STATUS = {True: Status.MET, False: Status.NOT_MET, None: Status.NOT_ASSESSABLE}
NA = Status.NOT_ASSESSABLE
_COMP_TEXT = {c: c.value for c in Comparator}
_new = tuple.__new__  # builds a NamedTuple record without its __new__ (a few dozen per panel)
NOT_REPORTED = "not reported"
NO_MARROW = "no marrow result"


@dataclass(frozen=True, slots=True)
class Operator:
    """A comparison: its symbol (as the wording shows it), its words, and its three-valued forms on an
    interval (a value sent as a bound) and on an exact count."""

    symbol: str
    words: str
    on_interval: Callable[[Interval, Decimal], Tri]
    on_number: Callable[[Any, Any], bool]


OPERATORS: dict[str, Operator] = {
    ">": Operator(">", "greater than", gt, lambda a, b: a > b),
    ">=": Operator(">=", "at least", ge, lambda a, b: a >= b),
    "<": Operator("<", "less than", lt, lambda a, b: a < b),
    "<=": Operator("<=", "at most", le, lambda a, b: a <= b),
}


def fmt(v: Number | None) -> str:
    """A cut-off as the wording shows it (2.75, 177, 0.25): never rounded; empty when there is none."""
    return "" if v is None else f"{float(v):g}"


@dataclass(frozen=True, slots=True, eq=False)
class Row:
    """One criterion. ``template`` is filled with ``{op}``, ``{cutoff}``, ``{unit}`` (and ``{alt}``,
    ``{alt_unit}``: the published equivalent in the other unit system; ``{high}``: a range's top)."""

    id: str
    section: str
    citation: str
    fact: str
    op: str | None
    cutoff: Number | None
    unit: str | None
    template: str
    needs: tuple[str, ...] = ()
    alt: Number | None = None
    alt_unit: str | None = None
    high: Number | None = None
    # The wording with a laboratory's own limit (``{limit}``), for a rule relative to a reference limit.
    limit_template: str | None = None
    # Built at import from the fields above.
    threshold: str = field(init=False, default="")
    source: str = field(init=False, default="")
    compare: Callable[[Interval, Decimal], Tri] | None = field(init=False, default=None)
    # A "not reported" record: the same immutable Criterion for every panel that lacks the fact.
    absent: Criterion = field(init=False)
    _limit_texts: dict[Decimal, str] = field(init=False, default_factory=dict)

    def __post_init__(self) -> None:
        set_ = object.__setattr__
        set_(self, "threshold", self.template.format(**self._words()))
        set_(self, "source", R.src(self.citation, self.section))
        set_(self, "compare", OPERATORS[self.op].on_interval if self.op else None)
        set_(
            self,
            "absent",
            Criterion(self.id, NA, None, None, None, self.threshold, self.source, NOT_REPORTED),
        )

    def _words(self) -> dict[str, str]:
        w = {"op": self.op or "", "unit": self.unit or ""}
        for name in ("cutoff", "alt", "high"):
            w[name] = fmt(getattr(self, name))
        w["alt_unit"] = self.alt_unit or ""
        return w

    def with_limit(self, limit: Decimal) -> str:
        """The wording against a laboratory's limit (e.g. ULN + 0.25 = 2.8 mmol/L)."""
        # A laboratory sends the same limit all day: the wording is built once per limit (bounded).
        text = self._limit_texts.get(limit)
        if text is None:
            text = (self.limit_template or self.template).format(**self._words(), limit=fmt(limit))
            if len(self._limit_texts) < 512:
                self._limit_texts[limit] = text
        return text

    # --- recording --------------------------------------------------------------------------------
    def record(
        self,
        f: Facts,
        tri: Tri,
        value: Decimal | int | bool | str | None,
        unit: str | None = None,
        comparator: str | None = None,
        note: str | None = None,
        threshold: str | None = None,
    ) -> Tri:
        """Record an outcome decided by the caller (a presence, a range, a combination)."""
        f.criteria.append(
            _new(
                Criterion,
                (
                    self.id,
                    _STATUS[tri],
                    value,
                    unit,
                    comparator,
                    threshold or self.threshold,
                    self.source,
                    note,
                ),
            )
        )
        return tri

    def on_quantity(
        self,
        f: Facts,
        q: Quantity | None,
        note: str | None = None,
        cutoff: Decimal | None = None,
        threshold: str | None = None,
        unit: str | None = None,
    ) -> Tri:
        """Record ``q <op> cutoff`` on a quantity, bound-aware (None when it is not reported). ``cutoff``
        and ``threshold`` replace the row's own for a rule relative to a laboratory's limit."""
        text = threshold or self.threshold
        if q is None:
            f.criteria.append(
                _new(Criterion, (self.id, NA, None, None, None, text, self.source, note or NOT_REPORTED))
            )
            return None
        tri = self.compare(q.interval, self.cutoff if cutoff is None else cutoff)  # type: ignore[misc,arg-type]
        c = q.comparator
        f.criteria.append(
            _new(
                Criterion,
                (
                    self.id,
                    _STATUS[tri],
                    q.value,
                    q.unit if unit is None else unit,
                    None if c is None else _COMP_TEXT[c],
                    text,
                    self.source,
                    note,
                ),
            )
        )
        return tri

    def on_count(self, f: Facts, n: int | None, unit: str) -> Tri:
        """Record ``n <op> cutoff`` on an exact count (lesions); None when not reported."""
        tri = None if n is None else OPERATORS[self.op or ""].on_number(n, self.cutoff)
        return self.record(f, tri, n, unit)

    def on_bmpc(self, f: Facts, *, flow_opens: bool = False) -> Tri:
        """Record a marrow plasma-cell criterion, saying when morphology stood in for clonal cells.
        ``flow_opens``: a flow-cytometry figure at or above the cut-off, above the marrow figure, leaves
        the criterion open (flow under-estimates and never meets a threshold: the trephine
        count decides, §2.9)."""
        bmpc = f.bmpc
        if bmpc is None:
            return self.record(f, None, None, "%", None, NO_MARROW)
        note = "total plasma cells by morphology (§2.9)" if f.bmpc_source == "morphology" else None
        met = self.compare(bmpc, self.cutoff)  # type: ignore[misc,arg-type]
        marrow = f.panel.marrow
        flow = marrow.flow_plasma_cells_percent if marrow is not None else None
        if (
            flow_opens
            and met is False
            and flow is not None
            and flow >= self.cutoff  # type: ignore[operator]
            and flow > bmpc.lo
        ):
            met = None
            note = (
                f"flow-cytometry plasma cells {float(flow):g} % (at or above {self.cutoff:g} %, and flow "
                f"under-estimates) above the marrow figure ({float(bmpc.lo):g} %"
                + (", total plasma cells by morphology" if f.bmpc_source == "morphology" else "")
                + "): the trephine biopsy (CD138) count decides (§2.9)"
            )
        return self.record(f, met, bmpc.lo, "%", None, note)

    def describe(self) -> dict[str, Any]:
        """The row as the ruleset publishes it."""
        return {
            "id": self.id,
            "kind": "criterion",
            "section": self.section,
            "citation": self.citation,
            "description": self.threshold,
            "fact": self.fact,
            "operator": self.op,
            "cutoff": self.cutoff,
            "unit": self.unit,
            "needs": list(self.needs),
            "thresholds": {} if self.cutoff is None else _thresholds(self),
        }


def _thresholds(row: Row) -> dict[str, Any]:
    out: dict[str, Any] = {"cutoff": row.cutoff}
    if row.high is not None:
        out["high"] = row.high
    if row.alt is not None:
        out["equivalent"] = {"value": row.alt, "unit": row.alt_unit}
    return out


# --- The rows ---------------------------------------------------------------------------------------
# ref: §2.1 — myeloma-defining events (IMWG 2014).
CA_ABSOLUTE = Row(
    "mde.hypercalcemia.absolute",
    "§2.1",
    R.IMWG_2014,
    "serum calcium",
    ">",
    R.CALCIUM_ABSOLUTE_MMOL_L,
    "mmol/L",
    "{op} {cutoff} {unit} ({op} {alt} {alt_unit})",
    ("labs.calcium",),
    alt=R.CALCIUM_ABSOLUTE_MG_DL,
    alt_unit="mg/dL",
)
CA_ABOVE_ULN = Row(
    "mde.hypercalcemia.above_uln",
    "§2.1",
    R.IMWG_2014,
    "serum calcium above the laboratory's ULN",
    ">",
    R.CALCIUM_ABOVE_ULN_MMOL_L,
    "mmol/L",
    "{op} ULN + {cutoff} {unit} ({op} {alt} {alt_unit} above ULN)",
    ("labs.calcium", "labs.calcium.reference_range"),
    alt=R.CALCIUM_ABOVE_ULN_MG_DL,
    alt_unit="mg/dL",
    limit_template="{op} ULN + {cutoff} {unit} ({op} {limit} {unit})",
)
CREATININE = Row(
    "mde.renal_insufficiency.creatinine",
    "§2.1",
    R.IMWG_2014,
    "serum creatinine",
    ">",
    R.CREATININE_UMOL_L,
    "umol/L",
    "{op} {cutoff} {unit} ({op} {alt} {alt_unit})",
    ("labs.creatinine",),
    alt=R.CREATININE_MG_DL,
    alt_unit="mg/dL",
)
CLEARANCE = Row(
    "mde.renal_insufficiency.clearance",
    "§2.1",
    R.IMWG_2014,
    "creatinine clearance (else eGFR, else the CKD-EPI 2021 estimate)",
    "<",
    R.CREATININE_CLEARANCE_ML_MIN,
    "mL/min",
    "{op} {cutoff} {unit}",
    ("labs.creatinine_clearance", "labs.egfr"),
)
HB_ABSOLUTE = Row(
    "mde.anemia.absolute",
    "§2.1",
    R.IMWG_2014,
    "haemoglobin",
    "<",
    R.HEMOGLOBIN_ABSOLUTE_G_L,
    "g/L",
    "{op} {cutoff} {unit} ({op} {alt} {alt_unit})",
    ("labs.hemoglobin",),
    alt=R.HEMOGLOBIN_ABSOLUTE_G_DL,
    alt_unit="g/dL",
)
# The fact is the deficit below the laboratory's LLN: "> 20 g/L below LLN" is haemoglobin < LLN - 20.
HB_BELOW_LLN = Row(
    "mde.anemia.below_lln",
    "§2.1",
    R.IMWG_2014,
    "haemoglobin below the laboratory's LLN",
    ">",
    R.HEMOGLOBIN_BELOW_LLN_G_L,
    "g/L",
    "{op} {cutoff} {unit} below LLN",
    ("labs.hemoglobin", "labs.hemoglobin.reference_range"),
    limit_template="{op} {cutoff} {unit} below LLN (< {limit} {unit})",
)
BONE_LESIONS = Row(
    "mde.bone_lesions",
    "§2.1",
    R.IMWG_2014,
    "osteolytic lesions on skeletal radiography, CT or PET-CT",
    ">=",
    R.OSTEOLYTIC_LESIONS_MIN,
    "lesions",
    "{op} {cutoff} osteolytic lesion",
    ("imaging.osteolytic_lesions",),
)
BMPC_60 = Row(
    "mde.bmpc_ge_60",
    "§2.1",
    R.IMWG_2014,
    "clonal bone-marrow plasma cells",
    ">=",
    R.BMPC_SLIM_PERCENT,
    "%",
    "{op} {cutoff} {unit} clonal BMPC",
    ("marrow.clonal_plasma_cells_percent",),
)
FLC_RATIO_100 = Row(
    "mde.flc_ratio_ge_100",
    "§2.1",
    R.IMWG_2014,
    "involved/uninvolved FLC ratio, and the involved chain (Freelite)",
    ">=",
    R.FLC_SLIM_RATIO,
    "ratio",
    "involved/uninvolved FLC ratio {op} {cutoff} and involved FLC {op} {alt} {alt_unit} (Freelite)",
    ("flc.kappa", "flc.lambda"),
    alt=R.FLC_SLIM_INVOLVED_MG_L,
    alt_unit="mg/L",
)
MRI_LESIONS = Row(
    "mde.mri_focal_lesions",
    "§2.1",
    R.IMWG_2014,
    "focal lesions on MRI",
    ">",
    R.MRI_FOCAL_LESIONS_MORE_THAN,
    "lesions",
    "{op} {cutoff} focal lesion (>= {alt} {alt_unit}) on MRI",
    ("imaging.mri_focal_lesions",),
    alt=R.MRI_FOCAL_LESION_MIN_MM,
    alt_unit="mm",
)
# ref: §2.2–§2.3 — multiple myeloma and smouldering myeloma.
BMPC_10 = Row(
    "bmpc_ge_10",
    "§2.2",
    R.IMWG_2014,
    "clonal bone-marrow plasma cells",
    ">=",
    R.BMPC_MYELOMA_PERCENT,
    "%",
    "{op} {cutoff} {unit} clonal BMPC",
    ("marrow.clonal_plasma_cells_percent",),
)
PLASMACYTOMA = Row(
    "plasmacytoma",
    "§2.2",
    R.IMWG_2014,
    "clinical.plasmacytoma",
    None,
    None,
    None,
    "biopsy-proven bony or extramedullary plasmacytoma",
    ("clinical.plasmacytoma",),
)
# Recorded with the source of the first category that reaches it (§2.3 for myeloma, §2.5 for IgM).
NO_AMYLOIDOSIS = Row(
    "no_amyloidosis",
    "§2.3",
    R.IMWG_2014,
    "clinical.amyloidosis",
    None,
    None,
    None,
    "no amyloidosis",
    ("clinical.amyloidosis",),
)
NO_AMYLOIDOSIS_IGM = Row(
    "no_amyloidosis", "§2.5", R.KYLE_WM_2012, "clinical.amyloidosis", None, None, None, "no amyloidosis"
)
BMPC_10_TO_60 = Row(
    "bmpc_10_to_60",
    "§2.3",
    R.IMWG_2014,
    "clonal bone-marrow plasma cells",
    None,
    R.BMPC_MYELOMA_PERCENT,
    "%",
    "clonal BMPC {cutoff}-{high} {unit}",
    ("marrow.clonal_plasma_cells_percent",),
    high=R.BMPC_SLIM_PERCENT,
)
BMPC_10_TO_60_LC = Row(
    "bmpc_10_to_60",
    "§2.7",
    R.LC_SMM_WORKING,
    "clonal bone-marrow plasma cells",
    None,
    R.BMPC_MYELOMA_PERCENT,
    "%",
    "clonal BMPC {cutoff}-{high} {unit}",
    ("marrow.clonal_plasma_cells_percent",),
    high=R.BMPC_SLIM_PERCENT,
)
URINE_500 = Row(
    "urine_m_protein_ge_500",
    "§2.3",
    R.IMWG_2014,
    "urine M-protein",
    ">=",
    R.URINE_M_PROTEIN_MG_24H,
    "mg/24h",
    "{op} {cutoff} {unit}",
    ("urine.m_protein_24h",),
)
URINE_500_LC = Row(
    "urine_m_protein_ge_500",
    "§2.7",
    R.LC_SMM_WORKING,
    "urine M-protein",
    ">=",
    R.URINE_M_PROTEIN_MG_24H,
    "mg/24h",
    "{op} {cutoff} {unit}",
    ("urine.m_protein_24h",),
)
SERUM_30 = Row(
    "serum_m_protein_ge_30",
    "§2.3",
    R.IMWG_2014,
    "serum M-protein (IgG or IgA)",
    ">=",
    R.SERUM_M_PROTEIN_G_L,
    "g/L",
    "{op} {cutoff} {unit} ({alt} {alt_unit}), IgG or IgA",
    ("spep.m_protein",),
    alt=R.SERUM_M_PROTEIN_G_DL,
    alt_unit="g/dL",
)
# ref: §2.5 — IgM MGUS and the Waldenström range.
IGM_30 = Row(
    "igm_m_protein_ge_30",
    "§2.5",
    R.KYLE_WM_2012,
    "serum IgM M-protein",
    ">=",
    R.SERUM_M_PROTEIN_G_L,
    "g/L",
    "{op} {cutoff} {unit} ({alt} {alt_unit})",
    ("spep.m_protein",),
    alt=R.SERUM_M_PROTEIN_G_DL,
    alt_unit="g/dL",
)
LPL_10 = Row(
    "lymphoplasmacytic_infiltrate_ge_10",
    "§2.5",
    R.KYLE_WM_2012,
    "marrow lymphoplasmacytic infiltration",
    ">=",
    R.LPL_INFILTRATE_PERCENT,
    "%",
    "{op} {cutoff} {unit} marrow lymphoplasmacytic infiltration",
    ("marrow.lymphoplasmacytic_infiltrate_percent",),
)
IGM_END_ORGAN = Row(
    "igm_end_organ_features",
    "§2.5",
    R.KYLE_WM_2012,
    "anaemia (the §2.1 A rule) or clinical.igm_related_symptoms",
    None,
    None,
    None,
    "anaemia (§2.1 rule), constitutional symptoms, hyperviscosity, lymphadenopathy or hepatosplenomegaly",
    ("labs.hemoglobin", "clinical.igm_related_symptoms"),
)
# ref: §2.6 — light-chain MGUS: the ratio interval in force is the assay's (§4) or the laboratory's.
FLC_RATIO_ABNORMAL = Row(
    "flc_ratio_abnormal",
    "§2.6",
    R.IMWG_2014,
    "serum kappa/lambda FLC ratio",
    None,
    None,
    "ratio",
    "outside the ratio interval in force",
    ("flc.kappa", "flc.lambda"),
)
INVOLVED_FLC_RAISED = Row(
    "involved_flc_raised",
    "§2.6",
    R.IMWG_2014,
    "the involved free light chain",
    None,
    None,
    None,
    "involved light chain above its upper reference limit",
    ("flc.kappa", "flc.lambda"),
)
# ref: §5 — the Rongioletti criteria of scleromyxoedema.
RONGIOLETTI_ERUPTION = Row(
    "scleromyxedema.papular_sclerodermoid_eruption",
    "§5",
    R.RONGIOLETTI,
    "clinical.papular_eruption and clinical.sclerodermoid_induration",
    None,
    None,
    None,
    "(1) generalised papular and sclerodermoid eruption",
    ("clinical.papular_eruption", "clinical.sclerodermoid_induration"),
)
RONGIOLETTI_MP = Row(
    "scleromyxedema.monoclonal_gammopathy",
    "§5",
    R.RONGIOLETTI,
    "a monoclonal protein on any test",
    None,
    None,
    None,
    "(2) monoclonal gammopathy",
    ("serum_ife",),
)
RONGIOLETTI_HISTOLOGY = Row(
    "scleromyxedema.histology",
    "§5",
    R.RONGIOLETTI,
    "clinical.histology_mucin_fibrosis",
    None,
    None,
    None,
    "(3) dermal mucin, fibroblast proliferation, fibrosis",
    ("clinical.histology_mucin_fibrosis",),
)
RONGIOLETTI_THYROID = Row(
    "scleromyxedema.no_thyroid_disease",
    "§5",
    R.RONGIOLETTI,
    "clinical.thyroid_disease, or labs.tsh within its reference range",
    None,
    None,
    None,
    "(4) absence of thyroid disease (TSH within its range)",
    ("clinical.thyroid_disease", "labs.tsh"),
)


_NEGATION = {">=": "<", ">": "<=", "<": ">=", "<=": ">"}


def stated(row: Row, subject: str, met: bool = True) -> str:
    """A reason worded from a row: "serum M-protein >= 30 g/L", or its negation ("... < 30 g/L")."""
    op = row.op or ""
    return f"{subject} {op if met else _NEGATION[op]} {fmt(row.cutoff)} {row.unit}"


def rows() -> tuple[Row, ...]:
    """The rows of this module, in their order here."""
    return tuple(v for v in list(globals().values()) if isinstance(v, Row))


ROWS: tuple[Row, ...] = rows()
# Every criterion id an answer can carry (a few ids have one row per citing section).
IDS: frozenset[str] = frozenset(r.id for r in ROWS)


def describe() -> list[dict[str, Any]]:
    """The criteria as the ruleset publishes them: one entry per id (the first row that carries it)."""
    seen: dict[str, dict[str, Any]] = {}
    for row in rows():
        entry = seen.setdefault(row.id, row.describe())
        if row.section not in entry["section"]:
            entry["section"] += f", {row.section}"
    return list(seen.values())
