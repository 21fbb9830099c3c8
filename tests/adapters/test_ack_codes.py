"""ACK error codes (HL7 table 0357) and texts for content the message carries: a content error is never
an application internal error (207), and a refusal says what was read."""

from __future__ import annotations

from service.adapters.hl7v2 import DEFAULT_ENCODING, OruContext, validation_error

HL7 = "x-application/hl7-v2+er7"
HEADER = r"MSH|^~\&|Cerner|MAIN|MGI|LAB|20240502103000||ORU^R01|R-ACK-1|P|2.5.1"
PID = "PID|1||111^^^MRN||ONE^PAT||19600315|F"
OBR = "OBR|1|P1|F1|SPEP^SPEP^L|||20240501083000"
MSPIKE = "OBX|1|NM|33358-3^M-protein^LN||1.2|g/dL|||||F"


def post(client, *segments: str, header: str = HEADER):
    reply = client.post("/v1/hl7v2", data=("\r".join([header, *segments]) + "\r").encode(), content_type=HL7)
    return reply.status_code, reply.data.decode().split("\r")


def err(lines: list[str]) -> str:
    return next(line for line in lines if line.startswith("ERR|"))


def test_every_order_cancelled_is_a_required_result_missing_not_an_internal_error(client):
    cancelled = "|".join([OBR, *[""] * 17, "X"])  # OBR-25 X
    assert cancelled.split("|")[25] == "X"
    status, lines = post(client, PID, cancelled, MSPIKE)
    assert status == 422
    assert "MSA|AE|R-ACK-1|" in "\r".join(lines)
    assert err(lines).startswith("ERR||OBX|101^Required field missing^HL70357|E|")
    assert "at least one screening result is required" in err(lines)
    assert "_schema" not in err(lines)  # the whole request, named in words, not by an internal key


def test_a_request_error_not_located_at_a_result_is_a_data_type_error():
    ctx = OruContext(
        encoding=DEFAULT_ENCODING,
        version="2.5.1",
        message_type="ORU^R01",
        control_id="C1",
        processing_id="P",
        sending_application="",
        sending_facility="",
        receiving_application="",
        receiving_facility="",
        pid=None,
        obr=[],
    )
    assert validation_error({"patient.sex": ["Must be one of: female, male."]}, ctx).hl7_code == 102


def test_a_five_character_msh2_says_what_it_is_not_the_parser_s_words(client):
    status, lines = post(client, PID, OBR, MSPIKE, header=HEADER.replace(r"^~\&", r"^~\&#", 1))
    assert status == 400
    assert err(lines).startswith("ERR||MSH^1^2|102^Data type error^HL70357|E|")
    assert "truncation character" in err(lines) and "v2.7" in err(lines)
    assert "Invalid encoding chars" not in "\r".join(lines)


def test_a_raw_caret_in_a_unit_is_named_as_the_component_separator(client):
    egfr = "OBX|2|NM|33914-3^eGFR^LN||35|mL/min/1.73m^2|||||F"
    status, lines = post(client, PID, OBR, MSPIKE, egfr)
    assert status == 422
    assert err(lines).startswith("ERR||OBX^2^6|103^Table value not found^HL70357|E|")
    assert "component separator" in err(lines) and "mL/min/1.73m" in err(lines)
    assert "Must be one of" not in err(lines)


def test_the_caret_escaped_is_read(client):
    egfr = r"OBX|2|NM|33914-3^eGFR^LN||35|mL/min/1.73m\S\2|||||F"
    status, lines = post(client, PID, OBR, MSPIKE, egfr)
    assert status == 200, lines
