"""Serial memory: a patient's stored panels become the history of a request that sends none, within
the 12-month window of the serial rules (clinical-reference §3.5); history_used says which and whence."""

from __future__ import annotations

import json

import pytest

IFE = {"result": "positive", "clones": [{"heavy_chain": "IgG", "light_chain": "kappa"}]}


def spike(g_dl: float, on: str, ref: str = "MRN-S", **extra) -> dict:
    return {
        "spep": {"m_protein": {"value": g_dl, "unit": "g/dL"}},
        "serum_ife": IFE,
        "collected_on": on,
        "patient_ref": ref,
        "specimen_id": f"{ref}-{on}",
        **extra,
    }


def codes(answer: dict) -> set[str]:
    return {f["code"] for f in answer["flags"]}


def test_a_stored_earlier_panel_is_the_history_of_a_request_without_history(client):
    first = client.post("/v1/interpretations", json=spike(1.0, "2025-01-10")).json
    later = client.post("/v1/interpretations", json=spike(1.5, "2025-07-10")).json
    assert later["history_used"] == [{"collected_on": "2025-01-10", "source": "store", "id": first["id"]}]
    assert "EVOLVING_M_PROTEIN" in codes(later)  # +50 %, +5 g/L within 12 months (§3.5)
    assert any("from this service's records" in n for n in later["notes"])


@pytest.mark.parametrize(
    ("earlier", "used"),
    [
        ("2024-07-11", True),  # 11 months 30 days before: inside the 12-month window
        ("2024-07-10", True),  # exactly 12 months before: inside (the window is inclusive)
        ("2024-07-09", False),  # 12 months and a day before: outside
    ],
)
def test_the_window_is_the_longest_serial_window_of_12_months(client, earlier, used):
    client.post("/v1/interpretations", json=spike(1.0, "2024-01-10"))  # the first day: the baseline
    client.post("/v1/interpretations", json=spike(1.0, earlier))
    later = client.post("/v1/interpretations", json=spike(1.5, "2025-07-10")).json
    assert [h["collected_on"] for h in later["history_used"]] == ["2024-01-10"] + ([earlier] if used else [])
    assert ("EVOLVING_M_PROTEIN" in codes(later)) is used  # +50 % within 12 months only from inside


def test_the_first_stored_day_is_the_baseline_of_the_first_6_months(client):
    # §3.5: >= 10 % within the first 6 months (from 30 g/L): 50 g/L in 2024-01, then 50 (2025-03) and 55
    # (2025-09) g/L. The rise from 2025-03 is 14 months into follow-up, not within the first 6: the
    # same three panels sent as request history raise no flag, and neither does serial memory.
    for value, on in ((5.0, "2024-01-15"), (5.0, "2025-03-15")):
        client.post("/v1/interpretations", json=spike(value, on))
    later = client.post("/v1/interpretations", json=spike(5.5, "2025-09-15")).json
    assert [h["collected_on"] for h in later["history_used"]] == ["2024-01-15", "2025-03-15"]
    assert "EVOLVING_M_PROTEIN" not in codes(later)
    assert any("first stored M-protein, of 2024-01-15" in n for n in later["notes"])
    assert any(n.startswith("1 earlier panel(s) of the patient") for n in later["notes"])  # not the baseline


@pytest.mark.parametrize(
    "first_day",
    [
        {"serum_ife": IFE},  # the typing reported on its own
        {"labs": {"hemoglobin": {"value": 140, "unit": "g/L"}}},  # a blood count only
        {"flc": {"kappa": {"value": 15, "unit": "mg/L"}, "lambda": {"value": 12, "unit": "mg/L"}}},
    ],
    ids=["ife_only", "hemoglobin_only", "flc_only"],
)
def test_the_baseline_is_the_first_stored_m_protein_not_an_earlier_panel_without_one(client, first_day):
    # §3.5: the first 6 months count from the first M-protein (50 g/L in 2024-07). A panel of 2024-01
    # without an M-protein is no baseline: taking it, the first M-protein of the window (50 g/L in
    # 2025-03) was read as the start of follow-up and the rise to 55 g/L in 2025-09 as "within the first
    # 6 months", a flag the same panels sent as request history do not raise.
    client.post(
        "/v1/interpretations",
        json={"collected_on": "2024-01-15", "patient_ref": "MRN-S", "specimen_id": "S-0", **first_day},
    )
    for value, on in ((5.0, "2024-07-01"), (5.0, "2025-03-15")):
        client.post("/v1/interpretations", json=spike(value, on))
    later = client.post("/v1/interpretations", json=spike(5.5, "2025-09-15")).json
    assert [h["collected_on"] for h in later["history_used"]] == ["2024-07-01", "2025-03-15"]
    assert "EVOLVING_M_PROTEIN" not in codes(later)
    assert any("first stored M-protein, of 2024-07-01" in n for n in later["notes"])
    sent = spike(5.5, "2025-09-15", ref="MRN-T")
    sent["history"] = [
        {"collected_on": "2024-01-15", **first_day},
        {"collected_on": "2024-07-01", "spep": {"m_protein": {"value": 5.0, "unit": "g/dL"}}},
        {"collected_on": "2025-03-15", "spep": {"m_protein": {"value": 5.0, "unit": "g/dL"}}},
    ]
    sent["history"][0].pop("serum_ife", None)  # history entries carry results, not the typing
    if len(sent["history"][0]) == 1:
        sent["history"].pop(0)
    assert "EVOLVING_M_PROTEIN" not in codes(client.post("/v1/interpretations", json=sent).json)


def test_another_patients_panels_are_never_history(client):
    client.post("/v1/interpretations", json=spike(1.0, "2025-01-10", ref="MRN-A"))
    later = client.post("/v1/interpretations", json=spike(1.5, "2025-07-10", ref="MRN-B")).json
    assert later["history_used"] == []
    assert "EVOLVING_M_PROTEIN" not in codes(later)


def test_a_panel_of_the_same_date_or_later_is_not_history(client):
    client.post("/v1/interpretations", json=spike(1.0, "2025-07-10", specimen_id="other"))
    client.post("/v1/interpretations", json=spike(1.0, "2025-08-10"))
    later = client.post("/v1/interpretations", json=spike(1.5, "2025-07-10")).json
    assert later["history_used"] == []


def test_request_history_and_stored_panels_are_merged_and_the_request_wins_on_the_same_date(client):
    client.post("/v1/interpretations", json=spike(1.0, "2025-01-10"))
    stored = client.post("/v1/interpretations", json=spike(1.1, "2025-03-10")).json
    sent = [{"collected_on": "2025-01-10", "spep": {"m_protein": {"value": 1.2, "unit": "g/dL"}}}]
    later = client.post("/v1/interpretations", json=spike(1.3, "2025-07-10", history=sent)).json
    assert later["history_used"] == [
        {"collected_on": "2025-01-10", "source": "request"},
        {"collected_on": "2025-03-10", "source": "store", "id": stored["id"]},
    ]
    note = next(n for n in later["notes"] if n.startswith("History merged"))
    assert "2025-01-10" in note and "request's was used" in note


def test_the_stored_request_keeps_only_what_was_sent_and_the_record_says_what_the_store_added(client):
    client.post("/v1/interpretations", json=spike(1.0, "2025-01-10"))
    later = client.post("/v1/interpretations", json=spike(1.5, "2025-07-10")).json
    rec = client.get(f"/v1/interpretations/{later['id']}").json
    assert "history" not in rec["request"]
    assert rec["interpretation"]["history_used"][0]["source"] == "store"


def test_without_patient_ref_nothing_is_taken_from_the_store(client):
    client.post("/v1/interpretations", json=spike(1.0, "2025-01-10"))
    body = spike(1.5, "2025-07-10")
    del body["patient_ref"]
    assert client.post("/v1/interpretations", json=body).json["history_used"] == []


def test_a_panel_without_a_date_is_dated_the_day_it_was_received(client, store):
    body = spike(1.0, "2025-01-10")
    del body["collected_on"]
    rid = client.post("/v1/interpretations", json=body).json["id"]
    from datetime import UTC, datetime

    assert (
        client.get(f"/v1/interpretations/{rid}").json["collected_on"] == datetime.now(UTC).date().isoformat()
    )


def test_a_panel_dated_in_year_one_is_refused_naming_its_date_never_a_500(client):
    r = client.post("/v1/interpretations", json=spike(1.0, "0001-01-01"))
    assert r.status_code == 422 and "collected_on" in r.json["errors"], r.json


def test_a_panel_on_the_earliest_accepted_date_has_no_window_before_it(client):
    r = client.post("/v1/interpretations", json=spike(1.0, "1900-01-01"))
    assert r.status_code == 201 and r.json["history_used"] == []
    later = client.post("/v1/interpretations", json=spike(1.0, "1900-06-01")).json
    assert [h["collected_on"] for h in later["history_used"]] == ["1900-01-01"]


def rewrite_stored_request(store, record_id: str, **sections) -> None:
    """Write sections straight into a stored request, as a record stored before a plausibility
    window was added would hold them."""
    from sqlalchemy import update

    from service.store.models import Interpretation

    with store.engine.begin() as conn:
        row = conn.execute(Interpretation.__table__.select().where(Interpretation.id == record_id)).one()
        request = {**row.request, **sections}
        conn.execute(update(Interpretation).where(Interpretation.id == record_id).values(request=request))


def test_a_stored_panel_todays_rules_refuse_is_never_history(client, store):
    """A panel stored before a plausibility window was added (here: written straight into the table)
    is left out of the history, and every later request of the patient leaves it out again."""
    first = client.post("/v1/interpretations", json=spike(1.0, "2025-01-10", ref="MRN-OLD")).json
    rewrite_stored_request(store, first["id"], spep={"m_protein": {"value": 999, "unit": "g/dL"}})
    for on in ("2025-06-10", "2025-07-10"):
        later = client.post("/v1/interpretations", json=spike(1.5, on, ref="MRN-OLD")).json
        assert "2025-01-10" not in [h["collected_on"] for h in later["history_used"]]


def test_the_same_stored_panel_is_the_same_history_for_each_later_request(client):
    first = client.post("/v1/interpretations", json=spike(1.0, "2025-01-10", ref="MRN-TWICE")).json
    answers = [
        client.post("/v1/interpretations", json=spike(1.5, on, ref="MRN-TWICE")).json
        for on in ("2025-07-10", "2025-07-11")
    ]
    for later in answers:
        assert {"collected_on": "2025-01-10", "source": "store", "id": first["id"]} in later["history_used"]
        assert "EVOLVING_M_PROTEIN" in codes(later)


@pytest.mark.parametrize("order", [(1.5, 1.0), (1.0, 1.5)])
def test_of_two_stored_panels_of_one_day_the_later_record_is_the_history(client, order):
    """A corrected result resent under a new specimen id: the later record of that day stands."""
    ref = f"MRN-DAY-{order[0]}"
    client.post("/v1/interpretations", json=spike(order[0], "2025-01-10", ref=ref, specimen_id="a"))
    second = client.post(
        "/v1/interpretations", json=spike(order[1], "2025-01-10", ref=ref, specimen_id="b")
    ).json
    later = client.post("/v1/interpretations", json=spike(1.5, "2025-07-10", ref=ref)).json
    assert later["history_used"] == [{"collected_on": "2025-01-10", "source": "store", "id": second["id"]}]
    # 1.0 -> 1.5 g/dL is +50 % and +5 g/L within 12 months (§3.5); 1.5 -> 1.5 is no rise
    assert ("EVOLVING_M_PROTEIN" in codes(later)) == (order[1] == 1.0)


def stored_day(client, ref: str, on: str, **sections) -> dict:
    body = {
        "serum_ife": IFE,
        "collected_on": on,
        "patient_ref": ref,
        "specimen_id": f"{ref}-{on}-{len(sections)}",
    }
    r = client.post("/v1/interpretations", json={**body, **sections})
    assert r.status_code == 201, r.json
    return r.json


def test_a_later_record_of_the_day_without_those_results_leaves_the_days_history_as_it_was(client):
    """An immunofixation reported on its own later the same day adds nothing to the history and must
    not hide the day's M-protein (the evolving rule would go silent)."""
    ref = "MRN-IFE-LATER"
    first = stored_day(client, ref, "2025-03-01", spep={"m_protein": {"value": 10, "unit": "g/L"}})
    stored_day(client, ref, "2025-03-01")  # the immunofixation alone
    stored_day(client, ref, "2025-03-01", spep={"m_protein": None})  # an empty SPEP section
    later = client.post("/v1/interpretations", json=spike(2.0, "2025-09-01", ref=ref)).json
    assert later["history_used"] == [{"collected_on": "2025-03-01", "source": "store", "id": first["id"]}]
    assert "EVOLVING_M_PROTEIN" in codes(later)  # 10 -> 20 g/L within 12 months (§3.5)


def test_results_of_two_records_of_one_day_are_combined_the_latest_result_standing(client):
    ref = "MRN-COMBINE"
    spep = stored_day(
        client,
        ref,
        "2025-03-01",
        spep={"m_protein": {"value": 10, "unit": "g/L"}},
        labs={"hemoglobin": {"value": 13.0, "unit": "g/dL"}, "calcium": {"value": 2.3, "unit": "mmol/L"}},
    )
    flc = stored_day(
        client,
        ref,
        "2025-03-01",
        flc={"kappa": {"value": 40, "unit": "mg/L"}, "lambda": {"value": 10, "unit": "mg/L"}},
        labs={"calcium": {"value": 2.4, "unit": "mmol/L"}},
    )
    later = client.post("/v1/interpretations", json=spike(2.0, "2025-09-01", ref=ref)).json
    (day,) = later["history_used"]
    assert day == {
        "collected_on": "2025-03-01",
        "source": "store",
        "id": flc["id"],
        "record_ids": [spep["id"], flc["id"]],
    }
    assert "EVOLVING_M_PROTEIN" in codes(later)  # the day's M-protein came from the first record
    assert any("2025-03-01" in n and "combined" in n for n in later["notes"])


def test_a_corrected_result_of_the_day_supersedes_the_first_and_only_the_corrected_record_is_named(client):
    ref = "MRN-CORRECTED"
    stored_day(client, ref, "2025-03-01", spep={"m_protein": {"value": 15, "unit": "g/L"}})
    corrected = stored_day(
        client, ref, "2025-03-01", spep={"m_protein": {"value": 10, "unit": "g/L"}}, labs={}
    )
    later = client.post("/v1/interpretations", json=spike(1.5, "2025-09-01", ref=ref)).json
    assert later["history_used"] == [{"collected_on": "2025-03-01", "source": "store", "id": corrected["id"]}]
    assert "EVOLVING_M_PROTEIN" in codes(later)  # from the corrected 10 g/L; 15 -> 15 would not be


@pytest.mark.parametrize(
    "own",
    [
        {},  # a date and nothing else
        {"spep": {"m_protein": None}},  # an empty section
        {"labs": {"calcium": {"value": 2.4, "unit": "mmol/L"}}},  # results the serial rules do not use
    ],
)
def test_a_request_history_entry_without_the_days_results_is_completed_from_the_store(client, own):
    """The request's own entry of a date wins where it has a result; where it has none, the stored
    results of that day fill it, so the evolving rules are not silenced by an incomplete entry."""
    ref = f"MRN-OWN-{len(own)}-{next(iter(own), 'none')}"
    stored = stored_day(
        client,
        ref,
        "2025-03-01",
        spep={"m_protein": {"value": 20, "unit": "g/L"}},
        labs={"hemoglobin": {"value": 13.0, "unit": "g/dL"}},
    )
    body = spike(2.6, "2025-09-01", ref=ref, history=[{"collected_on": "2025-03-01", **own}])
    body["labs"] = {"hemoglobin": {"value": 12.4, "unit": "g/dL"}}
    later = client.post("/v1/interpretations", json=body).json
    assert later["history_used"] == [
        {"collected_on": "2025-03-01", "source": "request", "store_ids": [stored["id"]]}
    ]
    assert "EVOLVING_M_PROTEIN" in codes(later)  # 20 -> 26 g/L: +30 %, +6 g/L (§3.5)
    assert any("2025-03-01" in n and "were added to it" in n for n in later["notes"])
    # the ruleset impact rebuilds what the engine saw: nothing changes under the same ruleset
    impact = json.loads(client.post("/v1/ruleset-impact", json={}).get_data())["summary"]
    assert impact["changed"] == 0 and impact["not_reinterpretable"] == 0


def test_a_request_history_entry_with_the_days_results_is_used_as_sent(client):
    ref = "MRN-OWN-FULL"
    stored_day(client, ref, "2025-03-01", spep={"m_protein": {"value": 20, "unit": "g/L"}})
    sent = [{"collected_on": "2025-03-01", "spep": {"m_protein": {"value": 25, "unit": "g/L"}}}]
    later = client.post("/v1/interpretations", json=spike(2.6, "2025-09-01", ref=ref, history=sent)).json
    assert later["history_used"] == [{"collected_on": "2025-03-01", "source": "request"}]
    assert "EVOLVING_M_PROTEIN" not in codes(later)  # from the request's 25 g/L: +4 %


def test_a_stored_result_todays_rules_refuse_is_left_out_alone_and_said(client, store):
    """Only the refused result is left out (here a haemoglobin made implausible in the table, as a
    plausibility window added since would): the same record's corrected M-protein still supersedes
    the day's first one, and a note names what was left out."""
    ref = "MRN-REFUSED-PART"
    stored_day(client, ref, "2025-03-01", spep={"m_protein": {"value": 20, "unit": "g/L"}})
    second = stored_day(
        client,
        ref,
        "2025-03-01",
        spep={"m_protein": {"value": 22, "unit": "g/L"}},
        labs={"hemoglobin": {"value": 12.8, "unit": "g/dL"}},
    )
    rewrite_stored_request(store, second["id"], labs={"hemoglobin": {"value": 1280, "unit": "g/L"}})
    later = client.post("/v1/interpretations", json=spike(2.65, "2025-09-01", ref=ref)).json
    assert later["history_used"] == [{"collected_on": "2025-03-01", "source": "store", "id": second["id"]}]
    assert "EVOLVING_M_PROTEIN" not in codes(later)  # from the corrected 22 g/L: +20 %; from 20 it would fire
    note = next(n for n in later["notes"] if "today's rules refuse" in n)
    assert f"labs.hemoglobin of record {second['id']}" in note and "2025-03-01" in note


def test_the_ruleset_impact_rebuilds_a_history_cut_to_the_most_recent_entries(client):
    """A request's own history plus the stored panels beyond MAX_HISTORY were cut to the most recent;
    the ruleset impact cuts the same way, so the record stays re-interpretable and unchanged."""
    from datetime import date, timedelta

    from service.api.schemas import MAX_HISTORY

    ref = "MRN-CUT"
    stored = client.post("/v1/interpretations", json=spike(1.0, "2025-01-05", ref=ref)).json
    start = date(2024, 5, 1)
    own = [
        {"collected_on": (start + timedelta(days=7 * k)).isoformat(), "spep": spike(1.0, "x")["spep"]}
        for k in range(MAX_HISTORY)
    ]
    later = client.post("/v1/interpretations", json=spike(1.0, "2025-06-01", ref=ref, history=own)).json
    assert f"Only the {MAX_HISTORY} most recent earlier panels were used as history." in later["notes"]
    assert len(later["history_used"]) == MAX_HISTORY
    assert {"collected_on": "2025-01-05", "source": "store", "id": stored["id"]} in later["history_used"]
    assert own[0]["collected_on"] not in {u["collected_on"] for u in later["history_used"]}
    impact = json.loads(client.post("/v1/ruleset-impact", json={}).get_data())
    assert impact["summary"]["not_reinterpretable"] == 0, impact
    assert impact["summary"]["changed"] == 0, impact


@pytest.mark.parametrize("sex, used", [("female", False), ("male", True)])
def test_a_stored_haemoglobin_with_a_lower_limit_implausible_for_the_requests_sex_is_left_out(
    client, sex, used
):
    """§1.1: a haemoglobin lower reference limit of 135 g/L is plausible for a man (115–140) and not
    for a woman (100–125). The request would refuse such an entry of its own history; stored, it is
    left out of the history with a note (the rest of the panel still serves), never used silently. The
    ruleset impact rebuilds the same history."""
    ref = f"MRN-SEX-{sex}"
    hb_male_range = {"value": 14.0, "unit": "g/dL", "reference_range": {"low": 13.5, "high": 17.5}}
    stored = client.post(
        "/v1/interpretations",
        json=spike(1.0, "2025-01-10", ref=ref, patient={"sex": "male"}, labs={"hemoglobin": hb_male_range}),
    )
    assert stored.status_code == 201, stored.json
    later = client.post(
        "/v1/interpretations",
        json=spike(
            1.0,
            "2025-07-10",
            ref=ref,
            patient={"sex": sex},
            labs={"hemoglobin": {"value": 12.0, "unit": "g/dL"}},
        ),
    ).json
    sid = stored.json["id"]
    assert later["history_used"] == [{"collected_on": "2025-01-10", "source": "store", "id": sid}]
    # 140 -> 120 g/L is a fall of 20 g/L in 6 months (§3.5: >= 5 g/L within 12 months)
    assert ("EVOLVING_HEMOGLOBIN" in codes(later)) is used
    notes = [n for n in later.get("notes", []) if f"labs.hemoglobin of record {stored.json['id']}" in n]
    assert bool(notes) is not used
    if notes:
        assert "2025-01-10" in notes[0] and "female" in notes[0]
    impact = json.loads(client.post("/v1/ruleset-impact", json={}).get_data())["summary"]
    assert impact["not_reinterpretable"] == 0 and impact["changed"] == 0, impact


def test_results_of_stored_panels_no_serial_rule_reads_are_not_listed_as_the_requests(client):
    """A stored panel's calcium is the store's, not something the request sent and lost: only the
    request's own history entries are named in the note on results the serial rules do not read."""
    labs = {"labs": {"calcium": {"value": 2.4, "unit": "mmol/L"}}}
    client.post("/v1/interpretations", json=spike(1.0, "2025-01-10", **labs))
    later = client.post(
        "/v1/interpretations",
        json=spike(1.5, "2025-07-10", history=[{"collected_on": "2025-03-01", **labs}]),
    ).json
    unread = [n for n in later["notes"] if "were not used" in n]
    assert unread == [
        "The serial-result rules (clinical-reference §3.5) read the serum M-protein and the haemoglobin of "
        "earlier panels; these results of the request's history were not used: 2025-03-01: calcium."
    ]


def test_history_used_is_in_date_order_whether_or_not_the_store_adds_to_it(client):
    # The request's own entries sent newest first: listed by date, as the answer without the store and
    # a list the store added to are.
    body = spike(2.0, "2025-09-15", ref="MRN-ORDER")
    body["history"] = [
        {"collected_on": "2025-06-15", "spep": {"m_protein": {"value": 1.9, "unit": "g/dL"}}},
        {"collected_on": "2025-01-15", "spep": {"m_protein": {"value": 1.8, "unit": "g/dL"}}},
    ]
    used = client.post("/v1/interpretations", json=body).json["history_used"]
    assert [u["collected_on"] for u in used] == ["2025-01-15", "2025-06-15"]


SCLERO = {
    "scleromyxedema": "confirmed",
    "papular_eruption": True,
    "sclerodermoid_induration": True,
    "histology_mucin_fibrosis": True,
    "thyroid_disease": False,
}


def _visit(on: str, ref: str, **extra) -> dict:
    return {
        "patient": {"age_years": 34, "sex": "female"},
        "collected_on": on,
        "patient_ref": ref,
        "specimen_id": f"{ref}-{on}",
        "spep": {"m_protein": {"value": 8, "unit": "g/L"}},
        "serum_ife": IFE,
        "flc": {"kappa": {"value": 12.1, "unit": "mg/L"}, "lambda": {"value": 14.3, "unit": "mg/L"}},
        "marrow": {"plasma_cells_percent": 8},
        **extra,
    }


def test_a_stored_scleromyxoedema_is_carried_to_a_follow_up_that_states_nothing_about_it(client):
    # §5: the follow-up SPEP an LIS sends without clinical findings was "MGUS of undetermined
    # significance" on the every-2-3-years schedule, beside a stored record of confirmed scleromyxoedema.
    first = client.post("/v1/interpretations", json=_visit("2024-03-15", "MRN-SCL", clinical=SCLERO)).json
    assert "MGCS_SCLEROMYXEDEMA" in codes(first)
    later = client.post("/v1/interpretations", json=_visit("2024-09-15", "MRN-SCL")).json
    assert "MGCS_SCLEROMYXEDEMA" in codes(later)
    assert "of clinical significance" in later["classification"]["label"]
    assert any("carried to this answer" in n and first["id"] in n for n in later["notes"])
    # A fever now, with the carried diagnosis: the dermato-neuro emergency.
    febrile = _visit("2024-10-15", "MRN-SCL", clinical={"fever": True})
    assert "DERMATO_NEURO_SYNDROME" in codes(client.post("/v1/interpretations", json=febrile).json)


@pytest.mark.parametrize(
    ("later_clinical", "carried"),
    [
        ({"scleromyxedema": "absent"}, False),  # the request speaks for itself
        ({"plasmacytoma": False}, True),  # clinical findings about something else
        ({"papular_eruption": False}, True),  # an eruption now absent does not undo the diagnosis
    ],
)
def test_the_request_s_own_statement_ends_the_carry(client, later_clinical, carried):
    client.post("/v1/interpretations", json=_visit("2024-03-15", "MRN-SC2", clinical=SCLERO))
    later = client.post(
        "/v1/interpretations", json=_visit("2024-09-15", "MRN-SC2", clinical=later_clinical)
    ).json
    assert ("MGCS_SCLEROMYXEDEMA" in codes(later)) is carried


def test_a_later_stored_statement_of_absence_ends_the_carry(client):
    client.post("/v1/interpretations", json=_visit("2024-03-15", "MRN-SC3", clinical=SCLERO))
    client.post(
        "/v1/interpretations", json=_visit("2024-06-15", "MRN-SC3", clinical={"scleromyxedema": "absent"})
    )
    later = client.post("/v1/interpretations", json=_visit("2024-09-15", "MRN-SC3")).json
    assert "MGCS_SCLEROMYXEDEMA" not in codes(later)
    assert not any("carried to this answer" in n for n in later["notes"])
