"""Properties over valid panels: the answer never says more than the data allow (clinical-reference §2.9).

- the MYELOMA_DEFINING_EVENT flag is raised exactly when myeloma_defining_events is not empty;
- a not-assessable myeloma-defining event is never summarised as absent;
- report text (the label and the comment) is words, never a field name or code;
- NO_MONOCLONAL_PROTEIN without serum immunofixation or serum FLC is provisional.
"""

from __future__ import annotations

import re

from hypothesis import HealthCheck, assume, given, settings
from marshmallow import ValidationError

from service.api.schemas import InterpretationRequestSchema
from service.api.serialize import to_dict
from service.domain import interpret
from service.domain.facts import MDE_NAMES
from tests.robustness.test_domain_properties import request_bodies

SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
SCHEMA = InterpretationRequestSchema()
# A request field or code: lower-case words joined by underscores (mri_focal_lesions, n_latex), or a
# dotted field path (labs.calcium).
FIELD_NAME = re.compile(r"\b[a-z][a-z0-9]*_[a-z0-9_]+\b|\b[a-z]+\.[a-z_]+\.?[a-z_]*\b")


def answer(body: dict) -> dict:
    try:
        panel = SCHEMA.load(body)
    except ValidationError:
        assume(False)  # refused input (e.g. outside a plausibility window) has no interpretation
    return to_dict(interpret(panel))


@SETTINGS
@given(request_bodies())
def test_the_myeloma_defining_event_flag_is_raised_exactly_when_events_are_listed(body):
    out = answer(body)
    flagged = any(f["code"] == "MYELOMA_DEFINING_EVENT" for f in out["flags"])
    assert flagged is bool(out["myeloma_defining_events"])


@SETTINGS
@given(request_bodies())
def test_a_not_assessable_myeloma_defining_event_is_never_summarised_as_absent(body):
    out = answer(body)
    comment = out["comment"]
    assert "No myeloma-defining event." not in comment or not _open_events(out)
    if "No myeloma-defining event among those assessed" in comment:
        tail = comment.split("not assessable:", 1)[1].split(".")[0]
        for event in _open_events(out):
            assert MDE_NAMES[event] in tail


def _open_events(out: dict) -> list[str]:
    """Events none of whose criteria is met and some of whose criteria are not assessable."""
    by_event: dict[str, list[str]] = {}
    for c in out["criteria"]:
        if c["id"].startswith("mde."):
            by_event.setdefault(c["id"].split(".")[1], []).append(c["status"])
    return [e for e, s in by_event.items() if "met" not in s and "not_assessable" in s]


@SETTINGS
@given(request_bodies())
def test_the_label_and_the_comment_are_words_not_field_names(body):
    out = answer(body)
    for text in (out["classification"]["label"], out["comment"]):
        found = FIELD_NAME.findall(text.replace("e.g.", "for example"))
        assert not found, (found, text)


@SETTINGS
@given(request_bodies())
def test_no_monoclonal_protein_without_serum_immunofixation_or_flc_is_provisional(body):
    out = answer(body)
    if out["classification"]["code"] != "NO_MONOCLONAL_PROTEIN":
        return
    flc = body.get("flc") or {}
    complete = (
        body.get("serum_ife") is not None and flc.get("kappa") is not None and flc.get("lambda") is not None
    )
    if not complete:
        assert out["classification"]["provisional"] is True
        assert "incomplete screen" in out["classification"]["label"]
