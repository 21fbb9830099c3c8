"""MSH-18, the message's character set (HL7 table 0211): the bytes are read in the set it declares;
a set the table does not define, one the service cannot read (UTF-16 or UTF-32 on an 8-bit stream,
ISO 2022 code switching), or bytes not valid in the declared set are rejected (AR at MSH-18). Without
MSH-18 the bytes are read as UTF-8, else Latin-1. The same on POST /v1/hl7v2, in a batch file and over
MLLP (tests/mllp)."""

from __future__ import annotations

from datetime import date

import pytest

from service.adapters.hl7v2 import Hl7Error, parse_oru, split_batch

TODAY = date(2024, 8, 1)
HL7 = "x-application/hl7-v2+er7"


def message(charset: bytes, pid: bytes = b"P1", control_id: bytes = b"CS1") -> bytes:
    return (
        b"MSH|^~\\&|LIS|LAB|MGI|HOSP|20240501120000||ORU^R01^ORU_R01|"
        + control_id
        + b"|P|2.5.1||||||"
        + charset
        + b"\r"
        b"PID|1||" + pid + b"^^^HOSP^MR||Doe^Jane||19600115|F\r"
        b"OBR|1|ORD1|FIL1|SPEP^Serum protein electrophoresis^L|||20240501083000\r"
        b"OBX|1|NM|33358-3^Protein.monoclonal^LN||12|g/L|||||F\r"
    )


def pid3(charset: bytes, pid: bytes, codemap) -> str:
    ctx = parse_oru(message(charset, pid), codemap, today=TODAY)
    assert ctx.pid is not None
    return ctx.pid.split("|")[3].split("^")[0]


def refused(data: bytes | str, codemap) -> Hl7Error:
    with pytest.raises(Hl7Error) as err:
        parse_oru(data, codemap, today=TODAY)
    assert (err.value.segment, err.value.index, err.value.field) == ("MSH", 1, 18)
    assert err.value.ack_code == "AR"
    return err.value


class TestDeclaredSetsAreRead:
    @pytest.mark.parametrize(
        ("charset", "pid", "read"),
        [
            (b"8859/1", b"M\xc3\xa9", "MÃ©"),  # the bytes of UTF-8 'é', read as ISO 8859-1 declares
            (b"8859/1", b"M\xe9", "Mé"),
            (b"8859/15", b"M\xa4", "M€"),
            (b"8859/5", b"\xbc", "М"),  # Cyrillic capital em
            (b"8859/7", b"\xe1", "α"),
            (b"UNICODE UTF-8", b"M\xc3\xa9", "Mé"),
            (b"ASCII", b"MX", "MX"),
            (b"GB 18030-2000", b"\xd6\xd0", "中"),
            (b"BIG-5", b"\xa4\xa4", "中"),
            (b"unicode  utf-8", b"M\xc3\xa9", "Mé"),  # case and blanks aside
        ],
    )
    def test_the_bytes_are_read_in_the_declared_set(self, codemap, charset, pid, read):
        assert pid3(charset, pid, codemap) == read

    @pytest.mark.parametrize(("pid", "read"), [(b"M\xc3\xa9", "Mé"), (b"M\xe9", "Mé")])
    def test_without_msh18_utf8_else_latin1(self, codemap, pid, read):
        assert pid3(b"", pid, codemap) == read


class TestRefusedAtMsh18:
    @pytest.mark.parametrize(
        "charset", [b"BOGUS", b"UNICODE UTF-16", b"UNICODE UTF-32", b"UNICODE", b"ISO IR87"]
    )
    def test_an_unknown_or_unsupported_set(self, codemap, charset):
        error = refused(message(charset), codemap)
        assert error.hl7_code == 103
        assert charset.decode() in str(error)

    def test_a_common_spelling_outside_the_table_names_the_table_value(self, codemap):
        assert "send 'UNICODE UTF-8'" in str(refused(message(b"UTF-8"), codemap))

    def test_several_sets_iso_2022_switching(self, codemap):
        assert "several character sets" in str(refused(message(b"ASCII~ISO IR87"), codemap))

    @pytest.mark.parametrize(
        ("charset", "pid"), [(b"UNICODE UTF-8", b"M\xe9"), (b"ASCII", b"M\xe9"), (b"8859/3", b"\xa5")]
    )
    def test_bytes_not_valid_in_the_declared_set(self, codemap, charset, pid):
        error = refused(message(charset, pid), codemap)
        assert error.hl7_code == 102
        assert "not valid in the MSH-18 character set" in str(error)

    def test_a_utf8_byte_order_mark_beside_another_declared_set(self, codemap):
        assert "byte-order mark" in str(refused(b"\xef\xbb\xbf" + message(b"8859/1"), codemap))

    def test_text_holding_a_character_outside_the_declared_set(self, codemap):
        text = message(b"ASCII").decode().replace("P1^", "Mé^")
        assert "not a character of" in str(refused(text, codemap))

    def test_text_declaring_an_unknown_set(self, codemap):
        refused(message(b"BOGUS").decode(), codemap)


class TestEndpoint:
    def test_an_unknown_set_is_an_ar_naming_msh18_with_the_control_id(self, client):
        response = client.post("/v1/hl7v2", data=message(b"BOGUS", control_id=b"CSX1"), content_type=HL7)
        assert response.status_code == 400
        lines = response.data.decode().split("\r")
        assert next(x for x in lines if x.startswith("MSA|")).startswith("MSA|AR|CSX1|")
        assert next(x for x in lines if x.startswith("ERR|")).startswith("ERR||MSH^1^18|103^")

    def test_a_latin1_message_is_read_as_latin1(self, client):
        response = client.post("/v1/hl7v2", data=message(b"8859/1", b"M\xc3\xa9"), content_type=HL7)
        assert response.status_code == 200
        assert "PID|1||MÃ©^^^HOSP^MR" in response.data.decode()

    def test_each_message_of_a_batch_is_read_in_its_own_set(self, client):
        batch = (
            b"FHS|^~\\&|LIS|LAB\rBHS|^~\\&|LIS|LAB\r"
            + message(b"8859/1", b"M\xc3\xa9", b"B1")
            + message(b"BOGUS", b"X", b"B2")
            + message(b"", b"M\xc3\xa9", b"B3")
            + b"BTS|3\rFTS|1\r"
        )
        response = client.post("/v1/hl7v2", data=batch, content_type=HL7)
        assert response.status_code == 200
        text = response.data.decode()
        assert "PID|1||MÃ©^^^HOSP^MR" in text  # B1, as 8859/1 declares
        assert "PID|1||Mé^^^HOSP^MR" in text  # B3, UTF-8 without MSH-18
        assert "MSA|AR|B2|" in text and "ERR||MSH^1^18|103^" in text
        assert "MSA|AA|B1" in text and "MSA|AA|B3" in text

    def test_a_batch_file_hands_each_message_on_as_its_bytes(self):
        batch = b"BHS|^~\\&|LIS|LAB\r" + message(b"8859/1", b"M\xc3\xa9") + b"BTS|1\r"
        (part,) = split_batch(batch).batches
        assert part.messages == [message(b"8859/1", b"M\xc3\xa9").rstrip(b"\r")]
