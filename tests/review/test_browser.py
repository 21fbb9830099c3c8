"""The review console in a real browser: Debian's Chromium driven by Playwright.

Sign in with the keyboard; open the queue; open the patient with three dated panels; the M-protein
chart shows three points and its threshold lines; amend the comment; approve; the API, HL7 (OBX-11)
and FHIR outputs show the new status. Screenshots go to MGI_TEST_ARTEFACTS (default: the test's tmp
directory); with MGI_REVIEW_SCREENSHOTS=docs/images the queue and case pages are written there too.
Skipped, saying why, without /usr/bin/chromium or the playwright package.
"""

from __future__ import annotations

import os
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from service.review import accounts, demo

from .conftest import AUTH, PASSWORD, review_app

CHROMIUM = os.environ.get("MGI_CHROMIUM", "/usr/bin/chromium")
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

if not (Path(CHROMIUM).exists() or shutil.which(CHROMIUM)):
    pytest.skip(
        f"browser tests need Chromium at {CHROMIUM} (apt-get install chromium)", allow_module_level=True
    )
sync_api = pytest.importorskip(
    "playwright.sync_api", reason="browser tests need playwright (pip install playwright)"
)


@pytest.fixture
def server(tmp_path) -> Iterator[tuple[str, object]]:
    """The service on 127.0.0.1, a free ephemeral port, in a thread; shut down at the end."""
    from werkzeug.serving import make_server

    app = review_app(tmp_path)
    store = app.extensions["mgi.store"].store
    accounts.add_user(store, "rita", "reviewer", PASSWORD)
    cases = {row["specimen_id"]: row["id"] for row in demo.store_demo(app, headers=AUTH)}
    srv = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{srv.server_port}", cases
    finally:
        srv.shutdown()
        thread.join(timeout=10)
        store.dispose()


@pytest.fixture
def artefacts(tmp_path) -> Path:
    out = Path(os.environ.get("MGI_TEST_ARTEFACTS") or tmp_path / "screenshots")
    out.mkdir(parents=True, exist_ok=True)
    return out


@pytest.fixture
def page() -> Iterator[object]:
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        try:
            context = browser.new_context(viewport={"width": 1280, "height": 900})
            pg = context.new_page()
            pg.set_default_timeout(30_000)
            yield pg
        finally:
            browser.close()


def obx11(text: str) -> set[str]:
    return {seg.split("|")[11] for seg in text.split("\r") if seg.startswith("OBX|")}


def test_a_reviewer_signs_in_reviews_the_worked_example_and_every_output_shows_the_status(
    server, page, artefacts
):
    base, cases = server
    s6 = cases["S6-2024-03-15"]
    mgus = cases["MGUS-2024-03-14"]
    shots = [Path(d) for d in (artefacts, os.environ.get("MGI_REVIEW_SCREENSHOTS")) if d]

    def shot(name: str) -> None:
        for d in shots:
            d.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(d / name), full_page=True)

    # Sign in with the keyboard alone: the name field has the focus, Tab moves to the password.
    page.goto(base + "/review/")
    assert "/review/sign-in" in page.url
    page.wait_for_function("document.activeElement && document.activeElement.id === 'name'")
    page.keyboard.type("rita")
    page.keyboard.press("Tab")
    page.keyboard.type(PASSWORD)
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert "/review/sign-in" not in page.url, page.locator("main").inner_text()
    assert page.get_by_role("heading", name="Review queue").is_visible()
    assert page.get_by_label("Status").input_value() == "review_required"
    shot("review-queue.png")

    # The worked example waits for review (MGUS with the MGCS flag); open it from the queue.
    page.get_by_role("link", name="S6-2024-03-15").click()
    page.wait_for_url(f"**/review/cases/{s6}")
    assert "MGCS_SCLEROMYXEDEMA" in page.content()
    chart = page.locator("#chart-m_protein")
    assert chart.get_attribute("data-points") == "3"
    assert page.locator("#chart-m_protein g#points-m_protein use").count() == 3
    assert page.locator("#chart-m_protein g[id^='threshold-m_protein-']").count() == 2
    assert page.locator("#chart-flc_ratio g#band-flc_ratio").count() == 1
    assert "2023-03-15" in (chart.locator("[role=img]").get_attribute("aria-label") or "")
    shot("review-case.png")

    # Amend the comment, with the reason.
    page.get_by_label("Interpretive comment (edit it to amend)").fill(
        "Non-IgM MGUS (IgG kappa) with scleromyxoedema: MGCS. Refer to haematology and dermatology."
    )
    page.get_by_label("Reason for an amendment (required to amend)").fill("Shorter wording for the ward")
    with page.expect_navigation():
        page.get_by_role("button", name="Amend").click()
    assert page.locator("#release-status").inner_text() == "amended"
    assert "Amended and signed off." in page.content()
    shot("after-amend.png")

    # Approve it (a second sign-off countersigns the amendment) and approve the MGUS case as it is.
    with page.expect_navigation():
        page.get_by_role("button", name="Approve").click()
    assert "Approved and signed off." in page.content()
    page.goto(f"{base}/review/cases/{mgus}")
    with page.expect_navigation():
        page.get_by_role("button", name="Approve").click()
    assert page.locator("#release-status").inner_text() == "reviewed"
    shot("after-approve.png")

    # Every output shows the new status.
    api = requests.get(f"{base}/v1/interpretations/{s6}", headers=AUTH, timeout=30).json()
    assert api["status"] == "amended" and [r["decision"] for r in api["reviews"]] == ["amend", "approve"]
    assert api["interpretation"]["comment"].startswith("Non-IgM MGUS (IgG kappa) with scleromyxoedema")
    assert api["reviews"][0]["reviewer"] == "rita"
    assert obx11(requests.get(f"{base}/v1/interpretations/{s6}/hl7", headers=AUTH, timeout=30).text) == {"C"}
    assert (
        requests.get(f"{base}/v1/interpretations/{s6}/fhir", headers=AUTH, timeout=30).json()["status"]
        == "amended"
    )
    assert (
        requests.get(f"{base}/v1/interpretations/{mgus}", headers=AUTH, timeout=30).json()["status"]
        == "reviewed"
    )
    assert obx11(requests.get(f"{base}/v1/interpretations/{mgus}/hl7", headers=AUTH, timeout=30).text) == {
        "F"
    }
    assert (
        requests.get(f"{base}/v1/interpretations/{mgus}/fhir", headers=AUTH, timeout=30).json()["status"]
        == "final"
    )
    # The queue no longer lists them.
    page.goto(base + "/review/")
    assert page.get_by_role("link", name="S6-2024-03-15").count() == 0


def test_a_page_posted_from_elsewhere_without_the_token_is_refused_in_the_browser(server, page):
    base, cases = server
    page.goto(base + "/review/sign-in")
    page.get_by_label("Name").fill("rita")
    page.get_by_label("Password").fill(PASSWORD)
    with page.expect_navigation():
        page.get_by_role("button", name="Sign in").click()
    assert "/review/sign-in" not in page.url
    # A forged form (no CSRF token) posted from the signed-in browser.
    resp = page.request.post(
        f"{base}/review/cases/{cases['MGUS-2024-03-14']}/sign-off", form={"decision": "approve"}
    )
    assert resp.status == 400
    status = requests.get(
        f"{base}/v1/interpretations/{cases['MGUS-2024-03-14']}", headers=AUTH, timeout=30
    ).json()
    assert status["status"] == "review_required"


CONTRAST_JS = """
() => {
  const rgb = s => (s.match(/[\\d.]+/g) || []).map(Number);
  const lum = ([r, g, b]) => {
    const c = [r, g, b].map(v => {
      v /= 255;
      return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4);
    });
    return 0.2126 * c[0] + 0.7152 * c[1] + 0.0722 * c[2];
  };
  const background = el => {
    for (let e = el; e; e = e.parentElement) {
      const c = rgb(getComputedStyle(e).backgroundColor);
      if (c.length === 3 || (c.length === 4 && c[3] > 0.5)) return c.slice(0, 3);
    }
    return [255, 255, 255];
  };
  const worst = [];
  for (const el of document.querySelectorAll('main *, header *')) {
    if (el.closest('svg')) continue;
    const own = [...el.childNodes].some(n => n.nodeType === 3 && n.textContent.trim());
    if (!own || !el.getClientRects().length) continue;
    const fg = rgb(getComputedStyle(el).color).slice(0, 3);
    const [a, b] = [lum(fg), lum(background(el))].sort((x, y) => y - x);
    const ratio = (a + 0.05) / (b + 0.05);
    if (ratio < 4.5) worst.push(el.tagName + '.' + el.className + ': ' + ratio.toFixed(2));
  }
  return worst;
}
"""


def test_the_pages_work_with_the_keyboard_and_keep_text_contrast(server, page):
    base, cases = server
    page.goto(base + "/review/sign-in")
    page.wait_for_function("document.activeElement && document.activeElement.id === 'name'")
    assert page.evaluate(CONTRAST_JS) == []
    # The check itself sees a pale grey on white (2.3:1).
    page.evaluate(
        "document.querySelector('main').insertAdjacentHTML('beforeend', '<p id=pale style=color:#999>x</p>')"
    )
    assert [w for w in page.evaluate(CONTRAST_JS) if w.startswith("P.")]
    page.evaluate("document.getElementById('pale').remove()")
    page.keyboard.type("rita")
    page.keyboard.press("Tab")
    page.keyboard.type(PASSWORD)
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert page.evaluate(CONTRAST_JS) == []
    # Tab from the top of the queue reaches the first case link; Enter opens it.
    for _ in range(40):
        page.keyboard.press("Tab")
        if "/review/cases/" in (page.evaluate("document.activeElement.getAttribute('href') || ''")):
            break
    else:
        raise AssertionError("no case link reached with the Tab key")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert "/review/cases/" in page.url
    assert page.evaluate(CONTRAST_JS) == []
    # Every form field on the case page has a label.
    unlabelled = page.evaluate(
        "[...document.querySelectorAll('input:not([type=hidden]), select, textarea')]"
        ".filter(e => !e.labels || !e.labels.length).map(e => e.name)"
    )
    assert unlabelled == []
