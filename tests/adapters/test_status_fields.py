"""Result statuses as sent: blanks after OBX-11 are set aside as in every field read, and OBR-25 (the
order's result status) is held to HL7 table 0123 as OBX-11 is to table 0085."""

from __future__ import annotations

from datetime import date

import pytest

from service.adapters.hl7v2 import Hl7Error, parse_oru

TODAY = date(2024, 8, 1)
HEADER = r"MSH|^~\&|Cerner|MAIN|MGI|LAB|20240502103000||ORU^R01|R-ST-1|P|2.5.1"
PID = "PID|1||111^^^MRN||ONE^PAT||19600315|F"
OBR = "OBR|1|P1|F1|SPEP^SPEP^L|||20240501083000"


def obr(status: str) -> str:
    return "|".join([OBR, *[""] * 17, status])  # OBR-25


def message(order: str = OBR, status: str = "F") -> str:
    # OBX-14 after OBX-11: blanks at the end of a segment were always set aside, not inside it.
    lines = [HEADER, PID, order, f"OBX|1|NM|33358-3^M-protein^LN||1.2|g/dL|||||{status}|||20240501083000"]
    return "\r".join(lines) + "\r"


@pytest.mark.parametrize("status", ["F   ", "F\t", " F"])
def test_blanks_around_obx11_are_set_aside(codemap, status):
    ctx = parse_oru(message(status=status), codemap, today=TODAY)
    assert ctx.request["spep"]["m_protein"] == {"value": 1.2, "unit": "g/dL"}


def test_an_obx11_outside_its_table_is_still_refused(codemap):
    with pytest.raises(Hl7Error, match="not an HL7 table 0085 code") as err:
        parse_oru(message(status="Q  "), codemap, today=TODAY)
    assert (err.value.segment, err.value.index, err.value.field, err.value.hl7_code) == ("OBX", 1, 11, 103)


@pytest.mark.parametrize(
    ("status", "why"), [("Q", "not an HL7 table 0123 code"), ("Z", "query"), ("y", "query")]
)
def test_an_obr25_outside_table_0123_or_for_queries_is_refused_at_obr25(codemap, status, why):
    assert obr(status).split("|")[25] == status
    with pytest.raises(Hl7Error, match=why) as err:
        parse_oru(message(obr(status)), codemap, today=TODAY)
    assert (err.value.segment, err.value.index, err.value.field, err.value.hl7_code) == ("OBR", 1, 25, 103)


@pytest.mark.parametrize("status", ["P", "R", "A", "I", "O", "S", "p "])
def test_an_order_still_in_progress_is_read_with_a_note(codemap, status):
    ctx = parse_oru(message(obr(status)), codemap, today=TODAY)
    assert ctx.request["spep"]["m_protein"]["value"] == 1.2
    assert any(f"OBR-25 result status {status.strip().upper()} (" in n for n in ctx.notes)


@pytest.mark.parametrize("status", ["", "F", "C", "F  "])
def test_a_final_or_corrected_order_needs_no_note(codemap, status):
    ctx = parse_oru(message(obr(status)), codemap, today=TODAY)
    assert not any("OBR-25" in n for n in ctx.notes)


def test_through_the_endpoint_an_unknown_obr25_is_an_ae(client):
    text = message(obr("Z"))
    reply = client.post("/v1/hl7v2", data=text.encode(), content_type="x-application/hl7-v2+er7")
    assert reply.status_code == 422
    assert "ERR||OBR^1^25|103^Table value not found^HL70357|E|" in reply.data.decode()
