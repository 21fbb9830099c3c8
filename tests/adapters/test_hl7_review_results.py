"""HL7 v2 results as laboratory systems send them: the FLC assay named in OBX-17, comments (NTE) on
results and orders, preliminary and corrected results, formatting escapes in text, and sex codes
outside HL7 table 0001."""

from __future__ import annotations

from datetime import date

import pytest

from service.adapters.hl7v2 import Hl7Error, parse_oru, unescape

HL7 = "x-application/hl7-v2+er7"
TODAY = date(2024, 8, 1)
HEADER = (
    r"MSH|^~\&|BEAKER|UNIVHOSP|MGI|HEME|20240502143012-0500||ORU^R01^ORU_R01|T1|P|2.5.1|||AL|NE||"
    "UNICODE UTF-8"
)
PID = "PID|1||E1234567^^^EPIC^MR||SMITH^JOHN||19580314|M"
OBR = "OBR|1|O1|F1|PANEL^PANEL^LAB|||20240502081500"
MSPIKE = "OBX|1|NM|33358-3^M^LN||1.6|g/dL|||||F"


def message(*results: str, pid: str = PID, obr: str = OBR) -> str:
    return "\r".join([HEADER, pid, obr, *results]) + "\r"


def flc(kappa: str = "5", lam: str = "600", *, kappa_method: str = "", lambda_method: str = "") -> list[str]:
    return [
        f"OBX|3|NM|36916-5^K^LN||{kappa}|mg/L|6.7-22.4|L|||F||||||{kappa_method}",
        f"OBX|4|NM|33944-0^L^LN||{lam}|mg/L|8.3-27.0|H|||F||||||{lambda_method}",
    ]


def located(err: pytest.ExceptionInfo[Hl7Error]) -> tuple[str | None, int | None, int | None]:
    return err.value.segment, err.value.index, err.value.field


def read(text: str, codemap):
    return parse_oru(text, codemap, today=TODAY)


def post(client, text: str):
    return client.post("/v1/hl7v2", data=text.encode(), content_type=HL7)


def input_notes(reply: bytes) -> list[str]:
    """The NTE texts after the INPUT_NOTES OBX of an answer."""
    lines = reply.decode().split("\r")
    start = next(i for i, line in enumerate(lines) if line.startswith("OBX") and "|INPUT_NOTES^" in line)
    return [line.split("|", 3)[3] for line in lines[start + 1 :] if line.startswith("NTE|")]


N_LATEX = "NLATEX^Siemens N Latex FLC^L"


class TestFlcAssayFromObx17:
    @pytest.mark.parametrize(
        ("method", "assay"),
        [
            (N_LATEX, "n_latex"),
            ("^siemens n latex flc", "n_latex"),
            ("FREELITE^Freelite^L", "freelite"),
            ("^The Binding Site free light chains", "freelite"),
            ("SEBIA^Sebia FLC ELISA^L", "sebia"),
            ("^^^OPT^Optilite^L", "freelite"),
            ("^Atellica NEPH", "n_latex"),
        ],
    )
    def test_the_assay_the_lab_names_is_read_into_flc_assay(self, codemap, method, assay):
        ctx = read(message(MSPIKE, *flc(kappa_method=method, lambda_method=method)), codemap)
        assert ctx.request["flc"]["assay"] == assay
        assert not any("Freelite assumed" in n for n in ctx.notes)

    def test_the_reagent_decides_whatever_the_analyser(self, codemap):
        # Freelite reagents run on Siemens BN II analysers: the reagent named is the assay.
        method = "^Freelite on Siemens BN II"
        ctx = read(message(MSPIKE, *flc(kappa_method=method, lambda_method=method)), codemap)
        assert ctx.request["flc"]["assay"] == "freelite"

    def test_an_analyser_named_without_its_reagent_is_read_with_a_note(self, codemap):
        method = "^BN II"
        ctx = read(message(MSPIKE, *flc(kappa_method=method, lambda_method=method)), codemap)
        assert ctx.request["flc"]["assay"] == "n_latex"
        assert any("OBX-17" in n and "analyser" in n and "BN II" in n for n in ctx.notes)

    def test_one_free_light_chain_naming_the_assay_is_enough(self, codemap):
        ctx = read(message(MSPIKE, *flc(kappa_method=N_LATEX)), codemap)
        assert ctx.request["flc"]["assay"] == "n_latex"

    def test_another_assay_is_other_and_the_note_asks_for_the_labs_ratio_interval(self, codemap):
        method = "DIAZYME^Diazyme FLC^L"
        ctx = read(message(MSPIKE, *flc(kappa_method=method, lambda_method=method)), codemap)
        assert ctx.request["flc"]["assay"] == "other"
        note = next(n for n in ctx.notes if "Diazyme FLC" in n)
        assert "OBX-17" in note and "ratio" in note

    def test_kappa_and_lambda_of_different_assays_are_refused_at_obx_17(self, codemap):
        with pytest.raises(Hl7Error, match="OBX-17") as err:
            read(message(MSPIKE, *flc(kappa_method=N_LATEX, lambda_method="FREELITE^Freelite^L")), codemap)
        assert located(err) == ("OBX", 3, 17)
        assert err.value.ack_code == "AE"

    def test_one_obx_17_naming_two_reagents_is_refused(self, codemap):
        method = "FREELITE^Sebia FLC^L"
        with pytest.raises(Hl7Error, match="OBX-17") as err:
            read(message(MSPIKE, *flc(kappa_method=method, lambda_method=method)), codemap)
        assert located(err) == ("OBX", 2, 17)

    def test_without_obx_17_freelite_is_assumed_with_a_note(self, codemap):
        ctx = read(message(MSPIKE, *flc()), codemap)
        assert "assay" not in ctx.request["flc"]  # the request's default, Freelite
        assert any("OBX-17" in n and "Freelite assumed" in n for n in ctx.notes)

    def test_no_assay_note_without_free_light_chains(self, codemap):
        ctx = read(message(MSPIKE), codemap)
        assert not any("Freelite" in n for n in ctx.notes)

    def test_the_slim_flc_rule_is_not_applied_to_an_n_latex_ratio(self, client):
        resp = post(client, message(MSPIKE, *flc(kappa_method=N_LATEX, lambda_method=N_LATEX)))
        assert resp.status_code == 200, resp.data
        reply = resp.data.decode()
        assert "(Freelite)" not in reply
        assert "MYELOMA_DEFINING_EVENT" not in reply
        assert "N Latex" in reply


IFE_EMPTY = "OBX|2|TX|25700-6^IFE^LN||||||||F"
IN_COMMENT = "NTE|1|L|IgA lambda monoclonal protein detected."


class TestResultInAComment:
    def test_an_empty_obx_5_whose_result_is_in_the_nte_after_it_is_refused_at_obx_5(self, codemap):
        with pytest.raises(Hl7Error, match=r"OBX-5 .*empty.*comment \(NTE\)") as err:
            read(message(MSPIKE, IFE_EMPTY, IN_COMMENT), codemap)
        assert located(err) == ("OBX", 2, 5)
        assert err.value.ack_code == "AE"
        # The refusal is not contradicted by a note that the OBX was ignored.
        assert not any("no value in OBX-5" in n for n in err.value.notes)

    def test_the_ack_names_obx_5(self, client):
        resp = post(client, message(MSPIKE, IFE_EMPTY, IN_COMMENT))
        assert resp.status_code == 422
        assert "\rERR||OBX^2^5|" in resp.data.decode()

    def test_an_empty_obx_5_without_a_comment_is_still_noted_and_ignored(self, codemap):
        ctx = read(message(MSPIKE, IFE_EMPTY), codemap)
        assert any("OBX[2]" in n and "no value in OBX-5" in n for n in ctx.notes)

    @pytest.mark.parametrize(
        "obx",
        [
            "OBX|2|TX|99999-9^Unknown^LN||||||||F",  # a code no map knows: ignored, its comment kept
            "OBX|2|TX|25700-6^IFE^LN||||||||X",  # not a result (cannot be obtained)
        ],
    )
    def test_a_comment_after_an_obx_that_is_not_a_result_is_a_note(self, codemap, obx):
        ctx = read(message(MSPIKE, obx, IN_COMMENT), codemap)
        assert any("comment: IgA lambda monoclonal protein detected." in n for n in ctx.notes)


class TestComments:
    def test_a_comment_on_a_result_is_a_note_naming_the_result(self, codemap):
        nte = "NTE|1|L|Specimen grossly hemolyzed; M-spike quantitation unreliable, please recollect."
        ctx = read(message(MSPIKE, nte), codemap)
        assert (
            "OBX[1] (33358-3 M) comment: Specimen grossly hemolyzed; M-spike quantitation unreliable, "
            "please recollect." in ctx.notes
        )

    def test_a_comment_on_the_order_is_a_note_naming_the_order(self, codemap):
        ctx = read(message(MSPIKE, obr=OBR + "\rNTE|1|P|Patient on IVIG therapy."), codemap)
        assert "OBR[1] (PANEL PANEL) comment: Patient on IVIG therapy." in ctx.notes

    def test_repetitions_are_joined_escapes_decoded_and_a_long_text_cut(self, codemap):
        long = "x" * 400
        ntes = (r"NTE|1|L|Hemolysed \T\ lipaemic~recollect\.br\please", f"NTE|2|L|{long}")
        ctx = read(message(MSPIKE, *ntes), codemap)
        assert "OBX[1] (33358-3 M) comment: Hemolysed & lipaemic recollect please" in ctx.notes
        cut = next(n for n in ctx.notes if "xxx" in n)
        assert cut.endswith("...") and len(cut) < 300

    def test_an_empty_comment_says_nothing(self, codemap):
        ctx = read(message(MSPIKE, "NTE|1|L|", 'NTE|2|L|""'), codemap)
        assert not any("comment" in n for n in ctx.notes)

    def test_comments_reach_the_answers_input_notes(self, client):
        nte = "NTE|1|L|Specimen grossly hemolyzed; M-spike quantitation unreliable, please recollect."
        resp = post(client, message(MSPIKE, nte))
        assert resp.status_code == 200, resp.data
        notes = input_notes(resp.data)
        assert any("OBX[1] (33358-3 M) comment: Specimen grossly hemolyzed" in n for n in notes)


class TestProvisionalResults:
    @pytest.mark.parametrize(
        ("status", "word"), [("P", "preliminary"), ("R", "not verified"), ("S", "partial")]
    )
    def test_a_result_that_may_change_is_read_with_a_note_naming_it(self, codemap, status, word):
        ctx = read(message(MSPIKE[:-1] + status), codemap)
        assert ctx.request["spep"]["m_protein"]["value"] == 1.6
        note = next(n for n in ctx.notes if word in n)
        assert note.startswith("OBX[1]") and f"OBX-11 {status}" in note and "may change" in note

    def test_a_final_result_has_no_such_note(self, codemap):
        ctx = read(message(MSPIKE), codemap)
        assert not any("may change" in n for n in ctx.notes)

    def test_a_preliminary_result_not_read_has_no_such_note(self, codemap):
        ctx = read(message(MSPIKE, "OBX|2|NM|99999-9^Unknown^LN||1|mg/L|||||P"), codemap)
        assert not any("may change" in n for n in ctx.notes)


FINAL = "OBX|1|NM|33358-3^M^LN||1.6|g/dL|||||F"
CORRECTED = "OBX|2|NM|33358-3^M^LN||2.1|g/dL|||||C"


class TestCorrectedResults:
    def test_a_corrected_result_is_read_in_place_of_the_final_with_a_note_naming_both(self, codemap):
        ctx = read(message(FINAL, CORRECTED), codemap)
        assert ctx.request["spep"]["m_protein"] == {"value": 2.1, "unit": "g/dL"}
        note = next(n for n in ctx.notes if "OBX-11 C" in n)
        assert "OBX[2]" in note and "OBX[1]" in note and "2.1 g/dL" in note and "1.6 g/dL" in note

    def test_the_correction_may_come_first(self, codemap):
        ctx = read(message(CORRECTED.replace("OBX|2", "OBX|1"), FINAL.replace("OBX|1", "OBX|2")), codemap)
        assert ctx.request["spep"]["m_protein"]["value"] == 2.1
        assert any("1.6 g/dL" in n and "2.1 g/dL" in n for n in ctx.notes)

    def test_a_correction_of_an_immunofixation(self, codemap):
        ctx = read(
            message(
                MSPIKE,
                "OBX|2|TX|25700-6^IFE^LN||IgG kappa||||||F",
                "OBX|3|TX|25700-6^IFE^LN||IgA lambda||||||C",
            ),
            codemap,
        )
        assert ctx.request["serum_ife"]["clones"] == [{"heavy_chain": "IgA", "light_chain": "lambda"}]

    def test_two_conflicting_finals_stay_refused(self, codemap):
        with pytest.raises(Hl7Error, match="conflicting values") as err:
            read(message(FINAL, CORRECTED[:-1] + "F"), codemap)
        assert err.value.hl7_code == 205

    def test_two_conflicting_corrections_are_refused(self, codemap):
        with pytest.raises(Hl7Error, match="conflicting values") as err:
            read(message(FINAL, CORRECTED, "OBX|3|NM|33358-3^M^LN||2.4|g/dL|||||C"), codemap)
        assert err.value.hl7_code == 205

    def test_a_correction_in_another_order_does_not_replace_the_final(self, codemap):
        other = "OBR|2|O2|F2|PANEL^PANEL^LAB|||20240502081500"
        with pytest.raises(Hl7Error, match="conflicting values"):
            read(message(FINAL, other, CORRECTED), codemap)

    def test_a_correction_of_another_date_does_not_replace_the_final(self, codemap):
        ctx = read(message(FINAL, CORRECTED + "|||20240401"), codemap)
        assert ctx.request["spep"]["m_protein"]["value"] == 1.6
        assert ctx.request["history"][0]["spep"]["m_protein"]["value"] == 2.1


IFE = "OBX|2|FT|25700-6^IFE^LN||{}||||||F"


class TestFormattedText:
    @pytest.mark.parametrize(
        ("raw", "text"),
        [
            (r"one\.br\two", "one\ntwo"),
            (r"one\.sp\two", "one\ntwo"),
            (r"one\.sp2\two", "one\n\ntwo"),
            (r"one\.ce\two", "one\ntwo"),
            (r"one\.sk3\two", "one two"),
            (r"\.in+4\one\.br\\.ti-2\two", "one\ntwo"),
            (r"\.fi\one \.nf\two", "one two"),
            ("\\H\\IgG kappa\\N\\", "IgG kappa"),
        ],
    )
    def test_formatting_commands_are_decoded(self, raw, text):
        assert unescape(raw) == text

    def test_a_large_skip_is_one_space(self):
        assert unescape(r"a\.sk999999999\b") == "a b"

    @pytest.mark.parametrize("brk", ["\\.br\\", "\\.sp\\", "\\.sp2\\", "\\.ce\\"])
    def test_a_result_on_its_first_line_and_a_signature_on_the_next_is_read_with_a_note(self, codemap, brk):
        value = f"IgG kappa monoclonal protein detected.{brk}Interpreted by J. Doe MD."
        ctx = read(message(MSPIKE, IFE.format(value)), codemap)
        assert ctx.request["serum_ife"]["clones"] == [{"heavy_chain": "IgG", "light_chain": "kappa"}]
        note = next(n for n in ctx.notes if "Interpreted by J. Doe MD." in n)
        assert note.startswith("OBX[2]") and "not read" in note

    def test_a_result_broken_over_two_lines_is_read_whole(self, codemap):
        ctx = read(message(MSPIKE, IFE.format(r"IgG kappa\.br\monoclonal protein detected.")), codemap)
        assert ctx.request["serum_ife"]["clones"] == [{"heavy_chain": "IgG", "light_chain": "kappa"}]
        assert not any("not read" in n for n in ctx.notes)

    def test_two_clones_on_two_lines_are_both_read(self, codemap):
        value = r"IgG kappa monoclonal protein detected.\.br\IgA lambda monoclonal protein detected."
        ctx = read(message(MSPIKE, IFE.format(value)), codemap)
        assert len(ctx.request["serum_ife"]["clones"]) == 2

    @pytest.mark.parametrize(
        "second",
        ["Possible additional faint band, repeat advised.", "IgA lambda seen on the previous sample."],
    )
    def test_a_line_about_the_result_that_is_not_understood_refuses_the_value(self, codemap, second):
        value = rf"IgG kappa monoclonal protein detected.\.br\{second}"
        with pytest.raises(Hl7Error, match="not understood") as err:
            read(message(MSPIKE, IFE.format(value)), codemap)
        assert located(err) == ("OBX", 2, 5)

    def test_a_negative_first_line_and_a_clone_on_the_second_is_refused(self, codemap):
        value = r"No monoclonal protein detected.\.br\IgG kappa"
        with pytest.raises(Hl7Error, match="both negative and positive"):
            read(message(MSPIKE, IFE.format(value)), codemap)

    def test_an_escaped_line_break_is_echoed_in_the_ack_as_sent(self, client):
        value = r"IgG kappa monoclonal protein detected.\.br\Possible second band."
        resp = post(client, message(MSPIKE, IFE.format(value)))
        assert resp.status_code == 422
        assert "\\E\\.br\\E\\" not in resp.data.decode()


class TestSexOutsideTable0001:
    @pytest.mark.parametrize("sex", ["X", "MALE", "9"])
    def test_is_read_as_not_given_with_a_note_naming_the_value(self, codemap, sex):
        ctx = read(message(MSPIKE, pid=PID[:-1] + sex), codemap)
        assert ctx.request["patient"] == {"age_years": 66}
        note = next(n for n in ctx.notes if "PID-8" in n)
        assert f"'{sex}'" in note and "table 0001" in note and "not given" in note

    def test_the_message_is_answered(self, client):
        resp = post(client, message(MSPIKE, pid=PID[:-1] + "X"))
        assert resp.status_code == 200, resp.data
        assert any("PID-8" in n for n in input_notes(resp.data))


CALCIUM = "OBX|2|NM|17861-6^Calcium^LN||12|mg/dL|8.6-10.3|H|||F"


class TestRetractedResults:
    """HL7 table 0085: W (the original result was wrong) and D (delete the result) take back the result
    of the same OBX-3 and sub-ID in the same order: it is never interpreted."""

    @pytest.mark.parametrize(("status", "word"), [("W", "wrong"), ("D", "deleted")])
    def test_a_withdrawn_result_is_not_read(self, codemap, status, word):
        retraction = f"OBX|3|NM|17861-6^Calcium^LN||12|mg/dL|8.6-10.3|H|||{status}"
        ctx = read(message(MSPIKE, CALCIUM, retraction), codemap)
        assert "calcium" not in (ctx.request.get("labs") or {})
        assert any(f"takes it back as {word}" in n and "12 mg/dL" in n for n in ctx.notes)

    @pytest.mark.parametrize("status", ["W", "D"])
    def test_a_result_after_the_withdrawal_is_its_replacement(self, codemap, status):
        # F 12, then W, then F 9.5: only the 12 is taken back.
        retraction = f"OBX|3|NM|17861-6^Calcium^LN||12|mg/dL|8.6-10.3|H|||{status}"
        replacement = "OBX|4|NM|17861-6^Calcium^LN||9.5|mg/dL|8.6-10.3||||F"
        ctx = read(message(MSPIKE, CALCIUM, retraction, replacement), codemap)
        assert ctx.request["labs"]["calcium"]["value"] == 9.5
        ctx = read(message(MSPIKE, retraction.replace("OBX|3", "OBX|2"), replacement), codemap)
        assert ctx.request["labs"]["calcium"]["value"] == 9.5  # nothing before it to take back

    def test_a_withdrawal_of_another_code_takes_back_nothing_else(self, codemap):
        ctx = read(message(MSPIKE, CALCIUM, "OBX|3|NM|718-7^Hb^LN||9|g/dL|12-16|L|||W"), codemap)
        assert ctx.request["labs"]["calcium"]["value"] == 12
        assert not any("takes it back" in n for n in ctx.notes)

    def test_a_withdrawal_in_another_order_takes_back_nothing(self, codemap):
        other = "OBR|2|O2|F2|PANEL^PANEL^LAB|||20240502081500"
        ctx = read(message(MSPIKE, CALCIUM, other, "OBX|3|NM|17861-6^Calcium^LN||12|mg/dL|||||W"), codemap)
        assert ctx.request["labs"]["calcium"]["value"] == 12

    def test_through_the_endpoint_the_withdrawn_calcium_decides_nothing(self, client):
        marrow = "OBX|4|NM|11118-7^Plasma cells^LN||12|%|||||F"
        retraction = "OBX|3|NM|17861-6^Calcium^LN||12|mg/dL|8.6-10.3|H|||W"
        reply = post(
            client, message(MSPIKE, "OBX|5|TX|25700-6^IFE^LN||IgG kappa||||||F", CALCIUM, retraction, marrow)
        )
        text = reply.data.decode()
        assert "MULTIPLE_MYELOMA" not in text
        assert "takes it back as wrong" in text


class TestTheAnswerNamesThePanelsOrder:
    """A cumulative report may list earlier orders first: the answer echoes the order whose date dates
    the panel (OBR-2, OBR-3, OBR-7), and its filler number is the record's specimen_id."""

    OLD_FIRST = (
        "OBR|1|H2|FILH2|MGWU^Work-up^L|||20251115083000",
        "OBX|1|NM|33358-3^M^LN||16|g/L|||||F",
        "OBR|2|CUR1|FIL-CUR1|MGWU^Work-up^L|||20261001083000",
        "OBX|2|NM|33358-3^M^LN||24|g/L|||||F",
        "OBX|3|ST|25700-6^IFE^LN||IgG kappa||||||F",
    )

    def test_the_reply_echoes_the_current_order_not_the_first(self, client):
        reply = post(client, "\r".join([HEADER, PID, *self.OLD_FIRST]) + "\r").data.decode()
        obr = next(line for line in reply.split("\r") if line.startswith("OBR|"))
        fields = obr.split("|")
        assert (fields[2], fields[3], fields[7]) == ("CUR1", "FIL-CUR1", "20261001083000")

    def test_the_specimen_id_is_the_current_order_s(self, codemap):
        from service.adapters.hl7v2 import record_identity

        ctx = parse_oru("\r".join([HEADER, PID, *self.OLD_FIRST]) + "\r", codemap, today=date(2026, 12, 1))
        assert record_identity(ctx)[0]["specimen_id"] == "FIL-CUR1"
        assert ctx.request["history"][0]["collected_on"] == "2025-11-15"

    def test_one_order_is_echoed_as_before(self, client):
        reply = post(client, message(MSPIKE, "OBX|2|TX|25700-6^IFE^LN||IgG kappa||||||F")).data.decode()
        obr = next(line for line in reply.split("\r") if line.startswith("OBR|")).split("|")
        assert (obr[2], obr[3]) == ("O1", "F1")
