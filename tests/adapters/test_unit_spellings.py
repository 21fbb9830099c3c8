"""Common unit spellings are read as the one known unit they spell when case, spaces, a caret before the
exponent and 'hr' for the hour are set aside; a spelling that could be two known units stays refused."""

from __future__ import annotations

import pytest

from service.adapters.codes import load_codemap
from service.adapters.fhir import translate_bundle
from service.adapters.hl7v2 import parse_oru

from .test_adapter_fhir import bundle, observation, quantity
from .test_no_m_spike_wording import oru


@pytest.mark.parametrize(
    ("sent", "read"),
    [
        ("MG/L", "mg/L"),
        ("MG/DL", "mg/dL"),
        ("G/DL", "g/dL"),
        ("Mg/L", "mg/L"),
        ("mL/min/1.73 m2", "mL/min/1.73m2"),
        ("mL/min/1.73m^2", "mL/min/1.73m2"),
        ("ML/MIN/1.73M2", "mL/min/1.73m2"),
        ("mg/24 h", "mg/24h"),
        ("mg/24hr", "mg/24h"),
        ("G/24 HR", "g/24h"),
        ("MMOL/L", "mmol/L"),
        ("UMOL/L", "umol/L"),
        ("mg/dl", "mg/dL"),
        ("mg/L", "mg/L"),
        ("furlongs", "furlongs"),  # no known unit: passed on for the schema to refuse
    ],
)
def test_a_common_spelling_is_the_known_unit(sent, read):
    assert load_codemap().normalize_unit(sent) == read


def test_a_spelling_matching_two_known_units_is_not_guessed(monkeypatch):
    import service.adapters.codes as codes

    monkeypatch.setattr(codes, "KNOWN_UNITS", codes.KNOWN_UNITS | {"Mg/L"})
    assert load_codemap().normalize_unit("MG/L") == "MG/L"


def test_hl7_upper_case_units_are_read(codemap):
    ctx = parse_oru(
        oru(
            "OBX|1|NM|33358-3^M^LN||1.2|G/DL|||||F",
            "OBX|2|NM|36916-5^K^LN||20|MG/L|3.3-19.4 MG/L||||F",
            "OBX|3|NM|98979-8^eGFR^LN||75|ML/MIN/1.73M2|||||F",
            "OBX|4|NM|42482-0^U^LN||120|mg/24hr|||||F",
        ),
        codemap,
    )
    assert ctx.request["spep"]["m_protein"] == {"value": 1.2, "unit": "g/dL"}
    assert ctx.request["flc"]["kappa"]["unit"] == "mg/L"
    assert ctx.request["flc"]["kappa"]["reference_range"] == {"low": 3.3, "high": 19.4}
    assert ctx.request["labs"]["egfr"]["unit"] == "mL/min/1.73m2"
    assert ctx.request["urine"]["m_protein_24h"]["unit"] == "mg/24h"


def test_fhir_spaced_egfr_unit_is_read(codemap):
    egfr = observation("98979-8", effectiveDateTime="2024-05-02", **quantity(75, "mL/min/1.73 m2"))
    result = translate_bundle(bundle(egfr), codemap)
    assert result.request["labs"]["egfr"]["unit"] == "mL/min/1.73m2"
