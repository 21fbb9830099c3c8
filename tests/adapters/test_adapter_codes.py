"""The code map (defaults, lab files, validation) and the shared value readers."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from service.adapters.codes import (
    DEFAULT_CODEMAP_PATH,
    FIELD_KINDS,
    CodeMap,
    CodeMapError,
    Coding,
    Kind,
    PanelAssembler,
    ValueProblem,
    WrongCodeError,
    load_codemap,
    parse_compared,
    parse_flag,
    parse_ife,
    parse_number,
    parse_range_text,
)

from .conftest import SAMPLES

# loinc-map.md, row by row: code -> (field, confidence letter)
LOINC_DEFAULTS = {
    "33358-3": ("spep.m_protein", "A"),
    "51435-6": ("spep.m_protein", "C"),
    "25700-6": ("serum_ife", "A"),
    "13440-3": ("urine.ife", "B (unconfirmed)"),
    "36916-5": ("flc.kappa", "B"),
    "80515-0": ("flc.kappa", "B"),
    "104544-2": ("flc.kappa", "B"),
    "33944-0": ("flc.lambda", "B"),
    "80516-8": ("flc.lambda", "B"),
    "48378-4": ("crosscheck.flc_ratio", "A"),
    "104546-7": ("crosscheck.flc_ratio", "A"),
    "42482-0": ("urine.m_protein_24h", "A-"),
    "11118-7": ("marrow.plasma_cells_percent", "B (unconfirmed)"),
    "17861-6": ("labs.calcium", "A"),
    "2000-8": ("labs.calcium", "A"),
    "2160-0": ("labs.creatinine", "B"),
    "14682-9": ("labs.creatinine", "A"),
    "718-7": ("labs.hemoglobin", "B"),
    "59260-0": ("labs.hemoglobin", "B"),
    "98979-8": ("labs.egfr", "B"),
    "62238-1": ("labs.egfr", "B"),
    "33914-3": ("labs.egfr", "B"),
    "3016-3": ("labs.tsh", "A"),
    # Additions beyond loinc-map.md (a measured clearance, the US eGFR codes), re-checked by the lab.
    "2164-2": ("labs.creatinine_clearance", "C"),
    "48642-3": ("labs.egfr", "C"),
    "48643-1": ("labs.egfr", "C"),
    "88293-6": ("labs.egfr", "C"),
    "88294-4": ("labs.egfr", "C"),
    "77147-7": ("labs.egfr", "C"),
    "50044-7": ("labs.egfr", "C"),
}

WRONG_CODES = {
    "26450-7": "LOINC 26450-7 is eosinophils/100 leukocytes in blood, not marrow plasma cells",
    "26098-4": "LOINC 26098-4 is an ankle radiograph, not clonal plasma cells",
    "33944-8": "LOINC 33944-8 is not a LOINC code (one character off 33944-0), not lambda free",
    "33945-5": "LOINC 33945-5 is not a LOINC code (one character off 33944-0), not lambda free",
    "40844-3": "LOINC 40844-3 is a deprecated free kappa/lambda ratio code, not the kappa/lambda",
    "6788-4": "LOINC 6788-4 is the ratio of total (not free) kappa/lambda, not the free light",
}


def write(tmp_path: Path, text: str, name: str = "lab.yaml") -> str:
    path = tmp_path / name
    path.write_text(text)
    return str(path)


class TestDefaults:
    @pytest.mark.parametrize("code", sorted(LOINC_DEFAULTS))
    def test_each_loinc_default_maps_to_its_field_with_its_confidence(self, codemap, code):
        entry = codemap.observation(Coding("LN", code))
        assert entry is not None
        assert (entry.target, entry.confidence) == LOINC_DEFAULTS[code]
        if entry.confidence.startswith(("B", "C")):
            assert entry.caveat, f"{code} is {entry.confidence} and must carry its caveat"

    def test_no_loinc_default_is_missing_or_extra(self, codemap):
        loinc = {code for (system, code) in codemap.observations if system == "loinc"}
        assert loinc == set(LOINC_DEFAULTS)

    @pytest.mark.parametrize("system", ["LN", "ln", "LOINC", "http://loinc.org", "2.16.840.1.113883.6.1"])
    def test_loinc_system_spellings(self, codemap, system):
        assert codemap.observation(Coding(system, "33358-3")).target == "spep.m_protein"

    def test_a_loinc_code_under_another_system_is_not_loinc(self, codemap):
        assert codemap.observation(Coding("99LAB", "33358-3")) is None

    @pytest.mark.parametrize("code", sorted(WRONG_CODES))
    def test_every_wrong_code_is_rejected_naming_what_it_really_is(self, codemap, code):
        with pytest.raises(WrongCodeError) as err:
            codemap.resolve([Coding("LN", code)], section="observations")
        assert str(err.value).startswith(WRONG_CODES[code])

    def test_a_wrong_code_is_rejected_even_as_the_alternate_coding(self, codemap):
        with pytest.raises(WrongCodeError, match="26450-7"):
            codemap.resolve([Coding("99LAB", "PC"), Coding("LN", "26450-7")], section="observations")

    def test_every_terminology_default_records_its_public_source(self, codemap):
        for entry in codemap.conditions.values():
            assert entry.source, f"{entry.system} {entry.code} has no verification source"
            assert entry.target.startswith("clinical.")

    def test_verified_snomed_and_icd_defaults(self, codemap):
        assert codemap.condition(Coding("SCT", "40930008")).target == "clinical.thyroid_disease"
        assert codemap.condition(Coding("http://snomed.info/sct", "34486009")).target == (
            "clinical.thyroid_disease"
        )
        assert codemap.condition(Coding("SCT", "23132008")).target == "clinical.amyloidosis"
        assert codemap.condition(Coding("I10", "E05.9")).target == "clinical.thyroid_disease"
        assert codemap.condition(Coding("I10", "E059")).target == "clinical.thyroid_disease"
        assert codemap.condition(Coding("I10", "C90.3")).target == "clinical.plasmacytoma"
        assert codemap.condition(Coding("I10", "C90.0")) is None  # myeloma is not a plasmacytoma

    def test_generic_amyloidosis_ships_disabled(self, codemap):
        assert codemap.conditions[("snomed", "17602002")].enabled is False
        assert codemap.condition(Coding("SCT", "17602002")) is None

    def test_no_unverified_scleromyxoedema_code_ships_as_a_default(self, codemap):
        targets = {e.target for e in codemap.conditions.values()}
        assert "clinical.scleromyxedema" not in targets
        # checked and deliberately not mapped: too broad / a different disease
        assert ("icd10", "L98.5") in codemap.not_mapped
        assert codemap.condition(Coding("I10", "L98.5")) is None
        assert codemap.condition(Coding("SCT", "111197009")) is None

    @pytest.mark.parametrize(
        ("ucum", "contract"),
        [
            ("mL/min/{1.73_m2}", "mL/min/1.73m2"),
            ("mg/(24.h)", "mg/24h"),
            ("g/(24.h)", "g/24h"),
            ("m[IU]/L", "mIU/L"),
            ("umol/L", "umol/L"),
            ("%", "%"),
            ("ug/mL", "ug/mL"),  # not a contract unit: passed through for the schema to reject
        ],
    )
    def test_unit_spellings(self, codemap, ucum, contract):
        assert codemap.normalize_unit(ucum) == contract

    def test_every_target_of_the_defaults_is_a_known_request_field(self):
        data = yaml.safe_load(DEFAULT_CODEMAP_PATH.read_text())
        for section in ("observations", "conditions"):
            for item in data[section]:
                assert item["target"] in FIELD_KINDS


class TestLabFile:
    def test_local_code_is_accepted_without_code_change(self, lab_codemap):
        entry = lab_codemap.observation(Coding("99MGL", "MPROT"))
        assert entry.target == "spep.m_protein"
        assert entry.origin.endswith("lab-codemap.yaml")
        # the same code through the lab's FHIR CodeSystem (system alias)
        assert (
            lab_codemap.observation(Coding("https://lab.example/fhir/CodeSystem/mg", "MPROT")).target
            == "spep.m_protein"
        )
        # defaults are still there
        assert lab_codemap.observation(Coding("LN", "33358-3")).target == "spep.m_protein"

    def test_env_var_names_the_lab_file(self, monkeypatch):
        monkeypatch.setenv("MGI_CODEMAP_FILE", str(SAMPLES / "lab-codemap.yaml"))
        assert load_codemap().observation(Coding("99MGL", "SCLMYX")).target == ("clinical.scleromyxedema")
        monkeypatch.delenv("MGI_CODEMAP_FILE")
        assert load_codemap().observation(Coding("99MGL", "SCLMYX")) is None

    def test_load_is_not_cached(self, tmp_path):
        path = write(tmp_path, "observations:\n  - {code: A1, system: L, target: labs.tsh}\n")
        assert load_codemap(path).observation(Coding("L", "A1")).target == "labs.tsh"
        Path(path).write_text("observations:\n  - {code: A1, system: L, target: labs.calcium}\n")
        assert load_codemap(path).observation(Coding("L", "A1")).target == "labs.calcium"

    def test_lab_entry_replaces_a_default(self, tmp_path):
        path = write(
            tmp_path,
            "observations:\n  - {code: '51435-6', system: LN, target: spep.m_protein, priority: 0}\n",
        )
        assert load_codemap(path).observation(Coding("LN", "51435-6")).priority == 0

    def test_lab_can_enable_a_disabled_default(self, tmp_path):
        path = write(
            tmp_path,
            "conditions:\n  - {code: '17602002', system: SCT, target: clinical.amyloidosis}\n",
        )
        assert load_codemap(path).condition(Coding("SCT", "17602002")).target == ("clinical.amyloidosis")

    def test_unquoted_numeric_code_is_read_as_text(self, tmp_path):
        path = write(tmp_path, "conditions:\n  - {code: 123456, system: L, target: clinical.fever}\n")
        assert load_codemap(path).condition(Coding("L", "123456")).target == "clinical.fever"


class TestBadLabFile:
    @pytest.mark.parametrize(
        ("text", "expected"),
        [
            (
                "observations:\n  - {code: MP, system: L, target: spep.mprotein}\n",
                r"observations\[0\] \(code 'MP'\): unknown target field 'spep.mprotein'",
            ),
            ("observations: [\n", "malformed YAML"),
            (
                "observations:\n  - {code: '26450-7', system: L, target: marrow.plasma_cells_percent}\n",
                r"observations\[0\] \(code '26450-7'\): collides with a known-wrong code: LOINC "
                r"26450-7 is eosinophils/100 leukocytes in blood",
            ),
            (
                "observations:\n  - {code: X, system: 7, target: labs.tsh}\n",
                r"observations\[0\] \(code 'X'\): 'system' must be a string",
            ),
            (
                "observations:\n  - {code: X, system: L, target: labs.tsh, colour: red}\n",
                r"observations\[0\]: unknown key\(s\) \['colour'\]",
            ),
            (
                "conditions:\n  - {code: X, system: L, target: labs.tsh}\n",
                r"conditions\[0\] \(code 'X'\): a condition can only fill a clinical finding",
            ),
            ("observations:\n  - {code: 1.5, system: L, target: labs.tsh}\n", "'code' must be"),
            ("mappings: []\n", r"unknown section\(s\) \['mappings'\]"),
            (
                "observations:\n  - {code: X, target: labs.calcium, units: {'mmol/L': 'mmol/L * ten'}}\n",
                r"units.mmol/L: write the request unit, optionally '\* factor'",
            ),
            (
                "observations:\n  - {code: X, target: labs.calcium, units: {'mmol/L': 'mol/L'}}\n",
                r"units.mmol/L: 'mol/L' is not a unit of the contract",
            ),
            (
                "observations:\n  - {code: X, target: serum_ife, units: {'%': '%'}}\n",
                "'units' applies to quantities only",
            ),
            ("ife_wordings: {'IgG band': 'IgQ kappa'}\n", r"ife_wordings.IgG band: immunofixation value"),
            ("senders:\n  - {name: a}\n", r"senders\[0\] \(a\): name the sender by at least one of"),
            (
                "senders:\n  - {name: a, application: A, colour: red}\n",
                r"senders\[0\] \(a\): unknown key\(s\) \['colour'\]",
            ),
            (
                "senders:\n  - {name: a, application: A, observations: [{code: X, target: nope}]}\n",
                r"senders\[0\] \(a\).*unknown target field 'nope'",
            ),
            ("unit_aliases: {'ug/mL': 'ug/mL'}\n", "is not a unit of the contract"),
            (
                "observations:\n  - {code: X, system: L, target: labs.tsh}\n"
                "  - {code: X, system: L, target: labs.calcium}\n",
                r"observations\[1\] \(code 'X'\): the same code is already mapped to 'labs.tsh'",
            ),
            ("- just a list\n", "top level must be a mapping"),
            ("system_aliases: {mine: [LN]}\n", "'LN' already means 'loinc'"),
        ],
    )
    def test_bad_file_fails_naming_file_and_entry(self, tmp_path, text, expected):
        path = write(tmp_path, text)
        with pytest.raises(CodeMapError, match=expected) as err:
            load_codemap(path)
        assert path in str(err.value)

    def test_missing_file(self, tmp_path):
        with pytest.raises(CodeMapError, match="cannot read code-map file"):
            load_codemap(str(tmp_path / "nope.yaml"))

    def test_bad_file_named_by_the_env_var_fails_at_load(self, tmp_path, monkeypatch):
        monkeypatch.setenv("MGI_CODEMAP_FILE", write(tmp_path, "observations: {}\n"))
        with pytest.raises(CodeMapError, match="must be a list"):
            load_codemap()


class TestValueReaders:
    @pytest.mark.parametrize(
        ("text", "expected"),
        [("16", 16), ("0.80", 0.8), (".5", 0.5), ("+3", 3)],
    )
    def test_numbers(self, text, expected):
        assert parse_number(text) == expected

    @pytest.mark.parametrize("text", ["1,2", "abc", "1.2.3", "", "inf", "nan"])
    def test_not_numbers(self, text):
        with pytest.raises(ValueProblem):
            parse_number(text)

    @pytest.mark.parametrize(
        ("text", "expected"),
        [
            ("<0.1", ("<", 0.1)),
            ("< 0.1", ("<", 0.1)),
            (">=90", (">=", 90)),
            ("=<5", ("<=", 5)),
            ("=3", (None, 3)),
            ("16", (None, 16)),
        ],
    )
    def test_comparators(self, text, expected):
        assert parse_compared(text) == expected

    @pytest.mark.parametrize(
        ("text", "expected"),
        [
            ("3.3-19.4", ({"low": 3.3, "high": 19.4}, "")),
            ("0.4 - 4.0", ({"low": 0.4, "high": 4.0}, "")),
            ("3.3-19.4 mg/L", ({"low": 3.3, "high": 19.4}, "mg/L")),
            ("(2.15 - 2.55)", ({"low": 2.15, "high": 2.55}, "")),
            ("<4.0", ({"high": 4.0}, "")),
            ("< 4.0 mIU/L", ({"high": 4.0}, "mIU/L")),
            (">60", ({"low": 60}, "")),
            ("", None),
        ],
    )
    def test_reference_ranges(self, text, expected):
        assert parse_range_text(text) == expected

    def test_unreadable_reference_range(self):
        with pytest.raises(ValueProblem, match="reference range 'normal'"):
            parse_range_text("normal")

    @pytest.mark.parametrize(("text", "expected"), [("Y", True), ("no", False), ("NOT DETECTED", False)])
    def test_flags(self, text, expected):
        assert parse_flag(text) is expected

    def test_flag_nonsense(self):
        with pytest.raises(ValueProblem, match="'maybe' is not a yes/no value"):
            parse_flag("maybe")


IGG_K = {"heavy_chain": "IgG", "light_chain": "kappa"}


class TestImmunofixation:
    @pytest.mark.parametrize(
        ("text", "clones"),
        [
            ("IgG kappa", [IGG_K]),
            ("IgG-κ", [IGG_K]),
            ("IgGκ", [IGG_K]),
            ("IgG-K", [IGG_K]),
            ("Positive, IgG kappa", [IGG_K]),
            ("monoclonal IgG kappa paraprotein", [IGG_K]),
            ("IgG lambda", [{"heavy_chain": "IgG", "light_chain": "lambda"}]),
            ("positive IgM lambda", [{"heavy_chain": "IgM", "light_chain": "lambda"}]),
            ("IgD-λ", [{"heavy_chain": "IgD", "light_chain": "lambda"}]),
            ("free kappa", [{"heavy_chain": None, "light_chain": "kappa"}]),
            ("kappa light chain only", [{"heavy_chain": None, "light_chain": "kappa"}]),
            ("lambda free light chains", [{"heavy_chain": None, "light_chain": "lambda"}]),
            ("Bence Jones lambda", [{"heavy_chain": None, "light_chain": "lambda"}]),
            (
                "biclonal IgG kappa and IgA lambda",
                [IGG_K, {"heavy_chain": "IgA", "light_chain": "lambda"}],
            ),
            ("IgG kappa + free lambda", [IGG_K, {"heavy_chain": None, "light_chain": "lambda"}]),
        ],
    )
    def test_positive_forms(self, text, clones):
        assert parse_ife([text]) == {"result": "positive", "clones": clones}

    @pytest.mark.parametrize(
        "text", ["negative", "NEG", "No monoclonal protein detected.", "no paraprotein detected"]
    )
    def test_negative_forms(self, text):
        assert parse_ife([text]) == {"result": "negative", "clones": []}

    def test_repetitions_make_a_biclonal_result(self):
        assert parse_ife(["IgG kappa", "IgA lambda"])["clones"] == [
            IGG_K,
            {"heavy_chain": "IgA", "light_chain": "lambda"},
        ]

    @pytest.mark.parametrize(
        ("text", "message"),
        [
            ("positive", "names no heavy/light chain"),
            ("kappa", "is not understood"),
            ("IgX kappa", "is not understood"),
            ("IgG kappa and IgA lambda and IgM kappa", "more than two clones"),
            ("biclonal IgG kappa", "says biclonal but names one clone"),
            ("IgG kappa and IgG kappa", "the same clone twice"),
            ("polyclonal increase", "is not understood"),
        ],
    )
    def test_anything_else_is_an_error_never_a_guess(self, text, message):
        with pytest.raises(ValueProblem, match=message):
            parse_ife([text])

    def test_negative_and_positive_together(self):
        with pytest.raises(ValueProblem, match="both negative and positive"):
            parse_ife(["negative", "IgG kappa"])


class TestAssembler:
    def test_identical_values_from_two_sources(self):
        panel = PanelAssembler()
        panel.set("labs.tsh", {"value": 1, "unit": "mIU/L"}, source="A")
        panel.set("labs.tsh", {"value": 1, "unit": "mIU/L"}, source="B")
        assert panel.build() == {"labs": {"tsh": {"value": 1, "unit": "mIU/L"}}}

    def test_conflicting_values_are_an_error_naming_both_sources(self):
        panel = PanelAssembler()
        panel.set("labs.tsh", {"value": 1, "unit": "mIU/L"}, source="OBX[1]")
        with pytest.raises(ValueProblem, match=r"conflicting values.*OBX\[1\].*OBX\[2\]"):
            panel.set("labs.tsh", {"value": 2, "unit": "mIU/L"}, source="OBX[2]")

    def test_priority_decides_and_is_noted(self):
        panel = PanelAssembler()
        panel.set("labs.egfr", 2, source="older", priority=1)
        panel.set("labs.egfr", 1, source="newer", priority=0)
        assert panel.get("labs.egfr") == 1
        assert panel.notes == ["labs.egfr: older ignored, newer is preferred"]

    def test_diagnoses_merge_present_over_refuted(self):
        panel = PanelAssembler()
        panel.set("clinical.thyroid_disease", False, source="a", from_condition=True)
        panel.set("clinical.thyroid_disease", True, source="b", from_condition=True)
        panel.set("clinical.thyroid_disease", False, source="c", from_condition=True)
        assert panel.get("clinical.thyroid_disease") is True

    def test_scleromyxoedema_confirmed_beats_suspected(self):
        panel = PanelAssembler()
        panel.set("clinical.scleromyxedema", "suspected", source="a", from_condition=True)
        panel.set("clinical.scleromyxedema", "confirmed", source="b", from_condition=True)
        assert panel.get("clinical.scleromyxedema") == "confirmed"

    def test_ratio_cross_check(self):
        panel = PanelAssembler()
        panel.set("flc.kappa", {"value": 12.1, "unit": "mg/L"}, source="k")
        panel.set("flc.lambda", {"value": 1.43, "unit": "mg/dL"}, source="l")
        panel.set("crosscheck.flc_ratio", {"value": 0.85, "comparator": None}, source="r")
        panel.check_flc_ratio()
        assert "crosscheck" not in panel.build()
        panel.set("crosscheck.flc_ratio", {"value": 2.5, "comparator": None}, source="r2")
        with pytest.raises(ValueProblem, match="ratio 2.5 disagrees with kappa/lambda 0.85"):
            panel.check_flc_ratio()


def test_field_registry_covers_the_contract_request_sections():
    sections = {path.split(".")[0] for path in FIELD_KINDS}
    assert sections >= {
        "spep",
        "serum_ife",
        "urine",
        "flc",
        "marrow",
        "labs",
        "imaging",
        "cytogenetics",
        "clinical",
    }
    assert FIELD_KINDS["clinical.scleromyxedema"] is Kind.SCLEROMYXEDEMA


def test_codemap_is_a_plain_value_object():
    assert isinstance(load_codemap(), CodeMap)


class TestSenderMaps:
    def test_a_sender_map_is_the_global_map_with_the_sender_s_codes_over_it(self, tmp_path):
        path = tmp_path / "lab.yaml"
        path.write_text(
            "observations:\n  - {code: G1, target: spep.m_protein}\n"
            "senders:\n  - {name: a, application: LABA, facility: MAIN,\n"
            "     observations: [{code: G1, target: serum_ife}, {code: K, system: L, target: flc.kappa}]}\n"
        )
        codemap = load_codemap(str(path))
        assert codemap.observation(Coding(None, "G1")).target == "spep.m_protein"
        own = codemap.for_sender(application="laba ", facility="MAIN")
        assert own.sender == "a"
        assert own.observation(Coding(None, "G1")).target == "serum_ife"
        assert own.observation(Coding("L", "K")).target == "flc.kappa"
        assert own.observation(Coding("LN", "33358-3")).target == "spep.m_protein"  # the defaults stay
        # Every criterion must match: the same application from another facility is another sender.
        assert codemap.for_sender(application="LABA", facility="ANNEX") is codemap
        assert codemap.for_sender() is codemap

    def test_an_entry_without_a_system_matches_only_a_coding_without_one(self, tmp_path):
        path = tmp_path / "lab.yaml"
        path.write_text("observations:\n  - {code: MSPIKE, target: spep.m_protein}\n")
        codemap = load_codemap(str(path))
        assert codemap.observation(Coding(None, "MSPIKE")).target == "spep.m_protein"
        assert codemap.observation(Coding("", "MSPIKE")).target == "spep.m_protein"
        assert codemap.observation(Coding("99LAB", "MSPIKE")) is None


@pytest.mark.parametrize(
    ("text", "heavy", "light"),
    [
        ("Faint IgA lambda band", "IgA", "lambda"),
        ("a small monoclonal IgG kappa", "IgG", "kappa"),
        ("Trace IgM kappa", "IgM", "kappa"),
        ("weak free lambda", None, "lambda"),
    ],
)
def test_a_qualified_band_names_its_clone(text, heavy, light):
    """A size qualifier before the clone ('faint', 'small', 'trace') is wording, as in 'faint band of'."""
    assert load_codemap().parse_ife([text]) == {
        "result": "positive",
        "clones": [{"heavy_chain": heavy, "light_chain": light}],
    }


@pytest.mark.parametrize("text", ["Faint band", "faint", "small kappa"])
def test_a_qualifier_without_a_clone_is_still_refused(text):
    with pytest.raises(ValueProblem):
        load_codemap().parse_ife([text])
