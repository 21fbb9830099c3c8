"""Messages as laboratories send them: a corpus adapted from named third-party samples (realworld/, the source
in each file's header), each read as a lab needs it: the values, units and categories, not only a 200."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from service.adapters import fhir, hl7v2
from service.adapters.codes import CodeMap, load_codemap
from service.api import create_app
from service.api.security import hash_key

CORPUS = Path(__file__).resolve().parent / "realworld"
LAB_MAP = CORPUS / "lab-codemap.yaml"
HL7 = "x-application/hl7-v2+er7"


def corpus_text(name: str) -> str:
    """A corpus file without its '#' source header."""
    return "\n".join(line for line in (CORPUS / name).read_text().splitlines() if not line.startswith("#"))


def corpus_bundle(name: str) -> dict[str, Any]:
    return json.loads(corpus_text(name))


def segments(reply: bytes | str) -> list[list[str]]:
    text = reply.decode() if isinstance(reply, bytes) else reply
    return [line.split("|") for line in text.split("\r") if line]


@pytest.fixture(scope="module")
def lab_map() -> CodeMap:
    return load_codemap(str(LAB_MAP))


@pytest.fixture(scope="module")
def client():
    app = create_app({"TESTING": True, "DEV_MODE": True, "CODEMAP_FILE": str(LAB_MAP)})
    return app.test_client()


def post_hl7(client, text: str):
    return client.post("/v1/hl7v2", data=text.encode(), content_type=HL7)


def post_fhir(client, bundle: dict[str, Any]):
    return client.post("/v1/fhir/interpretations", json=bundle, content_type="application/fhir+json")


def classification(reply: bytes) -> str:
    for seg in segments(reply):
        if seg[0] == "OBX" and seg[3].startswith("CLASSIFICATION^"):
            return seg[5].split("^")[0]
    raise AssertionError(f"no CLASSIFICATION OBX in {reply[:300]!r}")


# --- SI codes: the code's property fixes its units and conversion -----------------------------------

NIST = "nist_elr_251_si_hypercalcaemia.hl7"


class TestSiCodes:
    def test_si_results_are_read_per_code_and_converted_as_the_code_says(self, lab_map):
        request = hl7v2.parse_oru(corpus_text(NIST), lab_map).request
        assert request["labs"]["calcium"] == {
            "value": 3.05,
            "unit": "mmol/L",
            "reference_range": {"low": 2.15, "high": 2.55},
        }
        # Creatinine and haemoglobin in mmol/L overlap mg/dL and g/dL: they reach the request as sent,
        # with their limits in mmol/L, so that the request's limits rule applies (clinical-reference §1.1).
        assert request["labs"]["creatinine"] == {
            "value": 0.09,
            "unit": "mmol/L",
            "reference_range": {"low": 0.04, "high": 0.11},
        }
        assert request["labs"]["hemoglobin"] == {
            "value": 8.1,
            "unit": "mmol/L",
            "reference_range": {"low": 8.5, "high": 11},
        }

    def test_calcium_3_05_mmol_l_under_2000_8_is_hypercalcaemia_not_mgus(self, client):
        resp = post_hl7(client, corpus_text(NIST))
        assert resp.status_code == 200, resp.data
        assert classification(resp.data) == "INDETERMINATE"
        assert "hypercalcaemia" in resp.data.decode()

    @pytest.mark.parametrize(
        ("calcium", "category"),
        [("2.74", "MGUS_NON_IGM"), ("2.75", "MGUS_NON_IGM"), ("2.76", "INDETERMINATE")],
    )
    def test_the_hypercalcaemia_boundary_holds_through_the_si_code(self, client, calcium, category):
        # ref: §2.1 calcium > 2.75 mmol/L (the range sent puts ULN + 0.25 at 2.80, above these values)
        text = corpus_text(NIST).replace("||3.05|mmol/L|", f"||{calcium}|mmol/L|")
        assert classification(post_hl7(client, text).data) == category

    def test_mmol_l_under_the_mass_code_is_an_ae_naming_the_obx_and_the_right_code(self, client):
        text = corpus_text(NIST).replace("2000-8^Calcium [Moles/volume]", "17861-6^Calcium [Mass/volume]")
        resp = post_hl7(client, text)
        assert resp.status_code == 422
        reply = resp.data.decode()
        assert "\rMSA|AE|NIST-100929110701660|" in reply
        assert "ERR||OBX^5^6|" in reply
        assert "a result in mmol/L is sent under LOINC 2000-8" in reply

    def test_a_mass_unit_under_the_molar_creatinine_code_is_refused(self, lab_map):
        text = corpus_text(NIST).replace("||0.09|mmol/L|0.04-0.11 mmol/L|", "||1.0|mg/dL||")
        with pytest.raises(hl7v2.Hl7Error, match="LOINC 14682-9 .* carries umol/L") as err:
            hl7v2.parse_oru(text, lab_map)
        assert (err.value.segment, err.value.index, err.value.field) == ("OBX", 6, 6)

    def test_fhir_ghp_creatinine_0_09_mmol_l_goes_to_the_request_with_its_mmol_l_limits(self, lab_map):
        request = fhir.translate_bundle(corpus_bundle("fhir_r4_ghp_report_searchset.json"), lab_map).request
        assert request["labs"]["creatinine"] == {
            "value": 0.09,
            "unit": "mmol/L",
            "reference_range": {"low": 0.04, "high": 0.11},
        }
        assert request["labs"]["calcium"] == {
            "value": 2.38,
            "unit": "mmol/L",
            "reference_range": {"low": 2.25, "high": 2.65},
        }

    def test_fhir_haemoglobin_in_mmol_l_under_the_mass_code_points_to_59260_0(self, lab_map):
        bundle = corpus_bundle("fhir_r4_f005_document.json")
        f005 = bundle["entry"][2]["resource"]
        f005["valueQuantity"] = {
            "value": 7.2,
            "unit": "mmol/L",
            "system": "http://unitsofmeasure.org",
            "code": "mmol/L",
        }
        del f005["referenceRange"]
        f005["effectivePeriod"] = {"start": "2013-04-02T10:30:00+01:00"}  # the paraprotein studies' day
        with pytest.raises(fhir.FhirError, match="a result in mmol/L is sent under LOINC 59260-0"):
            fhir.translate_bundle(bundle, lab_map)
        f005["code"]["coding"][0]["code"] = "59260-0"
        hemoglobin = fhir.translate_bundle(bundle, lab_map).request["labs"]["hemoglobin"]
        # Sent as received: without limits the request refuses it (clinical-reference §1.1).
        assert hemoglobin == {"value": 7.2, "unit": "mmol/L"}

    def test_fhir_calcium_in_mg_dl_under_the_molar_code_names_the_observation(self, lab_map):
        bundle = corpus_bundle("fhir_r4_message_bundle_hypercalcaemia.json")
        calcium = bundle["entry"][6]["resource"]
        calcium["valueQuantity"] = {
            "value": 12.2,
            "unit": "mg/dL",
            "system": "http://unitsofmeasure.org",
            "code": "mg/dL",
        }
        del calcium["referenceRange"]
        with pytest.raises(
            fhir.FhirError, match=r"Bundle.entry\[6\].resource: LOINC 2000-8 .* carries mmol/L"
        ):
            fhir.translate_bundle(bundle, lab_map)


# --- HL7 v2 forms ------------------------------------------------------------------------------------


class TestHl7Forms:
    def test_an_ife_in_the_alternate_coding_of_obx5_is_read(self, client, lab_map):
        text = corpus_text("cerner_healthsentry_alternate_coding.hl7")
        assert hl7v2.parse_oru(text, lab_map).request["serum_ife"] == {
            "result": "positive",
            "clones": [{"heavy_chain": "IgG", "light_chain": "kappa"}],
        }
        resp = post_hl7(client, text)
        assert resp.status_code == 200 and classification(resp.data) == "MGUS_NON_IGM"
        assert "|ISOTYPE^Isotype^MGI||IgG kappa|" in resp.data.decode()

    def test_an_empty_coded_ife_is_an_ae_at_obx5_never_a_parse_failure(self, client):
        text = corpus_text("cerner_healthsentry_alternate_coding.hl7").replace(
            "^^^IGGK^IgG kappa^L", "^^^^^L"
        )
        reply = post_hl7(client, text).data.decode()
        assert "MSA|AE|" in reply and "ERR||OBX^2^5|" in reply

    def test_free_text_ranges_with_a_unit_are_read(self, lab_map):
        request = hl7v2.parse_oru(corpus_text(NIST), lab_map).request
        assert request["flc"]["kappa"]["reference_range"] == {"low": 3.3, "high": 19.4}  # '3.3-19.4 mg/L'
        assert request["flc"]["lambda"]["reference_range"] == {"low": 5.7, "high": 26.3}  # '5.7 - 26.3'

    @pytest.mark.parametrize(
        ("obx7", "note"),
        [
            ("see report", "reference range 'see report' is not"),
            ("<19.4", "one-sided reference range '<19.4' dropped"),
            (">3.3 mg/L", "one-sided reference range '>3.3 mg/L' dropped"),
            ("0.33-1.94 mg/dL", "is in 'mg/dL', the value in 'mg/L'; ignored"),
        ],
    )
    def test_a_range_that_cannot_be_used_is_ignored_with_a_note_never_the_message(self, client, obx7, note):
        text = corpus_text(NIST).replace("|3.3-19.4 mg/L|H|", f"|{obx7}|H|")
        resp = post_hl7(client, text)
        assert resp.status_code == 200
        assert note in resp.data.decode()

    def test_sub_ids_tell_two_bands_and_two_clones_apart(self, client, lab_map):
        text = corpus_text("labcorp_v23_zsegment_biclonal_subids.hl7")
        ctx = hl7v2.parse_oru(text, lab_map)
        assert ctx.request["serum_ife"]["clones"] == [
            {"heavy_chain": "IgG", "light_chain": "kappa"},
            {"heavy_chain": "IgA", "light_chain": "lambda"},
        ]
        assert ctx.request["spep"]["m_protein"] == {"value": 13, "unit": "g/L"}
        assert any("are added into one serum M-protein" in n for n in ctx.notes)
        resp = post_hl7(client, text)
        assert resp.status_code == 200, resp.data
        reply = resp.data.decode()
        assert classification(resp.data) == "MGUS_NON_IGM"
        assert "IgG kappa" in reply and "IgA lambda" in reply
        assert reply.startswith("MSH|^~\\&|LIS|TEST9999|LCS|LCA|") and "|ORU^R01|" in reply  # v2.3 reply

    def test_two_bands_without_a_biclonal_immunofixation_are_not_added(self, lab_map):
        # Two sub-IDs of one M-protein code could be a repeat: they are added only for two clones.
        text = corpus_text("labcorp_v23_zsegment_biclonal_subids.hl7")
        text = text.replace(
            "OBX|4|ST|25700-6^IMMUNOFIXATION RESULT^LN|2|IgA lambda|||A|||F|||19980729155700|BN\n", ""
        )
        with pytest.raises(hl7v2.Hl7Error, match="no serum immunofixation naming two clones") as err:
            hl7v2.parse_oru(text, lab_map)
        assert (err.value.segment, err.value.index, err.value.field) == ("OBX", 2, 5)  # the second band

    def test_one_clone_under_two_sub_ids_is_refused_not_read_once(self, lab_map):
        text = corpus_text("labcorp_v23_zsegment_biclonal_subids.hl7").replace("|IgA lambda|", "|IgG kappa|")
        with pytest.raises(
            hl7v2.Hl7Error, match=r"name the same clone \(IgG kappa\) under two sub-IDs"
        ) as err:
            hl7v2.parse_oru(text, lab_map)
        assert (err.value.segment, err.value.index, err.value.field) == ("OBX", 4, 5)

    def test_without_sub_ids_two_m_spikes_still_conflict(self, lab_map):
        text = corpus_text("labcorp_v23_zsegment_biclonal_subids.hl7").replace("^LN|1|", "^LN||")
        text = text.replace("^LN|2|", "^LN||")
        with pytest.raises(hl7v2.Hl7Error, match="conflicting values"):
            hl7v2.parse_oru(text, lab_map)

    @pytest.mark.parametrize(
        ("wording", "expected"),
        [
            ("Monoclonal IgG kappa identified", "IgG kappa"),
            ("Monoclonal IgG kappa protein detected.", "IgG kappa"),
            ("IgG/kappa", "IgG kappa"),
            ("Faint band of monoclonal IgG kappa in a polyclonal background", "IgG kappa"),
            ("No monoclonal protein identified", "negative"),
            ("Negative for monoclonal protein", "negative"),
            ("M-protein typed as IgG kappa", "IgG kappa"),  # the lab's own wording (code map)
            ("Oligoclonal pattern, no monoclonal band", "negative"),  # idem
        ],
    )
    def test_ife_wordings_labs_use_are_read(self, lab_map, wording, expected):
        text = corpus_text("arup_231_ife_wording.hl7").replace(
            "Faint band of monoclonal IgG kappa in a polyclonal background", wording
        )
        ife = hl7v2.parse_oru(text, lab_map).request["serum_ife"]
        if expected == "negative":
            assert ife == {"result": "negative", "clones": []}
        else:
            assert ife == {"result": "positive", "clones": [{"heavy_chain": "IgG", "light_chain": "kappa"}]}

    def test_a_lab_wording_is_not_read_without_the_lab_code_map(self):
        text = corpus_text("arup_231_ife_wording.hl7").replace(
            "Faint band of monoclonal IgG kappa in a polyclonal background", "M-protein typed as IgG kappa"
        )
        with pytest.raises(hl7v2.Hl7Error, match="not understood") as err:
            hl7v2.parse_oru(text, load_codemap())
        assert (err.value.index, err.value.field) == (2, 5)

    def test_local_codes_without_a_coding_system_are_mapped(self, client, lab_map):
        ctx = hl7v2.parse_oru(corpus_text("athena_local_codes_no_system.hl7"), lab_map)
        assert ctx.request["spep"]["m_protein"] == {"value": 22, "unit": "g/L"}
        assert ctx.request["serum_ife"]["clones"] == [{"heavy_chain": "IgG", "light_chain": "kappa"}]
        assert "OBX[3] (set ID 3, ALB): code not in the code map; ignored" in ctx.notes
        assert classification(post_hl7(client, corpus_text("athena_local_codes_no_system.hl7")).data) == (
            "MGUS_NON_IGM"
        )

    def test_an_ae_lists_what_was_ignored_and_why(self):
        # The shipped map knows none of the local codes: the message has no screening result, and the
        # ACK says which OBX were not read, as information ERRs beside the error.
        app = create_app({"TESTING": True, "DEV_MODE": True})
        resp = post_hl7(app.test_client(), corpus_text("athena_local_codes_no_system.hl7"))
        assert resp.status_code == 422
        errs = [seg for seg in segments(resp.data) if seg[0] == "ERR"]
        assert errs[0][4] == "E" and "at least one screening result" in errs[0][8]
        info = [seg[8] for seg in errs[1:] if seg[4] == "I"]
        assert "OBX[1] (set ID 1, MSPIKE): code not in the code map; ignored" in info
        assert "OBX[2] (set ID 2, IFEINT): code not in the code map; ignored" in info

    @pytest.mark.parametrize(
        ("sender", "field"), [("LABA", "kappa"), ("LABB", "lambda"), ("laba", "kappa"), ("LABC", None)]
    )
    def test_each_sender_has_its_own_code_map_falling_back_to_the_global_one(self, lab_map, sender, field):
        ctx = hl7v2.parse_oru(
            corpus_text("two_senders_same_local_code.hl7").replace("{SENDER}", sender), lab_map
        )
        if field is None:
            assert "flc" not in ctx.request
            assert "OBX[3] (set ID 3, FLC1): code not in the code map; ignored" in ctx.notes
        else:
            assert ctx.request["flc"] == {field: {"value": 150, "unit": "mg/L"}}

    def test_a_sender_is_also_named_by_the_oid_of_msh3(self, tmp_path):
        mapping = tmp_path / "map.yaml"
        mapping.write_text(
            "senders:\n  - {name: nist, application: '2.16.840.1.113883.3.72.7.1',\n"
            "     ife_wordings: {'IgG kappa': 'IgA lambda', 'IGGK': 'IgA lambda'}}\n"
        )
        ctx = hl7v2.parse_oru(corpus_text(NIST), load_codemap(str(mapping)))
        assert ctx.request["serum_ife"]["clones"] == [{"heavy_chain": "IgA", "light_chain": "lambda"}]
        assert "codes read with the code map of sender 'nist'" in ctx.notes

    def test_a_body_posted_with_curl_d_says_the_segment_terminators_are_missing(self, client):
        one_line = corpus_text(NIST).replace("\n", "")
        resp = post_hl7(client, one_line)
        assert resp.status_code == 400
        reply = resp.data.decode()
        assert "MSA|AR|NIST-100929110701660|segment terminators are missing" in reply
        assert "not supported" not in reply

    def test_a_401_on_the_hl7_endpoint_is_an_ack_the_sender_can_file(self):
        app = create_app({"TESTING": True, "DEV_MODE": False, "API_KEYS": {"lis": hash_key("k" * 43)}})
        resp = post_hl7(app.test_client(), corpus_text(NIST))
        assert resp.status_code == 401 and resp.mimetype == HL7
        assert resp.headers["WWW-Authenticate"].startswith("Bearer")
        msa = next(seg for seg in segments(resp.data) if seg[0] == "MSA")
        assert msa[1:3] == ["AR", "NIST-100929110701660"] and "authentication required" in msa[3]


# --- batches -----------------------------------------------------------------------------------------

BATCH = "cdc_prime_batch_fhs_bhs.hl7"


class TestBatches:
    def test_a_batch_is_acknowledged_per_message_and_per_batch(self, client):
        resp = post_hl7(client, corpus_text(BATCH))
        assert resp.status_code == 200, resp.data
        segs = segments(resp.data)
        names = [s[0] for s in segs]
        assert names[0] == "FHS" and names[1] == "BHS" and names[-2:] == ["BTS", "FTS"]
        assert segs[0][11] == "PRIMEFILE0805"  # FHS-12: the sender's file control ID
        assert segs[1][11] == "PRIMEBATCH0805"  # BHS-12: the sender's batch control ID
        assert segs[1][9] == "AE: 1 of 2 messages accepted"  # BHS-10: the batch's outcome
        msa = [s for s in segs if s[0] == "MSA"]
        assert [m[1:3] for m in msa] == [
            ["AA", "1234d1d1-95fe-462c-8ac6-46728dba581c"],
            ["AE", "5678d1d1-95fe-462c-8ac6-46728dba581c"],
        ]
        # The accepted message's interpretation follows its ACK; the refused one names its OBX.
        assert classification(resp.data) == "MGUS_NON_IGM"
        assert any(s[0] == "ERR" and s[2] == "OBX^3^6" and s[3].startswith("103^") for s in segs)
        assert segs[-2][:2] == ["BTS", "3"] and segs[-1][:2] == ["FTS", "1"]

    def test_trailer_counts_that_disagree_are_said(self, client):
        text = corpus_text(BATCH).replace("BTS|2", "BTS|5")
        fhs = segments(post_hl7(client, text).data)[0]
        assert "BTS-1 declares 5 messages, the batch holds 2" in fhs[9]

    def test_a_segment_outside_any_message_rejects_the_batch(self, client):
        text = corpus_text(BATCH).replace("BHS|", "PID|1||x\nBHS|", 1)
        resp = post_hl7(client, text)
        assert resp.status_code == 400 and "MSA|AR|" in resp.data.decode()
        assert "outside any message" in resp.data.decode()

    def test_process_hl7_still_refuses_a_batch_and_says_what_it_is(self, lab_map):
        with pytest.raises(hl7v2.Hl7Error, match="a batch file"):
            hl7v2.parse_oru(corpus_text(BATCH), lab_map)


# --- FHIR forms --------------------------------------------------------------------------------------


class TestFhirForms:
    def test_a_component_only_observation_no_longer_fails_the_bundle(self, client, lab_map):
        bundle = corpus_bundle("fhir_r4_f205_components_collection.json")
        tr = fhir.translate_bundle(bundle, lab_map)
        # The MDRD components are read (additions beyond the shared LOINC map); of the two, the
        # estimate "among non-blacks" (48642-3) is preferred and the other is noted as ignored.
        assert tr.request["labs"]["egfr"]["value"] == 60
        assert "Bundle.entry[1].resource (33914-3): no value of its own; its components are read" in tr.notes
        resp = post_fhir(client, bundle)
        assert resp.status_code == 200, resp.data
        report = resp.get_json()
        assert report["conclusionCode"][0]["coding"][0]["code"] == "MGUS_NON_IGM"
        notes = next(c for c in report["contained"] if c["id"] == "input-notes")
        assert any("48643-1" in n["text"] and "preferred" in n["text"] for n in notes["note"])

    def test_results_contained_in_a_diagnostic_report_of_a_searchset_are_read(self, client):
        resp = post_fhir(client, corpus_bundle("fhir_r4_ghp_report_searchset.json"))
        assert resp.status_code == 200, resp.data
        report = resp.get_json()
        assert report["conclusionCode"][0]["coding"][0]["code"] == "MGUS_NON_IGM"
        # No Patient in the Bundle: the report names the one subject every result names.
        assert report["subject"] == {"reference": "Patient/pat2"}
        assert report["effectiveDateTime"] == "2015-08-16"

    def test_a_report_result_pointing_nowhere_is_refused(self, lab_map):
        bundle = corpus_bundle("fhir_r4_ghp_report_searchset.json")
        bundle["entry"][0]["resource"]["result"].append({"reference": "#missing"})
        with pytest.raises(fhir.FhirError, match="#missing names no contained resource"):
            fhir.translate_bundle(bundle, lab_map)

    def test_a_message_bundle_is_read_and_its_hypercalcaemia_counts(self, client):
        resp = post_fhir(client, corpus_bundle("fhir_r4_message_bundle_hypercalcaemia.json"))
        assert resp.status_code == 200, resp.data
        assert resp.get_json()["conclusionCode"][0]["coding"][0]["code"] == "INDETERMINATE"

    def test_a_document_bundle_is_read_and_f005_is_translated_as_sent(self, lab_map):
        bundle = corpus_bundle("fhir_r4_f005_document.json")
        tr = fhir.translate_bundle(bundle, lab_map)
        # f005's haemoglobin is of 2013-04-05, three days after the paraprotein studies: a CRAB blood
        # value of another day is not the panel's (§2.1), and the note says so.
        assert "labs" not in tr.request
        assert any("labs.hemoglobin is dated 2013-04-05" in n and "not read" in n for n in tr.notes)
        assert tr.request["serum_ife"]["clones"] == [{"heavy_chain": "IgG", "light_chain": "kappa"}]
        assert "Bundle.entry[0].resource: Composition ignored" in tr.notes
        bundle["entry"][2]["resource"]["effectivePeriod"] = {"start": "2013-04-02T10:30:00+01:00"}
        tr = fhir.translate_bundle(bundle, lab_map)
        assert tr.request["labs"]["hemoglobin"] == {
            "value": 7.2,
            "unit": "g/dL",
            "reference_range": {"low": 7.5, "high": 10},
        }

    def test_the_sender_s_code_map_reads_f204_s_local_code(self, lab_map):
        bundle = corpus_bundle("fhir_r4_f204_local_code_sender_map.json")
        tr = fhir.translate_bundle(bundle, lab_map)
        assert tr.request["labs"]["creatinine"] == {
            "value": 122,
            "unit": "umol/L",
            "reference_range": {"low": 64, "high": 104},
        }
        assert tr.request["serum_ife"] == {"result": "negative", "clones": []}
        bundle["meta"]["source"] = "https://another.example/fhir"
        other = fhir.translate_bundle(bundle, lab_map)
        assert "labs" not in other.request
        assert any("20005" in n and "not in the code map" in n for n in other.notes)

    def test_the_sending_organization_selects_the_code_map(self, tmp_path):
        mapping = tmp_path / "map.yaml"
        mapping.write_text(
            "senders:\n  - name: winchester\n    organization: '05D2222542'\n"
            "    ife_wordings: {'IgG kappa': 'IgA lambda'}\n"
        )
        bundle = corpus_bundle("fhir_r4_message_bundle_hypercalcaemia.json")
        tr = fhir.translate_bundle(bundle, load_codemap(str(mapping)))
        assert tr.request["serum_ife"]["clones"] == [{"heavy_chain": "IgA", "light_chain": "lambda"}]
        assert "codes read with the code map of sender 'winchester'" in tr.notes

    def test_an_error_outcome_lists_what_was_ignored(self, client):
        bundle = corpus_bundle("fhir_r4_f204_local_code_sender_map.json")
        bundle["meta"]["source"] = "https://another.example/fhir"
        bundle["entry"] = bundle["entry"][:1]  # only the local creatinine, unmapped for this sender
        resp = post_fhir(client, bundle)
        assert resp.status_code == 422
        issues = resp.get_json()["issue"]
        assert issues[0]["severity"] == "error"
        assert any(
            i["severity"] == "information"
            and "20005" in i["diagnostics"]
            and "not in the code map" in i["diagnostics"]
            for i in issues
        )


def test_every_corpus_file_names_its_source():
    for path in sorted(CORPUS.glob("*.hl7")) + sorted(CORPUS.glob("*.json")):
        header = [line for line in path.read_text().splitlines() if line.startswith("#")]
        assert header and re.search(r"Source: .+", header[0]), path.name
        assert any("Adapted" in line for line in header), path.name
