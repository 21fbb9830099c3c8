"""ACKs: ERR-1 of v2.3 and v2.4 carries the whole text of the problem; a message without MSH-10 is
rejected naming MSH-10 (HTTP POST /v1/hl7v2)."""

from __future__ import annotations

import pytest

from service.adapters.hl7v2 import Hl7Error, build_ack, escape, parse_oru

HL7 = "x-application/hl7-v2+er7"
PID = r"PID|1||12345^^^HOSP^MR||Doe^Jane||19600115|F"
OBR = r"OBR|1|ORD1|FIL1|SPEP^Serum protein electrophoresis^L|||20240501083000"


def message(*segments: str, version: str = "2.5.1", control_id: str = "ACK1") -> str:
    msh = rf"MSH|^~\&|LIS|CENTRAL-LAB|MGI|HOSP|20240501120000||ORU^R01^ORU_R01|{control_id}|P|{version}"
    return "\r".join([msh, PID, OBR, *segments]) + "\r"


def segment(reply: str, name: str) -> list[str]:
    return [s for s in reply.split("\r") if s.startswith(name + "|")]


LONG_TEXT = (
    "spep.m_protein.unit (OBX[1] (set ID 1, 33358-3)): a text of more than eighty characters | with "
    "separators ^ & ~ \\ that ends with the useful part: Must be one of: g/L, g/dL."
)


class TestErr1OfOlderVersions:
    @pytest.mark.parametrize("version", ["2.3", "2.3.1", "2.4"])
    def test_err_1_carries_the_location_and_the_whole_text(self, version):
        error = Hl7Error(LONG_TEXT, segment="OBX", index=1, field=6, hl7_code=103)
        ack = build_ack(message(version=version), error=error)
        (err,) = segment(ack, "ERR")
        assert err == f"ERR|OBX^1^6^103&{escape(LONG_TEXT)}&HL70357"

    def test_err_1_without_a_location(self):
        error = Hl7Error("the interpretation could not be queued", hl7_code=207, ack_code="AR")
        (err,) = segment(build_ack(message(version="2.4"), error=error), "ERR")
        assert err == "ERR|^^^207&the interpretation could not be queued&HL70357"

    def test_the_notes_are_not_written_as_errors_in_versions_without_a_severity(self):
        error = Hl7Error("problem", segment="OBX", index=1, field=6, hl7_code=103)
        ack = build_ack(
            message(version="2.4"), error=error, notes=["OBX[2]: code not in the code map; ignored"]
        )
        assert len(segment(ack, "ERR")) == 1

    @pytest.mark.parametrize(("version", "status"), [("2.3", 422), ("2.4", 422)])
    def test_http_answers_with_the_whole_text_in_err_1(self, client, version, status):
        text = message(
            r"OBX|1|NM|33358-3^Protein.monoclonal^LN||1.2|mg/dL|||||F",
            r"OBX|2|NM|99999-9^Unknown^LN||1|g/L|||||F",
            version=version,
        )
        response = client.post("/v1/hl7v2", data=text.encode(), content_type=HL7)
        assert response.status_code == status
        reply = response.data.decode()
        (err,) = segment(reply, "ERR")
        assert err.startswith("ERR|OBX^1^6^103&spep.m_protein.unit (OBX[1] (set ID 1, 33358-3)): ")
        assert err.endswith("Must be one of: g/L, g/dL.&HL70357"), err


class TestMissingControlId:
    @pytest.mark.parametrize("control_id", ["", "   ", '""'])
    def test_a_message_without_msh_10_is_rejected_naming_msh_10(self, codemap, control_id):
        text = message(r"OBX|1|NM|33358-3^Protein.monoclonal^LN||1.2|g/dL|||||F", control_id=control_id)
        with pytest.raises(Hl7Error, match="MSH-10") as err:
            parse_oru(text, codemap)
        assert err.value.ack_code == "AR" and err.value.hl7_code == 101
        assert (err.value.segment, err.value.index, err.value.field) == ("MSH", 1, 10)

    def test_http_answers_ar_with_400_like_the_other_header_errors(self, client):
        text = message(r"OBX|1|NM|33358-3^Protein.monoclonal^LN||1.2|g/dL|||||F", control_id="")
        response = client.post("/v1/hl7v2", data=text.encode(), content_type=HL7)
        assert response.status_code == 400
        reply = response.data.decode()
        (msa,) = segment(reply, "MSA")
        assert msa.split("|")[1] == "AR"
        (err,) = segment(reply, "ERR")
        assert err.split("|")[2:4] == ["MSH^1^10", "101^Required field missing^HL70357"]
        assert "MSH-10" in err
