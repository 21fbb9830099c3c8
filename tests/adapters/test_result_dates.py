"""Results of other dates are never merged silently into the current panel: serial analytes and CRAB blood
values (calcium, creatinine, clearance, eGFR, haemoglobin) of an earlier day become history entries of that
day; a CRAB blood value of a later day is not read (§2.1: end-organ damage now); other results of another
day (a marrow, imaging) are read with the panel with a note naming their date. The panel is dated by its
paraprotein studies (SPEP, immunofixation, urine, free light chains) (HL7 v2 OBX-14 / OBR-7, FHIR
effective[x])."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from service.adapters import fhir, hl7v2
from service.adapters.codes import load_codemap
from service.api import create_app

from .test_si_limits import bundle, err_locations, observation

HL7 = "x-application/hl7-v2+er7"
TODAY = date(2026, 12, 7)

# (code, value, unit, range, OBX-14)
Obx = tuple[str, str, str, str, str]
BASE: list[Obx] = [
    ("33358-3", "10", "g/L", "", ""),
    ("36916-5", "15", "mg/L", "3.3-19.4", ""),
    ("33944-0", "12", "mg/L", "5.7-26.3", ""),
]


def oru(
    obx: list[Obx], *, obr7: str = "202611010830", second_obr: tuple[str, list[Obx]] | None = None
) -> str:
    segs = [
        "MSH|^~\\&|LAB|HOSP|MGI|HOSP|202611011200||ORU^R01^ORU_R01|MSG1|P|2.5.1",
        "PID|1||12345^^^HOSP^MR||Doe^John||19660315|M",
        f"OBR|1|ORD1|FIL1|24351-9^SPEP panel^LN|||{obr7}",
        "OBX|1|CWE|25700-6^^LN||IgG kappa||||||F",
    ]
    n = 1
    groups = [(None, [*BASE, *obx])] + ([second_obr] if second_obr else [])
    for obr_date, rows in groups:
        if obr_date is not None:
            segs.append(f"OBR|2|ORD2|FIL2|24351-9^SPEP panel^LN|||{obr_date}")
        for code, value, unit, rng, when in rows:
            n += 1
            segs.append(f"OBX|{n}|NM|{code}^^LN||{value}|{unit}|{rng}||||F|||{when}")
    return "\r".join(segs) + "\r"


def read(text: str) -> hl7v2.OruContext:
    return hl7v2.parse_oru(text, load_codemap(), today=TODAY)


@pytest.fixture(scope="module")
def client():
    return create_app({"TESTING": True, "DEV_MODE": True}).test_client()


def post_hl7(client, text: str) -> tuple[int, str]:
    resp = client.post("/v1/hl7v2", data=text.encode(), content_type=HL7)
    return resp.status_code, resp.data.decode()


def dated(obs: dict[str, Any], on: str) -> dict[str, Any]:
    obs["effectiveDateTime"] = on
    return obs


def translate(extra: list[dict[str, Any]]) -> fhir.FhirTranslation:
    return fhir.translate_bundle(bundle(extra), load_codemap(), today=TODAY)


# --- HL7 v2 ------------------------------------------------------------------------------------------


class TestHl7Dates:
    @pytest.mark.parametrize("when", ["20240101", "20261031"])
    def test_an_earlier_calcium_is_a_history_entry_of_its_day_not_the_panel_s(self, when):
        # §2.1: hypercalcaemia is end-organ damage now; a calcium of another day decided myeloma.
        ctx = read(oru([("2000-8", "2.9", "mmol/L", "2.15-2.55", when)]))
        assert "calcium" not in (ctx.request.get("labs") or {})
        on = f"{when[:4]}-{when[4:6]}-{when[6:]}"
        assert ctx.request["history"] == [
            {
                "collected_on": on,
                "labs": {
                    "calcium": {
                        "value": 2.9,
                        "unit": "mmol/L",
                        "reference_range": {"low": 2.15, "high": 2.55},
                    }
                },
            }
        ]
        assert any(f"labs.calcium of {on} is an earlier result" in n and "OBX[5]" in n for n in ctx.notes)

    def test_a_calcium_of_the_panel_s_day_is_the_panel_s(self):
        ctx = read(oru([("2000-8", "2.9", "mmol/L", "2.15-2.55", "20261101")]))
        assert ctx.request["labs"]["calcium"]["value"] == 2.9

    def test_a_stale_hypercalcaemia_decides_no_myeloma(self, client):
        marrow = ("11118-7", "12", "%", "", "")
        status, reply = post_hl7(client, oru([("2000-8", "2.9", "mmol/L", "2.15-2.55", "20140101"), marrow]))
        assert status == 200, reply
        assert "MULTIPLE_MYELOMA" not in reply
        status, reply = post_hl7(client, oru([("2000-8", "2.9", "mmol/L", "2.15-2.55", ""), marrow]))
        assert "MULTIPLE_MYELOMA" in reply  # the same calcium of the panel's day

    def test_an_earlier_m_protein_becomes_a_history_entry_of_its_date(self):
        ctx = read(oru([("33358-3", "8", "g/L", "", "20260501")]))
        assert ctx.request["spep"]["m_protein"] == {"value": 10, "unit": "g/L"}
        assert ctx.request["history"] == [
            {"collected_on": "2026-05-01", "spep": {"m_protein": {"value": 8, "unit": "g/L"}}}
        ]
        assert ctx.request["collected_on"] == "2026-11-01"

    def test_earlier_results_of_one_date_are_one_history_entry_and_dates_are_ordered(self):
        ctx = read(
            oru(
                [
                    ("33358-3", "9", "g/L", "", "20260801"),
                    ("718-7", "131", "g/L", "", "20260501"),
                    ("33358-3", "8", "g/L", "", "20260501"),
                ]
            )
        )
        assert ctx.request["history"] == [
            {
                "collected_on": "2026-05-01",
                "spep": {"m_protein": {"value": 8, "unit": "g/L"}},
                "labs": {"hemoglobin": {"value": 131, "unit": "g/L"}},
            },
            {"collected_on": "2026-08-01", "spep": {"m_protein": {"value": 9, "unit": "g/L"}}},
        ]

    def test_two_different_earlier_values_of_one_date_are_refused_naming_both(self, client):
        status, reply = post_hl7(
            client, oru([("33358-3", "8", "g/L", "", "20260501"), ("33358-3", "7", "g/L", "", "20260501")])
        )
        assert status == 422, reply
        assert "OBX[5]" in reply and "OBX[6]" in reply and "conflicting values" in reply
        assert err_locations(reply) == ["OBX^6^5"]

    def test_the_obr_7_of_an_earlier_order_dates_its_results(self):
        ctx = read(oru([], second_obr=("202605010900", [("36916-5", "12", "mg/L", "3.3-19.4", "")])))
        assert ctx.request["history"] == [
            {
                "collected_on": "2026-05-01",
                "flc": {
                    "kappa": {"value": 12, "unit": "mg/L", "reference_range": {"low": 3.3, "high": 19.4}}
                },
            }
        ]
        assert ctx.request["flc"]["kappa"]["value"] == 15

    def test_a_marrow_dated_after_the_panel_is_read_with_it(self):
        # The second order has no collection date: its result's own date (after the panel) stands. A
        # marrow taken after the paraprotein studies belongs to the work-up.
        text = oru([], second_obr=("", [("11118-7", "8", "%", "", "20261105")]))
        ctx = read(text)
        assert ctx.request["collected_on"] == "2026-11-01"
        assert ctx.request["marrow"]["plasma_cells_percent"] == 8
        assert any(
            "after the panel's paraprotein studies of 2026-11-01; read with the panel" in n for n in ctx.notes
        )

    @pytest.mark.parametrize(
        ("code", "value", "unit", "rng"),
        [("2000-8", "3.1", "mmol/L", "2.15-2.55"), ("718-7", "90", "g/L", "120-160")],
    )
    def test_a_crab_blood_value_dated_after_the_panel_is_not_read(self, code, value, unit, rng):
        text = oru([], second_obr=("", [(code, value, unit, rng, "20261105")]))
        ctx = read(text)
        assert not ctx.request.get("labs")
        assert any("not read: a CRAB blood value of another day is not the panel's" in n for n in ctx.notes)

    def test_the_panel_is_dated_by_its_paraprotein_studies_not_by_a_later_marrow(self):
        """A marrow biopsy eight days after the blood work-up: the M-protein, free light chains and
        haemoglobin stay the panel's (they were pushed into the history by the marrow's later OBR-7)."""
        text = oru(
            [("718-7", "131", "g/L", "132-166", "")],
            second_obr=("202611091000", [("11118-7", "8", "%", "", "")]),
        )
        ctx = read(text)
        assert ctx.request["collected_on"] == "2026-11-01"
        assert "history" not in ctx.request
        assert ctx.request["spep"]["m_protein"]["value"] == 10
        assert ctx.request["labs"]["hemoglobin"]["value"] == 131
        assert ctx.request["marrow"]["plasma_cells_percent"] == 8
        assert any("11118-7" in n or "marrow" in n for n in ctx.notes if "2026-11-09" in n), ctx.notes

    def test_a_later_paraprotein_study_dates_the_panel_and_earlier_ones_are_history(self):
        text = oru([], second_obr=("202611090800", [("33358-3", "14", "g/L", "", "")]))
        ctx = read(text)
        assert ctx.request["collected_on"] == "2026-11-09"
        assert ctx.request["spep"]["m_protein"]["value"] == 14
        assert ctx.request["history"][0]["collected_on"] == "2026-11-01"

    def test_an_obx_14_the_day_after_its_obr_7_is_the_time_of_analysis(self):
        ctx = read(oru([("2000-8", "2.4", "mmol/L", "2.15-2.55", "20261102")]))
        assert ctx.request["labs"]["calcium"]["value"] == 2.4
        assert "history" not in ctx.request
        assert any("read as the time of analysis" in n for n in ctx.notes)

    def test_an_earlier_haemoglobin_in_mmol_l_without_limits_is_refused_at_its_obx_7(self, client):
        status, reply = post_hl7(client, oru([("59260-0", "8.1", "mmol/L", "", "20260501")]))
        assert status == 422, reply
        assert err_locations(reply) == ["OBX^5^7"]
        assert "history.0.labs.hemoglobin.reference_range" in reply

    def test_an_earlier_m_protein_is_seen_by_the_serial_rules(self, client):
        status, reply = post_hl7(client, oru([("33358-3", "8", "g/L", "", "20260501")]))
        assert status == 200, reply

    def test_a_future_obr_7_names_obr_1_7(self, client):
        status, reply = post_hl7(client, oru([], obr7="209901010830"))
        assert status == 422, reply
        assert err_locations(reply) == ["OBR^1^7"]


# --- FHIR --------------------------------------------------------------------------------------------


class TestFhirDates:
    def test_an_earlier_calcium_is_a_history_entry_of_its_day(self):
        body = bundle([])
        body["entry"][4]["resource"]["effectiveDateTime"] = "2024-01-01"  # the only calcium
        tr = fhir.translate_bundle(body, load_codemap(), today=TODAY)
        assert "calcium" not in (tr.request.get("labs") or {})
        assert tr.request["history"][0]["collected_on"] == "2024-01-01"
        assert tr.request["history"][0]["labs"]["calcium"]["value"] == 2.4
        assert any("labs.calcium of 2024-01-01 is an earlier result" in n for n in tr.notes), tr.notes

    def test_an_earlier_calcium_beside_a_current_one_is_history(self):
        tr = translate([dated(observation(6, "2000-8", 2.9, "mmol/L", (2.15, 2.55, "mmol/L")), "2024-01-01")])
        assert tr.request["labs"]["calcium"]["value"] == 2.4
        assert tr.request["history"][0]["labs"]["calcium"]["value"] == 2.9

    def test_a_calcium_dated_after_the_panel_is_not_read(self):
        body = bundle([])
        body["entry"][4]["resource"]["effectiveDateTime"] = "2026-11-20"
        tr = fhir.translate_bundle(body, load_codemap(), today=TODAY)
        assert "calcium" not in (tr.request.get("labs") or {})
        assert any("not read: a CRAB blood value of another day" in n for n in tr.notes), tr.notes

    @pytest.mark.parametrize(
        ("on", "problem"), [("2030-01-01", "date is in the future"), ("1850-01-01", "date before 1900-01-01")]
    )
    def test_a_result_dated_in_the_future_or_before_1900_is_refused_at_its_element(self, on, problem):
        body = bundle([])
        body["entry"][4]["resource"]["effectiveDateTime"] = on
        with pytest.raises(fhir.FhirError, match=problem) as err:
            fhir.translate_bundle(body, load_codemap(), today=TODAY)
        assert "Bundle.entry[4].resource.effectiveDateTime" in err.value.errors

    def test_an_earlier_m_protein_becomes_a_history_entry_of_its_date(self):
        tr = translate([dated(observation(6, "33358-3", 8, "g/L"), "2026-05-01T09:00:00Z")])
        assert tr.request["spep"]["m_protein"] == {"value": 10, "unit": "g/L"}
        assert tr.request["history"] == [
            {"collected_on": "2026-05-01", "spep": {"m_protein": {"value": 8, "unit": "g/L"}}}
        ]

    def test_two_different_earlier_values_of_one_date_are_refused_naming_both(self):
        first = dated(observation(6, "33358-3", 8, "g/L"), "2026-05-01")
        second = dated(observation(7, "33358-3", 7, "g/L"), "2026-05-01")
        with pytest.raises(fhir.FhirError) as err:
            translate([first, second])
        text = str(err.value)
        assert "Bundle.entry[6].resource" in text and "Bundle.entry[7].resource" in text
        assert "conflicting values" in text

    def test_fhir_and_hl7_give_the_same_request_for_an_earlier_m_protein(self):
        tr = translate([dated(observation(6, "33358-3", 8, "g/L"), "2026-05-01")])
        ctx = read(
            oru([("33358-3", "8", "g/L", "", "20260501"), ("2000-8", "2.4", "mmol/L", "2.15-2.55", "")])
        )
        assert tr.request["history"] == ctx.request["history"]
        assert tr.request["collected_on"] == ctx.request["collected_on"]

    def test_a_bad_gender_is_located_at_the_patient_element(self, client):
        body = bundle([])
        body["entry"][0]["resource"]["gender"] = "M"
        resp = client.post("/v1/fhir/interpretations", json=body, content_type="application/fhir+json")
        assert resp.status_code == 422
        (issue,) = [i for i in resp.get_json()["issue"] if i["severity"] == "error"]
        assert issue["expression"] == ["Bundle.entry[0].resource.gender"]


def test_fhir_a_marrow_eight_days_after_the_blood_work_up_is_read_with_it():
    marrow = dated(observation(6, "11118-7", 8, "%"), "2026-11-09")
    tr = translate([marrow])
    assert tr.request["collected_on"] == "2026-11-01"
    assert "history" not in tr.request
    assert tr.request["spep"]["m_protein"] == {"value": 10, "unit": "g/L"}
    assert tr.request["marrow"]["plasma_cells_percent"] == 8
    assert any("after the panel's paraprotein studies of 2026-11-01" in n for n in tr.notes), tr.notes


def test_an_earlier_days_date_the_request_refuses_is_located_at_its_results_obx_14(client):
    """A haemoglobin dated before the birth date (PID-7 1966) is refused at the OBX that carries it."""
    status, reply = post_hl7(client, oru([("718-7", "130", "g/L", "", "19000101")]))
    assert status == 422, reply
    assert err_locations(reply) == ["OBX^5^14"]
    assert "before the patient's birth" in reply


# --- A 24-hour urine collected after the blood was drawn ------------------------------------------------
# The serum studies date the panel: the urine of a later day is read with it, and the blood values of
# the serum studies' day stay the panel's (a myeloma with hypercalcaemia, anaemia and renal
# insufficiency was answered smouldering myeloma when the urine's start day dated the panel).

URINE_NEXT_DAY = (
    "\r".join(
        [
            "MSH|^~\\&|LIS|LAB|MGI|HOSP|20240601120000||ORU^R01^ORU_R01|U1|P|2.5.1",
            "PID|1||U1PAT^^^HOSP^MR||Doe^John||19500101|M",
            "OBR|1|ORD1|FIL1|PANEL^Panel^L|||20240601",
            "OBX|1|ST|25700-6^x^LN||IgG kappa||||||F",
            "OBX|2|NM|33358-3^x^LN||35|g/L|||||F",
            "OBX|3|NM|17861-6^x^LN||12|mg/dL|||||F",
            "OBX|4|NM|718-7^x^LN||85|g/L|||||F",
            "OBX|5|NM|2160-0^x^LN||3.0|mg/dL|||||F",
            "OBX|6|NM|11118-7^x^LN||15|%|||||F",
            "OBR|2|ORD2|FIL2|PANEL^Panel^L|||{start}|{end}",
            "OBX|7|NM|42482-0^x^LN||100|mg/24h|||||F",
        ]
    )
    + "\r"
)


@pytest.mark.parametrize(
    ("start", "end"), [("20240601", "20240602"), ("20240602", "20240603"), ("20240605", "")]
)
def test_a_24_hour_urine_after_the_blood_draw_is_read_with_the_panel_of_the_serum_studies(start, end, client):
    text = URINE_NEXT_DAY.format(start=start, end=end)
    ctx = hl7v2.parse_oru(text, load_codemap(), today=TODAY)
    assert ctx.request["collected_on"] == "2024-06-01"
    assert "history" not in ctx.request
    assert ctx.request["urine"]["m_protein_24h"]["value"] == 100
    assert ctx.request["labs"]["calcium"]["value"] == 12
    status, reply = post_hl7(client, text)
    assert status == 200 and "MULTIPLE_MYELOMA" in reply


def test_a_later_serum_study_still_dates_the_panel():
    # A serum free light chain of a later day is a serum study: it dates the panel (the rule is
    # unchanged for serum studies), so the earlier day's M-protein is history.
    text = oru([], second_obr=("202611090800", [("36916-5", "15", "mg/L", "3.3-19.4", "")]))
    ctx = read(text)
    assert ctx.request["collected_on"] == "2026-11-09"
