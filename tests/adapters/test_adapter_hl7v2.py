"""HL7 v2 ORU^R01 in, ORU^R01 reply and ACK out."""

from __future__ import annotations

import pytest
from hl7apy.consts import VALIDATION_LEVEL
from hl7apy.parser import parse_message

from service.adapters.hl7v2 import (
    Encoding,
    Hl7Error,
    Segment,
    build_ack,
    build_oru_response,
    describe_validation_errors,
    escape,
    message_to_request,
    parse_oru,
    unescape,
)

from .conftest import TODAY, sample_bytes
from .test_adapter_codes import WRONG_CODES

MSH = r"MSH|^~\&|LIS|LAB|MGI|HOSP|20240501120000||ORU^R01^ORU_R01|CTRL1|P|2.5.1"
PID = r"PID|1||12345^^^HOSP^MR||Doe^Jane||19900115|F"
OBR = r"OBR|1|ORD1|FIL1|MG^MG panel^L|||20240501083000"


def message(*segments: str, header: str = MSH, sep: str = "\r") -> str:
    return sep.join([header, *segments]) + sep


def obx(
    n: int, value_type: str, code: str, value: str, unit: str = "", rng: str = "", status: str = "F"
) -> str:
    return f"OBX|{n}|{value_type}|{code}||{value}|{unit}|{rng}||||{status}"


def segments_of(er7: str) -> list[Segment]:
    enc = Encoding()
    counts: dict[str, int] = {}
    out = []
    for line in filter(None, er7.split("\r")):
        counts[line[:3]] = counts.get(line[:3], 0) + 1
        out.append(Segment(line, enc, counts[line[:3]]))
    return out


class TestSamples:
    def test_basic_panel_with_repeated_obx_nte_and_lf_separators(self, codemap):
        ctx = parse_oru(sample_bytes("oru_basic_lf.hl7"), codemap)
        assert ctx.request == {
            "collected_on": "2024-05-01",
            "patient": {"age_years": 34, "sex": "female"},
            "spep": {"m_protein": {"value": 1.2, "unit": "g/dL"}},
            "serum_ife": {"result": "positive", "clones": [{"heavy_chain": "IgA", "light_chain": "lambda"}]},
            "flc": {
                "kappa": {"value": 10.4, "unit": "mg/L", "reference_range": {"low": 3.3, "high": 19.4}},
                "lambda": {"value": 48.0, "unit": "mg/L", "reference_range": {"low": 5.7, "high": 26.3}},
            },
            "labs": {"egfr": {"value": 95, "unit": "mL/min/1.73m2"}},
        }
        notes = "\n".join(ctx.notes)
        assert "OBX[3] (set ID 3, 25700-6): result status 'X' is not a result; ignored" in notes
        assert "OBX[9] (set ID 9, 2093-3): code not in the code map; ignored" in notes
        # The eGFR's '>60' is not read (no rule reads an eGFR's range), and said.
        assert (
            "OBX[7] (set ID 7, 98979-8) OBX-7: reference range left out: no rule reads a reference range "
            "of labs.egfr" in notes
        )
        assert "62238-1) ignored, OBX[7] (set ID 7, 98979-8) is preferred" in notes
        # OBX[2] is the correction (OBX-11 C) of OBX[1]: read in its place.
        assert ctx.sources["spep.m_protein"] == "OBX[2] (set ID 2, 33358-3)"
        assert "corrected result (OBX-11 C) 1.2 g/dL read in place of the final result 1.2 g/dL" in notes

    def test_v23_crlf_ce_sn_comparator_and_dg1(self, codemap):
        request = message_to_request(sample_bytes("oru_v23_crlf.hl7"), codemap)
        assert request == {
            "collected_on": "2024-06-09",
            "patient": {"sex": "male"},
            "urine": {
                "m_protein_24h": {"value": 620, "unit": "mg/24h"},
                "ife": {"result": "positive", "clones": [{"heavy_chain": None, "light_chain": "kappa"}]},
            },
            "flc": {
                "lambda": {
                    "value": 0.5,
                    "unit": "mg/L",
                    "comparator": "<",
                    "reference_range": {"low": 5.7, "high": 26.3},
                },
                "kappa": {"value": 180, "unit": "mg/L", "reference_range": {"low": 3.3, "high": 19.4}},
            },
            "clinical": {"thyroid_disease": True},
        }

    def test_local_codes_need_the_lab_codemap(self, codemap, lab_codemap):
        without = parse_oru(sample_bytes("oru_local_codes.hl7"), codemap)
        # only the LOINC alternate identifier of the IFE OBX is known to the defaults
        assert set(without.request) == {"serum_ife", "collected_on"}
        assert any("MPROT): code not in the code map" in n for n in without.notes)
        request = message_to_request(sample_bytes("oru_local_codes.hl7"), lab_codemap)
        assert request == {
            "collected_on": "2024-07-20",
            "spep": {"m_protein": {"value": 22, "unit": "g/L"}},
            "serum_ife": {
                "result": "positive",
                "clones": [
                    {"heavy_chain": "IgG", "light_chain": "kappa"},
                    {"heavy_chain": "IgA", "light_chain": "lambda"},
                ],
            },
            "marrow": {"clonal_plasma_cells_percent": 12},
            "clinical": {"scleromyxedema": "suspected"},  # DG1-6 W = working diagnosis
        }

    @pytest.mark.parametrize("sep", ["\r", "\n", "\r\n"])
    def test_segment_separators_and_mllp_framing(self, codemap, sep):
        text = message(PID, OBR, obx(1, "NM", "33358-3^M^LN", "16", "g/L"), sep=sep)
        assert message_to_request("\x0b" + text + "\x1c\r", codemap)["spep"] == {
            "m_protein": {"value": 16, "unit": "g/L"}
        }

    def test_missing_optional_segments(self, codemap):
        request = message_to_request(message(obx(1, "NM", "33358-3^M^LN", "3.1", "g/dL")), codemap)
        assert request == {"spep": {"m_protein": {"value": 3.1, "unit": "g/dL"}}}

    def test_age_uses_today_without_a_date(self, codemap):
        request = message_to_request(
            message(PID, obx(1, "NM", "33358-3^M^LN", "3.1", "g/dL")), codemap, today=TODAY
        )
        assert request["patient"] == {"age_years": 34, "sex": "female"}

    def test_obx14_gives_the_date_when_obr7_is_absent(self, codemap):
        seg = "OBX|1|NM|33358-3^M^LN||5|g/L|||||F|||20240210"
        assert message_to_request(message(seg), codemap)["collected_on"] == "2024-02-10"

    @pytest.mark.parametrize(
        ("value_type", "value", "expected"),
        [
            ("SN", "<^0.1", {"value": 0.1, "unit": "g/dL", "comparator": "<"}),
            ("SN", ">=^30", {"value": 30, "unit": "g/dL", "comparator": ">="}),
            ("SN", "^2.5", {"value": 2.5, "unit": "g/dL"}),
            ("ST", "< 0.1", {"value": 0.1, "unit": "g/dL", "comparator": "<"}),
            ("NM", "0.8", {"value": 0.8, "unit": "g/dL"}),
        ],
    )
    def test_comparators(self, codemap, value_type, value, expected):
        seg = obx(1, value_type, "33358-3^M^LN", value, "g/dL")
        assert message_to_request(message(seg), codemap)["spep"]["m_protein"] == expected

    def test_coded_ife_uses_the_text_component(self, codemap):
        seg = obx(1, "CWE", "25700-6^IFE^LN", "G-K^IgG kappa^99LAB~A-L^IgA lambda^99LAB")
        assert message_to_request(message(seg), codemap)["serum_ife"]["clones"] == [
            {"heavy_chain": "IgG", "light_chain": "kappa"},
            {"heavy_chain": "IgA", "light_chain": "lambda"},
        ]

    def test_escaped_text_value_is_unescaped(self, codemap):
        seg = obx(1, "ST", "25700-6^IFE^LN", r"IgG kappa \T\ IgA lambda")
        assert len(message_to_request(message(seg), codemap)["serum_ife"]["clones"]) == 2

    def test_finding_code_in_obx_carries_its_value(self, codemap):
        seg = obx(1, "CWE", "40930008^Hypothyroidism^SCT", "Y^Yes^HL70136")
        request = message_to_request(message(obx(2, "NM", "33358-3^M^LN", "1", "g/L"), seg), codemap)
        assert request["clinical"] == {"thyroid_disease": True}


class TestErrors:
    @pytest.mark.parametrize("code", sorted(WRONG_CODES))
    def test_every_wrong_code_is_rejected(self, codemap, code):
        text = message(
            OBR, obx(1, "NM", "33358-3^M^LN", "1", "g/L"), obx(2, "NM", f"{code}^Wrong^LN", "8", "%")
        )
        with pytest.raises(Hl7Error) as err:
            parse_oru(text, codemap)
        assert WRONG_CODES[code] in err.value.message
        assert (err.value.segment, err.value.index, err.value.field) == ("OBX", 2, 3)
        assert err.value.ack_code == "AE" and err.value.hl7_code == 103

    def test_unreadable_ife_names_the_segment_and_the_value(self, codemap):
        text = message(
            obx(1, "NM", "33358-3^M^LN", "1", "g/L"), obx(2, "ST", "25700-6^IFE^LN", "smudge near gamma")
        )
        with pytest.raises(Hl7Error) as err:
            parse_oru(text, codemap)
        assert err.value.message.startswith(
            "OBX[2] (set ID 2, 25700-6): immunofixation value 'smudge near gamma' is not understood"
        )
        assert err.value.location == "OBX[2] OBX-5"

    @pytest.mark.parametrize(
        ("seg", "field", "fragment"),
        [
            (obx(1, "NM", "33358-3^M^LN", "1,2", "g/L"), 5, "decimal comma"),
            (obx(1, "NM", "33358-3^M^LN", "1.2"), 6, "the unit is missing"),
            (obx(1, "NM", "11118-7^PC^LN", "8", "mg"), 6, "must be in %"),
            (obx(1, "SN", "11118-7^PC^LN", "<^5", "%"), 6, "plain number"),
            (obx(1, "SN", "33358-3^M^LN", "^1^-^3", "g/L"), 5, "is a range or ratio"),
            (obx(1, "DT", "33358-3^M^LN", "20240101", "g/L"), 5, "value type DT cannot carry"),
        ],
    )
    def test_value_errors(self, codemap, seg, field, fragment):
        with pytest.raises(Hl7Error, match=fragment) as err:
            parse_oru(message(seg), codemap)
        assert (err.value.segment, err.value.field) == ("OBX", field)

    def test_conflicting_values(self, codemap):
        text = message(obx(1, "NM", "33358-3^M^LN", "1", "g/L"), obx(2, "NM", "33358-3^M^LN", "2", "g/L"))
        with pytest.raises(Hl7Error, match="spep.m_protein has conflicting values") as err:
            parse_oru(text, codemap)
        assert err.value.hl7_code == 205

    def test_reported_ratio_that_disagrees(self, codemap):
        text = message(
            obx(1, "NM", "36916-5^K^LN", "40", "mg/L"),
            obx(2, "NM", "33944-0^L^LN", "10", "mg/L"),
            obx(3, "NM", "48378-4^R^LN", "0.4", ""),
        )
        with pytest.raises(Hl7Error, match="ratio 0.4 disagrees with kappa/lambda 4.00") as err:
            parse_oru(text, codemap)
        assert (err.value.segment, err.value.index, err.value.field) == ("OBX", 3, 5)  # the reported ratio

    @pytest.mark.parametrize(
        ("text", "code", "fragment"),
        [
            ("garbage", 100, "does not start with an MSH"),
            (message(PID, header=MSH.replace("ORU^R01^ORU_R01", "ADT^A01")), 200, "message type 'ADT'"),
            (message(PID, header=MSH.replace("ORU^R01^ORU_R01", "ORU^R30")), 201, "event 'R30'"),
            (message(PID, header=MSH.replace("2.5.1", "2.7")), 203, "HL7 version '2.7'"),
            (message(PID, "XX|broken"), 100, "is not an HL7 segment ID"),
        ],
    )
    def test_structure_errors_are_rejections(self, codemap, text, code, fragment):
        with pytest.raises(Hl7Error, match=fragment) as err:
            parse_oru(text, codemap)
        assert err.value.ack_code == "AR" and err.value.hl7_code == code

    def test_no_obx(self, codemap):
        with pytest.raises(Hl7Error, match="no OBX segment"):
            parse_oru(message(PID, OBR), codemap)

    def test_two_patients(self, codemap):
        with pytest.raises(Hl7Error, match="more than one PID"):
            parse_oru(message(PID, PID, obx(1, "NM", "33358-3^M^LN", "1", "g/L")), codemap)

    def test_a_sex_outside_table_0001_is_not_given_with_a_note(self, codemap):
        pid = PID.replace("|F", "|X")
        ctx = parse_oru(message(pid, obx(1, "NM", "33358-3^M^LN", "1", "g/L")), codemap)
        assert "sex" not in ctx.request.get("patient", {})
        assert any("PID-8 sex 'X'" in note for note in ctx.notes)


class TestEscaping:
    @pytest.mark.parametrize("text", ["a|b", "a^b&c~d\\e", "plain", "κ/λ ≥ 100 mg/L", "\\F\\ literal", ""])
    def test_round_trip(self, text):
        escaped = escape(text)
        assert not any(ch in escaped for ch in "|^&~") and unescape(escaped) == text

    def test_exact_sequences(self):
        assert escape("a|b^c&d~e\\f") == r"a\F\b\S\c\T\d\R\e\E\f"

    def test_line_breaks(self):
        assert escape("one\ntwo", formatted=True) == r"one\.br\two"
        assert escape("one\r\ntwo") == "one two"
        assert unescape(r"one\.br\two") == "one\ntwo"

    def test_hex_and_formatting(self):
        assert unescape(r"\XCEBA\ chain \H\bold\N\ text") == "κ chain bold text"

    def test_other_encoding_characters(self):
        enc = Encoding("!", "@", "#", "$", "%")
        assert escape("a!b@c", enc) == "a$F$b$S$c"


class TestReply:
    def test_reply_echoes_control_data_and_carries_the_interpretation(
        self, lab_codemap, worked_example_response
    ):
        ctx = parse_oru(sample_bytes("oru_worked_example_s6.hl7"), lab_codemap)
        reply = build_oru_response(ctx, worked_example_response, control_id="R1")
        parsed = parse_message(reply, validation_level=VALIDATION_LEVEL.TOLERANT, find_groups=False)
        assert parsed.name == "ORU_R01"
        segs = segments_of(reply)
        msh = segs[0]
        assert (msh.raw(3), msh.raw(4), msh.raw(5), msh.raw(6)) == ("MGI", "HOSP", "DERMLIS", "DERMLAB")
        assert msh.raw(10) == "R1" and msh.raw(12) == "2.5.1" and msh.raw(18) == "UNICODE UTF-8"
        pid = next(s for s in segs if s.name == "PID")
        assert pid.er7 == r"PID|1||MRN0034^^^HOSP^MR||Example^Anna||19890702|F"
        obr = next(s for s in segs if s.name == "OBR")
        assert (obr.raw(2), obr.raw(3), obr.raw(7), obr.raw(20)) == (
            "ORD7788",
            "FIL7788",
            "20240315083000",
            "WE000001",
        )
        by_code = {}
        for s in segs:
            if s.name == "OBX":
                by_code.setdefault(s.component(3, 1), []).append(s)
        assert by_code["CLASSIFICATION"][0].component(5, 1) == "MGUS_NON_IGM"
        assert (
            by_code["CLASSIFICATION"][0].component(5, 2)
            == (worked_example_response["classification"]["label"])
        )
        assert by_code["CLASSIFICATION"][0].component(5, 3) == "MGI"
        assert by_code["CLASSIFICATION"][0].component(2) == "CWE"
        assert by_code["CLASSIFICATION_PROVISIONAL"][0].component(5, 1) == "Y"
        assert by_code["ISOTYPE"][0].text(5) == "IgG kappa"
        mayo = by_code["RISK_MGUS_MAYO_2005"][0]
        assert mayo.component(5, 1) == "NOT_SCORED"
        assert by_code["RISK_MGUS_MAYO_2005_POSSIBLE_GROUPS"][0].repetitions(5) == ["low", "low_intermediate"]
        assert {s.component(5, 1) for s in by_code["FLAG"]} == {
            f["code"] for f in worked_example_response["flags"]
        }
        flag = by_code["FLAG"][0]
        severity = next(s for s in by_code["FLAG_SEVERITY"] if s.raw(4) == flag.raw(4))
        assert severity.component(5, 1) == worked_example_response["flags"][0]["severity"]
        comment = by_code["COMMENT"][0]
        assert comment.component(2) == "FT"
        assert unescape(comment.raw(5)) == worked_example_response["comment"]
        assert "RISK_SMM_MAYO_2018" in by_code and "RISK_SMM_IMWG_2020" in by_code

    def test_reply_escapes_free_text(self, codemap):
        ctx = parse_oru(message(PID, OBR, obx(1, "NM", "33358-3^M^LN", "1", "g/L")), codemap)
        interpretation = {
            "classification": {"code": "X", "label": "A|B^C", "provisional": False, "isotype": None},
            "flags": [{"code": "F1", "severity": "info", "message": "x & y ~ z", "refer_to": []}],
            "comment": "line 1 | pipe\nline 2 \\ backslash",
        }
        reply = build_oru_response(ctx, interpretation)
        assert r"X^A\F\B\S\C^MGI" in reply
        # the flag's message follows its OBX as an NTE (CWE-2 stays short for strict validators)
        assert "F1^f1^MGI" in reply and r"NTE|1|L|x \T\ y \R\ z" in reply
        assert r"line 1 \F\ pipe\.br\line 2 \E\ backslash" in reply
        assert "ISOTYPE" not in reply
        assert all(len(line.split("|")) > 1 for line in reply.split("\r") if line)

    def test_v23_reply_uses_ce(self, codemap, worked_example_response):
        ctx = parse_oru(sample_bytes("oru_v23_crlf.hl7"), codemap)
        reply = build_oru_response(ctx, worked_example_response)
        first = reply.split("\r")[0]
        assert first.split("|")[8] == "ORU^R01" and first.split("|")[11] == "2.3"
        assert "|CE|CLASSIFICATION^" in reply and "|CWE|" not in reply


class TestAck:
    def test_ack_for_a_content_error(self, codemap):
        text = message(obx(1, "ST", "25700-6^IFE^LN", "smudge"))
        with pytest.raises(Hl7Error) as err:
            parse_oru(text, codemap)
        ack = build_ack(text, error=err.value, control_id="A1")
        msh, msa, err_seg = segments_of(ack)
        assert msh.raw(9) == "ACK^R01^ACK" and msh.raw(10) == "A1"
        assert (msh.raw(5), msh.raw(6)) == ("LIS", "LAB")
        assert (msa.raw(1), msa.raw(2)) == ("AE", "CTRL1")
        assert err_seg.raw(2) == "OBX^1^5"
        assert err_seg.components(3) == ["102", "Data type error", "HL70357"]
        assert err_seg.raw(4) == "E"
        assert "smudge" in unescape(err_seg.raw(8))
        parsed = parse_message(ack, validation_level=VALIDATION_LEVEL.TOLERANT, find_groups=False)
        assert parsed.name == "ACK"

    def test_ack_reject_for_garbage(self):
        ack = build_ack("not hl7 at all", "AR", "cannot parse | really")
        msh, msa, err = segments_of(ack)
        assert msa.raw(1) == "AR" and msa.raw(2) == ""
        assert unescape(msa.raw(3)) == "cannot parse | really"
        assert err.components(3)[0] == "100"

    def test_ack_from_parsed_context_and_validation_errors(self, codemap):
        ctx = parse_oru(message(obx(1, "NM", "33358-3^M^LN", "1", "ug/mL")), codemap)
        text = describe_validation_errors({"spep.m_protein.unit": ["Must be one of: g/L, g/dL."]}, ctx)
        assert text == ("spep.m_protein.unit (OBX[1] (set ID 1, 33358-3)): Must be one of: g/L, g/dL.")
        ack = build_ack(ctx, "AE", text)
        assert segments_of(ack)[1].raw(2) == "CTRL1"

    def test_v23_ack_uses_the_old_err_layout(self):
        text = sample_bytes("oru_v23_crlf.hl7")
        ack = build_ack(text, error=Hl7Error("bad", segment="OBX", index=2, field=5, hl7_code=102))
        err = segments_of(ack)[2]
        assert err.raw(1) == "OBX^2^5^102&bad&HL70357"  # the problem itself, in the code's text
        assert segments_of(ack)[0].raw(9) == "ACK^R01"

    def test_accept_ack_has_no_err(self):
        ack = build_ack(message(PID), "AA")
        assert [s.name for s in segments_of(ack)] == ["MSH", "MSA"]

    def test_invalid_ack_code(self):
        with pytest.raises(ValueError, match="AA, AE or AR"):
            build_ack(message(PID), "XX")


def test_a_risk_model_that_does_not_apply_is_not_applicable_and_an_open_one_not_scored(
    codemap, worked_example_response
):
    from service.adapters.hl7v2 import build_oru_response, parse_oru

    text = (
        "\r".join(
            [
                "MSH|^~\\&|LIS|LAB|MGI|HOSP|20240315120000||ORU^R01^ORU_R01|NA1|P|2.5.1",
                "PID|1||NA-PAT^^^HOSP^MR||Doe^Jane||19900101|F",
                "OBR|1|O1|F1|PANEL^Panel^L|||20240315",
                "OBX|1|NM|33358-3^M^LN||12|g/L|||||F",
            ]
        )
        + "\r"
    )
    ctx = parse_oru(text, codemap)
    reply = build_oru_response(ctx, worked_example_response)
    obx = [line.split("|") for line in reply.split("\r") if line.startswith("OBX|")]
    risks = {f[3].split("^")[0]: f[5].split("^")[0] for f in obx if f[3].split("^")[0].startswith("RISK_")}
    assert risks["RISK_MGUS_MAYO_2005"] == "NOT_SCORED"  # applies; the bound leaves the group open
    assert risks["RISK_SMM_MAYO_2018"] == "NOT_APPLICABLE" == risks["RISK_SMM_IMWG_2020"]
