"""UCUM writes the litre 'l' or 'L': a unit whose litre is lower-case (mg/l, g/dl, mmol/l, umol/l)
is read as the contract's spelling in HL7 OBX-6 and FHIR valueQuantity."""

from __future__ import annotations

import pytest

from service.adapters.codes import load_codemap


@pytest.mark.parametrize(
    ("sent", "read"),
    [
        ("mg/l", "mg/L"),
        ("g/dl", "g/dL"),
        ("mmol/l", "mmol/L"),
        ("umol/l", "umol/L"),
        ("ml/min", "mL/min"),
        ("mg/L", "mg/L"),
        ("mmol/L", "mmol/L"),  # the 'l' ending 'mmol' is not a litre
        ("MG/L", "mg/L"),  # one known unit whatever its case (test_unit_spellings.py)
        ("mg/24h", "mg/24h"),
    ],
)
def test_a_lower_case_litre_is_the_contract_spelling(sent, read):
    assert load_codemap().normalize_unit(sent) == read


def test_hl7_calcium_in_mmol_per_lower_case_litre_is_read(codemap):
    from service.adapters.hl7v2 import parse_oru

    msg = "\r".join(
        [
            r"MSH|^~\&|LIS|CENTRAL-LAB|MGI|HOSP|20240501120000||ORU^R01^ORU_R01|L1|P|2.5.1",
            r"PID|1||12345^^^HOSP^MR||Doe^Jane||19600115|F",
            r"OBR|1|ORD1|FIL1|SPEP^Serum protein electrophoresis^L|||20240501083000",
            r"OBX|1|NM|33358-3^Protein.monoclonal^LN||1.2|g/dl|||||F",
            r"OBX|2|NM|17861-6^Calcium^LN||9.6|mg/dl|8.6-10.3||||F",
        ]
    )
    ctx = parse_oru(msg + "\r", codemap)
    assert ctx.request["spep"]["m_protein"] == {"value": 1.2, "unit": "g/dL"}
    assert ctx.request["labs"]["calcium"]["unit"] == "mg/dL"
