"""HL7 v2 messages in the records store: PID-3 is the patient reference of serial memory (with its
assigning authority), OBR-3 the specimen, and the same message sent again is the same record."""

from __future__ import annotations

import pytest

from service.adapters import hl7v2

HL7 = "x-application/hl7-v2+er7"


def message(
    ctrl: str,
    on: str,
    spike_g_dl: str,
    pid3: str | None = "12345^^^HOSP^MR",
    filler: str = "FIL1",
    msh_time: str = "20250501120000",
) -> bytes:
    segments = [
        rf"MSH|^~\&|LIS|LAB|MGI|HOSP|{msh_time}||ORU^R01^ORU_R01|{ctrl}|P|2.5.1",
        *([f"PID|1||{pid3}||Doe^Jane||19600115|F"] if pid3 is not None else []),
        f"OBR|1|ORD-{ctrl}|{filler}|MG^MG panel^L|||{on}083000",
        f"OBX|1|NM|33358-3^Protein.monoclonal^LN||{spike_g_dl}|g/dL|||||F",
        "OBX|2|CWE|25700-6^IFE^LN||IgG kappa||||||F",
    ]
    return ("\r".join(segments) + "\r").encode()


def post(client, raw: bytes):
    r = client.post("/v1/hl7v2", data=raw, content_type=HL7)
    assert r.status_code == 200, r.get_data(as_text=True)
    assert r.get_data(as_text=True).split("\r")[0].split("|")[8].startswith("ORU"), r.get_data(as_text=True)
    return r


def records(client, ref: str) -> list[dict]:
    return client.get("/v1/interpretations", query_string={"patient_ref": ref}).json["items"]


def test_the_same_message_sent_again_is_one_record(client, store):
    raw = message("C1", "20250110", "1.0")
    post(client, raw)
    post(client, raw)
    assert store.count() == 1


def test_the_same_message_without_pid_sent_again_is_one_record(client, store):
    """No patient reference: the message's sender, control ID and bytes alone make the retry."""
    raw = message("C1", "20250110", "1.0", pid3=None)
    post(client, raw)
    post(client, raw)
    assert store.count() == 1
    post(client, message("C1", "20250110", "1.0", pid3=None, msh_time="20250501120001"))
    assert store.count() == 2  # the same control ID on another message: not a retry


def test_a_message_with_another_control_id_is_another_record(client, store):
    post(client, message("C1", "20250110", "1.0"))
    post(client, message("C2", "20250110", "1.0", filler="FIL2"))
    assert store.count() == 2


def test_pid3_with_its_authority_links_the_patients_panels_as_history(client):
    post(client, message("C1", "20250110", "1.0"))
    post(client, message("C2", "20250710", "1.5", filler="FIL2"))
    items = records(client, "12345^^^HOSP")
    assert [i["specimen_id"] for i in items] == ["FIL2", "FIL1"]
    later = client.get(f"/v1/interpretations/{items[0]['id']}").json
    used = later["interpretation"]["history_used"]
    assert used == [{"collected_on": "2025-01-10", "source": "store", "id": items[1]["id"]}]
    assert "EVOLVING_M_PROTEIN" in {f["code"] for f in later["interpretation"]["flags"]}
    assert "patient_ref" not in later["request"]


def test_the_same_number_of_another_authority_is_another_patient(client):
    post(client, message("C1", "20250110", "1.0"))
    post(client, message("C2", "20250710", "1.5", pid3="12345^^^OTHERHOSP^MR", filler="FIL2"))
    assert len(records(client, "12345^^^HOSP")) == 1
    other = records(client, "12345^^^OTHERHOSP")
    assert len(other) == 1
    rec = client.get(f"/v1/interpretations/{other[0]['id']}").json
    assert rec["interpretation"]["history_used"] == []


def test_the_mr_identifier_is_chosen_among_several(client):
    post(client, message("C1", "20250110", "1.0", pid3="998877^^^NHS^NH~12345^^^HOSP^MR"))
    assert len(records(client, "12345^^^HOSP")) == 1


def test_an_identifier_without_authority_is_the_sending_facility_s(client):
    post(client, message("C1", "20250110", "1.0", pid3="MRN-7"))
    assert len(records(client, "MRN-7^^^LAB")) == 1  # MSH-4 LAB issued it
    assert records(client, "MRN-7") == []


def test_the_same_bare_number_from_two_facilities_is_two_patients(client):
    post(client, message("C1", "20250110", "1.0", pid3="MRN-7"))
    later = message("C2", "20250710", "1.5", pid3="MRN-7", filler="FIL2").replace(
        b"|LIS|LAB|", b"|LIS|LAB2|", 1
    )
    post(client, later)
    other = records(client, "MRN-7^^^LAB2")
    assert len(other) == 1
    rec = client.get(f"/v1/interpretations/{other[0]['id']}").json
    assert rec["interpretation"]["history_used"] == []


def test_an_unusable_pid3_is_said_and_the_panel_stored_without_patient(client, store):
    long_id = "9" * 70
    r = post(client, message("C1", "20250110", "1.0", pid3=long_id))
    assert "is not a usable patient reference" in r.get_data(as_text=True)
    assert store.count() == 1
    assert client.get("/v1/interpretations").json["items"][0]["specimen_id"] == "FIL1"


@pytest.mark.parametrize(
    ("pid3", "expected"),
    [
        ("12345^^^HOSP^MR", "12345^^^HOSP"),
        ("12345^^^HOSP&1.2.3&ISO^MR", "12345^^^HOSP&1.2.3&ISO"),  # the whole HD
        ("12345^^^HOSP&9.9.9&ISO^MR", "12345^^^HOSP&9.9.9&ISO"),
        ("123^^^&2.16.840.1.113883.4.1&ISO^MR", "123^^^&2.16.840.1.113883.4.1&ISO"),  # an OID alone
        ("123^^^&2.16.840.1.113883.4.1&ISO^SS", "123^^^&2.16.840.1.113883.4.1&ISO^SS"),  # typed: kept
        ("12345^^^HOSP^AN", "12345^^^HOSP^AN"),
        ("12345^^^^an", "12345^^^LAB^AN"),
        ("12345^^^HOSP^A&N", None),  # a subcomponent in the type: could be read two ways
        ("12345^^^HOSP^mr", "12345^^^HOSP"),
        ("12345^^^^MR", "12345^^^LAB"),  # no CX-4: the sending facility (MSH-4) issued it
        ('12345^^^""^MR', "12345^^^LAB"),  # CX-4 the HL7 null: as empty
        ('""^^^HOSP^MR', None),  # the HL7 null is no identifier
        ("12&1^^^HOSP^MR", None),  # a subcomponent in the ID: could be read two ways
        (r"12\S\\S\\S\HOSP", None),  # an escape sequence in the ID
        (r"12^^^HO\S\SP^MR", None),  # a '^' in the authority once unescaped
        ("12\t^^^HOSP^MR", None),  # a control character
        ("  12345  ^^^HOSP^MR", "12345^^^HOSP"),  # spaces around the ID are padding
        ("A1^^^X~12345^^^HOSP^MR", "12345^^^HOSP"),
        ("A1^^^X~B2^^^Y", "A1^^^X"),
        ("", None),
        ("^^^HOSP^MR", None),
        ("6" * 57 + "^^^HOSP", "6" * 57 + "^^^HOSP"),  # 64 characters
        ("6" * 58 + "^^^HOSP", None),  # 65
    ],
)
def test_record_identity_of_pid3(pid3, expected):
    raw = message("C1", "20250110", "1.0", pid3=pid3).decode()
    ctx = hl7v2.parse_oru(raw)
    identity, _ = hl7v2.record_identity(ctx)
    assert identity.get("patient_ref") == expected
    assert identity["specimen_id"] == "FIL1"


def test_without_filler_number_the_placer_number_is_the_specimen():
    raw = message("C1", "20250110", "1.0", filler="").decode()
    identity, _ = hl7v2.record_identity(hl7v2.parse_oru(raw))
    assert identity["specimen_id"] == "ORD-C1"


def test_the_stateless_answer_is_unchanged_by_the_identity(tmp_path):
    from service.api import create_app

    app = create_app({"TESTING": True, "DEV_MODE": True, "STORE": "off"})
    r = app.test_client().post("/v1/hl7v2", data=message("C1", "20250110", "1.0"), content_type=HL7)
    assert r.status_code == 200
    assert "12345^^^HOSP" not in r.get_data(as_text=True).split("\rPID|")[0]


def test_a_message_resent_over_mllp_is_one_record(app, store, tmp_path):
    from service.adapters.outbound import SqliteOutbox
    from service.api.mllp import Hl7MllpHandler
    from tests.mllp.conftest import oru

    handler = Hl7MllpHandler(app, SqliteOutbox(tmp_path / "outbox.sqlite3"))
    raw = oru("MLLP-RESENT-1")
    acks = [handler.handle(raw).decode().split("\r")[1] for _ in range(3)]
    assert acks == ["MSA|AA|MLLP-RESENT-1"] * 3
    assert store.count() == 1
    # Another control ID with the same patient, specimen (OBR-3) and results: still the same record.
    handler.handle(oru("MLLP-RESENT-2"))
    assert store.count() == 1


def test_a_sending_facility_given_as_an_oid_qualifies_a_bare_number():
    raw = message("C1", "20250110", "1.0", pid3="123").decode().replace("|LIS|LAB|", "|LIS|^1.2.3^ISO|", 1)
    identity, _ = hl7v2.record_identity(hl7v2.parse_oru(raw))
    assert identity["patient_ref"] == "123^^^&1.2.3&ISO"


def test_an_unusable_pid3_note_names_why():
    identity, notes = hl7v2.record_identity(
        hl7v2.parse_oru(message("C1", "20250110", "1.0", pid3="12&1^^^H").decode())
    )
    assert "patient_ref" not in identity
    assert notes and "not a usable patient reference" in notes[0]


def test_the_specimen_keeps_every_component_of_obr3():
    raw = message("C1", "20250110", "1.0", filler="F1^LABA").decode()
    identity, _ = hl7v2.record_identity(hl7v2.parse_oru(raw))
    assert identity["specimen_id"] == "F1^LABA"


def test_an_unusable_obr3_is_said():
    raw = message("C1", "20250110", "1.0", filler="F" * 70).decode()
    identity, notes = hl7v2.record_identity(hl7v2.parse_oru(raw))
    assert "specimen_id" not in identity
    assert any("OBR-3 is not a usable specimen identifier" in n for n in notes)


def test_two_oid_only_authorities_are_two_patients(client):
    post(client, message("C1", "20250110", "1.0", pid3="123^^^&1.2.3.4&ISO^MR"))
    post(client, message("C2", "20250710", "1.5", pid3="123^^^&2.16.840.1.113883.4.1&ISO^MR", filler="FIL2"))
    later = records(client, "123^^^&2.16.840.1.113883.4.1&ISO")
    assert len(later) == 1
    rec = client.get(f"/v1/interpretations/{later[0]['id']}").json
    assert rec["interpretation"]["history_used"] == []


def test_the_hl7_null_as_pid3_is_said():
    identity, notes = hl7v2.record_identity(
        hl7v2.parse_oru(message("C1", "20250110", "1.0", pid3='""^^^HOSP^MR').decode())
    )
    assert "patient_ref" not in identity
    assert any('HL7 null ""' in n for n in notes)


@pytest.mark.parametrize("filler", ["F~G", r"F\S\X"])
def test_an_obr3_with_a_repetition_or_escape_is_said_and_not_used(filler):
    identity, notes = hl7v2.record_identity(
        hl7v2.parse_oru(message("C1", "20250110", "1.0", filler=filler).decode())
    )
    assert "specimen_id" not in identity
    assert any("OBR-3 is not a usable specimen identifier" in n for n in notes)


def test_an_unusable_sending_facility_is_named_in_the_note():
    raw = message("C1", "20250110", "1.0", pid3="123").decode().replace("|LIS|LAB|", r"|LIS|L\T\X|", 1)
    identity, notes = hl7v2.record_identity(hl7v2.parse_oru(raw))
    assert "patient_ref" not in identity
    assert any("authority (CX-4, else MSH-4)" in n for n in notes)


def obx(reply: str, code: str) -> list[str]:
    return [
        s.split("|")[5]
        for s in reply.split("\r")
        if s.startswith("OBX|") and s.split("|")[3].startswith(code + "^")
    ]


def test_the_oru_reply_names_the_stored_record_and_a_resend_names_the_same_one(client):
    raw = message("C-ID", "20250110", "1.0")
    first = post(client, raw).get_data(as_text=True)
    (record_id,) = obx(first, "RECORD_ID")
    assert client.get(f"/v1/interpretations/{record_id}").status_code == 200
    assert obx(post(client, raw).get_data(as_text=True), "RECORD_ID") == [record_id]
    stored = client.get(f"/v1/interpretations/{record_id}/hl7").get_data(as_text=True)
    assert obx(stored, "RECORD_ID") == [record_id]
    other = post(client, message("C-ID2", "20250210", "1.0")).get_data(as_text=True)
    assert obx(other, "RECORD_ID") != [record_id]


def test_a_stateless_oru_reply_names_no_record():
    from service.api import create_app

    stateless = create_app({"TESTING": True, "DEV_MODE": True, "STORE": "off"}).test_client()
    reply = post(stateless, message("C-ID", "20250110", "1.0")).get_data(as_text=True)
    assert obx(reply, "RULESET_VERSION") and obx(reply, "RECORD_ID") == []


def test_a_message_without_pid_resent_over_mllp_is_one_record_stored_as_the_mllp_caller(app, store, tmp_path):
    """MLLP carries no API key: its records name the listener as their caller, so the unique
    constraint on (caller, retry key) holds on PostgreSQL too (no one never equals no one there)."""
    from concurrent.futures import ThreadPoolExecutor

    from service.adapters.outbound import SqliteOutbox
    from service.api.mllp import MLLP_CALLER, Hl7MllpHandler

    handler = Hl7MllpHandler(app, SqliteOutbox(tmp_path / "outbox.sqlite3"))
    raw = message("NOPID-1", "20250110", "1.0", pid3=None)
    for _ in range(3):
        assert handler.handle(raw).decode().split("\r")[1] == "MSA|AA|NOPID-1"
    assert store.count() == 1
    concurrent = message("NOPID-2", "20250110", "1.0", pid3=None)
    with ThreadPoolExecutor(8) as pool:
        acks = list(pool.map(lambda _: handler.handle(concurrent), range(16)))
    assert all(a.decode().split("\r")[1] == "MSA|AA|NOPID-2" for a in acks)
    assert store.count() == 2
    (row,) = store.list_records(limit=1).records
    assert row.api_key_name == MLLP_CALLER and row.source == "hl7"


@pytest.mark.parametrize(
    ("first", "second", "linked"),
    [
        ("N1^^^HOSP^MR", "N1^^^HOSP^AN", False),  # an account number is not the MRN of the same digits
        ("N1^^^HOSP^AN", "N1^^^HOSP^MR", False),
        ("N1^^^HOSP^AN", "N1^^^HOSP^VN", False),
        ("N1^^^HOSP^AN", "N1^^^HOSP^an", True),  # the type in any case
        ("N1^^^HOSP^AN", "N1^^^HOSP^AN", True),
        ("N1^^^HOSP^MR", "N1^^^HOSP^mr", True),
        ("N1^^^HOSP^MR", "N1^^^HOSP", True),  # an untyped identifier is written as an MRN is
        ("N1^^^^AN", "N1^^^^MR", False),  # no authority: MSH-4, the type still kept apart
    ],
)
def test_the_identifier_type_keeps_an_account_number_apart_from_an_mrn(client, first, second, linked):
    post(client, message("T1", "20250110", "1.0", pid3=first, filler="F1"))
    later = post(client, message("T2", "20250710", "1.5", pid3=second, filler="F2")).get_data(as_text=True)
    assert ("EVOLVING_M_PROTEIN" in later) == linked


def test_a_typed_identifier_is_written_with_its_type():
    identity, notes = hl7v2.record_identity(
        hl7v2.parse_oru(message("C1", "20250110", "1.0", pid3="77^^^HOSP^an").decode())
    )
    assert identity["patient_ref"] == "77^^^HOSP^AN" and notes == []
    identity, _ = hl7v2.record_identity(
        hl7v2.parse_oru(message("C1", "20250110", "1.0", pid3="77^^^HOSP^MR").decode())
    )
    assert identity["patient_ref"] == "77^^^HOSP"


def test_over_mllp_an_unavailable_database_is_an_ar_that_says_to_send_the_message_again(app, store, tmp_path):
    """The MLLP twin of HTTP's 503: an AR whose text says "send the message again" (docs/mllp.md), not
    a final-looking internal error; nothing is queued, and the resend is answered once it is back."""
    from service.adapters.outbound import SqliteOutbox
    from service.api.mllp import Hl7MllpHandler
    from service.store import StoreUnavailable

    outbox = SqliteOutbox(tmp_path / "outbox.sqlite3")
    handler = Hl7MllpHandler(app, outbox)
    raw = message("DOWN-1", "20250110", "1.0")
    real = store.record

    def down(*_a, **_k):
        raise StoreUnavailable("OperationalError")

    store.record = down  # type: ignore[method-assign]
    try:
        reply = handler.handle(raw).decode()
    finally:
        store.record = real  # type: ignore[method-assign]
    assert reply.split("\r")[1].startswith("MSA|AR|DOWN-1")
    assert "send the message again" in reply and "207" in reply
    assert outbox.counts().get("pending", 0) == 0 and store.count() == 0
    assert handler.handle(raw).decode().split("\r")[1] == "MSA|AA|DOWN-1"
    assert store.count() == 1
