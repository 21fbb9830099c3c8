"""HL7 v2 fields read as the sender wrote them: dates quoted as sent and in ASCII digits only, a
repetition in a field that takes one value refused at that field, timestamps out of range or
implausible (the future, an age past 150) refused at the field that carries them."""

from __future__ import annotations

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
