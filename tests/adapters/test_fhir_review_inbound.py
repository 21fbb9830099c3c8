"""FHIR R4 inbound: a withdrawn report is never interpreted, timestamps with offsets are dated in one frame,
a referenceRange given only as text is read, disagreeing codings of one value are refused, and the texts
of notes and errors name FHIR elements in words."""

from __future__ import annotations

import json
from typing import Any

import pytest

from service.adapters.fhir import FhirError, interpretation_to_diagnostic_report, translate_bundle
from service.api import create_app

from .conftest import TODAY
from .test_adapter_fhir import LOINC, SCT, observation, quantity


def bundle(*resources: dict[str, Any]) -> dict[str, Any]:
    return {"resourceType": "Bundle", "type": "collection", "entry": [{"resource": r} for r in resources]}


def translate(*resources: dict[str, Any]):
    return translate_bundle(bundle(*resources), today=TODAY)


def refused(*resources: dict[str, Any]) -> FhirError:
    with pytest.raises(FhirError) as err:
        translate(*resources)
    assert err.value.status == 422
    return err.value


def report(status: str, **extra: Any) -> dict[str, Any]:
    """A DiagnosticReport whose results (M-protein 34 g/L, IgG kappa) are contained and final."""
    return {
        "resourceType": "DiagnosticReport",
        "status": status,
        "code": {"coding": [{"system": LOINC, "code": "24351-9"}]},
        "subject": {"reference": "Patient/p1"},
        "contained": [
            observation("33358-3", id="mp", **quantity(34, "g/L")),
            observation("25700-6", id="ife", valueString="IgG kappa"),
        ],
        "result": [{"reference": "#mp"}, {"reference": "#ife"}],
        **extra,
    }


# --- DiagnosticReport.status (a modifier element) ---------------------------------------------


class TestReportStatus:
    @pytest.mark.parametrize(
        ("status", "why"), [("entered-in-error", "withdrawn"), ("cancelled", "cancelled")]
    )
    def test_a_withdrawn_report_is_refused_naming_its_status(self, status, why):
        err = refused(report(status))
        assert list(err.errors) == ["Bundle.entry[0].resource.status"]
        message = err.errors["Bundle.entry[0].resource.status"][0]
        assert f"'{status}'" in message and why in message and "not interpreted" in message

    def test_a_registered_report_is_refused_for_having_no_released_results(self):
        err = refused(report("registered"))
        assert "no released results" in err.errors["Bundle.entry[0].resource.status"][0]

    @pytest.mark.parametrize("status", ["unknown", "withdrawn"])
    def test_a_report_status_that_does_not_say_the_results_stand_is_refused(self, status):
        err = refused(report(status))
        assert "Bundle.entry[0].resource.status" in err.errors

    def test_the_results_of_a_withdrawn_report_that_are_bundle_entries_are_not_read_either(self):
        withdrawn = report("entered-in-error", contained=[], result=[{"reference": "Observation/mp"}])
        mp = observation("33358-3", id="mp", **quantity(34, "g/L"))
        err = refused(withdrawn, mp)
        assert "Bundle.entry[0].resource.status" in err.errors

    @pytest.mark.parametrize(
        "status", ["partial", "preliminary", "final", "amended", "corrected", "appended"]
    )
    def test_a_report_with_released_results_is_read(self, status):
        request = translate(report(status)).request
        assert request["spep"]["m_protein"] == {"value": 34, "unit": "g/L"}

    def test_the_endpoint_answers_a_withdrawn_report_with_an_operation_outcome(self):
        client = create_app({"TESTING": True, "DEV_MODE": True}).test_client()
        resp = client.post(
            "/v1/fhir/interpretations",
            data=json.dumps(bundle(report("entered-in-error"))),
            content_type="application/fhir+json",
        )
        assert resp.status_code == 422
        body = resp.get_json()
        assert body["resourceType"] == "OperationOutcome"
        assert body["issue"][0]["expression"] == ["Bundle.entry[0].resource.status"]


# --- timestamps with UTC offsets -----------------------------------------------------------


class TestOffsets:
    def test_one_instant_written_with_two_offsets_is_one_day(self):
        result = translate(
            observation("33358-3", effectiveDateTime="2024-05-01T23:30:00-05:00", **quantity(34, "g/L")),
            observation("25700-6", effectiveDateTime="2024-05-02T04:30:00Z", valueString="IgG kappa"),
        )
        assert "history" not in result.request
        assert result.request["spep"]["m_protein"] == {"value": 34, "unit": "g/L"}
        assert result.request["collected_on"] == "2024-05-02"

    def test_the_report_effective_time_gives_the_frame(self):
        dated = report("final", effectiveDateTime="2024-05-01T23:45:00-05:00")
        dated["contained"][0]["effectiveDateTime"] = "2024-05-01T23:30:00-05:00"
        dated["contained"][1]["effectiveDateTime"] = "2024-05-02T04:30:00Z"
        data = bundle(dated)
        result = translate_bundle(data, today=TODAY)
        assert "history" not in result.request
        assert result.request["collected_on"] == "2024-05-01"
        out = interpretation_to_diagnostic_report({}, data)
        assert out["effectiveDateTime"] == "2024-05-01"

    def test_an_earlier_day_in_the_panel_frame_is_still_history(self):
        result = translate(
            observation("33358-3", effectiveDateTime="2024-04-20T08:00:00+02:00", **quantity(30, "g/L")),
            observation("33358-3", effectiveDateTime="2024-05-02T04:30:00Z", **quantity(34, "g/L")),
        )
        assert result.request["history"] == [
            {"collected_on": "2024-04-20", "spep": {"m_protein": {"value": 30, "unit": "g/L"}}}
        ]
        assert result.request["collected_on"] == "2024-05-02"

    def test_dates_without_a_time_are_read_as_written(self):
        result = translate(
            observation("33358-3", effectiveDateTime="2024-05-01", **quantity(30, "g/L")),
            observation("25700-6", effectiveDateTime="2024-05-02T04:30:00+09:00", valueString="IgG kappa"),
        )
        assert result.request["history"][0]["collected_on"] == "2024-05-01"
        assert result.request["collected_on"] == "2024-05-02"


# --- referenceRange.text -------------------------------------------------------------------


class TestReferenceRangeText:
    def test_a_text_range_is_read_in_the_value_unit(self):
        calcium = observation("2000-8", **quantity(2.4, "mmol/L"), referenceRange=[{"text": "2.15-2.55"}])
        request = translate(calcium).request
        assert request["labs"]["calcium"] == {
            "value": 2.4,
            "unit": "mmol/L",
            "reference_range": {"low": 2.15, "high": 2.55},
        }

    @pytest.mark.parametrize("text", ["normal", "8.6-10.2 mg/dL", "<2.55"])
    def test_a_text_range_that_cannot_be_used_is_noted(self, text):
        calcium = observation("2000-8", **quantity(2.4, "mmol/L"), referenceRange=[{"text": text}])
        result = translate(calcium)
        assert "reference_range" not in result.request["labs"]["calcium"]
        assert any("referenceRange[0].text" in n and text in n for n in result.notes), result.notes


# --- one value, disagreeing codings ---------------------------------------------------------


class TestDisagreeingCodings:
    def test_text_and_coding_reading_as_different_results_are_refused(self):
        ife = observation(
            "25700-6",
            valueCodeableConcept={
                "text": "IgG kappa",
                "coding": [{"system": SCT, "code": "260385009", "display": "Negative"}],
            },
        )
        err = refused(ife)
        assert list(err.errors) == ["Bundle.entry[0].resource.valueCodeableConcept"]
        assert "IgG kappa" in err.message and "Negative" in err.message

    def test_two_codings_reading_as_different_clones_are_refused(self):
        ife = observation(
            "25700-6",
            valueCodeableConcept={
                "coding": [
                    {"system": "urn:lab", "code": "GK", "display": "IgG kappa"},
                    {"system": "urn:lab", "code": "AL", "display": "IgA lambda"},
                ]
            },
        )
        err = refused(ife)
        assert "Bundle.entry[0].resource.valueCodeableConcept" in err.errors

    def test_text_and_codings_that_agree_are_read(self):
        ife = observation(
            "25700-6",
            valueCodeableConcept={
                "text": "IgG kappa monoclonal protein",
                "coding": [{"system": "urn:lab", "code": "GK", "display": "IgG-kappa"}],
            },
        )
        assert translate(ife).request["serum_ife"] == {
            "result": "positive",
            "clones": [{"heavy_chain": "IgG", "light_chain": "kappa"}],
        }


# --- texts of notes and errors -------------------------------------------------------------


class TestTexts:
    def test_an_entry_without_a_resource_is_noted_in_words(self):
        data = bundle(observation("33358-3", **quantity(3, "g/L")))
        data["entry"].insert(0, {"fullUrl": "urn:uuid:0a7e1b8e-0000-4000-8000-000000000001"})
        notes = translate_bundle(data, today=TODAY).notes
        assert not any("None" in n for n in notes), notes
        assert any(n.startswith("Bundle.entry[0]: ") and "no resource" in n for n in notes), notes

    def test_a_withdrawn_diagnosis_is_noted_in_words(self):
        diagnosis = {
            "resourceType": "Condition",
            "subject": {"reference": "Patient/p1"},
            "code": {"coding": [{"system": SCT, "code": "23132008"}]},
            "verificationStatus": {
                "coding": [
                    {
                        "system": "http://terminology.hl7.org/CodeSystem/condition-ver-status",
                        "code": "entered-in-error",
                    }
                ]
            },
        }
        notes = translate(observation("33358-3", **quantity(3, "g/L")), diagnosis).notes
        assert not any("None" in n for n in notes), notes
        assert any(n.startswith("Bundle.entry[1].resource (23132008): entered-in-error") for n in notes)

    def test_a_missing_unit_is_named_by_its_fhir_elements_only(self):
        err = refused(observation("33358-3", valueQuantity={"value": 12}))
        text = err.message + json.dumps(err.errors)
        assert "OBX" not in text and "valueQuantity" in text

    def test_results_about_two_subjects_say_they_name_different_patients(self):
        err = refused(
            observation("33358-3", subject={"reference": "urn:uuid:zzz"}, **quantity(3, "g/L")),
            observation("25700-6", subject={"reference": "Patient/p1"}, valueString="IgG kappa"),
        )
        for messages in err.errors.values():
            assert all(m.startswith("subject ") and "different patients" in m for m in messages), messages

    @pytest.mark.parametrize("partial", ["2024", "2024-05"])
    def test_a_date_without_a_day_cannot_date_the_panel(self, partial):
        err = refused(observation("33358-3", effectiveDateTime=partial, **quantity(34, "g/L")))
        assert list(err.errors) == ["Bundle.entry[0].resource.effectiveDateTime"]
        assert "day" in err.message

    @pytest.mark.parametrize("partial", ["2024", "2024-05"])
    def test_a_date_without_a_day_beside_a_full_one_is_noted_and_not_used(self, partial):
        result = translate(
            observation("33358-3", effectiveDateTime=partial, **quantity(34, "g/L")),
            observation("25700-6", effectiveDateTime="2024-05-01", valueString="IgG kappa"),
        )
        assert result.request["collected_on"] == "2024-05-01"
        assert result.request["spep"]["m_protein"] == {"value": 34, "unit": "g/L"}
        assert any(
            n.startswith("Bundle.entry[0].resource.effectiveDateTime") and "not used for dating" in n
            for n in result.notes
        ), result.notes

    def test_a_date_without_a_day_outside_the_panel_date_is_refused(self):
        err = refused(
            observation("33358-3", effectiveDateTime="2023-11", **quantity(30, "g/L")),
            observation("25700-6", effectiveDateTime="2024-05-01", valueString="IgG kappa"),
        )
        assert list(err.errors) == ["Bundle.entry[0].resource.effectiveDateTime"]

    def test_a_partial_date_of_an_observation_not_read_is_not_refused(self):
        unmapped = {
            "resourceType": "Observation",
            "status": "final",
            "code": {"coding": [{"system": "urn:lab", "code": "XYZ"}]},
            "effectiveDateTime": "2024",
            "valueString": "anything",
        }
        result = translate(unmapped, observation("33358-3", **quantity(3, "g/L")))
        assert result.request["spep"]["m_protein"]["value"] == 3


@pytest.mark.parametrize("element", ["effectiveDateTime", "effectiveInstant"])
def test_a_report_time_that_is_not_a_string_is_refused_naming_it(element):
    """The report's effective time sets the date frame: a number there is refused, never coerced."""
    obs = observation("33358-3", effectiveDateTime="2024-05-01", **quantity(12, "g/L"))
    obs["id"] = "m1"
    rep = report("final", contained=[obs], result=[{"reference": "#m1"}])
    rep[element] = 5
    err = refused(rep)
    assert f"Bundle.entry[0].resource.{element}" in str(err)


def test_one_limit_with_the_whole_range_as_text_is_completed_from_the_text():
    rng = {"low": {"value": 2.15, "unit": "mmol/L"}, "text": "2.15-2.55"}
    ca = observation("2000-8", referenceRange=[rng], **quantity(2.4, "mmol/L"))
    req = translate(ca).request
    assert req["labs"]["calcium"]["reference_range"] == {"low": 2.15, "high": 2.55}


def test_one_limit_that_its_text_contradicts_is_refused():
    rng = {"low": {"value": 2.2, "unit": "mmol/L"}, "text": "2.15-2.55"}
    err = refused(observation("2000-8", referenceRange=[rng], **quantity(2.4, "mmol/L")))
    assert "disagree" in str(err)


def test_an_age_without_any_result_date_says_which_day_it_is_taken_on():
    patient = {"resourceType": "Patient", "id": "p1", "gender": "female", "birthDate": "1958-05-01"}
    t = translate(patient, observation("33358-3", **quantity(12, "g/L")))
    assert "age_years" in t.request["patient"] and "collected_on" not in t.request
    assert any("birthDate" in n and "age is taken on" in n for n in t.notes), t.notes


def test_an_age_at_a_result_date_says_nothing_more():
    patient = {"resourceType": "Patient", "id": "p1", "gender": "female", "birthDate": "1958-05-01"}
    t = translate(patient, observation("33358-3", effectiveDateTime="2024-05-01", **quantity(12, "g/L")))
    assert not any("age is taken on" in n for n in t.notes)


@pytest.mark.parametrize(
    ("end", "with_panel"),
    [("2024-05-01T08:00:00-05:00", True), (None, False), ("2024-04-30T20:00:00-05:00", False)],
)
def test_a_24_hour_urine_whose_period_holds_the_panels_day_is_of_the_panel(end, with_panel):
    period = {"start": "2024-04-30T08:00:00-05:00", **({"end": end} if end else {})}
    urine = observation("42482-0", effectivePeriod=period, **quantity(650, "mg/(24.h)"))
    spep = observation("33358-3", effectiveDateTime="2024-05-01T08:30:00-05:00", **quantity(12, "g/L"))
    t = translate(spep, urine)
    assert t.request["collected_on"] == "2024-05-01"
    in_panel = (t.request.get("urine") or {}).get("m_protein_24h")
    assert (in_panel is not None) is with_panel, t.request
    if with_panel:
        assert any("effectivePeriod" in n and "read with the panel" in n for n in t.notes), t.notes


def test_a_result_without_a_date_beside_dated_ones_is_refused():
    """Never taken to be of another result's day: 16-month-old free light chains must not be read as
    current because the current results carry no date."""
    old_kappa = observation("36916-5", effectiveDateTime="2023-01-01", **quantity(450, "mg/L"))
    current = observation("33358-3", **quantity(35, "g/L"))
    err = refused(current, old_kappa)
    assert "Bundle.entry[0].resource.effectiveDateTime" in str(err)


def test_an_undated_contained_result_takes_its_reports_time():
    rep = report("final", effectiveDateTime="2024-05-01T08:00:00Z")
    dated = observation("36916-5", effectiveDateTime="2024-05-01", **quantity(15, "mg/L"))
    t = translate(rep, dated)
    assert t.request["collected_on"] == "2024-05-01"
    assert t.request["spep"]["m_protein"] == {"value": 34, "unit": "g/L"}


def test_an_undated_finding_beside_dated_results_is_read():
    subject = {"reference": "Patient/p1"}
    patient = {"resourceType": "Patient", "id": "p1"}
    finding = {
        "resourceType": "Condition",
        "subject": subject,
        "code": {"coding": [{"system": SCT, "code": "40930008"}]},
    }
    mp = observation("33358-3", subject=subject, effectiveDateTime="2024-05-01", **quantity(12, "g/L"))
    t = translate(patient, mp, finding)
    assert t.request["collected_on"] == "2024-05-01"
    assert t.request["spep"]["m_protein"] == {"value": 12, "unit": "g/L"}


# --- Bundle entries a DiagnosticReport names as its results -------------------------------------


def entry_report(*refs: str, **extra: Any) -> dict[str, Any]:
    return {
        "resourceType": "DiagnosticReport",
        "status": "final",
        "code": {"coding": [{"system": LOINC, "code": "24351-9"}]},
        "subject": {"reference": "Patient/p1"},
        "result": [{"reference": r} for r in refs],
        **extra,
    }


def with_urls(*pairs: tuple[str | None, dict[str, Any]]) -> dict[str, Any]:
    return {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [{"resource": r, **({"fullUrl": u} if u else {})} for u, r in pairs],
    }


@pytest.mark.parametrize(
    "ref",
    [
        "urn:uuid:6e5f1c2a-0000-4000-8000-000000000001",
        "Observation/mp",
        "https://ehr.example/fhir/Observation/mp",
    ],
)
def test_an_undated_entry_a_report_names_takes_its_time_and_subject(ref):
    """Results sent as Bundle entries beside their report, dated only by the report (a common EHR
    shape): read as of the report's time, about its subject, like contained results."""
    mp = observation("33358-3", id="mp", **quantity(34, "g/L"))
    patient = {"subject": {"reference": "Patient/p1"}}
    old_kappa = observation("36916-5", effectiveDateTime="2023-01-01", **patient, **quantity(450, "mg/L"))
    rep = entry_report(ref, effectiveDateTime="2024-05-01T08:00:00Z")
    t = translate_bundle(
        with_urls(("urn:uuid:6e5f1c2a-0000-4000-8000-000000000001", mp), (None, rep), (None, old_kappa)),
        today=TODAY,
    )
    assert t.request["collected_on"] == "2024-05-01"
    assert t.request["spep"]["m_protein"] == {"value": 34, "unit": "g/L"}
    # the old kappa stays in the history, never read as current
    assert "kappa" not in (t.request.get("flc") or {})


def test_an_entry_no_report_names_stays_undated():
    mp = observation("33358-3", id="mp", **quantity(34, "g/L"))
    kappa = observation("36916-5", effectiveDateTime="2024-05-01", **quantity(15, "mg/L"))
    rep = entry_report("Observation/other", effectiveDateTime="2024-05-01T08:00:00Z")
    with pytest.raises(FhirError) as err:
        translate_bundle(with_urls((None, mp), (None, rep), (None, kappa)), today=TODAY)
    assert "Bundle.entry[0].resource.effectiveDateTime" in str(err.value)


def test_an_entry_two_reports_date_differently_takes_neither_time():
    """Named by two reports of different days, an undated result has no day of its own: refused
    beside dated results, never dated by one of the two at random."""
    mp = observation("33358-3", id="mp", **quantity(34, "g/L"))
    kappa = observation("36916-5", effectiveDateTime="2024-05-01", **quantity(15, "mg/L"))
    first = entry_report("Observation/mp", effectiveDateTime="2024-05-01T08:00:00Z")
    second = entry_report("Observation/mp", effectiveDateTime="2024-04-01T08:00:00Z")
    with pytest.raises(FhirError) as err:
        translate_bundle(with_urls((None, mp), (None, first), (None, second), (None, kappa)), today=TODAY)
    assert "Bundle.entry[0].resource.effectiveDateTime" in str(err.value)


def test_an_entry_keeps_its_own_time():
    mp = observation("33358-3", id="mp", effectiveDateTime="2024-03-01", **quantity(34, "g/L"))
    kappa = observation("36916-5", effectiveDateTime="2024-05-01", **quantity(15, "mg/L"))
    rep = entry_report("Observation/mp", effectiveDateTime="2024-05-01T08:00:00Z")
    t = translate_bundle(with_urls((None, mp), (None, rep), (None, kappa)), today=TODAY)
    assert t.request["collected_on"] == "2024-05-01"
    assert "m_protein" not in (t.request.get("spep") or {})


# --- a report's own results: never one of two, never one it does not list ------------------------


def test_two_contained_resources_of_one_id_are_refused():
    rep = report("final", effectiveDateTime="2024-05-01")
    rep["contained"].append(observation("33358-3", id="mp", **quantity(25, "g/L")))
    err = refused(rep)
    assert list(err.errors) == ["Bundle.entry[0].resource.contained[2].id"]
    assert "contained[0]" in err.errors["Bundle.entry[0].resource.contained[2].id"][0]


def test_a_contained_observation_the_report_does_not_list_is_refused():
    """A kappa of 900 mg/L contained but not among the results would change the answer: refused, never
    dropped unseen (FHIR dom-3: contained resources are referenced from their container)."""
    rep = report("final", effectiveDateTime="2024-05-01")
    rep["contained"].append(observation("36916-5", id="k", **quantity(900, "mg/L")))
    err = refused(rep)
    assert list(err.errors) == ["Bundle.entry[0].resource.contained[2]"]


def test_a_member_of_a_listed_panel_counts_as_listed():
    rep = report("final", effectiveDateTime="2024-05-01")
    rep["contained"].append(observation("36916-5", id="k", **quantity(15, "mg/L")))
    rep["contained"][1]["hasMember"] = [{"reference": "#k"}]
    t = translate(rep)
    assert t.request["flc"]["kappa"] == {"value": 15, "unit": "mg/L"}


def test_a_result_that_is_not_in_the_bundle_is_named_in_a_note():
    rep = report("final", effectiveDateTime="2024-05-01")
    rep["result"].append({"reference": "Observation/not-sent"})
    t = translate(rep)
    assert any("Observation/not-sent is not in the Bundle" in n for n in t.notes), t.notes
    assert t.request["spep"]["m_protein"] == {"value": 34, "unit": "g/L"}


@pytest.mark.parametrize("stamp", ["0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00"])
def test_a_time_at_the_calendars_edge_is_refused_not_shifted(stamp):
    current = observation("33358-3", effectiveDateTime="2024-03-15T08:30:00+01:00", **quantity(12, "g/L"))
    edge = observation("36916-5", effectiveDateTime=stamp, **quantity(10, "mg/L"))
    err = refused(current, edge)
    assert "not a date a sample was collected on" in str(err)


def test_a_birth_date_giving_an_age_over_150_names_the_birth_date():
    patient = {"resourceType": "Patient", "id": "p1", "birthDate": "1800-01-01"}
    mp = observation(
        "33358-3", subject={"reference": "Patient/p1"}, effectiveDateTime="2024-05-01", **quantity(12, "g/L")
    )
    err = refused(patient, mp)
    assert list(err.errors) == ["Bundle.entry[0].resource.birthDate"]
    assert "age of 224 years" in err.errors["Bundle.entry[0].resource.birthDate"][0]
