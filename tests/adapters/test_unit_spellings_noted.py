"""A unit read only once its case or spacing is set aside (an LIS that writes in capitals: MG/L) is read
and said in a note (docs/units.md), never silently; the spellings units.md lists are read without one."""

from __future__ import annotations

import copy
import json
from datetime import date
from pathlib import Path

import pytest

from service.adapters.fhir import translate_bundle
from service.adapters.hl7v2 import parse_oru

SAMPLES = Path(__file__).parent / "samples"
HL7 = (SAMPLES / "oru_worked_example_s6.hl7").read_text()
BUNDLE = json.loads((SAMPLES / "bundle_worked_example_s6.json").read_text())


@pytest.mark.parametrize(
    ("written", "noted"), [("MG/L", True), (" mg/L", False), ("mg/l", False), ("mg/L", False)]
)
def test_hl7_unit_read_loosely_is_noted(codemap, written, noted):
    msg = HL7.replace("|mg/L|", f"|{written}|", 1)
    ctx = parse_oru(msg, codemap, today=date(2026, 12, 1))
    said = [n for n in ctx.notes if "read as mg/L (case and spacing set aside)" in n]
    assert bool(said) is noted, ctx.notes
    assert ctx.request["flc"]["kappa"]["unit"] == "mg/L"


def test_fhir_unit_read_loosely_is_noted(codemap):
    bundle = copy.deepcopy(BUNDLE)
    text = json.dumps(bundle).replace('"code": "mg/L"', '"code": "MG/L"', 1)
    result = translate_bundle(json.loads(text), codemap, today=date(2026, 12, 1))
    assert any("'MG/L' read as mg/L (case and spacing set aside)" in n for n in result.notes), result.notes
