"""The ruleset a lab reviews: every rule changed by the current version is described, and the changelog
(document and GET /v1/ruleset) names the version in force."""

from __future__ import annotations

from service.domain.ruleset import CHANGELOG, RULESET_VERSION, describe

from .helpers import ROOT


def test_the_changelog_document_describes_the_ruleset_in_force():
    text = (ROOT / "docs" / "ruleset-changelog.md").read_text()
    assert f"## {RULESET_VERSION}" in text


def test_the_ruleset_endpoint_carries_the_changelog_of_the_version_in_force(client):
    body = client.get("/v1/ruleset").get_json()
    assert body["changelog"][0]["version"] == RULESET_VERSION == body["ruleset_version"]


def test_every_rule_the_changelog_names_is_in_the_ruleset():
    ids = {r["id"] for r in describe()["rules"]}
    named = {rule for entry in CHANGELOG for change in entry["changes"] for rule in change["rules"]}
    assert named - {"report"} <= ids, named - ids
