"""What a FHIR Bundle says beside its values is never dropped without a word: Observation.note,
DiagnosticReport.conclusion and conclusionCode are carried into the notes, and a preliminary result is
named."""

from __future__ import annotations

import pytest

from service.adapters.fhir import FhirError, translate_bundle

from .test_adapter_fhir import bundle, observation, quantity

DAY = "2024-05-02"
HEMOLYZED = "Specimen grossly hemolyzed; M-spike quantitation unreliable, please recollect."


def m_protein(**extra):
    return observation("33358-3", effectiveDateTime=DAY, **quantity(12, "g/L"), **extra)


def test_an_observation_note_is_carried_naming_its_observation(codemap):
    result = translate_bundle(bundle(m_protein(note=[{"text": HEMOLYZED}])), codemap)
    assert any(n.startswith("Bundle.entry[0].resource (33358-3)") and HEMOLYZED in n for n in result.notes)


def test_each_note_of_an_unmapped_observation_is_carried_too(codemap):
    other = observation("2345-7", effectiveDateTime=DAY, note=[{"text": "first"}, {"text": "second"}])
    result = translate_bundle(bundle(m_protein(), other), codemap)
    carried = [n for n in result.notes if "Bundle.entry[1].resource" in n and "note" in n]
    assert any("'first'" in n for n in carried) and any("'second'" in n for n in carried)


def test_a_long_note_is_trimmed_with_an_ellipsis(codemap):
    result = translate_bundle(bundle(m_protein(note=[{"text": "x" * 5000}])), codemap)
    (carried,) = [n for n in result.notes if "xxx" in n]
    assert len(carried) < 500 and "x…" in carried


def test_a_note_with_line_breaks_is_one_line(codemap):
    result = translate_bundle(bundle(m_protein(note=[{"text": "line one\nline two"}])), codemap)
    assert any("'line one line two'" in n for n in result.notes)


def test_the_report_conclusion_is_carried_naming_the_report(codemap):
    report = {
        "resourceType": "DiagnosticReport",
        "status": "final",
        "code": {"text": "SPEP"},
        "effectiveDateTime": DAY,
        "result": [{"reference": "#m"}],
        "contained": [{**m_protein(), "id": "m"}],
        "conclusion": "Small IgG kappa band; interpret with caution (hemolysis).",
        "conclusionCode": [{"text": "Possible monoclonal gammopathy"}],
    }
    result = translate_bundle(bundle(report), codemap)
    assert any(
        n.startswith("Bundle.entry[0].resource.conclusion") and "interpret with caution" in n
        for n in result.notes
    )
    assert any(
        n.startswith("Bundle.entry[0].resource.conclusionCode") and "Possible monoclonal" in n
        for n in result.notes
    )


def test_a_note_that_is_not_text_is_refused(codemap):
    with pytest.raises(FhirError):
        translate_bundle(bundle(m_protein(note=[{"text": 5}])), codemap)


def test_a_preliminary_result_is_named(codemap):
    result = translate_bundle(bundle(m_protein(status="preliminary")), codemap)
    assert result.request["spep"]["m_protein"]["value"] == 12
    assert any(
        n.startswith("Bundle.entry[0].resource (33358-3)") and "preliminary" in n for n in result.notes
    )


def test_a_final_result_has_no_preliminary_note(codemap):
    result = translate_bundle(bundle(m_protein()), codemap)
    assert not any("preliminary" in n for n in result.notes)


def test_preliminary_components_are_named(codemap):
    panel = observation(
        "85337-4",
        status="preliminary",
        effectiveDateTime=DAY,
        component=[
            {"code": {"coding": [{"system": "http://loinc.org", "code": "33358-3"}]}, **quantity(9, "g/L")}
        ],
    )
    panel["code"]["coding"][0]["code"] = "33358-3"
    result = translate_bundle(bundle(panel), codemap)
    assert any("component[0]" in n and "preliminary" in n for n in result.notes)


# An amended or corrected result is read in place of the final one of its code and date (as HL7 OBX-11
# C replaces F), whichever comes first, and both values are named.
@pytest.mark.parametrize("status", ["amended", "corrected"])
@pytest.mark.parametrize("correction_first", [False, True])
def test_a_correction_replaces_the_final_result_of_its_code_and_date(codemap, status, correction_first):
    final = m_protein()
    correction = observation("33358-3", status=status, effectiveDateTime=DAY, **quantity(14, "g/L"))
    first, second = (correction, final) if correction_first else (final, correction)
    result = translate_bundle(bundle(first, second), codemap)
    assert result.request["spep"]["m_protein"]["value"] == 14
    (note,) = [n for n in result.notes if "not read" in n]
    assert "final result 12 g/L not read" in note and f"the {status} result 14 g/L" in note


def test_two_finals_that_differ_are_still_a_conflict(codemap):
    other = observation("33358-3", effectiveDateTime=DAY, **quantity(14, "g/L"))
    with pytest.raises(FhirError, match="conflicting values"):
        translate_bundle(bundle(m_protein(), other), codemap)


def test_two_corrections_that_differ_are_still_a_conflict(codemap):
    one = m_protein(status="amended")
    two = observation("33358-3", status="corrected", effectiveDateTime=DAY, **quantity(14, "g/L"))
    with pytest.raises(FhirError, match="conflicting values"):
        translate_bundle(bundle(one, two), codemap)


def test_a_correction_of_another_day_replaces_nothing(codemap):
    earlier = observation("33358-3", status="amended", effectiveDateTime="2024-01-10", **quantity(9, "g/L"))
    result = translate_bundle(bundle(m_protein(), earlier), codemap)
    assert result.request["spep"]["m_protein"]["value"] == 12
    assert result.request["history"][0]["spep"]["m_protein"]["value"] == 9
    assert not any("not read" in n for n in result.notes)


def test_a_correction_keeps_a_timed_urine_collection_on_the_panel_day(codemap):
    # The results after a replaced one keep their place: a 24-hour urine over the panel's day.
    urine = observation(
        "42482-0",
        effectivePeriod={"start": "2024-05-01T08:00:00Z", "end": "2024-05-02T08:00:00Z"},
        **quantity(300, "mg/(24.h)"),
    )
    correction = observation("33358-3", status="corrected", effectiveDateTime=DAY, **quantity(14, "g/L"))
    result = translate_bundle(bundle(m_protein(), correction, urine), codemap)
    assert result.request["spep"]["m_protein"]["value"] == 14
    assert result.request["urine"]["m_protein_24h"]["value"] == 300
    assert "history" not in result.request


def test_an_observation_a_version_marks_entered_in_error_is_not_read(codemap):
    final = {**m_protein(), "id": "m1"}
    withdrawn = {**m_protein(status="entered-in-error"), "id": "m1"}
    other = observation("33358-3", effectiveDateTime="2024-01-10", **quantity(9, "g/L"))
    result = translate_bundle(bundle(final, withdrawn, other), codemap)
    assert result.request["spep"]["m_protein"]["value"] == 9  # the other result, never the withdrawn 12
    assert any("marks Observation/m1 entered-in-error" in n for n in result.notes)


def test_an_entered_in_error_observation_of_another_id_withdraws_nothing(codemap):
    final = {**m_protein(), "id": "m1"}
    withdrawn = {**m_protein(status="entered-in-error"), "id": "m2"}
    result = translate_bundle(bundle(final, withdrawn), codemap)
    assert result.request["spep"]["m_protein"]["value"] == 12


def test_a_version_after_the_entered_in_error_one_is_its_replacement_and_is_read(codemap):
    final = {**m_protein(), "id": "m1"}
    withdrawn = {**m_protein(status="entered-in-error"), "id": "m1"}
    replacement = {
        **observation("33358-3", status="corrected", effectiveDateTime=DAY, **quantity(14, "g/L")),
        "id": "m1",
    }
    result = translate_bundle(bundle(final, withdrawn, replacement), codemap)
    assert result.request["spep"]["m_protein"]["value"] == 14
    assert any("Bundle.entry[0].resource: not read" in n for n in result.notes)
