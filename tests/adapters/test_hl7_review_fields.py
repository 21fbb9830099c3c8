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

    def test_a_cancelled_order_scheduled_in_the_future_is_read_past_as_its_results_are(self, codemap):
        cancelled = fields_of(obr("20990101"), 25, "X")
        current = "OBR|2|ORD2|FIL2|FLC^Free light chains^L|||20240501083000"
        ctx = parse_oru(message(pid(), cancelled, mprotein(), current, KAPPA), codemap)
        assert ctx.request["collected_on"] == "2024-05-01"
        assert "spep" not in ctx.request
        assert any("order cancelled" in note for note in ctx.notes), ctx.notes

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

    @pytest.mark.parametrize("end", ["99991231", "20990101", "00010101"])
    def test_an_obr_8_in_the_future_or_before_1900_is_noted_and_does_not_date_results(self, codemap, end):
        """A 24-hour urine of March whose OBR-8 says 9999 is an earlier result, not one of the panel."""
        urine = f"OBR|2|ORD2|FIL2|UPEP24^24-hour urine^L|||20240301080000|{end}"
        volume = "OBX|2|NM|42482-0^Urine M-protein 24h^LN||650|mg/(24.h)|||||F"
        ctx = parse_oru(message(pid(), obr("20240501083000"), mprotein(), urine, volume), codemap)
        assert "m_protein_24h" not in ctx.request.get("urine", {}), ctx.request
        assert any("OBR-8" in note and "not read" in note for note in ctx.notes), ctx.notes

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


KAPPA = "OBX|2|NM|36916-5^Kappa free^LN||10.4|mg/L|3.3-19.4||||F|||20240501083000"


def fields_of(segment: str, n: int, value: str) -> str:
    """The segment with field n (HL7 numbering, not MSH) replaced by value."""
    parts = segment.split("|")
    parts += [""] * (n + 1 - len(parts))
    parts[n] = value
    return "|".join(parts)


def dg1(n: int = 0, value: str = "") -> str:
    segment = "DG1|1||23132008^AL amyloidosis^SCT||20240401|F" + "|" * 15 + "A"
    return fields_of(segment, n, value) if n else segment


class TestRepetitions:
    @pytest.mark.parametrize(
        ("segments", "where"),
        [
            ((pid("19900115~19400101"), obr(), mprotein()), ("PID", 1, 7)),
            ((pid(sex="F~M"), obr(), mprotein()), ("PID", 1, 8)),
            ((pid(), obr("20240501~20230101"), mprotein()), ("OBR", 1, 7)),
            ((pid(), obr(end="20240502~20240503"), mprotein()), ("OBR", 1, 8)),
            ((pid(), fields_of(obr(), 25, "F~X"), mprotein()), ("OBR", 1, 25)),
            ((pid(), obr(), mprotein(), fields_of(KAPPA, 1, "2~3")), ("OBX", 2, 1)),
            ((pid(), obr(), mprotein(), fields_of(KAPPA, 2, "NM~ST")), ("OBX", 2, 2)),
            ((pid(), obr(), mprotein(), fields_of(KAPPA, 3, "36916-5^K^LN~33358-3^M^LN")), ("OBX", 2, 3)),
            ((pid(), obr(), mprotein(), fields_of(KAPPA, 4, "1~2")), ("OBX", 2, 4)),
            ((pid(), obr(), mprotein(), fields_of(KAPPA, 7, "3.3-19.4~33-194")), ("OBX", 2, 7)),
            ((pid(), obr(), mprotein(), fields_of(KAPPA, 11, "F~C")), ("OBX", 2, 11)),
            ((pid(), obr(), mprotein(), fields_of(KAPPA, 14, "20240501~20990101")), ("OBX", 2, 14)),
            ((pid(), obr(), mprotein(), dg1(3, "23132008^AL^SCT~C90.0^MM^I10")), ("DG1", 1, 3)),
            ((pid(), obr(), mprotein(), dg1(6, "W~F")), ("DG1", 1, 6)),
            ((pid(), obr(), mprotein(), dg1(21, "A~D")), ("DG1", 1, 21)),
        ],
    )
    def test_a_repeated_field_that_takes_one_value_is_refused_at_that_field(self, codemap, segments, where):
        with pytest.raises(Hl7Error, match="repeats") as err:
            parse_oru(message(*segments), codemap)
        assert located(err) == where
        assert err.value.ack_code == "AE"
        assert err.value.hl7_code == 102
        assert f"{where[0]}-{where[2]} repeats" in err.value.message

    @pytest.mark.parametrize(
        ("field", "value"),
        [(3, "LIS~OTHER"), (4, "CENTRAL-LAB~MAIN"), (9, "ORU^R01^ORU_R01~ADT^A01"), (10, "ID1~ID2")]
        + [(11, "P~T"), (12, "2.5.1~2.3")],
    )
    def test_a_repeated_msh_field_rejects_the_message(self, codemap, field, value):
        msh = HEADER.split("|")
        msh[field - 1] = value  # MSH-1 is the field separator itself
        text = "\r".join(["|".join(msh), pid(), obr(), mprotein()]) + "\r"
        with pytest.raises(Hl7Error, match=f"MSH-{field} repeats") as err:
            parse_oru(text, codemap)
        assert located(err) == ("MSH", 1, field)
        assert err.value.ack_code == "AR"

    def test_repeatable_fields_still_repeat(self, codemap):
        identifiers = "PID|1||12345^^^HOSP^MR~987^^^SSA^SS||Doe^Jane~Roe^Jane||19600115|F"
        ife = "OBX|3|ST|25700-6^Immunofixation^LN||IgG kappa~IgA lambda||||||F"
        ctx = parse_oru(message(identifiers, obr(), mprotein(), ife), codemap)
        assert ctx.request["patient"] == {"sex": "female", "age_years": 64}
        assert len(ctx.request["serum_ife"]["clones"]) == 2, ctx.request["serum_ife"]

    def test_a_field_of_a_result_not_read_is_not_judged(self, codemap):
        unmapped = fields_of("OBX|2|NM|99999-9^Unknown^LN||1|g/L|||||F", 7, "1-2~3-4")
        ctx = parse_oru(message(pid(), obr(), mprotein(), unmapped), codemap)
        assert any("code not in the code map" in note for note in ctx.notes), ctx.notes

    def test_over_http_the_ack_names_the_field(self, client):
        status, (msa, err) = http_err(client, message(pid(sex="F~M"), obr(), mprotein()))
        assert status == 422
        assert msa.startswith("MSA|AE|FIELDS1|PID-8 repeats")
        assert err.startswith("ERR||PID^1^8|102^Data type error^HL70357|E||||PID-8 repeats"), err


class TestPartialDates:
    @pytest.mark.parametrize("partial", ["2024", "202405", "2999", "0001"])
    @pytest.mark.parametrize(
        ("build", "field"),
        [
            (lambda p: (pid(), obr(p), mprotein()), "OBR-7"),
            (lambda p: (pid(), obr(), mprotein(p)), "OBX-14"),
            (lambda p: (pid(), obr(end=p), mprotein()), "OBR-8"),
        ],
    )
    def test_a_date_without_a_day_is_noted_as_not_read(self, codemap, build, field, partial):
        ctx = parse_oru(message(*build(partial)), codemap)
        assert any(f"{field}: '{partial}' is a partial date" in note for note in ctx.notes), ctx.notes
