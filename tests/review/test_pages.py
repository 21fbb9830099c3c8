"""The console's pages through the Flask test client: sign-in, sessions, CSRF, roles, lockout, the
separation of API keys and sessions, the trusted header, the queue, the case page and its charts."""

from __future__ import annotations

import copy
import re
from datetime import UTC, datetime, timedelta, timezone
from html import escape as html_escape
from html import unescape as html_unescape

import pytest

from service.domain import ruleset as R
from service.review import accounts, charts
from service.review import store as reviews

from .conftest import AUTH, PASSWORD, body, csrf_token, post, review_app, sign_in


@pytest.fixture
def client(app, users):
    return app.test_client()


def stored(client, name: str = "mgus") -> str:
    return post(client, body(name))["id"]


def test_every_page_but_sign_in_sends_a_stranger_to_sign_in(client):
    for path in ("/review/", "/review/agreement", "/review/cases/abc", "/review/cases/abc/print"):
        resp = client.get(path)
        assert resp.status_code == 302 and "/review/sign-in" in resp.headers["Location"], path
    assert client.get("/review/sign-in").status_code == 200


def test_a_reviewer_signs_in_with_a_secure_httponly_samesite_cookie(tmp_path, users):
    app = review_app(tmp_path / "secure", REVIEW_COOKIE_SECURE=True)
    accounts.add_user(app.extensions["mgi.store"].store, "rita", "reviewer", PASSWORD)
    c = app.test_client()
    resp = sign_in(c)
    assert resp.status_code == 302
    cookie = next(h for h in resp.headers.getlist("Set-Cookie") if h.startswith("mgi_review="))
    assert (
        "HttpOnly" in cookie
        and "SameSite=Strict" in cookie
        and "Secure" in cookie
        and "Path=/review" in cookie
    )


def test_a_wrong_password_is_refused_without_saying_which_part_was_wrong(client):
    wrong = sign_in(client, password="not the password")
    unknown = sign_in(client, name="nobody")
    assert wrong.status_code == unknown.status_code == 401
    assert "Name or password not recognised." in wrong.get_data(as_text=True)
    assert "Name or password not recognised." in unknown.get_data(as_text=True)


def test_the_account_locks_after_repeated_failures_even_against_the_right_password(
    client, store, monkeypatch
):
    monkeypatch.setenv("MGI_REVIEW_LOCKOUT_FAILURES", "3")
    for _ in range(2):
        assert accounts.sign_in(store, "rita", "wrong")[1] == "invalid"
    assert accounts.sign_in(store, "rita", "wrong")[1] == "locked"  # the third failure locks
    assert accounts.sign_in(store, "rita", PASSWORD) == (None, "locked")
    resp = sign_in(client)
    assert resp.status_code == 401 and "locked" in resp.get_data(as_text=True)
    later = datetime.now(UTC) + timedelta(minutes=accounts.lockout_minutes(), seconds=1)
    account, _ = accounts.sign_in(store, "rita", PASSWORD, now=later)
    assert account is not None and account.role == "reviewer"


def test_two_failures_then_a_success_start_the_count_again(store, users, monkeypatch):
    monkeypatch.setenv("MGI_REVIEW_LOCKOUT_FAILURES", "3")
    accounts.sign_in(store, "rita", "wrong")
    accounts.sign_in(store, "rita", "wrong")
    assert accounts.sign_in(store, "rita", PASSWORD)[0] is not None
    accounts.sign_in(store, "rita", "wrong")
    accounts.sign_in(store, "rita", "wrong")
    assert accounts.sign_in(store, "rita", PASSWORD)[0] is not None


def test_passwords_are_kept_as_argon2id_hashes(store, users):
    from sqlalchemy import select
    from sqlalchemy.orm import Session

    from service.review.models import User

    with Session(store.engine) as s:
        hashed = s.scalars(select(User.password_hash).where(User.name == "rita")).one()
    assert hashed.startswith("$argon2id$") and PASSWORD not in hashed


def test_an_api_key_opens_no_page(client):
    resp = client.get("/review/", headers=AUTH)
    assert resp.status_code == 302 and "/review/sign-in" in resp.headers["Location"]


def test_the_api_does_not_accept_the_console_session(client):
    sign_in(client)
    assert client.get("/review/").status_code == 200
    assert client.get("/v1/interpretations").status_code == 401


def test_a_form_posted_without_its_csrf_token_is_refused(client):
    rid = stored(client)
    sign_in(client)
    resp = client.post(f"/review/cases/{rid}/sign-off", data={"decision": "approve"})
    assert resp.status_code == 400 and "CSRF" in resp.get_data(as_text=True)
    forged = client.post(
        f"/review/cases/{rid}/sign-off", data={"decision": "approve", "csrf_token": "x" * 40}
    )
    assert forged.status_code == 400
    assert client.get(f"/v1/interpretations/{rid}", headers=AUTH).get_json()["status"] == "review_required"
    no_token_sign_in = client.post("/review/sign-in", data={"name": "rita", "password": PASSWORD})
    assert no_token_sign_in.status_code == 400


def test_a_viewer_reads_cases_but_cannot_sign_off(client):
    rid = stored(client)
    sign_in(client, "victor")
    page = client.get(f"/review/cases/{rid}").get_data(as_text=True)
    assert "Your account is a viewer" in page and 'value="approve"' not in page
    token = csrf_token(client, f"/review/cases/{rid}")
    resp = client.post(f"/review/cases/{rid}/sign-off", data={"decision": "approve", "csrf_token": token})
    assert resp.status_code == 403
    assert client.get(f"/v1/interpretations/{rid}", headers=AUTH).get_json()["status"] == "review_required"


def test_a_reviewer_approves_and_the_sign_off_names_them(client):
    rid = stored(client)
    sign_in(client)
    token = csrf_token(client, f"/review/cases/{rid}")
    resp = client.post(
        f"/review/cases/{rid}/sign-off",
        data={"decision": "approve", "csrf_token": token, "sign_offs_seen": "0"},
    )
    assert resp.status_code == 302
    record = client.get(f"/v1/interpretations/{rid}", headers=AUTH).get_json()
    assert record["status"] == "reviewed" and record["reviews"][0]["reviewer"] == "rita"
    assert record["reviews"][0]["via"] == "console"


def test_an_amendment_without_a_reason_or_without_a_change_is_refused_with_the_reason(client):
    rid = stored(client)
    sign_in(client)
    token = csrf_token(client, f"/review/cases/{rid}")
    no_reason = client.post(
        f"/review/cases/{rid}/sign-off",
        data={"decision": "amend", "comment": "New text.", "csrf_token": token, "sign_offs_seen": "0"},
        follow_redirects=True,
    )
    assert "an amendment needs its reason" in no_reason.get_data(as_text=True)
    no_change = client.post(
        f"/review/cases/{rid}/sign-off",
        data={"decision": "amend", "reason": "why", "csrf_token": token, "sign_offs_seen": "0"},
        follow_redirects=True,
    )
    assert "Nothing was changed" in no_change.get_data(as_text=True)
    changed_approval = client.post(
        f"/review/cases/{rid}/sign-off",
        data={"decision": "approve", "comment": "Other text.", "csrf_token": token, "sign_offs_seen": "0"},
        follow_redirects=True,
    )
    assert "use Amend" in changed_approval.get_data(as_text=True)
    assert client.get(f"/v1/interpretations/{rid}", headers=AUTH).get_json()["reviews"] == []


def test_the_queue_filters_by_status_category_flag_and_age(client):
    mgus, s6, neg = stored(client, "mgus"), stored(client, "s6"), stored(client, "negative")
    sign_in(client)

    def listed(query: str) -> set[str]:
        html = client.get("/review/?" + query).get_data(as_text=True)
        return set(re.findall(r"/review/cases/([0-9a-f]{32})", html))

    assert listed("") == {mgus, s6}  # waiting for review by default
    assert listed("status=auto") == {neg}
    assert listed("status=&category=NO_MONOCLONAL_PROTEIN") == {neg}
    assert listed("status=&flag=MGCS_SCLEROMYXEDEMA") == {s6}
    assert listed("status=&age=today") == {mgus, s6, neg}
    assert listed("status=&age=over-7d") == set()
    bad = client.get("/review/?flag=NOT_A_FLAG").get_data(as_text=True)
    assert "flag: &#39;NOT_A_FLAG&#39; is not a flag code" in bad


def test_the_queue_of_amended_answers_shows_the_category_in_force(client):
    rid = stored(client, "mgus")
    r = client.post(
        f"/v1/interpretations/{rid}/reviews",
        json={
            "decision": "amend",
            "reviewer": "R",
            "classification_code": "INDETERMINATE",
            "comment": "Immunofixation doubtful: repeat serum immunofixation and FLC.",
            "reason": "IFE doubtful",
        },
        headers=AUTH,
    )
    assert r.status_code == 201, r.get_json()
    sign_in(client)
    html = client.get("/review/?status=amended").get_data(as_text=True)
    row = html[html.index(f"/review/cases/{rid}") :][:1500]
    assert "INDETERMINATE" in row or "Indeterminate" in row
    assert "MGUS_NON_IGM" not in row

    def listed(query: str) -> set[str]:
        page = client.get("/review/?" + query).get_data(as_text=True)
        return set(re.findall(r"/review/cases/([0-9a-f]{32})", page))

    # The category filter finds an amended answer by the category in force, not the computed one.
    assert rid in listed("status=&category=INDETERMINATE")
    assert rid not in listed("status=&category=MGUS_NON_IGM")


def test_the_case_page_shows_category_flags_criteria_missing_data_and_risk(client):
    rid = stored(client, "s6")
    sign_in(client)
    html = client.get(f"/review/cases/{rid}").get_data(as_text=True)
    assert "MGUS_NON_IGM" in html and "MGCS_SCLEROMYXEDEMA" in html
    assert "not assessable" in html or "not met" in html
    for heading in ("Criteria", "Missing data", "Risk", "Flags, by severity", "Trends"):
        assert heading in html
    assert 'id="chart-m_protein"' in html and "<svg" in html
    assert "cdn" not in html.lower() and "https://" not in html.split("<svg", 1)[0]
    printable = client.get(f"/review/cases/{rid}/print").get_data(as_text=True)
    assert "Not reviewed" in printable and "<svg" in printable


def test_a_record_read_on_a_page_is_audited_with_the_reviewers_name(client):
    rid = stored(client)
    sign_in(client)
    client.get(f"/review/cases/{rid}")
    trail = client.get(f"/v1/audit?interpretation_id={rid}", headers=AUTH).get_json()["items"]
    assert "console:rita" in {e["api_key_name"] for e in trail}


def test_the_agreement_page_links_the_amended_cases(client):
    rid = stored(client)
    client.post(
        f"/v1/interpretations/{rid}/reviews",
        json={"decision": "amend", "reviewer": "R", "comment": "Changed.", "reason": "r"},
        headers=AUTH,
    )
    sign_in(client)
    html = client.get("/review/agreement").get_data(as_text=True)
    assert f"/review/cases/{rid}" in html and "100.0 %" in html


def test_the_trusted_header_signs_in_only_from_a_configured_proxy(tmp_path):
    app = review_app(tmp_path, REVIEW_TRUSTED_HEADER="X-Remote-User", REVIEW_TRUSTED_PROXIES="10.0.0.5/32")
    accounts.add_user(app.extensions["mgi.store"].store, "sso.user", "viewer", None)
    c = app.test_client()
    from_proxy = c.get(
        "/review/", headers={"X-Remote-User": "sso.user"}, environ_base={"REMOTE_ADDR": "10.0.0.5"}
    )
    assert from_proxy.status_code == 200 and "sso.user" in from_proxy.get_data(as_text=True)
    elsewhere = c.get(
        "/review/", headers={"X-Remote-User": "sso.user"}, environ_base={"REMOTE_ADDR": "10.0.0.6"}
    )
    assert elsewhere.status_code == 302
    unknown = c.get(
        "/review/", headers={"X-Remote-User": "intruder"}, environ_base={"REMOTE_ADDR": "10.0.0.5"}
    )
    assert unknown.status_code == 302
    # An SSO-only account has no password: it cannot sign in with the form.
    assert accounts.sign_in(app.extensions["mgi.store"].store, "sso.user", "")[0] is None


def test_a_trusted_header_without_proxies_stops_start_up(tmp_path):
    with pytest.raises(RuntimeError, match="MGI_REVIEW_TRUSTED_PROXIES"):
        review_app(tmp_path, REVIEW_TRUSTED_HEADER="X-Remote-User")


def test_a_changed_password_ends_the_accounts_sessions(client, store):
    sign_in(client)
    assert client.get("/review/").status_code == 200
    accounts.set_password(store, "rita", "another long password")
    assert client.get("/review/").status_code == 302


def test_chart_thresholds_come_from_the_ruleset(client, store):
    rid = stored(client, "s6")
    record = reviews.get_record(store, rid)
    assert record is not None
    series = {s.name: s for s in charts.series_of([record], record)}
    assert [t.value for t in series["m_protein"].thresholds] == [
        float(R.MAYO_MGUS_M_PROTEIN_G_L),
        float(R.SERUM_M_PROTEIN_G_L),
    ]
    hb = [t.value for t in series["hemoglobin"].thresholds]
    assert hb == [float(R.HEMOGLOBIN_ABSOLUTE_G_L), 120.0, 120.0 - float(R.HEMOGLOBIN_BELOW_LLN_G_L)]
    assert [t.value for t in series["creatinine"].thresholds] == [float(R.CREATININE_UMOL_L), 84.0]
    band = series["flc_ratio"].band
    assert band is not None and band[:2] == (
        float(R.FLC_INTERVALS["freelite"].ratio_low),
        float(R.FLC_INTERVALS["freelite"].ratio_high),
    )


def test_an_unknown_case_is_a_page_saying_so(client):
    sign_in(client)
    resp = client.get("/review/cases/" + "0" * 32)
    assert resp.status_code == 404 and "No stored case has this id." in resp.get_data(as_text=True)
    assert resp.mimetype == "text/html"


def test_the_patients_other_panels_a_case_charts_and_every_queue_row_are_audited(client):
    """A case's trend charts show results of the patient's other records: each of those is read too
    (via trend); each row of the queue is a read (via list), as each row of GET /v1/interpretations is."""
    first = body("mgus") | {"patient_ref": "CHART-1", "specimen_id": "C1", "collected_on": "2026-03-01"}
    other = body("mgus") | {"patient_ref": "CHART-1", "specimen_id": "C2", "collected_on": "2026-02-01"}
    a, b = post(client, first)["id"], post(client, other)["id"]
    sign_in(client)

    def reads(rid: str) -> set[tuple[str, str]]:
        trail = client.get(f"/v1/audit?interpretation_id={rid}", headers=AUTH).get_json()["items"]
        return {(e["api_key_name"], e["via"]) for e in trail}

    assert reads(b) == set()
    client.get(f"/review/cases/{a}")
    assert ("console:rita", "get") in reads(a)
    assert reads(b) == {("console:rita", "trend")}  # B (an earlier date) is in A's charts
    html = client.get("/review/?status=").get_data(as_text=True)
    assert a[:8] in html
    assert ("console:rita", "list") in reads(a) and ("console:rita", "list") in reads(b)


def test_a_control_character_in_a_console_amendment_is_refused_with_the_reason(client):
    rid = stored(client)
    sign_in(client)
    token = csrf_token(client, f"/review/cases/{rid}")
    resp = client.post(
        f"/review/cases/{rid}/sign-off",
        data={"decision": "amend", "comment": "New\u0000text.", "reason": "why", "csrf_token": token},
        follow_redirects=True,
    )
    assert resp.status_code in (200, 422)
    assert "comment: Must not contain control characters" in resp.get_data(as_text=True)
    assert reviews.reviews_of(client.application.extensions["mgi.store"].store, rid) == []


def _form(client, rid: str) -> dict[str, str]:
    """The case page's sign-off form as a browser would send it (hidden fields included)."""
    html = client.get(f"/review/cases/{rid}").get_data(as_text=True)
    hidden = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)">', html))
    code = re.search(r'<option value="([A-Z_]+)" selected', html).group(1)
    comment = re.search(r'<textarea id="comment" name="comment"[^>]*>(.*?)</textarea>', html, re.S).group(1)
    return {**hidden, "classification_code": code, "comment": html_unescape(comment)}


def test_a_stale_form_never_undoes_a_sign_off_made_since_it_was_opened(client):
    rid = stored(client)
    sign_in(client)
    seen_by_a = _form(client, rid)  # reviewer A opens the case
    client.post(  # reviewer B amends it through the API meanwhile
        f"/v1/interpretations/{rid}/reviews",
        json={
            "decision": "amend",
            "reviewer": "B",
            "classification_code": "MULTIPLE_MYELOMA",
            "comment": "Myeloma: trephine 65 %.",
            "reason": "trephine",
        },
        headers=AUTH,
    )
    resp = client.post(
        f"/review/cases/{rid}/sign-off",
        data={**seen_by_a, "decision": "amend", "comment": "Reworded.", "reason": "wording"},
        follow_redirects=True,
    )
    assert "signed off by someone else since you opened it" in resp.get_data(as_text=True)
    record = client.get(f"/v1/interpretations/{rid}", headers=AUTH).get_json()
    assert record["interpretation"]["classification"]["code"] == "MULTIPLE_MYELOMA"
    assert len(record["reviews"]) == 1
    fresh = _form(client, rid)  # read again: the sign-off goes through
    ok = client.post(f"/review/cases/{rid}/sign-off", data={**fresh, "decision": "approve"})
    assert ok.status_code == 302
    assert len(client.get(f"/v1/interpretations/{rid}", headers=AUTH).get_json()["reviews"]) == 2


def test_a_sign_off_form_without_sign_offs_seen_is_refused_as_a_stale_one(client):
    rid = stored(client)
    client.post(
        f"/v1/interpretations/{rid}/reviews", json={"decision": "approve", "reviewer": "B"}, headers=AUTH
    )
    sign_in(client)
    form = _form(client, rid)
    del form["sign_offs_seen"]
    for decision in (
        {"decision": "amend", "comment": "Changed text.", "reason": "r"},
        {"decision": "approve"},
    ):
        resp = client.post(f"/review/cases/{rid}/sign-off", data={**form, **decision}, follow_redirects=True)
        assert "did not say which sign-offs it was opened with" in resp.get_data(as_text=True)
    record = client.get(f"/v1/interpretations/{rid}", headers=AUTH).get_json()
    assert record["status"] == "reviewed" and len(record["reviews"]) == 1


def test_a_category_amended_in_the_console_needs_the_comment_rewritten(client):
    rid = stored(client)
    sign_in(client)
    form = _form(client, rid)
    resp = client.post(
        f"/review/cases/{rid}/sign-off",
        data={**form, "decision": "amend", "classification_code": "SMOLDERING_MYELOMA", "reason": "trephine"},
        follow_redirects=True,
    )
    assert "needs the comment rewritten" in resp.get_data(as_text=True)
    assert client.get(f"/v1/interpretations/{rid}", headers=AUTH).get_json()["reviews"] == []


def test_the_case_page_shows_the_notes_and_how_each_sign_off_was_made(client):
    rid = stored(client)
    client.post(
        f"/v1/interpretations/{rid}/reviews",
        json={"decision": "approve", "reviewer": "vic"},
        headers=AUTH,
    )
    sign_in(client)
    answer = client.get(f"/v1/interpretations/{rid}", headers=AUTH).get_json()["interpretation"]
    html = client.get(f"/review/cases/{rid}").get_data(as_text=True)
    assert 'id="h-notes"' in html
    assert answer["notes"]  # the answer has notes to show
    for note in answer["notes"]:
        assert html_escape(note) in html
    assert 'vic</strong>: approve <span class="via">(through the API' in html
    printed = client.get(f"/review/cases/{rid}/print").get_data(as_text=True)
    assert "(through the API" in printed


def test_the_laboratory_s_comments_on_an_hl7_message_reach_the_record_and_its_reviewer(client):
    hl7 = (
        "\r".join(
            [
                "MSH|^~\\&|LIS|LAB|MGI|HOSP|20240502120000||ORU^R01^ORU_R01|NTE1|P|2.5.1",
                "PID|1||NTE-PAT^^^HOSP^MR||Doe^Jane||19600101|F",
                "OBR|1|O1|F1|PANEL^Panel^L|||20240502",
                "OBX|1|NM|33358-3^M^LN||12|g/L|||||F",
                "NTE|1||Specimen haemolysed; please recollect before reporting",
                "OBX|2|ST|25700-6^IFE^LN||IgG kappa||||||F",
            ]
        )
        + "\r"
    )
    resp = client.post("/v1/hl7v2", data=hl7.encode(), content_type="x-application/hl7-v2+er7", headers=AUTH)
    assert resp.status_code == 200
    listed = client.get("/v1/interpretations?patient_ref=NTE-PAT%5E%5E%5EHOSP", headers=AUTH).get_json()
    rid = listed["items"][0]["id"]
    record = client.get(f"/v1/interpretations/{rid}", headers=AUTH).get_json()
    assert any("please recollect" in n for n in record["interpretation"]["input_notes"])
    sign_in(client)
    assert "please recollect before reporting" in client.get(f"/review/cases/{rid}").get_data(as_text=True)


def test_signing_out_ends_the_session_a_copied_cookie_included(client, app):
    rid = stored(client)
    sign_in(client)
    assert client.get(f"/review/cases/{rid}").status_code == 200
    copy = app.test_client()
    for cookie in client._cookies.values():  # the cookie as a second browser (or a thief) holds it
        copy.set_cookie(cookie.key, cookie.value, domain=cookie.domain, path=cookie.path)
    assert copy.get(f"/review/cases/{rid}").status_code == 200
    client.post("/review/sign-out", data={"csrf_token": csrf_token(client, "/review/")})
    resp = copy.get(f"/review/cases/{rid}")
    assert resp.status_code == 302 and "/review/sign-in" in resp.headers["Location"]


def test_a_locked_account_and_an_unknown_name_get_the_same_answer(client):
    for _ in range(6):
        sign_in(client, "rita", "wrong password 123")
    locked = sign_in(client, "rita", "wrong password 123").get_data(as_text=True)
    unknown = sign_in(client, "nobody", "wrong password 123").get_data(as_text=True)
    assert "Name or password not recognised" in locked and "locked" not in locked.split("After")[0]
    strip = lambda html: re.sub(r'name="csrf_token" value="[^"]+"', "", html)  # noqa: E731
    assert strip(locked) == strip(unknown)


def test_a_result_resent_corrected_the_same_day_is_charted_once_as_corrected(client, store):
    first = body("mgus")
    first.update(specimen_id="S-1", collected_on="2024-03-14")
    first["spep"]["m_protein"] = {"value": 31, "unit": "g/L"}
    corrected = copy.deepcopy(first)
    corrected.update(specimen_id="S-1b")
    corrected["spep"]["m_protein"] = {"value": 13, "unit": "g/L"}
    post(client, first)
    rid = post(client, corrected)["id"]
    record = reviews.get_record(store, rid)
    history = reviews.patient_records(store, record)
    series = {s.name: s for s in charts.series_of(history, record)}
    assert [(str(d), v) for d, v, _ in series["m_protein"].points] == [("2024-03-14", 13.0)]


def test_the_agreement_page_reads_a_since_with_an_offset_as_that_instant(client):
    rid = stored(client)
    client.post(
        f"/v1/interpretations/{rid}/reviews", json={"decision": "approve", "reviewer": "R"}, headers=AUTH
    )
    sign_in(client)
    an_hour_ago = (datetime.now(UTC) - timedelta(hours=1)).astimezone(timezone(timedelta(hours=14)))
    page = client.get("/review/agreement", query_string={"since": an_hour_ago.isoformat()})
    assert "1 case(s) signed off" in page.get_data(as_text=True)
    edge = client.get("/review/agreement", query_string={"since": "0001-01-01T00:00:00+01:00"})
    assert edge.status_code == 200 and "since: use a date" in edge.get_data(as_text=True)


def test_the_queue_shows_an_amended_category_as_released(client):
    rid = stored(client)
    client.post(
        f"/v1/interpretations/{rid}/reviews",
        json={
            "decision": "amend",
            "reviewer": "R",
            "classification_code": "SMOLDERING_MYELOMA",
            "comment": "Trephine 15 %: smouldering myeloma.",
            "reason": "trephine",
        },
        headers=AUTH,
    )
    sign_in(client)
    html = client.get("/review/?status=amended").get_data(as_text=True)
    row = html[html.index(rid) :][:1500]
    assert "Smouldering multiple myeloma" in row and "provisional" not in row


def test_a_locked_account_takes_the_time_of_a_password_check(users, monkeypatch):
    store = users
    calls = []

    class Counting:
        def __init__(self, real):
            self.real = real

        def verify(self, h, p):
            calls.append(1)
            return self.real.verify(h, p)

        def __getattr__(self, name):
            return getattr(self.real, name)

    monkeypatch.setattr(accounts, "HASHER", Counting(accounts.HASHER))
    for _ in range(accounts.lockout_failures()):
        accounts.sign_in(store, "rita", "wrong password 123")
    calls.clear()
    assert accounts.sign_in(store, "rita", "wrong password 123") == (None, "locked")
    assert calls  # the same hashing work as for an unknown name, never a faster answer
