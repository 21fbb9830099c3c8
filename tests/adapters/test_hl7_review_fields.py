"""HL7 v2 fields read as the sender wrote them: dates quoted as sent and in ASCII digits only, a
repetition in a field that takes one value refused at that field, timestamps out of range or
implausible (the future, an age past 150) refused at the field that carries them."""

from __future__ import annotations

from datetime import date

import pytest

from service.adapters.hl7v2 import Hl7Error, parse_oru

HL7 = "x-application/hl7-v2+er7"
HEADER = r"MSH|^~\&|LIS|CENTRAL-LAB|MGI|HOSP|20240501120000||ORU^R01^ORU_R01|FIELDS1|P|2.5.1"


def pid(birth: str = "19600115", sex: str = "F") -> str:
    return f"PID|1||12345^^^HOSP^MR||Doe^Jane||{birth}|{sex}"


def obr(when: str = "20240501083000", end: str = "") -> str:
    return f"OBR|1|ORD1|FIL1|SPEP^Serum protein electrophoresis^L|||{when}|{end}"


def mprotein(when: str = "") -> str:
    return f"OBX|1|NM|33358-3^Protein.monoclonal^LN||1.2|g/dL|||||F|||{when}"


def message(*segments: str) -> str:
    return "\r".join([HEADER, *segments]) + "\r"


def located(err: pytest.ExceptionInfo[Hl7Error]) -> tuple[str | None, int | None, int | None]:
    return err.value.segment, err.value.index, err.value.field


class TestDatesAsSent:
    @pytest.mark.parametrize(
        ("segments", "where"),
        [
            ((pid(), obr("\uff120240501"), mprotein()), ("OBR", 1, 7)),
            ((pid("\uff119600115"), obr(), mprotein()), ("PID", 1, 7)),
            ((pid(), obr(), mprotein("\uff120240501")), ("OBX", 1, 14)),
            ((pid(), obr("2024\u0660501"), mprotein()), ("OBR", 1, 7)),  # an Arabic-Indic zero
        ],
    )
    def test_a_date_in_other_than_ascii_digits_is_refused_at_its_field(self, codemap, segments, where):
        with pytest.raises(Hl7Error, match="ASCII") as err:
            parse_oru(message(*segments), codemap)
        assert located(err) == where
        assert err.value.ack_code == "AE"
        assert err.value.hl7_code == 102


# Year 0001 or 9999 timestamps whose instant, taken in another UTC offset (up to a day away), falls
# past the calendar's ends (9999-12-31 23:59 at -14:00 is 10000-01-01 13:59 UTC).
EXTREMES = ["99991231235959-1400", "00010101000000+1400", "99991231120000+0000", "00010101000000-0100"]


class TestTimestampsOutOfRange:
    @pytest.mark.parametrize("when", EXTREMES)
    @pytest.mark.parametrize(
        ("build", "where"),
        [
            (lambda w: (pid(), obr(w), mprotein()), ("OBR", 1, 7)),
            (lambda w: (pid(), obr("20240501083000+0200"), mprotein(w)), ("OBX", 1, 14)),
            (lambda w: (pid(), obr(), mprotein(w)), ("OBX", 1, 14)),
            (lambda w: (pid(w), obr(), mprotein()), ("PID", 1, 7)),
        ],
    )
    def test_is_refused_at_its_field(self, codemap, build, where, when):
        with pytest.raises(Hl7Error, match="out of range") as err:
            parse_oru(message(*build(when)), codemap)
        assert located(err) == where
        assert err.value.ack_code == "AE"
        assert f"'{when}'" in err.value.message

    @pytest.mark.parametrize("when", EXTREMES)
    def test_an_obr_8_out_of_range_is_noted_and_the_collection_dated_by_its_obr_7(self, codemap, when):
        ctx = parse_oru(message(pid(), obr("20240501083000+0200", when), mprotein()), codemap)
        assert ctx.request["collected_on"] == "2024-05-01"
        assert any("OBR-8" in note and "out of range" in note for note in ctx.notes), ctx.notes

    @pytest.mark.parametrize("when", EXTREMES[:1])
    def test_over_http_it_is_an_ae_naming_the_field_not_an_unparseable_message(self, client, when):
        text = message(pid(), obr(when), mprotein())
        response = client.post("/v1/hl7v2", data=text.encode(), content_type=HL7)
        assert response.status_code == 422
        reply = response.data.decode()
        assert "MSA|AE|FIELDS1|" in reply
        assert "ERR||OBR^1^7|102^" in reply


FUTURE = ["29991231", "99991231", "20990101", "99991231000000+1400"]
BEFORE_1900 = ["00010101", "18991231", "00010101235959-1400"]


def http_err(client, text: str) -> tuple[int, list[str]]:
    response = client.post("/v1/hl7v2", data=text.encode(), content_type=HL7)
    return response.status_code, [
        s for s in response.data.decode().split("\r") if s.startswith(("MSA", "ERR"))
    ]


class TestImplausibleDates:
    @pytest.mark.parametrize("when", FUTURE)
    def test_an_obr_7_in_the_future_is_refused_at_obr_7_before_an_age_is_taken(self, codemap, when):
        with pytest.raises(Hl7Error, match="date is in the future") as err:
            parse_oru(message(pid(), obr(when), mprotein()), codemap)
        assert located(err) == ("OBR", 1, 7)
        assert f"'{when}'" in err.value.message

    @pytest.mark.parametrize("when", FUTURE)
    def test_an_obx_14_in_the_future_is_refused_at_obx_14_not_read_as_the_time_of_analysis(
        self, codemap, when
    ):
        with pytest.raises(Hl7Error, match="date is in the future") as err:
            parse_oru(message(pid(), obr(), mprotein(when)), codemap)
        assert located(err) == ("OBX", 1, 14)

    def test_an_obx_14_in_the_future_dating_the_panel_is_refused_at_obx_14(self, codemap):
        undated = "OBR|1|ORD1|FIL1|SPEP^Serum protein electrophoresis^L"
        with pytest.raises(Hl7Error, match="date is in the future") as err:
            parse_oru(message(pid(), undated, mprotein("20990101")), codemap)
        assert located(err) == ("OBX", 1, 14)

    def test_an_obx_14_later_today_is_the_time_of_analysis_as_an_obr_7_of_today_is_accepted(self, codemap):
        today = date.today().strftime("%Y%m%d")
        ctx = parse_oru(message(pid(), obr(today + "0000"), mprotein(today + "2359")), codemap)
        assert ctx.request["collected_on"] == date.today().isoformat()
        assert ctx.request["spep"]["m_protein"]["value"] == 1.2

    @pytest.mark.parametrize("when", BEFORE_1900)
    @pytest.mark.parametrize(
        ("build", "where"),
        [
            (lambda w: (pid(), obr(w), mprotein()), ("OBR", 1, 7)),
            (lambda w: (pid(), obr(), mprotein(w)), ("OBX", 1, 14)),
            (lambda w: (obr(), mprotein(w)), ("OBX", 1, 14)),
        ],
    )
    def test_a_result_date_before_1900_is_refused_at_its_field(self, codemap, build, where, when):
        with pytest.raises(Hl7Error, match="before 1900-01-01") as err:
            parse_oru(message(*build(when)), codemap)
        assert located(err) == where
        assert f"'{when}'" in err.value.message  # quoted as sent, leading zeros kept

    @pytest.mark.parametrize("birth", ["18000101", "00010101", "18730501"])
    def test_a_birth_date_giving_an_age_past_150_is_refused_at_pid_7(self, codemap, birth):
        with pytest.raises(Hl7Error, match="implausible age") as err:
            parse_oru(message(pid(birth), obr("20240501"), mprotein()), codemap)
        assert located(err) == ("PID", 1, 7)
        assert f"'{birth}'" in err.value.message

    @pytest.mark.parametrize("birth", ["18730502", "18740501"])
    def test_a_birth_date_giving_an_age_of_150_is_read(self, codemap, birth):
        ctx = parse_oru(message(pid(birth), obr("20240501"), mprotein()), codemap)
        assert ctx.request["patient"]["age_years"] == 150

    @pytest.mark.parametrize(
        ("segments", "location"),
        [
            ((pid(), obr("29991231"), mprotein()), "OBR^1^7"),
            ((pid("18000101"), obr(), mprotein()), "PID^1^7"),
            ((pid(), obr(), mprotein("00010101")), "OBX^1^14"),
            ((pid(), obr(), mprotein("99991231")), "OBX^1^14"),
        ],
    )
    def test_over_http_the_ack_names_the_field(self, client, segments, location):
        status, (msa, err) = http_err(client, message(*segments))
        assert status == 422
        assert msa.startswith("MSA|AE|FIELDS1|")
        assert err.startswith(f"ERR||{location}|102^Data type error^HL70357|E||||"), err
