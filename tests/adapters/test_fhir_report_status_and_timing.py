"""FHIR wording: an Observation dated by a schedule (effectiveTiming) or a period with only its end is
refused saying what it has, not that it has no effective[x]; a report that is not final yet is named."""

from __future__ import annotations

import pytest

from service.adapters.fhir import FhirError, translate_bundle

from .test_adapter_fhir import bundle, observation, quantity

DAY = "2024-05-02"


def m_protein(**extra):
    return observation("33358-3", effectiveDateTime=DAY, **quantity(12, "g/L"), **extra)


def kappa(**effective):
    return observation("36916-5", **quantity(15, "mg/L"), **effective)


@pytest.mark.parametrize(
    ("effective", "place", "says"),
    [
        (
            {"effectiveTiming": {"event": ["2024-05-02T08:30:00Z"]}},
            "Bundle.entry[1].resource.effectiveTiming",
            "effectiveTiming is a schedule",
        ),
        (
            {"effectivePeriod": {"end": "2024-05-02T08:30:00Z"}},
            "Bundle.entry[1].resource.effectivePeriod",
            "effectivePeriod has an end but no start",
        ),
        ({}, "Bundle.entry[1].resource.effectiveDateTime", "the Observation has no effective[x]"),
    ],
)
def test_an_undated_observation_is_refused_saying_what_it_has(codemap, effective, place, says):
    with pytest.raises(FhirError) as err:
        translate_bundle(bundle(m_protein(), kappa(**effective)), codemap)
    assert place in err.value.errors
    assert says in str(err.value)
    if effective:
        assert "has no effective[x]" not in str(err.value)


def report(status: str) -> dict:
    return {
        "resourceType": "DiagnosticReport",
        "status": status,
        "code": {"text": "SPEP"},
        "effectiveDateTime": DAY,
        "result": [{"reference": "#m"}],
        "contained": [{**m_protein(), "id": "m"}],
    }


@pytest.mark.parametrize("status", ["preliminary", "partial"])
def test_a_report_not_final_yet_is_named_though_its_results_are_final(codemap, status):
    result = translate_bundle(bundle(report(status)), codemap)
    assert result.request["spep"]["m_protein"]["value"] == 12
    assert any(n.startswith(f"Bundle.entry[0]: DiagnosticReport status '{status}'") for n in result.notes)


@pytest.mark.parametrize("status", ["final", "amended", "corrected", "appended"])
def test_a_final_report_needs_no_such_note(codemap, status):
    result = translate_bundle(bundle(report(status)), codemap)
    assert not any("DiagnosticReport status" in n for n in result.notes)
