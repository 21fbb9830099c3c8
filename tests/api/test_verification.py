"""The verification pack: the shipped cases pass against a running instance in JSON, HL7 v2 and FHIR, and
``python -m service verify`` fails loudly on a mismatch and on an instance it cannot reach."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
from pathlib import Path

import pytest
import yaml
from werkzeug.serving import make_server

from service.adapters.codes import FIELD_KINDS, Kind, load_codemap
from service.api import create_app
from service.api.schemas import FLAG_CODES, ClassificationOut
from service.api.security import hash_key
from service.verification import cases as C
from service.verification import forms as F
from service.verification.run import main
from tests.conftest import ROOT

KEY = "verify-key-4Tq9Lm2Xc7Vb1Nz8Kd3Rf6Ws5Yg0Hj"
# The flag codes of the API contract (api-contract.md, "Flag codes"); the service may add its own.
CONTRACT_FLAGS = [
    "MGCS_SCLEROMYXEDEMA",
    "DERMATO_NEURO_SYNDROME",
    "SCLEROMYXEDEMA_NO_PARAPROTEIN",
    "THYROID_DISEASE_EXCLUSION",
    "MYELOMA_DEFINING_EVENT",
    "MARROW_EXAMINATION_RECOMMENDED",
    "HEMATOLOGY_REFERRAL",
    "RENAL_FLC_INTERVAL_APPLIED",
    "NON_FREELITE_ASSAY",
    "EVOLVING_M_PROTEIN",
    "EVOLVING_HEMOGLOBIN",
    "RISING_M_PROTEIN_SUCCESSIVE",
]


@pytest.fixture(scope="module")
def lab_codemap(tmp_path_factory) -> Path:
    """A laboratory code map with a local code for every field the adapters read (the shipped defaults
    cover the laboratory results; findings, marrow details and imaging are local codes in every lab)."""
    entries = [
        {"code": f"V{i:03d}", "system": "mgverify", "target": target}
        for i, (target, kind) in enumerate(sorted(FIELD_KINDS.items()))
        if kind is not Kind.CROSSCHECK
    ]
    doc = {
        "system_aliases": {"mgverify": ["99MGV", "https://lab.example/fhir/CodeSystem/verify"]},
        "observations": entries,
    }
    path = tmp_path_factory.mktemp("codemap") / "lab-codemap.yaml"
    path.write_text(yaml.safe_dump(doc))
    return path


@pytest.fixture(scope="module", params=["stateless", "records store on"])
def instance(request, lab_codemap, tmp_path_factory):
    """The service with API keys on, serving real HTTP on 127.0.0.1 and a free ephemeral port: stateless
    (200 answers), and as deployed with the records store on (201 answers, each stored)."""
    config = {
        "TESTING": True,
        "DEV_MODE": False,
        "API_KEYS": {"lis": hash_key(KEY)},
        "CODEMAP_FILE": str(lab_codemap),
    }
    if request.param == "records store on":
        data = tmp_path_factory.mktemp("verify-data")
        config.update(
            {
                "STORE": "on",
                "DATABASE_URL": f"sqlite:///{data / 'records.sqlite3'}",
                "DATA_DIR": str(data),
                "PATIENT_KEY_SECRET": "verify-secret-0123456789abcdef0123456789",
                "STORE_AUTO_MIGRATE": True,
            }
        )
    app = create_app(config)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=10)


def rows(output: str) -> list[tuple[str, str, str]]:
    """(case id, form, PASS/FAIL/SKIP) of the printed table."""
    out = []
    for line in output.splitlines():
        parts = line.split()
        if len(parts) >= 3 and parts[-1] in ("PASS", "FAIL", "SKIP") and parts[0] != "case":
            form = parts[2] if parts[1] == "*" else parts[1]
            out.append((parts[0], form, parts[-1]))
    return out


SHIPPED = C.load()
PENDING = {c.id for c in SHIPPED if c.depends_on}


def test_the_shipped_cases_pass_in_json_hl7_and_fhir_against_a_running_instance(
    instance, lab_codemap, capsys
):
    code = main(["--url", instance, "--key", KEY, "--codemap", str(lab_codemap)])
    out = capsys.readouterr().out
    table = rows(out)
    assert {(c.id, f) for c in SHIPPED for f in c.forms} == {(i, f) for i, f, _ in table}
    assert not [r for r in table if r[2] == "SKIP"], "every case is sent in every form it lists"
    failed = [r for r in table if r[2] == "FAIL"]
    assert not failed, out
    assert code == 0


def test_in_the_records_no_hl7_case_is_another_s_history_and_a_second_run_adds_no_hl7_record(
    instance, lab_codemap, capsys
):
    import requests

    auth = {"Authorization": f"Bearer {KEY}"}
    if requests.get(f"{instance}/v1/interpretations", headers=auth, timeout=10).status_code == 405:
        pytest.skip("stateless instance: nothing is stored")

    def hl7_records() -> list[dict]:
        out, cursor = [], None
        while True:
            params = {"limit": 200, **({"cursor": cursor} if cursor else {})}
            url = f"{instance}/v1/interpretations"
            page = requests.get(url, headers=auth, params=params, timeout=10).json()
            out += [i for i in page["items"] if i["source"] == "hl7"]
            cursor = page["next_cursor"]
            if cursor is None:
                return out

    assert main(["--url", instance, "--key", KEY, "--codemap", str(lab_codemap)]) == 0
    first = hl7_records()
    assert first, "the pack's HL7 cases are stored"
    assert main(["--url", instance, "--key", KEY, "--codemap", str(lab_codemap)]) == 0
    capsys.readouterr()
    stored = hl7_records()
    assert {i["id"] for i in stored} == {i["id"] for i in first}  # sent again: the same records
    assert len({i["specimen_id"] for i in stored}) == len(stored)
    for item in stored:
        rec = requests.get(f"{instance}{item['location']}", headers=auth, timeout=10).json()
        assert [h for h in rec["interpretation"]["history_used"] if h["source"] == "store"] == [], item


def test_the_hl7_and_fhir_forms_use_the_shipped_loinc_code_that_carries_the_value_s_unit():
    codemap = load_codemap(None)
    case = next(c for c in SHIPPED if c.id == "plausibility-calcium-range-in-mg-dl")
    message = F.to_hl7(case.body, codemap)
    # a calcium in mmol/L goes under the molar code 2000-8, never the mass code 17861-6
    assert "|2000-8^labs.calcium^LN||2.7|mmol/L|8.6-9.6||||F" in message
    bundle = F.to_fhir(case.body, codemap)
    codes = [e["resource"]["code"]["coding"][0] for e in bundle["entry"]]
    assert {"system": "http://loinc.org", "code": "2000-8"} in codes
    mg_dl = {**case.body, "labs": {"calcium": {"value": 10.8, "unit": "mg/dL"}}}
    assert "|17861-6^labs.calcium^LN||10.8|mg/dL|" in F.to_hl7(mg_dl, codemap)


def test_a_case_needing_a_local_code_is_not_sent_in_hl7_without_the_lab_s_code_map():
    codemap = load_codemap(None)
    worked = next(c for c in SHIPPED if c.id == "worked-example-s6")
    with pytest.raises(F.NotExpressible, match="no code in the code map for"):
        F.to_hl7(worked.body, codemap)


def test_the_pack_has_the_worked_example_and_a_case_per_classification_and_flag_code():
    ids = {c.id for c in SHIPPED}
    assert "worked-example-s6" in ids
    classifications = {c.expect.classification for c in SHIPPED}
    assert set(ClassificationOut().fields["code"].validate.choices) <= classifications  # type: ignore[union-attr]
    required = {f for c in SHIPPED for f in c.expect.flags_required}
    assert set(CONTRACT_FLAGS) <= required
    assert set(CONTRACT_FLAGS) <= set(FLAG_CODES)  # still the service's own codes


def test_the_cases_ship_inside_the_package():
    import service.verification

    folder = Path(service.verification.__file__).parent / "cases"
    assert sorted(p.name for p in folder.glob("*.yaml"))
    pyproject = (ROOT / "pyproject.toml").read_text()
    assert '"**/*.yaml"' in pyproject  # package-data of "service"


def _lab_case_file(tmp_path: Path, classification: str) -> Path:
    doc = {
        "cases": [
            {
                "id": "lab-mgus-igg-kappa",
                "title": "Our own IgG-kappa MGUS",
                "body": {
                    "spep": {"m_protein": {"value": 12, "unit": "g/L"}},
                    "serum_ife": {
                        "result": "positive",
                        "clones": [{"heavy_chain": "IgG", "light_chain": "kappa"}],
                    },
                },
                "expect": {"classification": classification, "flags_forbidden": ["MYELOMA_DEFINING_EVENT"]},
            }
        ]
    }
    path = tmp_path / "lab-cases.yaml"
    path.write_text(yaml.safe_dump(doc))
    return path


def test_a_lab_s_own_case_passes_in_every_form(instance, tmp_path, capsys):
    path = _lab_case_file(tmp_path, "MGUS_NON_IGM")
    assert main(["--url", instance, "--key", KEY, "--no-shipped", "--cases", str(path)]) == 0
    out = capsys.readouterr().out
    assert rows(out) == [("lab-mgus-igg-kappa", f, "PASS") for f in ("json", "hl7", "fhir")]
    assert "VERIFIED" in out


def test_a_mismatch_fails_the_verification_and_says_how(instance, tmp_path, capsys):
    path = _lab_case_file(tmp_path, "MULTIPLE_MYELOMA")
    assert main(["--url", instance, "--key", KEY, "--no-shipped", "--cases", str(path)]) == 1
    out = capsys.readouterr().out
    assert "lab-mgus-igg-kappa [json]: classification MGUS_NON_IGM, expected MULTIPLE_MYELOMA" in out
    assert "VERIFIED" not in out


def test_a_wrong_api_key_fails_every_case(instance, capsys):
    assert main(["--url", instance, "--key", "not-the-key", "--only", "mgus-non-igm", "--forms", "json"]) == 1
    assert "HTTP 401, expected 200" in capsys.readouterr().out


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_an_instance_that_cannot_be_reached_exits_2_with_a_clear_message(capsys):
    assert main(["--url", f"http://127.0.0.1:{_closed_port()}", "--timeout", "5"]) == 2
    err = capsys.readouterr().err
    assert "cannot reach http://127.0.0.1:" in err and "Is the service running" in err


def test_a_malformed_case_file_exits_2_naming_the_case(tmp_path, capsys):
    path = tmp_path / "bad.yaml"
    path.write_text(
        yaml.safe_dump({"cases": [{"id": "x", "title": "t", "body": {}, "expect": {"status": 422}}]})
    )
    assert main(["--url", "http://127.0.0.1:1", "--no-shipped", "--cases", str(path)]) == 2
    assert "x" in capsys.readouterr().err


def test_the_command_runs_as_python_m_service_verify(instance, lab_codemap):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "service",
            "verify",
            "--url",
            instance,
            "--key",
            KEY,
            "--codemap",
            str(lab_codemap),
            "--only",
            "worked-example-s6",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
        env=env,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert rows(proc.stdout) == [("worked-example-s6", f, "PASS") for f in ("json", "hl7", "fhir")]
