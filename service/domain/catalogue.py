"""The catalogue of flags, recommendations and tests: codes decided first, words rendered last.

Modules talk to each other in these codes (a flag code, a recommendation code, a test code), never by
reading each other's text. A flag's severity and who it refers to are the catalogue's; its message is
rendered by the module that raises it. The ruleset (GET /v1/ruleset) publishes the catalogue.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from . import criteria as C
from . import ruleset as R
from .criteria import fmt
from .results import Flag, Severity

# Test codes (as in ``Recommendation.tests``) and the words a message names them by.
TEST_WORDS = {
    "serum_ife": "serum immunofixation",
    "flc": "serum free light chains",
    "urine_ife": "urine immunofixation",
}
# ref: §5 — a serum immunofixation and FLC that find nothing settle Rongioletti (2) as not met.
SERUM_PARAPROTEIN_TESTS = frozenset({"serum_ife", "flc"})


def tests_words(tests: Iterable[str], sep: str = ", ") -> str:
    """Test codes as the words of a message."""
    return sep.join(TEST_WORDS[t] for t in tests)


@dataclass(frozen=True, slots=True)
class FlagKind:
    """A flag code: its section, its severity (and any other it can take), who it refers to, and what
    it means."""

    code: str
    section: str
    severity: Severity
    refer_to: tuple[str, ...]
    meaning: str
    # A flag whose urgency depends on the panel names the other severity and its referral.
    otherwise: tuple[Severity, tuple[str, ...]] | None = None
    # The message, when its shape is fixed: filled by ``render`` (otherwise the raising module composes it).
    template: str | None = None

    def make(self, message: str, evidence: tuple[dict[str, Any], ...] = (), other: bool = False) -> Flag:
        """The flag with its rendered message; ``other`` selects the alternative severity."""
        if other and self.otherwise is not None:
            return Flag(self.code, self.otherwise[0], message, self.otherwise[1], evidence)
        return Flag(self.code, self.severity, message, self.refer_to, evidence)

    def render(self, evidence: tuple[dict[str, Any], ...] = (), **words: str) -> Flag:
        """The flag with its template filled by ``words``."""
        return self.make((self.template or "").format(**words), evidence)


_H = ("hematology",)
_SRC5 = "clinical-reference §5"
# ref: §2.1 Li — the SLiM FLC threshold as its row words it (operator and both cut-offs).
_LI = C.FLC_RATIO_100
_LI_RATIO = f"ratio {_LI.op} {fmt(_LI.cutoff)}"
_LI_INVOLVED = f"{_LI.op} {fmt(_LI.alt)} {_LI.alt_unit}"
_INFO, _REFER, _URGENT = Severity.INFO, Severity.REFER, Severity.URGENT

FLAGS: dict[str, FlagKind] = {
    k.code: k
    for k in (
        FlagKind("MYELOMA_DEFINING_EVENT", "§2.1", _URGENT, _H, "a myeloma-defining event is met"),
        FlagKind(
            "CRAB_WITHOUT_MONOCLONAL_PROTEIN",
            "§2.1, §2.9",
            _URGENT,
            _H,
            "CRAB-range values without a monoclonal protein: urgent when renal insufficiency or anaemia "
            "meets screening tests not yet done, information otherwise",
            (_INFO, ()),
        ),
        FlagKind(
            "FLC_SLIM_RANGE_NON_FREELITE",
            "§2.1, §4",
            _URGENT,
            _H,
            "an FLC ratio in the myeloma-defining range on an assay other than Freelite",
            template=f"Involved/uninvolved FLC {_LI_RATIO} with the involved chain {_LI_INVOLVED} on "
            "{assay}: the myeloma-defining threshold was validated on Freelite only, so it is not "
            "assessable here, but it cannot be ignored: urgent serum free light chain measurement with "
            "Freelite and haematology review (clinical-reference §2.1, §4).",
        ),
        FlagKind(
            "MARROW_EXAMINATION_RECOMMENDED",
            "§2.9, §3.2, §5",
            _REFER,
            _H,
            "a marrow examination is indicated and not given",
        ),
        FlagKind("HEMATOLOGY_REFERRAL", "§2.2-§2.9", _REFER, _H, "the category needs haematology"),
        FlagKind(
            "RENAL_FLC_INTERVAL_APPLIED", "§4", _INFO, (), "the Freelite renal ratio interval was applied"
        ),
        FlagKind(
            "NON_FREELITE_ASSAY",
            "§4",
            _INFO,
            (),
            "an FLC assay other than Freelite",
            template="FLC measured with {assay}: the SLiM FLC threshold "
            f"({_LI_RATIO}, involved {_LI_INVOLVED}) was validated for Freelite only, so that "
            "myeloma-defining event is not assessable (clinical-reference §2.1, §4).",
        ),
        FlagKind(
            "MGCS_SCLEROMYXEDEMA",
            "§5",
            _REFER,
            ("hematology", "dermatology"),
            "a monoclonal gammopathy with scleromyxoedema: of clinical significance",
        ),
        FlagKind(
            "SCLEROMYXEDEMA_NO_PARAPROTEIN",
            "§5",
            _REFER,
            ("dermatology", "hematology"),
            "scleromyxoedema without a detected monoclonal protein",
        ),
        FlagKind(
            "DERMATO_NEURO_SYNDROME",
            "§5",
            _URGENT,
            ("emergency", "hematology", "dermatology", "neurology"),
            "scleromyxoedema with fever or neurological signs: an emergency",
            template="Scleromyxoedema with {signs}: possible dermato-neuro syndrome (fever/flu-like "
            "illness with confusion, dysarthria, seizures or coma), potentially fatal. "
            f"Emergency admission ({_SRC5}).",
        ),
        FlagKind(
            "THYROID_DISEASE_EXCLUSION",
            "§5",
            _INFO,
            (),
            "thyroid disease to exclude (Rongioletti 4)",
            template="Thyroid disease or a TSH outside its reference range: Rongioletti criterion (4) "
            "requires the absence of thyroid disease; exclude thyroid-associated mucinosis before "
            f"accepting scleromyxoedema ({R.RONGIOLETTI}; {_SRC5}).",
        ),
        FlagKind(
            "IVIG_IGG_UNRELIABLE", "§5", _INFO, (), "IgG-based values within the window after an IVIg dose"
        ),
        FlagKind("EVOLVING_M_PROTEIN", "§3.5", _REFER, _H, "an evolving M-protein"),
        FlagKind("EVOLVING_HEMOGLOBIN", "§3.5", _REFER, _H, "an evolving fall of haemoglobin"),
        FlagKind(
            "RISING_M_PROTEIN_SUCCESSIVE",
            "§3.5",
            _REFER,
            _H,
            "an M-protein rising on two successive evaluations",
        ),
    )
}

# Recommendation codes and what each asks for.
RECOMMENDATIONS: dict[str, tuple[str, str]] = {
    "FOLLOW_UP": ("§3.2", "the surveillance interval and the tests to repeat"),
    "COMPLETE_WORKUP": ("§2.9", "the data that would settle or confirm the interpretation"),
    "MARROW_EXAMINATION": ("§2.9, §3.2, §5", "a bone-marrow aspirate and biopsy"),
    "URGENT_FLC_IFE": ("§2.9", "serum free light chains and immunofixation, urgently"),
    "URGENT_FREELITE_FLC": ("§2.1, §4", "a Freelite FLC measurement, urgently"),
    "REFER_HEMATOLOGY": ("§2.2-§2.9", "referral to haematology"),
    "REFER_HEMATOLOGY_DERMATOLOGY": ("§5", "referral to haematology and dermatology"),
    "EMERGENCY_ADMISSION": ("§5", "emergency admission (dermato-neuro syndrome)"),
    "REPEAT_IFE_FLC": ("§5", "serum and urine immunofixation and serum free light chains, repeated"),
    "EVOLVING_PATTERN_REVIEW": ("§3.5", "haematology review of an evolving pattern"),
}


def describe() -> dict[str, list[dict[str, Any]]]:
    """The catalogue as the ruleset publishes it."""
    return {
        "flags": [
            {
                "code": k.code,
                "section": k.section,
                "severity": str(k.severity),
                "refer_to": list(k.refer_to),
                "meaning": k.meaning,
            }
            | ({} if k.template is None else {"template": k.template})
            | (
                {}
                if k.otherwise is None
                else {"otherwise": {"severity": str(k.otherwise[0]), "refer_to": list(k.otherwise[1])}}
            )
            for k in FLAGS.values()
        ],
        "recommendations": [
            {"code": code, "section": section, "meaning": meaning}
            for code, (section, meaning) in RECOMMENDATIONS.items()
        ],
    }
