"""HL7 v2 timestamps with UTC offsets: an OBX-14 and the panel's OBR-7 that carry offsets are compared
in one frame (the panel timestamp's offset); without offsets, the dates are read as written."""

from __future__ import annotations

import pytest

from service.adapters.hl7v2 import Hl7Error, parse_oru

HEADER = r"MSH|^~\&|LIS|CENTRAL-LAB|MGI|HOSP|20240501120000||ORU^R01^ORU_R01|DATES1|P|2.5.1"
PID = r"PID|1||12345^^^HOSP^MR||Doe^Jane||19600115|F"


def obr(when: str, n: int = 1) -> str:
    return f"OBR|{n}|ORD{n}|FIL{n}|SPEP^Serum protein electrophoresis^L|||{when}"


def mprotein(n: int, value: str, when: str = "") -> str:
    return f"OBX|{n}|NM|33358-3^Protein.monoclonal^LN||{value}|g/dL|||||F|||{when}"


def message(*segments: str) -> str:
    return "\r".join([HEADER, PID, *segments]) + "\r"


def test_an_obx_14_with_another_offset_is_dated_in_the_panels_frame(codemap):
    # 2024-05-01 23:30 at -05:00 is 2024-05-02 04:30 at +00:00: the same instant as OBR-7.
    ctx = parse_oru(message(obr("20240502043000+0000"), mprotein(1, "1.2", "20240501233000-0500")), codemap)
    assert ctx.request["collected_on"] == "2024-05-02"
    assert ctx.request["spep"] == {"m_protein": {"value": 1.2, "unit": "g/dL"}}
    assert "history" not in ctx.request
    assert not any("earlier result" in note for note in ctx.notes), ctx.notes


def test_an_obx_14_converted_to_a_later_day_is_the_time_of_analysis(codemap):
    # 2024-05-01 22:00 at -05:00 is 2024-05-02 05:00 at +02:00 (the panel's frame): a day after
    # OBR-7's 2024-05-01 20:00 +02:00, so it is read as the time of analysis, not a later result.
    ctx = parse_oru(message(obr("20240501200000+0200"), mprotein(1, "1.2", "20240501220000-0500")), codemap)
    assert ctx.request["collected_on"] == "2024-05-01"
    assert ctx.request["spep"] == {"m_protein": {"value": 1.2, "unit": "g/dL"}}
    assert any("2024-05-02 is after the collection date" in note for note in ctx.notes), ctx.notes


def test_an_earlier_obr_with_another_offset_is_dated_in_the_panels_frame(codemap):
    # The first OBR's 2024-05-01 21:00 at -07:00 is 2024-05-02 04:00 at +00:00: the panel's day.
    ctx = parse_oru(
        message(
            obr("20240501210000-0700", 1),
            mprotein(1, "1.2"),
            obr("20240502090000+0000", 2),
            "OBX|2|NM|36916-5^Kappa free^LN||10.4|mg/L|||||F",
        ),
        codemap,
    )
    assert ctx.request["collected_on"] == "2024-05-02"
    assert ctx.request["spep"] == {"m_protein": {"value": 1.2, "unit": "g/dL"}}
    assert "history" not in ctx.request


def test_without_an_obr_the_latest_obx_14_gives_the_frame(codemap):
    ctx = parse_oru(
        message(
            mprotein(1, "1.2", "20240502043000+0000"),
            "OBX|2|NM|36916-5^Kappa free^LN||10.4|mg/L|||||F|||20240501233000-0500",
        ),
        codemap,
    )
    assert ctx.request["collected_on"] == "2024-05-02"
    assert "history" not in ctx.request
    assert ctx.request["flc"]["kappa"]["value"] == 10.4


@pytest.mark.parametrize(
    ("panel", "result"),
    [
        ("20240502043000", "20240501233000-0500"),  # the panel's timestamp carries no offset
        ("20240502043000+0000", "20240501233000"),  # the result's carries none
    ],
)
def test_without_two_offsets_the_dates_are_read_as_written(codemap, panel, result):
    """The M-protein is of 2024-05-01 as written (no offset to convert by); the panel is dated by its
    paraprotein study, not by the order's later OBR-7."""
    ctx = parse_oru(message(obr(panel), mprotein(1, "1.2", result)), codemap)
    assert ctx.request["collected_on"] == "2024-05-01"
    assert "history" not in ctx.request
    assert ctx.request["spep"]["m_protein"] == {"value": 1.2, "unit": "g/dL"}


def test_a_time_that_cannot_be_converted_is_refused_at_its_field(codemap):
    with pytest.raises(Hl7Error, match="OBX-14") as err:
        parse_oru(message(obr("20240502043000+0000"), mprotein(1, "1.2", "20240501253000-0500")), codemap)
    assert (err.value.segment, err.value.index, err.value.field) == ("OBX", 1, 14)


def test_a_null_obr_7_is_not_given_and_the_obx_14_dates_the_panel(codemap):
    ctx = parse_oru(message(obr('""'), mprotein(1, "1.2", "20240501083000")), codemap)
    assert ctx.request["collected_on"] == "2024-05-01"
    assert any('OBR[1] OBR-7 is the HL7 null ""' in note for note in ctx.notes), ctx.notes


def test_a_null_obx_14_is_not_given_and_the_result_has_the_obr_7_date(codemap):
    ctx = parse_oru(message(obr("20240501083000"), mprotein(1, "1.2", '""')), codemap)
    assert ctx.request["collected_on"] == "2024-05-01"
    assert ctx.request["spep"] == {"m_protein": {"value": 1.2, "unit": "g/dL"}}
    assert any('OBX-14 is the HL7 null ""' in note for note in ctx.notes), ctx.notes


@pytest.mark.parametrize("when", ["20240501250000", "20240501236000", "202405012500"])
def test_a_time_of_day_that_is_not_one_is_refused_with_or_without_an_offset(codemap, when):
    with pytest.raises(Hl7Error, match="not a valid time of day") as err:
        parse_oru(message(obr(when), mprotein(1, "1.2")), codemap)
    assert (err.value.segment, err.value.field) == ("OBR", 7)


def test_a_valid_time_without_an_offset_is_read_as_its_date(codemap):
    ctx = parse_oru(message(obr("20240501235959"), mprotein(1, "1.2")), codemap)
    assert ctx.request["collected_on"] == "2024-05-01"


@pytest.mark.parametrize("undated_obr_7", ["", "202405", '""'])
def test_results_without_a_date_beside_dated_ones_are_refused_never_given_the_panels_day(
    codemap, undated_obr_7
):
    """The current order has no usable OBR-7, an older one is dated: its results cannot be placed, and
    taking them as of the older order's day would read 16-month-old free light chains as current."""
    current = f"OBR|1|ORD1|FIL1|SPEP^Serum protein electrophoresis^L|||{undated_obr_7}"
    old = "OBR|2|ORD2|FIL2|FLC^Free light chains^L|||20230101083000"
    kappa = "OBX|2|NM|36916-5^Kappa free^LN||450|mg/L|||||F"
    with pytest.raises(Hl7Error, match="no collection date") as err:
        parse_oru(message(current, mprotein(1, "3.5"), old, kappa), codemap)
    assert (err.value.segment, err.value.index, err.value.field) == ("OBX", 1, 14)


def test_a_message_whose_results_are_all_undated_is_read_as_before(codemap):
    undated = "OBR|1|ORD1|FIL1|SPEP^Serum protein electrophoresis^L"
    ctx = parse_oru(message(undated, mprotein(1, "1.2")), codemap)
    assert "collected_on" not in ctx.request
    assert ctx.request["spep"]["m_protein"] == {"value": 1.2, "unit": "g/dL"}


URINE_24H = "OBX|1|NM|42482-0^Urine M-protein 24h^LN||650|mg/(24.h)|||||F"
URINE_IFE = "OBX|2|ST|13440-3^Urine immunofixation^LN||IgG kappa||||||F"


@pytest.mark.parametrize(
    ("start", "end", "with_panel"),
    [
        ("20240430080000", "20240501080000", True),  # the collection ends on the panel's day
        ("20240501090000", "20240502090000", True),  # it starts on the panel's day
        ("20240430080000", "", False),  # no OBR-8: dated by its start, an earlier result
        ("20240428080000", "20240429080000", False),  # over before the panel's day
    ],
)
def test_a_timed_urine_collection_whose_period_holds_the_panels_day_is_of_the_panel(
    codemap, start, end, with_panel
):
    serum = obr("20240501083000")
    urine = f"OBR|2|ORD2|FIL2|UPEP24^24-hour urine^L|||{start}|{end}"
    ctx = parse_oru(message(serum, mprotein(1, "1.2"), urine, URINE_24H, URINE_IFE), codemap)
    assert ctx.request["collected_on"] == "2024-05-01"
    in_panel = ctx.request.get("urine", {}).get("m_protein_24h")
    assert (in_panel == {"value": 650, "unit": "mg/24h"}) is with_panel, ctx.request
    if with_panel and start < "20240501":
        assert any("OBR-7 to OBR-8" in n for n in ctx.notes), ctx.notes


def test_an_obr_8_that_is_not_a_date_is_noted_not_refused(codemap):
    urine = "OBR|2|ORD2|FIL2|UPEP24^24-hour urine^L|||20240501080000|2024-05-02"
    ctx = parse_oru(message(obr("20240501083000"), mprotein(1, "1.2"), urine, URINE_24H), codemap)
    assert ctx.request["urine"]["m_protein_24h"]["value"] == 650
    assert any("OBR-8" in n and "not read" in n for n in ctx.notes), ctx.notes
