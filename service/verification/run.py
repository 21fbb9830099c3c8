"""``python -m service verify --url URL [--key KEY]``: run the verification cases against a running instance.

Each case is posted as JSON (POST /v1/interpretations), as an HL7 v2 ORU^R01 (POST /v1/hl7v2) and as a FHIR
Bundle (POST /v1/fhir/interpretations); the answer is compared with the case's clinical expectations and a
table is printed (case, form, expected, got, pass). Exit status: 0 when every run case passes, 1 on any
mismatch, 2 when the instance cannot be reached or the arguments or case files are wrong.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import urllib.error
import urllib.request
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from service.adapters.codes import CodeMap, CodeMapError, load_codemap

from . import forms as F
from .cases import FORMS, Case, CaseError, Expect, load

HL7_MIME = "x-application/hl7-v2+er7"
_PATH = re.compile(r"\b(?:history\.\d+\.)?[a-z_]+(?:\.[a-z_0-9]+)+\b")
FHIR_MIME = "application/fhir+json"


class Unreachable(Exception):
    """The instance did not answer (connection refused, DNS, timeout, TLS)."""


@dataclass
class Answer:
    """What one form of a case came back with, reduced to what expectations compare."""

    status: int
    classification: str | None = None
    provisional: bool | None = None
    flags: frozenset[str] = frozenset()
    criteria: Mapping[str, str] | None = None  # JSON only
    mde: Sequence[str] | None = None  # JSON only
    risk_possible_groups: Mapping[str, Sequence[str]] | None = None  # JSON only
    error_text: str = ""  # the error body, for the fields a 422 names
    error_fields: frozenset[str] = frozenset()

    def summary(self) -> str:
        if self.status != 200:
            named = ", ".join(sorted(self.error_fields)) or self.error_text[:80]
            return f"{self.status} naming {named}"
        parts = [self.classification or "?"]
        if self.provisional is not None:
            parts.append("provisional" if self.provisional else "final")
        parts += sorted(self.flags)
        return " ".join(parts)


@dataclass
class Row:
    case: Case
    form: str
    outcome: str  # PASS | FAIL | SKIP
    got: str
    problems: list[str] = field(default_factory=list)


# --- HTTP -------------------------------------------------------------------------------------------------
class Client:
    def __init__(self, url: str, key: str | None, timeout: float) -> None:
        self.url, self.key, self.timeout = url.rstrip("/"), key, timeout

    def request(
        self, method: str, path: str, data: bytes | None, content_type: str | None
    ) -> tuple[int, bytes]:
        req = urllib.request.Request(self.url + path, data=data, method=method)
        if content_type:
            req.add_header("Content-Type", content_type)
        if self.key:
            req.add_header("Authorization", f"Bearer {self.key}")
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as resp:  # noqa: S310 - the lab's own URL
                return resp.status, resp.read()
        except urllib.error.HTTPError as e:
            return e.code, e.read()
        except (urllib.error.URLError, TimeoutError, ConnectionError, OSError) as e:
            reason = getattr(e, "reason", e)
            raise Unreachable(f"cannot reach {self.url}: {reason}") from None


# --- Reading the three answers ----------------------------------------------------------------------------
def read_json(status: int, raw: bytes) -> Answer:
    body = json.loads(raw)
    if status == 201:  # interpreted and stored (the records store is on): the same answer, with an id
        status = 200
    if status != 200:
        errors = body.get("errors") or {}
        return Answer(status, error_text=json.dumps(body), error_fields=frozenset(errors))
    return Answer(
        status,
        classification=body["classification"]["code"],
        provisional=body["classification"]["provisional"],
        flags=frozenset(f["code"] for f in body.get("flags") or ()),
        criteria={c["id"]: c["status"] for c in body.get("criteria") or ()},
        mde=list(body.get("myeloma_defining_events") or ()),
        risk_possible_groups={k: v.get("possible_groups") or () for k, v in (body.get("risk") or {}).items()},
    )


def read_hl7(status: int, raw: bytes) -> Answer:
    text = raw.decode("utf-8", "replace")
    if status != 200:
        # An ACK: MSA-1 (AE/AR) and the request fields its text names (ERR locates the OBX).
        segments = {
            seg.split("|", 1)[0]: seg.split("|") for seg in text.replace("\n", "\r").split("\r") if seg
        }
        ack = (segments.get("MSA", []) + ["", "?"])[1]
        where = (segments.get("ERR", []) + ["", "", "?"])[2]
        named = frozenset(_PATH.findall(text))
        return Answer(status, error_text=f"MSA {ack} at {where}: {text}", error_fields=named)
    answer = Answer(status)
    flags = set()
    for segment in text.replace("\n", "\r").split("\r"):
        fields = segment.split("|")
        if fields[0] != "OBX" or len(fields) < 6:
            continue
        code, value = fields[3].split("^", 1)[0], fields[5].split("^", 1)[0]
        if code == "CLASSIFICATION":
            answer.classification = value
        elif code == "CLASSIFICATION_PROVISIONAL":
            answer.provisional = value == "Y"
        elif code == "FLAG":
            flags.add(value)
    answer.flags = frozenset(flags)
    return answer


def read_fhir(status: int, raw: bytes) -> Answer:
    body = json.loads(raw)
    if status != 200:
        fields = {i["expression"][0] for i in body.get("issue") or () if i.get("expression")}
        return Answer(status, error_text=json.dumps(body), error_fields=frozenset(fields))
    answer = Answer(status)
    for concept in body.get("conclusionCode") or ():
        answer.classification = concept["coding"][0]["code"]
    flags = set()
    for obs in body.get("contained") or ():
        code = obs["code"]["coding"][0]["code"]
        if code == "CLASSIFICATION_PROVISIONAL":
            answer.provisional = obs.get("valueBoolean")
        elif code == "FLAG":
            flags.add(obs["valueCodeableConcept"]["coding"][0]["code"])
    answer.flags = frozenset(flags)
    return answer


# --- Comparing --------------------------------------------------------------------------------------------
def compare(expect: Expect, got: Answer, form: str) -> list[str]:
    """Every way the answer departs from the expectation (empty when it passes)."""
    if got.status != expect.status:
        return [
            f"HTTP {got.status}, expected {expect.status}"
            + (f": {got.error_text[:300]}" if got.error_text else "")
        ]
    if expect.status != 200:
        missing = [f for f in expect.error_fields if f not in got.error_fields and f not in got.error_text]
        return [f"the error does not name {', '.join(missing)}"] if missing else []
    problems = []
    if expect.classification is not None and got.classification != expect.classification:
        problems.append(f"classification {got.classification}, expected {expect.classification}")
    if expect.provisional is not None and got.provisional is not expect.provisional:
        problems.append(f"provisional {got.provisional}, expected {expect.provisional}")
    if missing := [f for f in expect.flags_required if f not in got.flags]:
        problems.append(f"missing flags {', '.join(missing)}")
    if present := [f for f in expect.flags_forbidden if f in got.flags]:
        problems.append(f"flags that must be absent: {', '.join(present)}")
    if form == "json":
        assert got.criteria is not None and got.mde is not None and got.risk_possible_groups is not None
        for cid, status in expect.criteria.items():
            if got.criteria.get(cid) != status:
                problems.append(f"criterion {cid} {got.criteria.get(cid, 'absent')}, expected {status}")
        if expect.mde == "some" and not got.mde:
            problems.append("no myeloma-defining event, expected at least one")
        if expect.mde == "none" and got.mde:
            problems.append(f"myeloma-defining events {', '.join(got.mde)}, expected none")
        for model, groups in expect.risk_possible_groups.items():
            open_groups = list(got.risk_possible_groups.get(model) or ())
            if sorted(open_groups) != sorted(groups):
                problems.append(f"{model} possible groups {open_groups}, expected {list(groups)}")
    return problems


# --- Running ----------------------------------------------------------------------------------------------
def _marked(case: Case) -> dict:
    """The case's body with a specimen id that names it as a verification case, so that its record
    (when the records store is on) is recognisable in the store and the review queue."""
    body = dict(case.body)
    body.setdefault("specimen_id", f"MGI-VERIFY-{case.id}"[:64])
    return body


def run_case(client: Client, case: Case, form: str, codemap: CodeMap) -> Row:
    try:
        if form == "json":
            status, raw = client.request(
                "POST", "/v1/interpretations", json.dumps(_marked(case)).encode(), "application/json"
            )
            got = read_json(status, raw)
        elif form == "hl7":
            message = F.to_hl7(case.body, codemap, control_id=f"V{zlib.crc32(case.id.encode()):08d}")
            status, raw = client.request("POST", "/v1/hl7v2", message.encode(), HL7_MIME)
            got = read_hl7(status, raw)
        else:
            bundle = F.to_fhir(case.body, codemap)
            status, raw = client.request(
                "POST", "/v1/fhir/interpretations", json.dumps(bundle).encode(), FHIR_MIME
            )
            got = read_fhir(status, raw)
    except F.NotExpressible as e:
        return Row(case, form, "SKIP", f"not sent: {e}")
    except (ValueError, KeyError, TypeError, IndexError) as e:
        return Row(
            case,
            form,
            "FAIL",
            "unreadable answer",
            [f"the answer could not be read: {type(e).__name__}: {e}"],
        )
    problems = compare(case.expect, got, form)
    return Row(case, form, "FAIL" if problems else "PASS", got.summary(), problems)


def table(rows: Sequence[Row]) -> str:
    """The result table, one line per case and form, then the detail of every mismatch."""
    head = ("case", "form", "expected", "got", "pass")
    lines = [
        (r.case.id + (" *" if r.case.depends_on else ""), r.form, r.case.expect.summary(), r.got, r.outcome)
        for r in rows
    ]
    widths = [min(60, max(len(head[i]), *(len(line[i]) for line in lines))) for i in range(4)]

    def fmt(cols: Sequence[str]) -> str:
        cells = [c if len(c) <= widths[i] else c[: widths[i] - 1] + "…" for i, c in enumerate(cols[:4])]
        return "  ".join(cell.ljust(widths[i]) for i, cell in enumerate(cells)) + "  " + cols[4]

    out = [fmt(head), fmt(["-" * w for w in widths] + ["----"])]
    out += [fmt(line) for line in lines]
    failures = [r for r in rows if r.outcome == "FAIL"]
    if failures:
        out.append("")
        out.append("Mismatches:")
        for r in failures:
            for problem in r.problems:
                out.append(f"  {r.case.id} [{r.form}]: {problem}")
            if r.case.depends_on:
                out.append(f"  {r.case.id}: expectation depends on {r.case.depends_on}")
    if any(r.case.depends_on for r in rows):
        out.append("")
        out.append("* the expectation relies on a rule named in the case's depends_on (docs/verification.md)")
    return "\n".join(out)


def _parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(
        prog="python -m service verify",
        description="Run the verification cases against a running MGI instance (JSON, HL7 v2, FHIR).",
    )
    ap.add_argument("--url", required=True, help="base URL of the instance, e.g. https://mgi.lab.example")
    ap.add_argument("--key", help="API key (sent as 'Authorization: Bearer KEY')")
    ap.add_argument(
        "--cases",
        action="append",
        type=Path,
        default=[],
        metavar="PATH",
        help="a YAML case file or a directory of them, run after the shipped cases (repeatable)",
    )
    ap.add_argument("--no-shipped", action="store_true", help="run only the cases given with --cases")
    ap.add_argument(
        "--codemap",
        metavar="FILE",
        help="the laboratory's code map (as MGI_CODEMAP_FILE on the instance): codes for the HL7 v2 "
        "and FHIR forms",
    )
    ap.add_argument("--forms", default=",".join(FORMS), help="forms to run, comma-separated (default: all)")
    ap.add_argument(
        "--only", action="append", default=[], metavar="ID", help="run only this case (repeatable)"
    )
    ap.add_argument("--timeout", type=float, default=30.0, help="seconds per request (default 30)")
    return ap


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    forms = [f.strip() for f in args.forms.split(",") if f.strip()]
    if bad := set(forms) - set(FORMS):
        print(f"verify: unknown forms {sorted(bad)} (use {', '.join(FORMS)})", file=sys.stderr)
        return 2
    try:
        cases = ([] if args.no_shipped else load()) + (load(args.cases) if args.cases else [])
        codemap = load_codemap(args.codemap)
    except (CaseError, CodeMapError, OSError) as e:
        print(f"verify: {e}", file=sys.stderr)
        return 2
    if args.only:
        cases = [c for c in cases if c.id in set(args.only)]
    if not cases:
        print("verify: no cases to run", file=sys.stderr)
        return 2
    client = Client(args.url, args.key, args.timeout)
    try:
        status, raw = client.request("GET", "/healthz", None, None)
        version = json.loads(raw).get("ruleset_version", "?") if status == 200 else f"(healthz HTTP {status})"
        print(f"MGI verification against {client.url}, ruleset {version}: {len(cases)} cases")
        rows = [
            run_case(client, case, form, codemap) for case in cases for form in forms if form in case.forms
        ]
    except Unreachable as e:
        print(f"verify: {e}. Is the service running at that URL?", file=sys.stderr)
        return 2
    print(table(rows))
    counts = {k: sum(r.outcome == k for r in rows) for k in ("PASS", "FAIL", "SKIP")}
    print(f"\n{counts['PASS']} passed, {counts['FAIL']} failed, {counts['SKIP']} not sent (see 'got')")
    if any(r.case.expect.status == 200 for r in rows) and counts["FAIL"] == 0:
        print("VERIFIED: every case gave its expected result.")
    return 1 if counts["FAIL"] else 0
