"""The domain input: one patient's monoclonal-gammopathy work-up, in canonical units.

``None`` always means "not done / not reported", which is never the same as normal. The records are
immutable NamedTuples (cheap to build: the edge builds a dozen per request).
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from enum import StrEnum
from typing import NamedTuple

from .quantity import Quantity
from .ruleset import FlcAssay


class HeavyChain(StrEnum):
    """Immunoglobulin heavy-chain isotypes seen on immunofixation."""

    IGG = "IgG"
    IGA = "IgA"
    IGM = "IgM"
    IGD = "IgD"
    IGE = "IgE"


class LightChain(StrEnum):
    """Light-chain types."""

    KAPPA = "kappa"
    LAMBDA = "lambda"


class IfeResult(StrEnum):
    """Immunofixation outcome."""

    POSITIVE = "positive"
    NEGATIVE = "negative"


class Scleromyxedema(StrEnum):
    """Clinical status of scleromyxoedema."""

    CONFIRMED = "confirmed"
    SUSPECTED = "suspected"
    ABSENT = "absent"


class Clone(NamedTuple):
    """One monoclonal band: heavy chain (None = free light chain only) and light chain."""

    heavy_chain: HeavyChain | None
    light_chain: LightChain

    @property
    def label(self) -> str:
        """Isotype as written in a report, e.g. 'IgG kappa' or 'free lambda'."""
        # StrEnum members format as their value (``.value`` is a slow descriptor on Python 3.11).
        return f"{self.heavy_chain or 'free'} {self.light_chain}"


class Immunofixation(NamedTuple):
    """An immunofixation result with its clones (at most two: biclonal)."""

    result: IfeResult
    clones: tuple[Clone, ...] = ()


class Spep(NamedTuple):
    """Serum protein electrophoresis: the M-spike (0 = no spike)."""

    m_protein: Quantity | None = None


class Urine(NamedTuple):
    """24-hour urine: M-protein and immunofixation."""

    m_protein_24h: Quantity | None = None
    ife: Immunofixation | None = None


class Flc(NamedTuple):
    """Serum free light chains with the assay and an optional laboratory ratio interval."""

    kappa: Quantity | None = None
    lambda_: Quantity | None = None
    assay: FlcAssay = FlcAssay.FREELITE
    ratio_reference_range: tuple[Decimal, Decimal] | None = None


class Marrow(NamedTuple):
    """Bone-marrow plasma cells (%); flow cytometry is kept but never used for thresholds (§2.9)."""

    clonal_plasma_cells_percent: Decimal | None = None
    plasma_cells_percent: Decimal | None = None
    lymphoplasmacytic_infiltrate_percent: Decimal | None = None
    flow_plasma_cells_percent: Decimal | None = None


class Labs(NamedTuple):
    """CRAB and related laboratory results."""

    calcium: Quantity | None = None
    creatinine: Quantity | None = None
    creatinine_clearance: Quantity | None = None
    egfr: Quantity | None = None
    hemoglobin: Quantity | None = None
    tsh: Quantity | None = None


class Imaging(NamedTuple):
    """Lesion counts; both exclude a biopsied plasmacytoma itself (§2.8)."""

    osteolytic_lesions: int | None = None
    mri_focal_lesions: int | None = None


class Cytogenetics(NamedTuple):
    """High-risk FISH abnormalities of the IMWG 2020 score (None = not tested)."""

    t_4_14: bool | None = None
    t_14_16: bool | None = None
    gain_1q: bool | None = None
    del_13q: bool | None = None


class Clinical(NamedTuple):
    """Clinical findings (None = not reported)."""

    scleromyxedema: Scleromyxedema | None = None
    papular_eruption: bool | None = None
    sclerodermoid_induration: bool | None = None
    histology_mucin_fibrosis: bool | None = None
    fever: bool | None = None
    neurologic_signs: bool | None = None
    thyroid_disease: bool | None = None
    amyloidosis: bool | None = None
    plasmacytoma: bool | None = None
    igm_related_symptoms: bool | None = None
    end_stage_renal_disease: bool | None = None
    # ref: §5 — the last IVIg dose: IgG-based values are unreliable for about 3 months after it.
    ivig_last_dose_on: date | None = None


class Patient(NamedTuple):
    """Demographics (no identifiers are accepted)."""

    age_years: Decimal | None = None
    sex: str | None = None


class HistoryEntry(NamedTuple):
    """An earlier dated panel of the same patient (serial results, §3.5)."""

    collected_on: date
    spep: Spep | None = None
    flc: Flc | None = None
    urine: Urine | None = None
    labs: Labs | None = None
    # Taken from the records store (serial memory), not sent with the request.
    from_store: bool = False


class Panel(NamedTuple):
    """One work-up; every section optional, absent meaning not done."""

    patient: Patient | None = None
    spep: Spep | None = None
    serum_ife: Immunofixation | None = None
    urine: Urine | None = None
    flc: Flc | None = None
    marrow: Marrow | None = None
    labs: Labs | None = None
    imaging: Imaging | None = None
    cytogenetics: Cytogenetics | None = None
    clinical: Clinical | None = None
    collected_on: date | None = None
    history: tuple[HistoryEntry, ...] = ()
    # True when the caller sent history without collected_on and the edge dated the panel today.
    collected_on_assumed: bool = False
    # The LIS's own identifiers (contract 1.1), carried for the records store; no rule reads them.
    patient_ref: str | None = None
    specimen_id: str | None = None
