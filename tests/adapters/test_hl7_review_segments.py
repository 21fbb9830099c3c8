"""HL7 v2 reading: deleted diagnoses (DG1-21 D), the HL7 null "" in PID-7 and PID-8, MSH-12 with
trailing blanks, and a value written with a comma."""

from __future__ import annotations

import pytest

from service.adapters.hl7v2 import Hl7Error, parse_oru

PID = r"PID|1||12345^^^HOSP^MR||Doe^Jane||19600115|F"
OBR = r"OBR|1|ORD1|FIL1|SPEP^Serum protein electrophoresis^L|||20240501083000"
MPROT = r"OBX|1|NM|33358-3^Protein.monoclonal^LN||1.2|g/dL|||||F"


def header(version: str = "2.5.1") -> str:
    return rf"MSH|^~\&|LIS|CENTRAL-LAB|MGI|HOSP|20240501120000||ORU^R01^ORU_R01|SEG1|P|{version}"


def message(*segments: str, version: str = "2.5.1", pid: str = PID) -> str:
    return "\r".join([header(version), pid, OBR, *segments]) + "\r"


def dg1(action: str) -> str:
    # DG1-3 diagnosis code, DG1-5 date, DG1-6 type, DG1-21 diagnosis action code (HL7 table 0206).
    return "DG1|1||23132008^AL amyloidosis^SCT||20240401|F" + "|" * 15 + action


class TestDeletedDiagnosis:
    @pytest.mark.parametrize("version", ["2.5", "2.5.1"])
    def test_a_diagnosis_with_action_code_d_is_ignored_with_a_note(self, codemap, version):
        ctx = parse_oru(message(MPROT, dg1("D"), version=version), codemap)
        assert "clinical" not in ctx.request
        assert any("DG1[1]" in note and "DG1-21" in note and "deleted" in note for note in ctx.notes), (
            ctx.notes
        )

    @pytest.mark.parametrize("version", ["2.3", "2.3.1", "2.4"])
    def test_a_deleted_diagnosis_in_a_version_without_dg1_21_is_not_read_either(self, codemap, version):
        ctx = parse_oru(message(MPROT, dg1("D"), version=version), codemap)
        assert "clinical" not in ctx.request
        assert any("DG1[1]" in note and "deleted" in note and version in note for note in ctx.notes), (
            ctx.notes
        )

    def test_a_deleted_diagnosis_leaves_another_one_of_the_same_finding(self, codemap):
        other = "DG1|2||23132008^AL amyloidosis^SCT||20240415|F"
        ctx = parse_oru(message(MPROT, dg1("D"), other), codemap)
        assert ctx.request["clinical"] == {"amyloidosis": True}

    @pytest.mark.parametrize("action", ["", "A", "U", "X"])
    def test_other_action_codes_are_read_as_present(self, codemap, action):
        ctx = parse_oru(message(MPROT, dg1(action)), codemap)
        assert ctx.request["clinical"] == {"amyloidosis": True}


class TestHl7Null:
    def test_null_sex_is_not_given_with_a_note(self, codemap):
        pid = r'PID|1||12345^^^HOSP^MR||Doe^Jane||19600115|""'
        ctx = parse_oru(message(MPROT, pid=pid), codemap)
        assert ctx.request["patient"] == {"age_years": 64}
        assert any("PID-8" in note and '""' in note for note in ctx.notes), ctx.notes

    def test_null_birth_date_is_not_given_with_a_note(self, codemap):
        pid = r'PID|1||12345^^^HOSP^MR||Doe^Jane||""|F'
        ctx = parse_oru(message(MPROT, pid=pid), codemap)
        assert ctx.request["patient"] == {"sex": "female"}
        assert any("PID-7" in note and '""' in note for note in ctx.notes), ctx.notes

    def test_both_null(self, codemap):
        pid = r'PID|1||12345^^^HOSP^MR||Doe^Jane||""|""'
        ctx = parse_oru(message(MPROT, pid=pid), codemap)
        assert "patient" not in ctx.request
        assert sum('""' in note for note in ctx.notes) == 2, ctx.notes

    def test_a_value_outside_table_0001_is_not_given_with_its_own_note(self, codemap):
        pid = r"PID|1||12345^^^HOSP^MR||Doe^Jane||19600115|X"
        ctx = parse_oru(message(MPROT, pid=pid), codemap)
        assert "sex" not in ctx.request["patient"]
        assert any("PID-8 sex 'X' is not in HL7 table 0001" in note for note in ctx.notes), ctx.notes


class TestSmallTexts:
    def test_trailing_blanks_after_msh_12_are_not_part_of_the_version(self, codemap):
        ctx = parse_oru(message(MPROT, version="2.5.1   "), codemap)
        assert ctx.version == "2.5.1"
        assert ctx.request["spep"] == {"m_protein": {"value": 1.2, "unit": "g/dL"}}

    @pytest.mark.parametrize(
        ("value", "advice"),
        [
            ("1,200", "send 1200 if the comma separates thousands, 1.200 if it is a decimal comma"),
            ("<1,200", "send 1200 if the comma separates thousands, 1.200 if it is a decimal comma"),
            ("1,200,000", "send 1200000"),
            ("1,5", "send 1.5"),
        ],
    )
    def test_a_comma_is_either_a_decimal_comma_or_a_thousands_separator(self, codemap, value, advice):
        seg = f"OBX|1|ST|42482-0^Protein.monoclonal 24h^LN||{value}|mg/(24.h)|||||F"
        with pytest.raises(Hl7Error) as err:
            parse_oru(message(seg), codemap)
        text = err.value.message
        assert "is either a decimal comma or a thousands separator" in text, text
        assert "neither is accepted" in text and text.endswith(advice), text
        assert (err.value.segment, err.value.index, err.value.field) == ("OBX", 1, 5)

    def test_a_comma_in_a_structured_numeric(self, codemap):
        seg = "OBX|1|SN|42482-0^Protein.monoclonal 24h^LN||^1,200|mg/(24.h)|||||F"
        with pytest.raises(Hl7Error, match="is either a decimal comma or a thousands separator"):
            parse_oru(message(seg), codemap)


class TestCancelledOrderAndUndatedAge:
    def test_the_results_of_a_cancelled_order_are_not_read(self, codemap):
        cancelled = OBR + "|" * 18 + "X"  # OBR-25 result status X: order cancelled
        assert cancelled.split("|")[25] == "X"
        msg = "\r".join([header(), PID, cancelled, MPROT]) + "\r"
        ctx = parse_oru(msg, codemap)
        assert "spep" not in ctx.request
        assert any("OBR-25" in n and "cancelled" in n for n in ctx.notes), ctx.notes

    def test_a_later_order_of_the_message_is_still_read(self, codemap):
        cancelled = OBR + "|" * 18 + "X"
        second = r"OBR|2|ORD2|FIL2|SPEP^Serum protein electrophoresis^L|||20240501083000"
        msg = "\r".join([header(), PID, cancelled, MPROT, second, MPROT.replace("1.2", "1.4")]) + "\r"
        ctx = parse_oru(msg, codemap)
        assert ctx.request["spep"]["m_protein"] == {"value": 1.4, "unit": "g/dL"}

    def test_an_age_without_a_collection_date_says_which_day_it_is_taken_on(self, codemap):
        undated = r"OBR|1|ORD1|FIL1|SPEP^Serum protein electrophoresis^L"
        msg = "\r".join([header(), PID, undated, MPROT]) + "\r"
        ctx = parse_oru(msg, codemap)
        assert "age_years" in ctx.request["patient"]
        assert any("no collection date" in n and "age" in n for n in ctx.notes), ctx.notes

    def test_a_cancelled_order_names_neither_the_reply_nor_the_specimen_nor_the_date_frame(self, codemap):
        cancelled = r"OBR|1|O1|F1|SPEP^Serum protein electrophoresis^L|||20240503100000+1400" + "|" * 18 + "X"
        active = r"OBR|2|O2|F2|SPEP^Serum protein electrophoresis^L|||20240501230000-0500"
        msg = "\r".join([header(), PID, cancelled, MPROT, active, MPROT.replace("1.2", "1.4")]) + "\r"
        ctx = parse_oru(msg, codemap)
        assert [o.raw(3) for o in ctx.obr] == ["F2"]
        assert ctx.request["collected_on"] == "2024-05-01"
        assert ctx.request["spep"]["m_protein"] == {"value": 1.4, "unit": "g/dL"}
