"""MLLP framing bytes (0x0B start block, 0x1C end block) are never data: a message holding one is two
messages joined, and is refused (AR) before any of its segments is read."""

from __future__ import annotations

import pytest

from service.adapters.hl7v2 import Hl7Error, parse_oru

HL7 = "x-application/hl7-v2+er7"
A = (
    "MSH|^~\\&|SOFTLAB|MAIN|MGI|LAB|20240502103000||ORU^R01|MRG2A|P|2.4\r"
    "PID|1||A111^^^MRN||ALPHA^ANN||19600315|F\r"
    "OBR|1|O1|F1|SPEP^SPEP^L|||20240501083000\r"
    "OBX|1|NM|33358-3^M-protein^LN||1.2|g/dL|||||F\r"
    "OBX|2|ST|25700-6^IFE^LN||IgG kappa||||||F\r"
    "NTE|1|L|Reviewed by pathologist"
)
B = (
    "MSH|^~\\&|SOFTLAB|MAIN|MGI|LAB|20240502103100||ORU^R01|MRG2B|P|2.4\r"
    "OBR|1|O2|F2|CHEM^CHEM^L|||20240501083000\r"
    "OBX|1|NM|17861-6^Calcium^LN||13.5|mg/dL|8.6-10.3|H|||F\r"
    "OBX|2|NM|2160-0^Creatinine^LN||3.1|mg/dL|0.6-1.2|H|||F\r"
)


@pytest.mark.parametrize("joint", ["\x1c", "\x1c\x0b", "\x0b", "\r\x1c\r"])
def test_two_messages_joined_by_a_framing_byte_are_refused_not_read_as_one(codemap, joint):
    with pytest.raises(Hl7Error) as err:
        parse_oru(A + joint + B, codemap)
    assert err.value.ack_code == "AR"
    assert "inside the message" in str(err.value) and "one message per" in str(err.value)


def test_the_refusal_names_the_segment_holding_the_byte(codemap):
    with pytest.raises(Hl7Error) as err:
        parse_oru(A + "\x1c" + B, codemap)
    assert (err.value.segment, err.value.index) == ("NTE", 1)
    assert "0x1C" in str(err.value)


def test_framing_around_the_message_is_still_stripped(codemap):
    assert parse_oru("\x0b" + A + "\r\x1c\r", codemap).control_id == "MRG2A"


def test_over_http_the_joined_message_gets_400_ar_and_nothing_is_interpreted(client):
    resp = client.post("/v1/hl7v2", data=(A + "\x1c" + B).encode(), content_type=HL7)
    assert resp.status_code == 400
    body = resp.get_data(as_text=True)
    assert "MSA|AR|MRG2A" in body and "0x1C" in body
    assert "CLASSIFICATION" not in body
