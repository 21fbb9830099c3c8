"""The order (OBR) a panel's answer echoes and its record names (specimen_id): the one carrying its
serum paraprotein studies (SPEP, then serum immunofixation, then free light chains), else its urine
studies, else the first OBR of the panel's day, whatever the order of the segments."""

from __future__ import annotations

from datetime import date

import pytest

from service.adapters.hl7v2 import parse_oru, record_identity

HL7 = "x-application/hl7-v2+er7"
TODAY = date(2024, 8, 1)
HEADER = r"MSH|^~\&|Cerner|MAIN|MGI|LAB|20240502103000||ORU^R01|R-ORD-1|P|2.5.1"
PID = "PID|1||111^^^MRN||ONE^PAT||19600315|F"

SPEP = (
    "OBR|{n}|SPEP-PLACER|SPEP-FILLER|SPEP^SPEP^L|||20240501083000",
    "OBX|{a}|NM|33358-3^M-protein^LN||1.2|g/dL|||||F",
    "OBX|{a}|ST|25700-6^IFE^LN||IgG kappa||||||F",
)
CHEM = (
    "OBR|{n}|CHEM-PLACER|CHEM-FILLER|CHEM^CHEM^L|||20240501100000",
    "OBX|{a}|NM|17861-6^Calcium^LN||9.5|mg/dL|8.6-10.3||||F",
)
CHEM_SAME_TIME = (
    "OBR|{n}|CHEM-PLACER|CHEM-FILLER|CHEM^CHEM^L|||20240501083000",
    "OBX|{a}|NM|17861-6^Calcium^LN||9.5|mg/dL|8.6-10.3||||F",
)
FLC = (
    "OBR|{n}|FLC-PLACER|FLC-FILLER|FLC^FLC^L|||20240501090000",
    "OBX|{a}|NM|36916-5^Kappa^LN||15|mg/L|||||F",
    "OBX|{a}|NM|33944-0^Lambda^LN||12|mg/L|||||F",
)
IFE_ONLY = (
    "OBR|{n}|IFE-PLACER|IFE-FILLER|IFE^IFE^L|||20240501083000",
    "OBX|{a}|ST|25700-6^IFE^LN||IgG kappa||||||F",
)
URINE = (
    "OBR|{n}|UR-PLACER|UR-FILLER|UPEP^UPEP^L|||20240501083000",
    "OBX|{a}|NM|42482-0^Urine M-protein^LN||300|mg/24h|||||F",
)
MARROW = (
    "OBR|{n}|BM-PLACER|BM-FILLER|BM^Marrow^L|||20240501080000",
    "OBX|{a}|NM|11118-7^Plasma cells^LN||5|%|||||F",
)


def message(*orders: tuple[str, ...]) -> str:
    lines = [HEADER, PID]
    obx = 0
    for n, order in enumerate(orders, start=1):
        lines.append(order[0].format(n=n))
        for line in order[1:]:
            obx += 1
            lines.append(line.format(a=obx))
    return "\r".join(lines) + "\r"


def fillers(text: str, client) -> tuple[str | None, str]:
    """The record's specimen_id and the OBR-3 the answer echoes."""
    from service.adapters.codes import load_codemap

    specimen = record_identity(parse_oru(text, load_codemap(), today=TODAY))[0].get("specimen_id")
    reply = client.post("/v1/hl7v2", data=text.encode(), content_type=HL7)
    assert reply.status_code == 200, reply.data
    obr = next(line for line in reply.data.decode().split("\r") if line.startswith("OBR|")).split("|")
    return specimen, obr[3]


@pytest.mark.parametrize(
    ("orders", "expected"),
    [
        ((SPEP, CHEM), "SPEP-FILLER"),  # the chemistry order is the day's last
        ((CHEM, SPEP), "SPEP-FILLER"),
        ((SPEP, CHEM_SAME_TIME), "SPEP-FILLER"),  # the same time: segment order used to decide
        ((CHEM_SAME_TIME, SPEP), "SPEP-FILLER"),
        ((SPEP, FLC, CHEM), "SPEP-FILLER"),  # the FLC order at 09:00, the chemistry at 10:00
        ((FLC, CHEM), "FLC-FILLER"),
        ((CHEM, FLC, IFE_ONLY), "IFE-FILLER"),  # the immunofixation before the free light chains
        ((CHEM, URINE, MARROW), "UR-FILLER"),  # no serum study: the urine's
    ],
)
def test_the_panel_s_order_is_that_of_its_paraprotein_studies(client, orders, expected):
    text = message(*orders)
    specimen, echoed = fillers(text, client)
    assert (specimen, echoed) == (expected, expected)


@pytest.mark.parametrize(
    ("orders", "expected"), [((CHEM, MARROW), "CHEM-FILLER"), ((MARROW, CHEM), "BM-FILLER")]
)
def test_without_paraprotein_studies_the_first_order_of_the_panel_s_day(codemap, orders, expected):
    """Such a message has no screening result (a 422), but its record identity is still read."""
    ctx = parse_oru(message(*orders), codemap, today=TODAY)
    assert record_identity(ctx)[0]["specimen_id"] == expected


def test_the_answer_echoes_the_studies_order_placer_and_collection_time(client):
    reply = client.post("/v1/hl7v2", data=message(SPEP, CHEM).encode(), content_type=HL7)
    obr = next(line for line in reply.data.decode().split("\r") if line.startswith("OBR|")).split("|")
    assert (obr[2], obr[3], obr[7]) == ("SPEP-PLACER", "SPEP-FILLER", "20240501083000")
