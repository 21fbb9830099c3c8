"""HL7 v2 ORU^R01 <-> contract JSON (api-contract.md), parsed with hl7apy.

Inbound: ``parse_oru`` turns an ER7 ORU^R01 (v2.5.1; 2.3, 2.3.1, 2.4 and 2.5 tolerated; segment
separators \\r, \\n or \\r\\n; MLLP framing bytes stripped) into the public request dict, so the HTTP
layer validates it with the same request schema as JSON and runs the same engine.

* OBX-3 (identifier^text^system^alt-identifier^alt-text^alt-system) is looked up in the code
  map of the sender (MSH-3/MSH-4, ``senders`` in the lab file) or the global one (LOINC defaults +
  lab-local codes; an entry without a system matches a code sent with an empty OBX-3.3); both codings
  are tried, a known-wrong code in either rejects the message. Unmapped codes are ignored (listed in
  ``OruContext.notes``, which reach the reply and any ACK).
* OBX-2 NM/SN/ST/TX/FT for numbers (SN ``<^0.1`` and text ``<0.1`` give a comparator), CWE/CE/CNE
  (text, code, then the alternate text and code) or ST/TX/FT for immunofixation (forms in
  ``codes.IFE_FORMS_DOC`` and the lab's ``ife_wordings``) and yes/no findings. Text is read with its
  escapes and formatting commands decoded (``unescape``); an immunofixation on several lines is read
  whole, else from its lines that are results when the others say nothing of one (``_ife_lines``).
* OBX-4 sub-IDs: two results of one code with different sub-IDs are the clones of a biclonal
  immunofixation, or M-protein bands (added when the immunofixation names two clones); any other
  field with two values is a conflict.
* OBX-6 unit: a code whose property fixes its units (``units`` in the code map: the SI codes 2000-8,
  14682-9, 59260-0 and the mass codes beside them) refuses any other unit and converts (creatinine
  mmol/L x 1000); other units pass through to the request schema. OBX-7 reference range as free text
  (``3.3-19.4``, ``3.3 - 19.4 mg/L``, ``<4``, ``>60``): one that cannot be used is ignored with a note.
  OBX-8 ``>`` / ``<`` (table 0078, off the instrument's scale) make OBX-5 a bound (``_off_scale``).
  OBX-11 result status (F, C, P, R, S, U or empty used, P/R/S with a note; X, D, W, I, N, O skipped;
  a C replaces the final result of its OBX-3 in its order and date, ``_kept``; a W or D takes back
  every result of its OBX-3 and sub-ID in its order, ``_retract``), OBX-14 date.
* OBX-17 (observation method) of a free light chain -> ``flc.assay`` (``_flc_assay``: the reagent
  named decides, an analyser only without one; anything else ``other``); kappa and lambda naming
  different assays are refused at OBX-17; none named: Freelite, the request's default, with a note.
* Batch files (FHS/BHS ... BTS/FTS) are split by ``split_batch``; each message is read alone.
* PID-7 birth date -> ``patient.age_years`` (completed years at ``collected_on``, else today; above
  150 refused at PID-7), PID-8 sex (F female, M male, O/A other, U/N unknown); the HL7 null ``""`` in
  either, and a sex code outside table 0001, is not given (noted). OBR-7 (else the latest OBX-14) ->
  ``collected_on``; an OBR-7 or OBX-14 in the future or before 1900 is refused at its field. When the
  timestamp dating the panel and another OBR-7 or OBX-14 both carry a time and a UTC offset, the
  other's date is taken in the panel timestamp's offset. ORC, PV1, SPM and Z-segments are tolerated
  and ignored.
* NTE: each comment (NTE-3) is a note naming the segment it follows (``_read_nte``); after a result
  OBX with an empty OBX-5 it holds the result, which is refused at that OBX-5.
* DG1-3 (coded SNOMED CT / WHO ICD-10 / lab code) or an OBX whose OBX-3 is a configured finding
  code -> ``clinical.*``. DG1-6 ``W`` (working) makes scleromyxoedema "suspected", otherwise
  "confirmed"; a finding OBX carries its own value (Y/N, confirmed/suspected/absent). A DG1 whose
  DG1-21 action code is ``D`` (delete) is ignored (noted; also in v2.3/2.4, which define no DG1-21).
* MSH-10 is required (AR without it); MSH-12 is read without surrounding blanks. MSH-18 (HL7 table
  0211) decides how the bytes are read (``CHARACTER_SETS``); a set that is unknown or not read, or
  bytes not valid in it, are rejected at MSH-18 (AR); without it, UTF-8 else Latin-1 (``_decode``).
* A field that takes one value and repeats (``F~M`` in PID-8) is refused at that field (``_one_value``;
  AR in MSH), never cut to its first value; PID-3 and OBX-5 repeat.

Errors raise ``Hl7Error`` (segment, occurrence, field, HL7 table 0357 code, ACK code). Suggested
HTTP behaviour: answer an ``Hl7Error`` (and a request-schema 422) with HTTP 200 and the ACK from
``build_ack`` (AR: not an ORU^R01 / unparseable / unsupported version; AE: content errors), which
interface engines log and do not retry; never a 500.

Outbound: ``build_oru_response`` builds an ORU^R01 that echoes the inbound message: MSH with
sending/receiving swapped and a new control ID, PID verbatim, OBR with the original placer (OBR-2)
and filler (OBR-3) numbers and OBR-7, and the **original MSH-10 in OBR-20** (filler field 1).
The interpretation is carried in OBX segments with local codes (coding system ``MGI``); their
value type is CWE (CE for versions before 2.5). OBX-4 (sub-ID) links the OBX of one risk model,
flag or recommendation.

| OBX-3 code                   | type   | OBX-5 value                                          |
|------------------------------|--------|------------------------------------------------------|
| RULESET_VERSION              | ST     | ruleset version                                      |
| CLASSIFICATION               | CWE    | classification code ^ label ^ MGI                    |
| CLASSIFICATION_PROVISIONAL   | CWE    | Y^Yes^HL70136 or N^No^HL70136                        |
| ISOTYPE                      | ST     | isotype text (e.g. "IgG kappa"); omitted when null   |
| RISK_MGUS_MAYO_2005          | CWE    | group ^ group ^ MGI, NOT_SCORED^Not scored^MGI (open),|
|                              |        | or NOT_APPLICABLE^Not applicable^MGI                 |
| RISK_SMM_MAYO_2018           | CWE    | idem                                                 |
| RISK_SMM_IMWG_2020           | CWE    | idem                                                 |
| RISK_<MODEL>_SCORE           | NM/SN  | the model's numeric score, when it has one; SN >=^7  |
|                              |        | when the score is a lower bound (data not given)     |
| RISK_<MODEL>_POSSIBLE_GROUPS | ST     | groups an open result is between (a~b)               |
| FLAG                         | CWE    | flag code ^ short text ^ MGI; message in the NTE after |
| FLAG_SEVERITY                | CWE    | info / refer / urgent ^ same ^ MGI                   |
| FLAG_REFER_TO                | ST     | specialties, repeated (hematology~dermatology)       |
| RECOMMENDATION               | CWE    | code ^ short text ^ MGI; full text in the NTE after   |
| MISSING_DATA                 | ST     | request field paths, repeated                        |
| COMMENT                      | FT     | narrative comment (line breaks as \\.br\\)            |
| RECORD_ID                    | ST     | the stored record's id (records store on)            |

An NTE after a risk OBX carries the model's explanation when the interpretation gives one.
Free text is escaped (``\\F\\ \\S\\ \\T\\ \\R\\ \\E\\``); MSH-18 is ``UNICODE UTF-8``.
"""

from __future__ import annotations

import codecs
import hashlib
import re
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta, timezone, tzinfo
from typing import Any, TypedDict

from hl7apy.consts import VALIDATION_LEVEL
from hl7apy.parser import parse_message

from service.domain.plausibility import EARLIEST_DATE, latest_date
from service.domain.ruleset import ADULT_AGE_MAX_YEARS

from .codes import (
    KNOWN_UNITS,
    REFERENCE_RANGE_NOT_READ,
    RISK_LABELS,
    CodeEntry,
    CodeMap,
    Coding,
    DatedResult,
    Kind,
    NotDetected,
    PanelAssembler,
    ResultProblem,
    ValueProblem,
    WrongCodeError,
    age_in_years,
    coded_value,
    is_paraprotein,
    load_codemap,
    numeric_value,
    parse_compared,
    parse_number,
    place_results,
    range_not_read,
    read_range_text,
    units_contradict,
    work_up_date,
)

SUPPORTED_VERSIONS = ("2.3", "2.3.1", "2.4", "2.5", "2.5.1")
LOCAL_SYSTEM = "MGI"
_USED_STATUSES = {"", "F", "C", "P", "R", "S", "U"}
# HL7 table 0085 codes that are not results (deleted, wrong, pending, not asked, order detail):
# skipped with a note. A code outside table 0085 is an error, never a silently dropped result.
_SKIPPED_STATUSES = {"X", "D", "W", "I", "N", "O", "A", "B"}
# HL7 table 0085 codes of results that are read but may still change: said in a note.
_PROVISIONAL = {"P": "preliminary", "R": "not verified", "S": "partial"}
_SEX = {"F": "female", "M": "male", "O": "other", "A": "other", "U": "unknown", "N": "unknown"}
_RISK_MODELS = tuple(RISK_LABELS)


# --------------------------------------------------------------------------------------------
# Encoding and escaping
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Encoding:
    """The delimiters of a message (MSH-1 and MSH-2)."""

    field: str = "|"
    component: str = "^"
    repetition: str = "~"
    escape: str = "\\"
    subcomponent: str = "&"

    @property
    def msh2(self) -> str:
        """MSH-2 encoding characters."""
        return f"{self.component}{self.repetition}{self.escape}{self.subcomponent}"


DEFAULT_ENCODING = Encoding()


def escape(text: str, enc: Encoding = DEFAULT_ENCODING, *, formatted: bool = False) -> str:
    """Escape free text for an HL7 field; newlines become \\.br\\ in FT, spaces elsewhere."""
    replacements = {
        enc.escape: f"{enc.escape}E{enc.escape}",
        enc.field: f"{enc.escape}F{enc.escape}",
        enc.component: f"{enc.escape}S{enc.escape}",
        enc.subcomponent: f"{enc.escape}T{enc.escape}",
        enc.repetition: f"{enc.escape}R{enc.escape}",
        "\n": f"{enc.escape}.br{enc.escape}" if formatted else " ",
    }
    normalized = text.replace("\r\n", "\n").replace("\r", "\n")
    return _hex_controls("".join(replacements.get(ch, ch) for ch in normalized), enc)


# C0 (but \t and \n, handled by escape()), DEL, C1, and the Unicode line and paragraph separators.
_CONTROLS = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029]")


def _hex_controls(text: str, enc: Encoding) -> str:
    """Control characters as \\Xhh\\ escapes: echoed raw (a NUL or VT from the sender's MSH-10 or PID),
    they would break the receiving interface engine's framing (MLLP uses VT and FS)."""
    if _CONTROLS.search(text) is None:
        return text
    return _CONTROLS.sub(lambda m: f"{enc.escape}X{ord(m.group()):02X}{enc.escape}", text)


# HL7 formatting commands (FT, also met in TX and ST): line breaks (.br, .sp <n> lines, .ce a centred
# line) end a line; .sk <n> skips spaces (one is kept: a count is layout, not text); indents (.in, .ti)
# and fill modes (.fi, .nf) carry no text.
_FORMATTING = re.compile(r"\.(br|sp|ce|sk|in|ti|fi|nf)\s*([+-]?\d*)", re.ASCII)


def _formatting(command: str, number: str) -> str:
    if command == "sp":
        count = int(number) if number.isdigit() else 1
        return "\n" * min(max(count, 1), 2)
    if command in ("br", "ce"):
        return "\n"
    return " " if command == "sk" else ""


def unescape(text: str, enc: Encoding = DEFAULT_ENCODING) -> str:
    """Undo HL7 escape sequences (\\F\\ \\S\\ \\T\\ \\R\\ \\E\\ \\Xhh\\) and formatting commands
    (\\.br\\, \\.sp\\ and \\.ce\\ end a line, \\.sk\\ a space; \\.in\\ \\.ti\\ \\.fi\\ \\.nf\\ and
    highlighting \\H\\ \\N\\ carry no text)."""
    if enc.escape not in text:
        return text
    esc = re.escape(enc.escape)
    simple = {
        "F": enc.field,
        "S": enc.component,
        "T": enc.subcomponent,
        "R": enc.repetition,
        "E": enc.escape,
    }

    def replace(match: re.Match[str]) -> str:
        seq = match.group(1)
        if seq in simple:
            return simple[seq]
        command = _FORMATTING.fullmatch(seq)
        if command is not None:
            return _formatting(command.group(1), command.group(2))
        if seq.startswith("X") and re.fullmatch(r"X(?:[0-9A-Fa-f]{2})+", seq):
            raw = bytes.fromhex(seq[1:])
            try:
                return raw.decode("utf-8")
            except UnicodeDecodeError:
                return raw.decode("latin-1")
        return ""  # highlighting (\H\ \N\), character-set (\C..\ \M..\) and local (\Z..\) escapes

    return re.sub(f"{esc}([^{esc}]*){esc}", replace, text)


# --------------------------------------------------------------------------------------------
# Errors
# --------------------------------------------------------------------------------------------


class Hl7Error(Exception):
    """A message that cannot be translated, with enough location detail for an ACK/ERR."""

    def __init__(
        self,
        message: str,
        *,
        segment: str | None = None,
        index: int | None = None,
        field: int | None = None,
        hl7_code: int = 207,
        ack_code: str = "AE",
    ) -> None:
        super().__init__(message)
        self.message = message
        self.segment = segment
        self.index = index
        self.field = field
        self.hl7_code = hl7_code  # HL7 table 0357 message error condition code
        self.ack_code = ack_code  # AE (content error) or AR (message rejected)
        self.notes: list[str] = []  # what the reading ignored before it stopped (reaches the ACK)

    @property
    def location(self) -> str:
        """Human-readable location, e.g. 'OBX[3] OBX-5'."""
        if not self.segment:
            return ""
        where = f"{self.segment}[{self.index}]" if self.index else self.segment
        return f"{where} {self.segment}-{self.field}" if self.field else where

    def erl(self, enc: Encoding = DEFAULT_ENCODING) -> str:
        """ERR-2 error location (segment^sequence^field)."""
        parts = [self.segment or "", str(self.index or ""), str(self.field or "")]
        return enc.component.join(parts).rstrip(enc.component)

    def __str__(self) -> str:
        return self.message


_ERROR_TEXT = {
    0: "Message accepted",
    100: "Segment sequence error",
    101: "Required field missing",
    102: "Data type error",
    103: "Table value not found",
    200: "Unsupported message type",
    201: "Unsupported event code",
    203: "Unsupported version id",
    205: "Duplicate key identifier",
    207: "Application internal error",
}


# --------------------------------------------------------------------------------------------
# Segments
# --------------------------------------------------------------------------------------------


@dataclass
class Segment:
    """A segment's raw ER7 with field access (values stay escaped until unescaped)."""

    er7: str
    enc: Encoding
    index: int  # occurrence of this segment type, 1-based

    @property
    def name(self) -> str:
        """Segment ID."""
        return self.er7[:3]

    @property
    def parts(self) -> list[str]:
        """The raw fields split on the field separator."""
        return self.er7.split(self.enc.field)

    def raw(self, n: int) -> str:
        """Field n (1-based, HL7 numbering) still escaped."""
        parts = self.parts
        if self.name in ("MSH", "FHS", "BHS"):  # field 1 is the separator itself
            if n == 1:
                return self.enc.field
            return parts[n - 1] if n - 1 < len(parts) else ""
        return parts[n] if n < len(parts) else ""

    def repetitions(self, n: int) -> list[str]:
        """Raw repetitions of field n."""
        value = self.raw(n)
        return value.split(self.enc.repetition) if value else []

    def components(self, n: int, rep: int = 0) -> list[str]:
        """Unescaped components of one repetition of field n."""
        reps = self.repetitions(n)
        if rep >= len(reps):
            return []
        return [unescape(c, self.enc) for c in reps[rep].split(self.enc.component)]

    def component(self, n: int, c: int = 1, rep: int = 0) -> str:
        """Unescaped first subcomponent of component c (1-based) of field n, '' when absent."""
        reps = self.repetitions(n)
        if rep >= len(reps):
            return ""
        comps = reps[rep].split(self.enc.component)
        if c - 1 >= len(comps):
            return ""
        # Split before unescaping: an escaped \T\ is a literal '&', not a subcomponent.
        return unescape(comps[c - 1].split(self.enc.subcomponent)[0], self.enc)

    def text(self, n: int) -> str:
        """Unescaped whole field n (first repetition)."""
        reps = self.repetitions(n)
        return unescape(reps[0], self.enc) if reps else ""


@dataclass
class OruContext:
    """A parsed ORU^R01: the request dict plus the control data a reply must echo."""

    encoding: Encoding
    version: str
    message_type: str
    control_id: str
    processing_id: str
    sending_application: str
    sending_facility: str
    receiving_application: str
    receiving_facility: str
    pid: str | None
    obr: list[Segment]
    request: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    sources: dict[str, str] = field(default_factory=dict)
    collected_from: tuple[str, int, int] | None = None  # the segment, occurrence and field of collected_on
    # The order (OBR) of the panel interpreted: the one carrying its paraprotein studies (a cumulative
    # report may list earlier orders first, a chemistry order of the day may follow); the answer echoes
    # it and its filler number is the specimen_id (_panel_order).
    panel_obr: Segment | None = None

    @property
    def order(self) -> Segment | None:
        """The OBR an answer and the record name: the panel's, else the first."""
        return self.panel_obr or (self.obr[0] if self.obr else None)


# One patient's work-up is a few dozen segments (an OBX per result, NTEs, history): 1,000 leaves
# ample room and bounds the parse (hl7apy takes ~0.3 ms a segment) far below the worker timeout; a
# 256 KiB body of short segments would otherwise take ~15 s.
MAX_SEGMENTS = 1000
# Repetitions and subcomponents cost hl7apy ~0.06-0.12 ms each: 121 KB of '~' in one field took ~15 s.
# A work-up uses a handful; 4,000 bounds the parse at ~0.5 s.
MAX_REPEATS = 4000
# Every separator costs the parser: measured ~0.23 ms a field and ~0.14 ms a component, whether in
# one segment or many (100,000 fields in one NTE ran past the 15 s worker timeout). A work-up of a
# few dozen OBX uses well under 1,000 separators of all kinds; 6,000 bounds the parse at ~1.5 s.
MAX_SEPARATORS = 6000
MAX_DIGIT_RUN = 100
_DIGIT_RUN = re.compile(rf"\d{{{MAX_DIGIT_RUN + 1}}}")  # \d as hl7apy's own regex reads it (Unicode)


class MessageTooLarge(ValueError):
    """A message beyond MAX_SEGMENTS or MAX_REPEATS: refused before the HL7 parser sees it."""


def _check_size(text: str, enc: Encoding) -> None:
    segments = text.count("\r") + 1
    if segments > MAX_SEGMENTS:
        raise MessageTooLarge(
            f"HL7 message of {segments} segments: at most {MAX_SEGMENTS} per request (one patient's work-up)"
        )
    body = text[8:]  # after MSH-2, which lists the separators themselves
    repeats = body.count(enc.repetition) + body.count(enc.subcomponent)
    if repeats > MAX_REPEATS:
        raise MessageTooLarge(
            f"HL7 message with {repeats} repetition and subcomponent separators: at "
            f"most {MAX_REPEATS} per request (one patient's work-up)"
        )
    # hl7apy's date check (utils._split_offset, a regex of the form \d*(...)$) costs the square of a
    # digit run: a 40,000-digit MSH-7 took 16 s. No HL7 value needs 100 digits in a row (a DTM has at
    # most 24 characters).
    run = _DIGIT_RUN.search(body)
    if run is not None:
        raise MessageTooLarge(
            f"HL7 message with a run of more than {MAX_DIGIT_RUN} digits: no field needs that many "
            "(one patient's work-up)"
        )
    separators = repeats + body.count(enc.field) + body.count(enc.component)
    if separators > MAX_SEPARATORS:
        raise MessageTooLarge(
            f"HL7 message with {separators} field, component, repetition and subcomponent separators: "
            f"at most {MAX_SEPARATORS} per request (one patient's work-up)"
        )


# HL7 table 0211 (MSH-18, the message's character set) -> the Python codec that reads it.
CHARACTER_SETS = {
    "ASCII": "ascii",
    **{f"8859/{n}": f"iso8859-{n}" for n in range(1, 10)},
    "8859/15": "iso8859-15",
    "GB 18030-2000": "gb18030",
    "BIG-5": "big5",
    "UNICODE UTF-8": "utf-8",
}
# The other sets of table 0211, and why they are not read.
_UNREAD_SETS = {
    "UNICODE UTF-16": "a 16-bit encoding, which an ER7 body or an MLLP frame (8-bit) cannot carry",
    "UNICODE UTF-32": "a 32-bit encoding, which an ER7 body or an MLLP frame (8-bit) cannot carry",
    "UNICODE": "Unicode without an encoding form (send UNICODE UTF-8)",
    "ISO IR14": "switched in with ISO 2022 escape sequences, which the service does not read",
    "ISO IR87": "switched in with ISO 2022 escape sequences, which the service does not read",
    "ISO IR159": "switched in with ISO 2022 escape sequences, which the service does not read",
    "KS X 1001": "switched in with ISO 2022 escape sequences, which the service does not read",
    "CNS 11643-1992": "not supported",
}
_UTF8_BOM = b"\xef\xbb\xbf"


def _charset_refused(why: str, code: int = 103) -> Hl7Error:
    return Hl7Error(why, segment="MSH", index=1, field=18, hl7_code=code, ack_code="AR")


def _declared_charset(text: str) -> tuple[str, str] | None:
    """MSH-18 of a message (its text, or its bytes read as Latin-1, which keeps every byte) as its
    HL7 table 0211 name and Python codec; None when MSH-18 is empty (or there is no MSH). A set the
    table does not define, one the service cannot read, or several (ISO 2022 code switching) are
    refused at MSH-18."""
    head = text.lstrip("\ufeff\x0b\x1c\r\n \t")
    if not head.startswith("MSH") or len(head) < 8:
        return None
    line = re.split(r"[\r\n]", head, maxsplit=1)[0]
    fields = line.split(line[3])
    if len(fields) < 18 or not fields[17].strip():
        return None
    sent = fields[17]
    repetition = fields[1][1:2]
    if repetition and repetition in sent and len([r for r in sent.split(repetition) if r.strip()]) > 1:
        raise _charset_refused(
            f"MSH-18 '{sent[:40]}' names several character sets (switched with ISO 2022 escape sequences), "
            "which the service does not read: send the message in one character set, such as UNICODE UTF-8"
        )
    name = (
        " ".join(sent.split(repetition)[0].split()).upper() if repetition else " ".join(sent.split()).upper()
    )
    if name in CHARACTER_SETS:
        return name, CHARACTER_SETS[name]
    if name in _UNREAD_SETS:
        raise _charset_refused(f"MSH-18 character set '{name}' is {_UNREAD_SETS[name]}")
    hint = ""
    try:
        codec = codecs.lookup(name).name
        hint = next(
            (f": send '{k}'" for k, v in CHARACTER_SETS.items() if codecs.lookup(v).name == codec), ""
        )
    except LookupError:
        pass
    raise _charset_refused(
        f"MSH-18 character set '{sent[:40]}' is not an HL7 table 0211 value{hint} (read: "
        + ", ".join(CHARACTER_SETS)
        + "; empty MSH-18: UTF-8, else Latin-1)"
    )


def _decode(message: str | bytes, *, declared: bool = True) -> str:
    """The message's characters. Bytes are read in the character set MSH-18 declares (HL7 table
    0211); bytes not valid in it are refused at MSH-18. Without MSH-18, UTF-8 and, failing that,
    Latin-1. Text (already decoded) is checked against the set it declares. ``declared=False`` reads
    bytes the default way whatever MSH-18 says (to echo a refused message's header in its ACK)."""
    if isinstance(message, str):
        charset = _declared_charset(message) if declared else None
        if charset is not None:
            try:
                message.lstrip("\ufeff").encode(charset[1])
            except UnicodeEncodeError as exc:
                raise _charset_refused(
                    f"the message holds '{exc.object[exc.start : exc.end][:8]}', which is not a character of "
                    f"its MSH-18 character set {charset[0]}",
                    102,
                ) from None
        return message
    head = message.lstrip(b"\x0b\r\n \t")
    bom = head.startswith(_UTF8_BOM)
    charset = _declared_charset(head[len(_UTF8_BOM) if bom else 0 :].decode("latin-1")) if declared else None
    if charset is None:
        try:
            return message.decode("utf-8")
        except UnicodeDecodeError:
            return message.decode("latin-1")
    name, codec = charset
    if bom and codec != "utf-8":
        raise _charset_refused(
            f"the message starts with a UTF-8 byte-order mark, but MSH-18 declares {name}", 102
        )
    try:
        return message.decode(codec)
    except UnicodeDecodeError as exc:
        bad = exc.object[exc.start : exc.end][:4].hex(" ").upper()
        raise _charset_refused(
            f"byte(s) {bad} at offset {exc.start} are not valid in the MSH-18 character set {name}: send "
            "the message in the character set MSH-18 declares",
            102,
        ) from None


def _normalize(message: str | bytes, *, declared: bool = True) -> str:
    decoded = _decode(message, declared=declared)
    text = decoded.lstrip("\ufeff").strip("\x0b\x1c\r\n \t")
    lines = re.split(r"\r\n|\r|\n", text)
    # A line of framing bytes is kept (str.strip takes 0x1C for blank): it is refused, never dropped.
    return "\r".join(line for line in lines if line.strip() or _FRAMED.search(line))


def _encoding_of(text: str) -> Encoding:
    """The message's declared separators, or the standard ones when it declares none usable (an ACK
    must still be written)."""
    return _declared_encoding(text) or DEFAULT_ENCODING


_RUN_ON = re.compile(r"[^\r](?:PID|PV1|ORC|OBR|OBX|NTE|SPM|DG1)\|")


def _check_terminators(text: str) -> None:
    """A message posted as one line (``curl -d`` drops the line breaks) reads 'version 2.5.1PID':
    say what happened, not that the version is unsupported."""
    first = text.split("\r", 1)[0]
    if _RUN_ON.search(first[8:]):
        raise Hl7Error(
            "segment terminators are missing: the segments run on in one line (curl -d strips line "
            "breaks; send the file with --data-binary @file)",
            segment="MSH",
            index=1,
            hl7_code=100,
            ack_code="AR",
        )


_FRAMING = {"\x0b": "0x0B (MLLP start block)", "\x1c": "0x1C (MLLP end block)"}
_FRAMED = re.compile("[\x0b\x1c]")


def _check_framing(text: str) -> None:
    """MLLP's start and end block bytes are framing, never data: one inside a message means two
    messages were joined (an end block without its CR, or two messages posted as one), and reading it
    would give the first message's patient the second one's results."""
    at = min((i for i in (text.find(c) for c in _FRAMING) if i >= 0), default=-1)
    if at < 0:
        return
    number = text.count("\r", 0, at)
    lines = text.split("\r")
    name = lines[number][:3]
    known = _SEGMENT_ID.fullmatch(name) is not None
    raise Hl7Error(
        f"byte {_FRAMING[text[at]]} inside the message, in segment {number + 1} ({name}): framing bytes are "
        "never data; it joins two messages or ends one early (one message per frame, each ending "
        "<FS><CR>; one message per HTTP request). Nothing in the message was read",
        segment=name if known else "MSH",
        index=sum(1 for line in lines[: number + 1] if line[:3] == name) if known else 1,
        hl7_code=100,
        ack_code="AR",
    )


def _declared_encoding(text: str) -> Encoding | None:
    if len(text) < 8 or not text.startswith(("MSH", "FHS", "BHS")):
        return None
    sep = text[3]
    chars = text[4:].split(sep, 1)[0]
    # Separators must be five distinct printable characters, none a segment terminator, a space, a
    # letter or a digit (those cannot be told from data): otherwise the message, and any ACK echoing
    # its encoding, could not be read.
    if (
        len(chars) < 4
        or len({sep, *chars[:4]}) < 5
        or any(c in "\r\n" or not c.isprintable() or c.isspace() or c.isalnum() for c in (sep, *chars[:4]))
    ):
        return None
    return Encoding(sep, chars[0], chars[1], chars[2], chars[3])


# HL7 DTM: YYYY[MM[DD[HH[MM[SS[.S[S[S[S]]]]]]]]][+/-ZZZZ], ASCII digits.
_DTM = re.compile(
    r"(\d{4})(\d{2})?(\d{2})?(?:(\d{2})(?:(\d{2})(?:\d{2}(?:\.\d{1,4})?)?)?)?(?:([+-])(\d{2})(\d{2}))?",
    re.ASCII,
)
# The HL7 null: a field explicitly sent without a value.
HL7_NULL = '""'
# The request's data-entry windows: results dated before EARLIEST_DATE, and an age above MAX_AGE_YEARS
# (patient.age_years 0-150), are refused at the HL7 field they come from.
MAX_AGE_YEARS = int(ADULT_AGE_MAX_YEARS)


@dataclass(frozen=True)
class _Stamp:
    """A timestamp: its calendar date as written and, when it carries a time of day and a UTC
    offset, the instant it names."""

    on: date
    moment: datetime | None = None

    @property
    def frame(self) -> tzinfo | None:
        """The UTC offset the timestamp was written in (None without a time of day and an offset)."""
        return self.moment.tzinfo if self.moment is not None else None

    def date_in(self, frame: tzinfo | None) -> date:
        """The calendar date in another timestamp's frame: converted to that offset when both carry
        one, else the date as written."""
        if self.moment is None or frame is None:
            return self.on
        try:
            return self.moment.astimezone(frame).date()
        except OverflowError:  # the instant in that offset falls outside years 1-9999
            return self.on  # as written: refused where the date is checked (future, implausible)


def _hl7_date(value: str, where: str, *, segment: str, index: int, fld: int) -> date | None:
    stamp = _hl7_stamp(value, where, segment=segment, index=index, fld=fld)
    return stamp.on if stamp is not None else None


def _hl7_stamp(
    value: str, where: str, *, segment: str, index: int, fld: int, notes: list[str] | None = None
) -> _Stamp | None:
    """A full date (YYYYMMDD at least) with its instant when it has one; None when the field is
    empty, the HL7 null or a partial date (both said in ``notes``)."""
    text = value.strip()
    if not text:
        return None
    if text == HL7_NULL and notes is not None:
        notes.append(f'{where} is the HL7 null "" (no value): read as not given')
        return None

    def refused(what: str) -> Hl7Error:
        return Hl7Error(f"{where}: {what}", segment=segment, index=index, field=fld, hl7_code=102)

    match = _DTM.fullmatch(text)
    if match is None and any(c.isdigit() and not c.isascii() for c in text):
        # Python's int() reads a fullwidth or Arabic-Indic digit as its ASCII value: refused, not read.
        raise refused(f"'{value[:40]}' has digits other than ASCII 0-9: an HL7 date/time is ASCII digits")
    if match is None:
        # Not silently dropped: an interface sending '2024-01-15' or '2024XX' has its dates wrong.
        raise refused(f"'{value[:40]}' is not an HL7 date/time (YYYYMMDD[HHMM[SS]])")
    if match.group(3) is None:
        # A partial date (YYYY or YYYYMM) is not enough to compute an age or to date results.
        if notes is not None:
            notes.append(f"{where}: '{text}' is a partial date (no day): not read")
        return None
    digits = text[:8]
    try:
        on = date(int(digits[:4]), int(digits[4:6]), int(digits[6:8]))
    except ValueError as exc:
        raise refused(f"'{value}' is not a valid date") from exc
    if match.group(4) is None:
        return _Stamp(on)  # no time of day: the date as written
    hours, minutes = int(match.group(4)), int(match.group(5) or 0)
    if hours > 23 or minutes > 59:
        raise refused(f"'{value}' is not a valid time of day")
    if match.group(6) is None:
        return _Stamp(on)  # no UTC offset: the date as written
    sign = -1 if match.group(6) == "-" else 1
    offset_hours, offset_minutes = int(match.group(7)), int(match.group(8))
    if offset_hours > 23 or offset_minutes > 59:
        raise refused(f"'{value}' is not a valid time with its UTC offset")
    offset = timezone(sign * timedelta(hours=offset_hours, minutes=offset_minutes))
    moment = datetime(on.year, on.month, on.day, hours, minutes, tzinfo=offset)
    if not _within_calendar(moment):
        raise refused(
            f"'{value}' is a date out of range: taken in another UTC offset, it falls outside the years "
            "0001 to 9999"
        )
    return _Stamp(on, moment)


_ONE_DAY = timedelta(days=1)


def _within_calendar(moment: datetime) -> bool:
    """Whether an instant's date can be taken in any UTC offset (offsets reach up to a day either side
    of UTC): 9999-12-31 23:59 at -14:00 is 10000-01-01 in UTC, a date Python cannot hold."""
    try:
        instant = moment.astimezone(UTC)
        return instant - _ONE_DAY < instant + _ONE_DAY
    except OverflowError:
        return False


def _result_stamp(
    value: str, where: str, *, segment: str, index: int, fld: int, notes: list[str], today: date | None
) -> _Stamp | None:
    """An OBR-7, OBR-8 or OBX-14, which date results (``_hl7_stamp``), refused at its field when in the
    future or before EARLIEST_DATE (the request's data-entry window for dates). A date of today is in
    time whatever its time of day, as the request's collected_on is judged. ``today`` None: the
    timestamp dates no result (a cancelled order's) and is only read."""
    stamp = _hl7_stamp(value, where, segment=segment, index=index, fld=fld, notes=notes)
    if stamp is None or today is None:
        return stamp
    if stamp.on > today:
        problem = "date is in the future"
    elif stamp.on < EARLIEST_DATE:
        problem = f"date before {EARLIEST_DATE.isoformat()}: not plausible (data-entry check)"
    else:
        return stamp
    raise Hl7Error(
        f"{where}: {problem} ('{value.strip()[:40]}')", segment=segment, index=index, field=fld, hl7_code=102
    )


# HL7 table 0123, OBR-25 (the order's result status). F final, C corrected and X cancelled (its OBX
# ignored) need no note; the codes below are read with a note, each OBX by its own result status
# (OBX-11); Y and Z answer queries only, and any other code is not the table's: an AE at OBR-25, as an
# OBX-11 outside table 0085 is.
_ORDER_NOTED = {
    "P": "preliminary: final results not yet obtained",
    "R": "results stored, not yet verified",
    "A": "some, not all, results available",
    "O": "order received, specimen not yet received",
    "I": "specimen received, procedure incomplete",
    "S": "procedure scheduled, not done",
}
_ORDER_QUERIES = {"Y": "no order on record for this test", "Z": "no record of this patient"}


def _order_status(obr: Segment, notes: list[str]) -> None:
    """OBR-25 held to HL7 table 0123 (blanks aside): an order still in progress is said in a note, a
    code that is not the table's, or answers a query only, is refused at OBR-25."""
    raw = obr.component(25)
    status = raw.strip().upper()
    where = f"OBR[{obr.index}]"
    if status in _ORDER_QUERIES or (status not in ("", "F", "C", "X") and status not in _ORDER_NOTED):
        why = (
            f"answers a query only ({_ORDER_QUERIES[status]}), never a result message"
            if status in _ORDER_QUERIES
            else "is not an HL7 table 0123 code"
        )
        raise Hl7Error(
            f"{where}: result status '{raw}' (OBR-25) {why}",
            segment="OBR",
            index=obr.index,
            field=25,
            hl7_code=103,
            ack_code="AE",
        )
    if status in _ORDER_NOTED:
        notes.append(
            f"{where}: OBR-25 result status {status} ({_ORDER_NOTED[status]}): each of its OBX is read by "
            "its own result status (OBX-11); the interpretation may change once the order is final"
        )


def _cancelled(obr: Segment) -> bool:
    """OBR-25 result status X (HL7 table 0123): the order was cancelled, it has no results."""
    return obr.component(25).strip().upper() == "X"


def _panel_frame(stamps: Sequence[tuple[_Stamp, int]]) -> tzinfo | None:
    """The UTC offset of the timestamp that dates the panel (the latest; of two on one date, the
    later segment), None when it carries none."""
    if not stamps:
        return None
    return max(stamps, key=lambda item: (item[0].on, item[1]))[0].frame


def _frame_of_obr7(segments: Sequence[Segment]) -> tzinfo | None:
    """The frame of the panel's OBR-7, read before the OBX that are compared with it (an OBR-7 that
    cannot be read is refused where the segments are read in order)."""
    stamps = []
    for seg in segments:
        if seg.name == "OBR" and not _cancelled(seg):
            try:
                stamp = _hl7_stamp(seg.component(7), "OBR-7", segment="OBR", index=seg.index, fld=7, notes=[])
            except Hl7Error:
                continue
            if stamp is not None:
                stamps.append((stamp, seg.index))
    return _panel_frame(stamps)


# --------------------------------------------------------------------------------------------
# Parsing
# --------------------------------------------------------------------------------------------


_SEGMENT_ID = re.compile(r"[A-Z][A-Z0-9]{2}")


def _segments(text: str, enc: Encoding) -> list[Segment]:
    for number, line in enumerate(text.split("\r")):
        name = line.split(enc.field, 1)[0]
        if name == "MSH" and number > 0:
            # A batch of messages sent as one: its results would be read into the first message's
            # patient. One message per request.
            raise Hl7Error(
                "a second MSH segment: send one message per request",
                segment="MSH",
                index=2,
                hl7_code=100,
                ack_code="AR",
            )
        if _SEGMENT_ID.fullmatch(name) is None:
            # hl7apy turns "OBXX|1|NM|..." into "OBX||1|NM|...": its result would be read, shifted,
            # from a segment the sender never wrote as an OBX.
            raise Hl7Error(
                f"segment ID '{name[:16]}' is not an HL7 segment ID (three capital letters or digits)",
                segment=name[:3],
                hl7_code=100,
                ack_code="AR",
            )
    try:
        parse_message(text, validation_level=VALIDATION_LEVEL.TOLERANT, find_groups=False)
    except Exception as exc:  # hl7apy raises many types; all mean "not a parseable message"
        raise Hl7Error(
            f"message cannot be parsed: {exc}", segment="MSH", index=1, hl7_code=100, ack_code="AR"
        ) from exc
    # hl7apy checks the structure; the fields are read from the segments as sent. Its re-written ER7
    # (to_er7) rewrites the dates it recognises: '00010101' comes back as '10101' and a date in
    # fullwidth digits in ASCII ones, so a refusal would quote a value the sender never wrote and a
    # date not written in ASCII digits would be read.
    counts: dict[str, int] = {}
    segments = []
    for line in text.split("\r"):
        name = line[:3]
        counts[name] = counts.get(name, 0) + 1
        segments.append(Segment(line, enc, counts[name]))
    return segments


class _Header(TypedDict):
    message_type: str
    control_id: str
    processing_id: str
    version: str
    sending_application: str
    sending_facility: str
    receiving_application: str
    receiving_facility: str


def _header(msh: Segment) -> _Header:
    return {
        "message_type": msh.raw(9),
        "control_id": msh.text(10),
        "processing_id": msh.component(11) or "P",
        "version": msh.component(12).strip(),
        "sending_application": msh.raw(3),
        "sending_facility": msh.raw(4),
        "receiving_application": msh.raw(5),
        "receiving_facility": msh.raw(6),
    }


# HL7 2.5 fields that do not repeat and that the reader takes one value from (MSH-5 and MSH-6 are
# echoed whole, PID-3 identifiers and OBX-5 values repeat).
_ONE_VALUE_MSH = (3, 4, 9, 10, 11, 12)
_ONE_VALUE_PID = (7, 8)
_ONE_VALUE_OBR = (7, 8, 25)
_ONE_VALUE_OBX = (1, 3, 11)  # read in every OBX, to decide whether it is a result
_ONE_VALUE_RESULT = (2, 4, 7, 14)  # read in an OBX that is a result (OBX-6: _ObxReader._unit)
_ONE_VALUE_DG1 = (3, 6, 21)


def _one_value(seg: Segment, fields: Sequence[int], where: str = "", *, ack_code: str = "AE") -> None:
    """Fields that take one value: a repetition is refused at its field, never cut to its first
    value (``PID|...||19900115~19400101|F~M`` would give an age and a sex the sender may not mean)."""
    for n in fields:
        if len(seg.repetitions(n)) > 1:
            raise Hl7Error(
                f"{where}{seg.name}-{n} repeats: one value expected ('{seg.raw(n)[:60]}')",
                segment=seg.name,
                index=seg.index,
                field=n,
                hl7_code=102,
                ack_code=ack_code,
            )


def _check_header(msh: Segment) -> None:
    # The header routes the message (sender, type, control ID, version): one that cannot be read one
    # way rejects the message, as an unreadable header does.
    _one_value(msh, _ONE_VALUE_MSH, ack_code="AR")
    version = msh.component(12).strip()
    if version not in SUPPORTED_VERSIONS:
        raise Hl7Error(
            f"HL7 version '{version}' is not supported (supported: {', '.join(SUPPORTED_VERSIONS)})",
            segment="MSH",
            index=1,
            field=12,
            hl7_code=203,
            ack_code="AR",
        )
    msg_type, trigger = msh.component(9, 1), msh.component(9, 2)
    if msg_type != "ORU":
        raise Hl7Error(
            f"message type '{msg_type}' is not supported: send ORU^R01",
            segment="MSH",
            index=1,
            field=9,
            hl7_code=200,
            ack_code="AR",
        )
    if trigger != "R01":
        raise Hl7Error(
            f"event '{trigger}' is not supported: send ORU^R01",
            segment="MSH",
            index=1,
            field=9,
            hl7_code=201,
            ack_code="AR",
        )
    if msh.text(10).strip() in ("", HL7_NULL):
        raise Hl7Error(
            "MSH-10 (message control ID) is missing: every message needs one",
            segment="MSH",
            index=1,
            field=10,
            hl7_code=101,
            ack_code="AR",
        )


def _codings(seg: Segment, n: int) -> list[Coding]:
    comps = seg.components(n) + [""] * 6
    codings = [Coding(comps[2] or None, comps[0].strip(), comps[1])]
    if comps[3].strip():
        codings.append(Coding(comps[5] or None, comps[3].strip(), comps[4]))
    return [c for c in codings if c.code]


_CODED = ("CWE", "CE", "CNE", "CF")


def _candidates(seg: Segment, rep: str, value_type: str, *, text_first: bool = False) -> list[str]:
    """The texts a value may be read from. Coded values (CWE/CE): the code, then its text, then the
    alternate code and text (``^^^IGGK^IgG kappa^L`` names its value in the alternate coding only);
    an immunofixation reads the text first (the text names the isotype, a code is often local)."""
    if value_type in _CODED:
        comps = [unescape(c, seg.enc) for c in rep.split(seg.enc.component)] + ["", "", "", "", ""]
        order = (1, 0, 4, 3) if text_first else (0, 1, 3, 4)
        return [comps[i] for i in order if comps[i].strip()]
    text = unescape(rep, seg.enc)
    return [text] if text.strip() else []


class _ObxReader:
    """Reads one OBX into (target, value) with the field being read tracked for errors."""

    def __init__(self, seg: Segment, codemap: CodeMap, where: str, notes: list[str]) -> None:
        self.seg = seg
        self.codemap = codemap
        self.where = where
        self.notes = notes
        self.field = 3

    def value(self, entry: CodeEntry) -> Any:
        seg = self.seg
        value_type = seg.component(2).upper()
        reps = [r for r in seg.repetitions(5) if r.strip(seg.enc.component)]
        self.field = 5
        kind = entry.kind
        if kind is Kind.IFE:
            if value_type not in (*_CODED, "ST", "TX", "FT", ""):
                raise ValueProblem(f"value type {value_type} cannot carry an immunofixation result")
            if value_type in _CODED:
                for rep in reps:
                    self._one_reading(entry, rep)
            # Each repetition is read from the first of its texts that is an immunofixation result.
            chosen = [
                text
                for rep in reps
                for text in self._ife_texts(_candidates(seg, rep, value_type, text_first=True))
            ]
            return self.codemap.parse_ife(chosen)
        if len(reps) != 1:
            raise ValueProblem(f"expected one value, found {len(reps)} repetitions")
        rep = reps[0]
        if kind in (Kind.QUANTITY, Kind.CROSSCHECK, Kind.PERCENT, Kind.COUNT):
            comparator, number = self._number(rep, value_type)
            comparator = self._off_scale(entry, comparator, number)
            self.field = 6
            unit = self._unit()
            rng = None
            if kind is Kind.QUANTITY and seg.text(7).strip():
                if entry.target in REFERENCE_RANGE_NOT_READ:
                    self.notes.append(range_not_read(entry.target, f"{self.where} OBX-7"))
                else:
                    rng = read_range_text(seg.text(7), unit, self.codemap, f"{self.where} OBX-7", self.notes)
            if kind is Kind.COUNT or isinstance(number, NotDetected):
                # a count's problems are in its value (OBX-5), not its unit; so is a 'none detected'
                # wording sent for a result that is not an M-protein
                self.field = 5
            return numeric_value(
                entry,
                number,
                comparator,
                unit,
                rng,
                codemap=self.codemap,
                where=self.where,
                unit_where="OBX-6",
                notes=self.notes,
            )
        if value_type in _CODED:
            self._one_reading(entry, rep)
        return coded_value(entry, _candidates(seg, rep, value_type), self.codemap)

    def _one_reading(self, entry: CodeEntry, rep: str) -> None:
        """A coded value's code, text, alternate code and text and original text (CWE-9) say one
        result in other words: two of them that read as different results are refused, never one of
        them chosen (as FHIR refuses a valueCodeableConcept whose text and codings disagree)."""
        comps = [unescape(c, self.seg.enc) for c in rep.split(self.seg.enc.component)]
        readings: dict[str, list[str]] = {}
        for number in (1, 2, 4, 5, 9):
            text = comps[number - 1].strip() if len(comps) >= number else ""
            if not text:
                continue
            try:
                value = coded_value(entry, [text], self.codemap)
            except ValueProblem:
                continue  # a local code, or a text that is not a result: says nothing against the others
            if isinstance(value, dict) and isinstance(value.get("clones"), list):
                value = {**value, "clones": sorted(value["clones"], key=repr)}
            readings.setdefault(repr(value), []).append(f"OBX-5.{number} '{text[:40]}'")
        if len(readings) > 1:
            listed = "; ".join(" and ".join(where) for where in readings.values())
            raise ValueProblem(
                f"coded value reads as different results ({listed}): its code, text and alternate coding "
                "must say one result"
            )

    def _ife_texts(self, candidates: list[str]) -> list[str]:
        """The immunofixation text of one repetition: the first candidate read whole; else, of a text
        on several lines (\\.br\\), the lines that are results, when every other line says nothing of
        one (a signature, a method, a date: said in a note). A line that speaks of the result
        without being read refuses the value."""
        try:
            return [_first_readable(candidates, self.codemap)]
        except ValueProblem:
            for text in candidates:
                lines = _ife_lines(text, self.codemap)
                if lines is not None:
                    read, other = lines
                    if not other:
                        return read  # one result a line: each is read, as repetitions are
                    self.notes.append(
                        f"{self.where}: OBX-5 read from its line(s) '{' / '.join(read)[:120]}'; not read, "
                        f"as no part of the immunofixation result: '{' / '.join(other)[:120]}'"
                    )
                    return read
            raise

    def _off_scale(self, entry: CodeEntry, comparator: str | None, number: int | float) -> str | None:
        """OBX-8 '>' or '<' (HL7 table 0078: above the absolute high-off, below the absolute low-off
        instrument scale) makes OBX-5 a bound: '>' on 140 is a result above 140, never 140 itself. A
        comparator in OBX-5 that says the same is kept; one that says the opposite is refused at OBX-8,
        as is an off-scale flag on a result that cannot be a bound. Other flags (H, L, A...) are not read."""
        seg = self.seg
        flags = {
            flag
            for rep in range(len(seg.repetitions(8)))
            if (flag := seg.component(8, 1, rep).strip()) in _OFF_SCALE
        }
        if not flags:
            return comparator
        self.field = 8
        if len(flags) > 1:
            raise ValueProblem(
                "OBX-8 flags the result both above ('>') and below ('<') the instrument's scale"
            )
        (flag,) = flags
        said = f"OBX-8 '{flag}' ({_OFF_SCALE[flag]}, HL7 table 0078)"
        if entry.kind not in (Kind.QUANTITY, Kind.CROSSCHECK) or isinstance(number, NotDetected):
            shown = f"'{number.text}'" if isinstance(number, NotDetected) else "a plain number"
            raise ValueProblem(
                f"{said} makes the result a bound, and {entry.target} is {shown}, which cannot be one: "
                "send the result measured within the scale"
            )
        if comparator is not None and comparator[0] != flag:
            raise ValueProblem(
                f"{said} contradicts the comparator '{comparator}' of OBX-5 ({comparator}{number})"
            )
        self.field = 5
        if comparator is None:
            self.notes.append(f"{self.where}: {said}: OBX-5 {number} read as {flag}{number}")
            return flag
        return comparator

    def _unit(self) -> str:
        seg = self.seg
        if len(seg.repetitions(6)) > 1:
            raise ValueProblem("OBX-6 repeats: one unit per result")
        # OBX-6.2 is the text of OBX-6.1, OBX-6.4/6.5 an alternate code and its text: two different
        # known units among them are ambiguous by a factor of ten or more.
        named = [(n, self.codemap.normalize_unit(seg.component(6, n))) for n in (1, 2, 4, 5)]
        given = [(n, u) for n, u in named if u]
        for n, other in given[1:]:
            if units_contradict(given[0][1], other):
                raise ValueProblem(
                    f"OBX-6.{given[0][0]} '{given[0][1]}' and OBX-6.{n} '{other}' name different units"
                )
        n, unit = named[0] if named[0][1] else named[1]
        raw = seg.component(6, n)
        exponent = seg.component(6, 2).strip()
        if n == 1 and unit not in KNOWN_UNITS and exponent.isdigit():
            # A caret sent unescaped is HL7's component separator: mL/min/1.73m^2 arrives as the unit
            # 'mL/min/1.73m' with the text '2'. Said as such, never read as a unit it is not.
            whole = self.codemap.normalize_unit(f"{raw}^{exponent}")
            if whole in KNOWN_UNITS:
                raise ValueProblem(
                    f"OBX-6 '{raw}^{exponent}': the caret (^) is HL7's component separator, so the unit "
                    f"reads as '{raw.strip()}' with the text '{exponent}'; send the caret escaped "
                    f"({raw.strip()}\\S\\{exponent}) or the unit {whole}"
                )
        if self.codemap.read_loosely(raw, unit):
            self.notes.append(
                f"{self.where}: OBX-6 '{raw.strip()}' read as {unit} (case and spacing set aside)"
            )
        return unit

    def _number(self, rep: str, value_type: str) -> tuple[str | None, int | float]:
        seg = self.seg
        if value_type == "SN":
            comps = [unescape(c, seg.enc) for c in rep.split(seg.enc.component)] + ["", "", "", ""]
            if comps[2].strip() or comps[3].strip():
                raise ValueProblem(
                    f"structured numeric '{unescape(rep, seg.enc)}' is a range or ratio, not a value"
                )
            comparator = comps[0].strip() or None
            if comparator == "=":
                comparator = None
            if comparator and comparator not in ("<", ">", "<=", ">="):
                raise ValueProblem(f"SN comparator '{comparator}' is not one of < <= > >=")
            _refuse_comma(comps[1])
            return comparator, parse_number(comps[1])
        if value_type in ("NM", "ST", "TX", "FT", ""):
            text = unescape(rep, seg.enc)
            _refuse_comma(text)
            return parse_compared(text)
        raise ValueProblem(f"value type {value_type} cannot carry a number")


# HL7 table 0078 (abnormal flags, OBX-8): the off-scale codes, which make OBX-5 a bound.
_OFF_SCALE = {
    ">": "above the absolute high-off instrument scale",
    "<": "below the absolute low-off instrument scale",
}

_COMMA_NUMBER = re.compile(r"\s*(?:<=|>=|=<|=>|<|>|=)?\s*([+-]?\d(?:[\d,]*\d)?(?:\.\d*)?)\s*", re.ASCII)
_THOUSANDS = re.compile(r"[+-]?\d{1,3}(?:,\d{3})+(?:\.\d*)?", re.ASCII)


def _refuse_comma(text: str) -> None:
    """A number written with a comma is refused: the comma is a decimal comma (1,2) or a thousands
    separator (1,200), and 1,200 could be either. The message gives the number each reading makes."""
    match = _COMMA_NUMBER.fullmatch(text)
    if match is None or "," not in match.group(1):
        return
    number = match.group(1)
    thousands = number.replace(",", "") if _THOUSANDS.fullmatch(number) else None
    decimal = number.replace(",", ".") if number.count(",") == 1 and "." not in number else None
    if thousands and decimal:
        advice = f"send {thousands} if the comma separates thousands, {decimal} if it is a decimal comma"
    elif thousands or decimal:
        advice = f"send {thousands or decimal}"
    else:
        advice = "send the number with a decimal point and no thousands separator"
    raise ValueProblem(
        f"'{number}' has a comma, which is either a decimal comma or a thousands separator, and neither "
        f"is accepted: {advice}"
    )


# Words of an immunofixation result: a line without any of them (a signature, a method, a date) is no
# part of the result; a line with one is read, or the value is refused.
_IFE_WORDS = re.compile(
    r"\b(?:ig\s*[gamde]|kappa|lambda|mono|bi|oligo|poly)clonal|\b(?:ig\s*[gamde]|kappa|lambda|paraprotein|"
    r"m-?protein|m-?spike|m-?component|bands?|clones?|bence|light\s+chains?|heavy\s+chains?|immunofixation|"
    r"ife|positive|negative|detected|identified|present|absent|gammopathy|isotype)\b|[κλ]",
    re.IGNORECASE,
)


def _ife_lines(text: str, codemap: CodeMap) -> tuple[list[str], list[str]] | None:
    """The lines of a multi-line text that are immunofixation results, and the others; None when it
    is on one line, no line is a result, or a line that is not read speaks of the result."""
    lines = [line.strip() for line in text.split("\n") if line.strip()]
    if len(lines) < 2:
        return None
    read, other = [], []
    for line in lines:
        try:
            codemap.parse_ife([line])
        except ValueProblem:
            if _IFE_WORDS.search(line):
                return None
            other.append(line)
        else:
            read.append(line)
    return (read, other) if read else None


def _first_readable(candidates: list[str], codemap: CodeMap) -> str:
    problems = []
    for text in candidates:
        try:
            codemap.parse_ife([text])
            return text
        except ValueProblem as exc:
            problems.append(str(exc))
    raise ValueProblem("; ".join(problems) or "immunofixation value is empty")


# OBX-17 (observation method) of a free light chain names its assay (request flc.assay). The reagent
# decides, whatever the analyser it runs on (clinical-reference §2.1 Li: Freelite reagents run on
# Siemens BN II as well as on Optilite); an analyser's name is read only when no reagent is named.
_FLC_REAGENTS = (
    ("freelite", re.compile(r"\bfree\s*lite\b|\bbinding\s*site\b")),
    ("n_latex", re.compile(r"\bn\s*-?\s*latex\b")),
    ("sebia", re.compile(r"\bsebia\b")),
)
_FLC_ANALYSERS = (
    ("freelite", re.compile(r"\boptilite\b")),
    ("n_latex", re.compile(r"\bsiemens\b|\bbn\s*-?\s*(?:ii|2)\b|\bbnii\b|\batellica\b")),
)
_ASSAY_NAMES = {"freelite": "Freelite", "n_latex": "N Latex", "sebia": "Sebia", "other": "other"}
# The results of one FLC panel: the assay named on any of them (OBX-17) is the panel's.
FLC_TARGETS = ("flc.kappa", "flc.lambda", "crosscheck.flc_ratio")


def _named_assays(texts: Sequence[str], table: Sequence[tuple[str, re.Pattern[str]]]) -> set[str]:
    folded = [" ".join(t.casefold().replace("_", " ").split()) for t in texts]
    return {assay for text in folded for assay, pattern in table if pattern.search(text)}


def _flc_assay(seg: Segment, where: str, notes: list[str]) -> str | None:
    """The FLC assay OBX-17 names (code, text and alternate code and text of each repetition, any
    case), None when it names none. A reagent (Freelite or The Binding Site, N Latex, Sebia) decides;
    else an analyser (Optilite; Siemens, BN II, Atellica), with a note; anything else is 'other', with
    a note. Two reagents, or two analysers of different assays, are refused at OBX-17."""
    texts: list[str] = []
    for rep in range(len(seg.repetitions(17))):
        for c in (1, 2, 4, 5, 9):
            text = seg.component(17, c, rep).strip()
            if text and text != HL7_NULL and text not in texts:
                texts.append(text)
    if not texts:
        return None
    shown = " / ".join(texts)[:120]
    for table, kind in ((_FLC_REAGENTS, "reagent"), (_FLC_ANALYSERS, "analyser")):
        named = _named_assays(texts, table)
        if len(named) > 1:
            raise Hl7Error(
                f"{where}: OBX-17 '{shown}' names the {kind}s of more than one FLC assay "
                f"({', '.join(sorted(_ASSAY_NAMES[a] for a in named))}): send the assay of the result",
                segment="OBX",
                index=seg.index,
                field=17,
                hl7_code=102,
            )
        if named:
            assay = named.pop()
            if kind == "analyser":
                notes.append(
                    f"{where}: OBX-17 '{shown}' names an analyser, not its reagent: read as the "
                    f"{_ASSAY_NAMES[assay]} FLC assay (an analyser can run another reagent; name the reagent "
                    "in OBX-17)"
                )
            return assay
    notes.append(
        f"{where}: OBX-17 '{shown}' names an FLC assay other than Freelite, N Latex or Sebia: read as "
        "assay 'other', which has no default ratio interval: the kappa/lambda ratio is assessed only "
        "against the laboratory's own interval (flc.ratio_reference_range of the JSON request)"
    )
    return "other"


def _read_flc_assay(seg: Segment, source: str, panel: PanelAssembler, notes: list[str]) -> None:
    """flc.assay from the OBX-17 of a free light chain; the kappa and lambda of one message naming
    different assays are refused at the second one's OBX-17."""
    said: list[str] = []
    assay = _flc_assay(seg, source, said)
    if assay is None:
        return
    stated = panel.get("flc.assay")
    if stated is None:
        notes.extend(said)
        panel.set("flc.assay", assay, source=f"{source} OBX-17")
    elif stated != assay:
        raise Hl7Error(
            f"{source}: OBX-17 names the {_ASSAY_NAMES[assay]} FLC assay, {panel.sources['flc.assay']} the "
            f"{_ASSAY_NAMES[stated]} assay: the free light chains of one message are read with one assay",
            segment="OBX",
            index=seg.index,
            field=17,
            hl7_code=102,
        )


def _note_assumed_assay(ctx: OruContext) -> None:
    """Free light chains read without an assay named (OBX-17): the request's default, Freelite, is
    said in the notes."""
    flc = ctx.request.get("flc") or {}
    if ("kappa" in flc or "lambda" in flc) and "assay" not in flc:
        ctx.notes.append(
            "free light chains: OBX-17 (observation method) names no assay: Freelite assumed (its ratio "
            "interval and the myeloma-defining FLC ratio rule apply); name the assay in OBX-17"
        )


def parse_oru(
    message: str | bytes, codemap: CodeMap | None = None, *, today: date | None = None
) -> OruContext:
    """Parse an ER7 ORU^R01 into an OruContext (request dict + reply control data)."""
    codemap = codemap if codemap is not None else load_codemap()
    text = _normalize(message)
    if text.startswith(("FHS", "BHS")):
        raise Hl7Error(
            "a batch file (FHS/BHS ... BTS/FTS): send it as a batch, one message per MSH",
            segment=text[:3],
            index=1,
            hl7_code=100,
            ack_code="AR",
        )
    if not text.startswith("MSH"):
        raise Hl7Error(
            "message does not start with an MSH segment",
            segment="MSH",
            hl7_code=100,
            ack_code="AR",
        )
    _check_terminators(text)
    _check_framing(text)
    enc = _declared_encoding(text)
    if enc is None:
        # The parser would split on the declared characters whatever they are: a message whose
        # separators cannot be told from its data is refused, never read with others substituted.
        raise Hl7Error(
            "MSH-1/MSH-2: the field separator and the four encoding characters must be five distinct "
            "printable characters, none a letter, a digit or a space (standard: |^~\\&)",
            segment="MSH",
            index=1,
            field=2,
            hl7_code=102,
            ack_code="AR",
        )
    _check_size(text, enc)  # raises MessageTooLarge
    msh = Segment(text.split("\r", 1)[0], enc, 1)
    _check_header(msh)  # before hl7apy, so an unsupported version gets its own message
    msh2 = text[4:].split(enc.field, 1)[0]
    if len(msh2) > 4:
        # v2.7 added a fifth encoding character, the truncation character (#); the versions read here
        # have four, and the parser would refuse the message in its own words.
        raise Hl7Error(
            f"MSH-2 '{msh2}' has {len(msh2)} encoding characters: HL7 {msh.component(12).strip()} has four "
            f"({msh2[:4]}); the fifth, the truncation character, came with v2.7: send MSH-2 as '{msh2[:4]}'",
            segment="MSH",
            index=1,
            field=2,
            hl7_code=102,
            ack_code="AR",
        )
    segments = _segments(text, enc)
    ctx = OruContext(encoding=enc, pid=None, obr=[], **_header(msh))
    # A sender is named by the namespace ID or the universal ID (OID) of MSH-3 and MSH-4.
    codemap = codemap.for_sender(
        application=(msh.component(3, 1), msh.component(3, 2)),
        facility=(msh.component(4, 1), msh.component(4, 2)),
    )
    if codemap.sender:
        ctx.notes.append(f"codes read with the code map of sender '{codemap.sender}'")
    try:
        _read_segments(ctx, segments, codemap, today)
        _note_assumed_assay(ctx)
        return ctx
    except Hl7Error as exc:
        exc.notes = ctx.notes
        raise


def _read_segments(
    ctx: OruContext, segments: list[Segment], codemap: CodeMap, today: date | None
) -> OruContext:
    # One day for the whole message, read once: the latest date begun anywhere (UTC+14), so a
    # laboratory east of the server never has a sample of its own today refused as future.
    today = today or latest_date(datetime.now(UTC))
    panel = PanelAssembler()
    obr_stamps: list[tuple[_Stamp, int]] = []
    obx_stamps: list[tuple[_Stamp, int]] = []
    results: list[tuple[DatedResult, _Stamp | None]] = []  # each result with the timestamp dating it
    obr_on: tuple[_Stamp, int] | None = None  # the current OBR's collection date and occurrence
    # Timestamps with UTC offsets are compared in the frame of the one dating the panel.
    frame = _frame_of_obr7(segments)
    pid: Segment | None = None
    obx_count = 0
    cancelled = False  # the current OBR's order is cancelled (OBR-25 X)
    obr_ends: dict[int, _Stamp] = {}  # OBR-8 of timed collections, by OBR occurrence
    owner: Segment | None = None  # the segment an NTE comments on: the last one before it
    empty_value: tuple[Segment, str] | None = None  # a result OBX without OBX-5, and its note
    order: int | None = None  # the current OBR's occurrence
    read_by_key: dict[tuple[Any, ...], list[_ReadObx]] = {}  # results read, for corrections (OBX-11 C)
    retracted: dict[tuple[Any, ...], Segment] = {}  # OBX-11 W or D: the result they take back
    order_of_obx: dict[int, Segment] = {}  # each OBX's (not cancelled) OBR, by the OBX's occurrence
    for seg in segments:
        if seg.name == "NTE":
            _read_nte(seg, owner, empty_value, ctx.notes)
            continue
        owner, empty_value = seg, None
        if seg.name == "PID":
            if pid is not None:
                raise Hl7Error(
                    "more than one PID segment: send one patient per message",
                    segment="PID",
                    index=seg.index,
                    hl7_code=100,
                )
            _one_value(seg, _ONE_VALUE_PID)
            pid = seg
            ctx.pid = seg.er7
        elif seg.name == "OBR":
            _one_value(seg, _ONE_VALUE_OBR, f"OBR[{seg.index}] ")
            _order_status(seg, ctx.notes)
            # OBR-25 X (HL7 table 0123): the order was cancelled, no results; its OBX are not read.
            cancelled = _cancelled(seg)
            if not cancelled:  # a cancelled order names neither the reply nor the specimen
                ctx.obr.append(seg)

            def obr_stamp(fld: int, on: date | None, seg: Segment = seg) -> _Stamp | None:
                return _result_stamp(
                    seg.component(fld),
                    f"OBR[{seg.index}] OBR-{fld}",
                    segment="OBR",
                    index=seg.index,
                    fld=fld,
                    notes=ctx.notes,
                    today=on,
                )

            # A cancelled order's OBR-7 dates no result: a collection scheduled for later is no error.
            stamp = obr_stamp(7, None if cancelled else today)
            if cancelled:
                ctx.notes.append(
                    f"OBR[{seg.index}]: OBR-25 result status X (order cancelled): its OBX ignored"
                )
            # OBR-8, the end of a timed collection (a 24-hour urine): its results are of any day of the
            # period [OBR-7, OBR-8], so of the panel's when the panel's date falls in it. An end in the
            # future or before 1900 would carry an old collection into the panel: not read, as an OBR-8
            # that is not a date.
            try:
                end = obr_stamp(8, today)
            except Hl7Error as exc:
                end = None
                ctx.notes.append(f"{exc}: not read (the collection is dated by its OBR-7)")
            if stamp and end:
                obr_ends[seg.index] = end
            obr_on = (stamp, seg.index) if stamp and not cancelled else None
            order = seg.index
            if stamp and not cancelled:
                obr_stamps.append((stamp, seg.index))
        elif seg.name == "OBX":
            obx_count += 1
            if not cancelled and ctx.obr and ctx.obr[-1].index == order:
                order_of_obx[seg.index] = ctx.obr[-1]
            if cancelled:
                set_id = seg.text(1) or str(seg.index)
                ctx.notes.append(f"OBX[{set_id}]: its order is cancelled (OBR-25 X); ignored")
                continue
            if seg.component(11).strip().upper() in _RETRACTING:
                retracted[_retraction_key(seg, order)] = seg  # the last: it takes back all before it
            empty: list[tuple[str, str]] = []
            result, when, on = _map_obx(seg, codemap, ctx.notes, obr_on, frame, today, empty=empty)
            empty_value = (seg, empty[0][0]) if empty else None
            if result is None and empty and empty[0][1] in FLC_TARGETS:
                # A ratio (or chain) sent without a value still names the panel's assay in OBX-17.
                _read_flc_assay(seg, f"OBX[{seg.text(1) or seg.index}]", panel, ctx.notes)
            if result is not None:
                if _kept((seg, result, on), order, frame, read_by_key, results, ctx.notes):
                    results.append((result, on))
                if result.path in FLC_TARGETS:
                    _read_flc_assay(seg, result.source, panel, ctx.notes)
            if when:
                obx_stamps.append((when, seg.index))
        elif seg.name == "DG1":
            _map_dg1(seg, codemap, panel, ctx.notes, ctx.version)
    if obx_count == 0:
        raise Hl7Error("the message has no OBX segment", segment="OBX", hl7_code=101)
    if retracted:
        _retract(results, read_by_key, retracted, ctx.notes)
    if not obr_stamps:
        frame = _panel_frame(obx_stamps)
    for result, on in results:
        result.on = on.date_in(frame) if on is not None else None
    obr_dates = [(stamp.date_in(frame), index) for stamp, index in obr_stamps]
    obx_dates = [(stamp.date_in(frame), index) for stamp, index in obx_stamps]
    # A result read with no date (no OBX-14, its order's OBR-7 empty) beside dated ones cannot be
    # placed in the panel or its history: never assumed to be of the panel's day.
    dated = [r for r, _ in results if r.on is not None]
    undated = [r for r, _ in results if r.on is None and not r.path.startswith("clinical.")]
    if dated and undated:
        (name, index), fld, _ = undated[0].locator
        raise Hl7Error(
            f"{undated[0].source}: no collection date (no OBX-14, and the OBR-7 of its order is empty "
            "or partial) while other results of the message are dated: it cannot be placed in the panel "
            "or its history; send its order's OBR-7",
            segment=name,
            index=index,
            field=fld,
            hl7_code=101,
        )
    # The panel's date: that of its paraprotein studies (the latest), else the latest OBR-7, else the
    # latest OBX-14. A marrow or blood count collected after the studies is read with them.
    latest = max(obr_dates) if obr_dates else (max(obx_dates) if obx_dates else None)
    dated_by: tuple[str, int, int] | None = None
    if latest:
        dated_by = ("OBR", latest[1], 7) if obr_dates else ("OBX", latest[1], 14)
    work_up = work_up_date(r for r, _ in results)
    if work_up is not None and latest is not None and work_up < latest[0]:
        study = next(r for r, _ in results if r.on == work_up and is_paraprotein(r.path))
        (name, index), fld, _ = study.locator
        latest, dated_by = (work_up, index), (name, index, fld)
    collected = latest[0] if latest else None
    if collected is not None:
        for result, _ in results:
            (name, index), fld, _ = result.locator
            end = obr_ends.get(index) if (name, fld) == ("OBR", 7) else None
            if end is None or result.on is None or not result.on < collected <= end.date_in(frame):
                continue
            ctx.notes.append(
                f"{result.source}: its collection ran from {result.on.isoformat()} to "
                f"{end.date_in(frame).isoformat()} (OBR[{index}] OBR-7 to OBR-8): read with the panel of "
                f"{collected.isoformat()}"
            )
            result.on = collected
    try:
        history, history_sources = place_results([r for r, _ in results], collected, panel, ctx.notes)
        panel.check()
    except ResultProblem as exc:
        ctx.notes.extend(panel.notes)
        where_dated, date_field, obx_index = exc.result.locator
        (name, index), fld = (where_dated, date_field) if exc.dated else (("OBX", obx_index), 5)
        conflict = "conflicting values" in str(exc)
        text = str(exc) if conflict or exc.dated else f"{exc.result.source}: {exc}"
        raise Hl7Error(text, segment=name, index=index, field=fld, hl7_code=205 if conflict else 102) from exc
    except ValueProblem as exc:
        ctx.notes.extend(panel.notes)
        # A check across results (a reported ratio against kappa and lambda) names the OBX it refuses.
        named = re.match(r"OBX\[(\d+)\]", str(exc))
        index = int(named.group(1)) if named else None
        raise Hl7Error(
            str(exc), segment="OBX", index=index, field=5 if index else None, hl7_code=102
        ) from exc
    ctx.notes.extend(panel.notes)
    request = panel.build()
    if history:
        request["history"] = history
    if latest:
        request["collected_on"] = latest[0].isoformat()
        ctx.collected_from = dated_by
    ctx.panel_obr = _panel_order(ctx.obr, [r for r, _ in results], collected, obr_dates, order_of_obx)
    if ctx.panel_obr is None and dated_by is not None:
        name, index, _ = dated_by
        orders = {o.index: o for o in ctx.obr}
        ctx.panel_obr = orders.get(index) if name == "OBR" else order_of_obx.get(index)
    if pid is not None:
        patient = _patient(pid, collected or today, ctx.notes, dated=collected is not None)
        if patient:
            request["patient"] = patient
    ctx.request = request
    ctx.sources = {**panel.sources, **history_sources}
    return ctx


# The studies that name the panel's order, in this precedence: the order (OBR) carrying the serum
# protein electrophoresis, else the serum immunofixation, else the free light chains, else the urine
# studies. The segment order of the message never decides it.
_ORDER_STUDIES = ("spep", "serum_ife", "flc", "urine")


def _panel_order(
    orders: Sequence[Segment],
    results: Sequence[DatedResult],
    collected: date | None,
    obr_dates: Sequence[tuple[date, int]],
    order_of_obx: Mapping[int, Segment],
) -> Segment | None:
    """The order (OBR) of the panel, which the answer echoes and whose filler number is the record's
    specimen: the one carrying the panel's serum paraprotein studies (SPEP, then serum immunofixation,
    then free light chains), else its urine studies, else the first OBR of the panel's day. A
    chemistry or blood count order of the same day never names it, wherever it stands."""
    best: tuple[int, int] | None = None
    chosen: Segment | None = None
    for result in results:
        section = result.path.split(".", 1)[0]
        if section not in _ORDER_STUDIES or (collected is not None and result.on not in (None, collected)):
            continue
        obr = order_of_obx.get(result.locator[2])
        if obr is None:
            continue
        rank = (_ORDER_STUDIES.index(section), obr.index)
        if best is None or rank < best:
            best, chosen = rank, obr
    if chosen is not None:
        return chosen
    by_index = {o.index: o for o in orders}
    of_the_day = sorted(index for on, index in obr_dates if collected is None or on == collected)
    return next((by_index[i] for i in of_the_day if i in by_index), None)


# The records store's identity of a message (contract 1.1: patient_ref and specimen_id, 1-64
# printable characters). Only the store uses it; the interpretation never does.
MAX_REF = 64


def record_identity(ctx: OruContext) -> tuple[dict[str, str], list[str]]:
    """``{"patient_ref": ..., "specimen_id": ...}`` of a parsed message for the records store, and
    notes on what could not be used.

    patient_ref: the PID-3 identifier of type MR (CX-5, any case), else the first, written with its
    assigning authority as ``ID^^^AUTHORITY``, the authority's HD parts joined by ``&`` as in the
    message (``12345^^^HOSP``, ``123^^^&2.16.840.1.113883.4.1&ISO``), so the same number of two
    authorities is never one patient. An identifier typed other than MR keeps its type
    (``12345^^^HOSP^AN``), so an account number is never an MRN of the same digits; one without a type
    is written as an MRN is. A number without CX-4 is taken as issued by the sending facility
    (MSH-4, its HD parts joined the same way); the ID alone only when the message names neither. An
    identifier that could be read two ways is not used (a note says so): one with an escape sequence
    or a subcomponent in its ID, a ``^`` or control character once unescaped, more than 64
    characters, or the HL7 null ``""``. The link can only be missed, never made between two
    patients. specimen_id: OBR-3 (filler order number, its components joined by ``^``) of the panel's
    OBR (``OruContext.order``: the one carrying its paraprotein studies, see ``_panel_order``), else its
    OBR-2."""
    out: dict[str, str] = {}
    notes: list[str] = []
    enc = ctx.encoding
    if ctx.pid is not None:
        pid = Segment(ctx.pid, enc, 1)
        reps = pid.repetitions(3)
        chosen = next((i for i in range(len(reps)) if pid.component(3, 5, i).strip().upper() == "MR"), 0)
        parts = reps[chosen].split(enc.component) if reps else []
        raw_id = parts[0].strip(" ") if parts else ""
        if raw_id == '""':
            notes.append(
                'PID-3 identifier is the HL7 null "": this panel is stored without a patient reference '
                "and the patient's stored panels were not used as history."
            )
        elif raw_id:
            ident = unescape(raw_id, enc)
            authority = _hd(parts[3] if len(parts) > 3 else "", enc.subcomponent, enc)
            if authority is None:
                authority = _hd(ctx.sending_facility, enc.component, enc)
            ref = f"{ident}^^^{authority}" if authority else ident
            # An identifier of another type than MR (an account or visit number...) keeps its type,
            # so the same digits never link it to a medical record number.
            id_type = unescape(parts[4], enc).strip(" ").upper() if len(parts) > 4 else ""
            if id_type and id_type != "MR" and id_type != '""':
                ref = f"{ident}^^^{authority or ''}^{id_type}"
            plain = (
                enc.escape not in raw_id
                and enc.subcomponent not in raw_id
                and "^" not in ident
                and not any(c in id_type for c in "^&")
            )
            if plain and authority != "" and len(ref) <= MAX_REF and ref.isprintable():
                out["patient_ref"] = ref
            else:
                notes.append(
                    "PID-3 identifier with its authority (CX-4, else MSH-4) is not a usable patient "
                    "reference (an escape sequence, subcomponent or control character, or more than "
                    f"{MAX_REF} characters in all): this panel is stored without it and the patient's "
                    "stored panels were not used as history."
                )
    if ctx.order is not None:
        first = ctx.order
        field = 3 if _ei(first, 3) is not None else 2
        specimen = _ei(first, field)
        raw = first.raw(field)
        if specimen is not None:
            plain = enc.escape not in raw and enc.repetition not in raw
            if plain and len(specimen) <= MAX_REF and specimen.isprintable():
                out["specimen_id"] = specimen
            else:
                notes.append(
                    f"OBR-{field} is not a usable specimen identifier (a repetition, escape sequence or "
                    f"control character, or more than {MAX_REF} characters): this panel is stored without it."
                )
    return out, notes


def retry_key(ctx: OruContext, raw: bytes | str) -> str:
    """The records store's retry key of a message: its sender (MSH-3, MSH-4), control ID (MSH-10)
    and bytes, hashed. The same message sent again (its ACK was lost) is the same record."""
    data = raw.encode("utf-8", "surrogateescape") if isinstance(raw, str) else raw
    if not data.endswith((b"\r", b"\n")):
        # A message read out of a batch file, or sent without its last segment terminator: the
        # same bytes as the message sent on its own.
        data += b"\r"
    key = "\x1f".join((ctx.sending_application, ctx.sending_facility, ctx.control_id))
    return "hl7:" + hashlib.sha256(key.encode("utf-8", "surrogateescape") + b"\x1e" + data).hexdigest()


def _hd(raw: str, separator: str, enc: Encoding) -> str | None:
    """An HD (namespace, universal ID, its type) as one string, its parts joined by ``&``: None when
    empty or the HL7 null; "" (unusable) when a part holds a ``^`` or ``&`` once unescaped."""
    parts = [unescape(p, enc).strip(" ") for p in raw.split(separator)]
    parts = ["" if p == '""' else p for p in parts]
    while parts and not parts[-1]:
        parts.pop()
    if not parts:
        return None
    if any("^" in p or "&" in p for p in parts):
        return ""
    return "&".join(parts)


def _ei(seg: Segment, n: int) -> str | None:
    """An EI field (entity ID, namespace, universal ID, its type) as one string, ``^``-joined."""
    reps = seg.repetitions(n)
    parts = [unescape(p, seg.enc).strip(" ") for p in reps[0].split(seg.enc.component)] if reps else []
    while parts and not parts[-1]:
        parts.pop()
    if not parts or parts[0] in ("", '""'):
        return None
    return "^".join(parts)


def message_to_request(
    message: str | bytes, codemap: CodeMap | None = None, *, today: date | None = None
) -> dict[str, Any]:
    """The contract request dict of an ER7 ORU^R01 (see parse_oru)."""
    return parse_oru(message, codemap, today=today).request


# Result statuses (HL7 table 0085) a correction (C) replaces: final, changed to final, not given.
_FINAL_STATUSES = ("F", "U", "")
_ReadObx = tuple[Segment, DatedResult, _Stamp | None]


def _shown_value(seg: Segment) -> str:
    """An OBX's value as sent (OBX-5 repetitions, OBX-6 unit), for a note."""
    value = " ~ ".join(unescape(rep, seg.enc).strip() for rep in seg.repetitions(5))
    unit = seg.component(6).strip()
    return f"{value} {unit}"[:80] if unit else value[:80]


def _kept(
    read: _ReadObx,
    order: int | None,
    frame: tzinfo | None,
    read_by_key: dict[tuple[Any, ...], list[_ReadObx]],
    results: list[tuple[DatedResult, _Stamp | None]],
    notes: list[str],
) -> bool:
    """Whether a result is read. A corrected result (OBX-11 C) is read in place of the final result
    (F, U or no status) of the same OBX-3, sub-ID, order (OBR) and date, whichever comes first, with a
    note naming both values. Two finals, or two corrections, that differ stay a conflict."""
    seg, result, on = read
    status = seg.component(11).strip().upper()
    codings = _codings(seg, 3)
    first = (codings[0].system or "", codings[0].code) if codings else None
    key = (first, result.path, result.group, order, on.date_in(frame) if on is not None else None)
    earlier = read_by_key.setdefault(key, [])
    if status in _FINAL_STATUSES:
        corrected = next((r for r in earlier if r[0].component(11).strip().upper() == "C"), None)
        if corrected is not None:
            notes.append(
                f"{result.source}: final result {_shown_value(seg)} not read: the corrected result "
                f"(OBX-11 C) {_shown_value(corrected[0])} of {corrected[1].source} replaces it"
            )
            return False
    elif status == "C":
        for final in [r for r in earlier if r[0].component(11).strip().upper() in _FINAL_STATUSES]:
            earlier.remove(final)
            results[:] = [r for r in results if r[0] is not final[1]]
            notes.append(
                f"{result.source}: corrected result (OBX-11 C) {_shown_value(seg)} read in place of the "
                f"final result {_shown_value(final[0])} of {final[1].source}"
            )
    earlier.append(read)
    return True


# HL7 table 0085: W "post original as wrong", D "delete the OBX record": each takes back the results of
# the same OBX-3 and sub-ID in the same order that come before it in the message.
_RETRACTING = ("W", "D")


def _retraction_key(seg: Segment, order: int | None) -> tuple[Any, ...]:
    codings = _codings(seg, 3)
    first = (codings[0].system or "", codings[0].code) if codings else None
    return first, seg.text(4).strip(), order


def _retract(
    results: list[tuple[DatedResult, _Stamp | None]],
    read_by_key: dict[tuple[Any, ...], list[_ReadObx]],
    retracted: dict[tuple[Any, ...], Segment],
    notes: list[str],
) -> None:
    """Take out the results an OBX-11 W (wrong) or D (deleted) takes back, with a note naming both: a
    value the laboratory withdrew is never interpreted (the answer then asks for it as missing). It
    takes back the results of its code before it; one sent after it is the replacement, and stands."""
    gone: set[int] = set()  # the results taken back, by identity
    for (first, _path, group, order, _on), reads in read_by_key.items():
        by = retracted.get((first, group, order))
        if by is None:
            continue
        for seg, result, _ in reads:
            if seg.index > by.index:
                continue
            gone.add(id(result))
            notes.append(
                f"{result.source}: {_shown_value(seg)} not read: OBX[{by.index}] (OBX-11 "
                f"{by.component(11).strip().upper()}) takes it back as "
                f"{'wrong' if by.component(11).strip().upper() == 'W' else 'deleted'}"
            )
    results[:] = [(r, on) for r, on in results if id(r) not in gone]


# A comment (NTE-3) carried into the notes is cut to this many characters.
MAX_COMMENT = 200


def _comment_text(nte: Segment) -> str:
    """NTE-3 as one line: its repetitions (lines) joined, escapes decoded, blanks folded, cut to
    MAX_COMMENT characters with an ellipsis; '' for no text or the HL7 null."""
    text = " ".join(" ".join(unescape(rep, nte.enc) for rep in nte.repetitions(3)).split())
    if text == HL7_NULL:
        return ""
    return text if len(text) <= MAX_COMMENT else text[: MAX_COMMENT - 3].rstrip() + "..."


def _commented(seg: Segment | None) -> str:
    """What an NTE comments on: the segment before it, an OBX or OBR named with its code and text."""
    if seg is None or seg.name in ("MSH", "SFT"):
        return "message"
    label = f"{seg.name}[{seg.index}]"
    if seg.name in ("OBX", "OBR"):
        n = 3 if seg.name == "OBX" else 4
        named = " ".join(p for p in (seg.component(n, 1).strip(), seg.component(n, 2).strip()) if p)
        return f"{label} ({named})" if named else label
    return label


def _read_nte(
    nte: Segment, owner: Segment | None, empty_value: tuple[Segment, str] | None, notes: list[str]
) -> None:
    """A comment is a note naming what it belongs to (never dropped, never read as a result). A
    comment after a result OBX whose OBX-5 is empty holds the result: refused at that OBX-5, as a
    value 'See note' is."""
    text = _comment_text(nte)
    if not text:
        return
    if empty_value is not None:
        obx, ignored = empty_value
        if ignored in notes:
            notes.remove(ignored)
        raise Hl7Error(
            f"{_commented(obx)}: OBX-5 is empty and the result follows in a comment (NTE), which is not "
            f"read as a result ('{text[:60]}'): send the result in OBX-5",
            segment="OBX",
            index=obx.index,
            field=5,
            hl7_code=101,
        )
    notes.append(f"{_commented(owner)} comment: {text}")


def _map_obx(
    seg: Segment,
    codemap: CodeMap,
    notes: list[str],
    obr_on: tuple[_Stamp, int] | None,
    frame: tzinfo | None,
    today: date,
    *,
    empty: list[tuple[str, str]] | None = None,
) -> tuple[DatedResult | None, _Stamp | None, _Stamp | None]:
    """One OBX as a result (None when it is not read), its OBX-14 and the timestamp that dates the
    result: its OBX-14, else the OBR-7 of the OBR it follows. The caller sets the result's date from
    that timestamp once the panel's frame is known; ``frame`` is the panel OBR-7's UTC offset, in
    which an OBX-14 is compared with its OBR-7. An OBX-14 in the future (after ``today``) or before
    EARLIEST_DATE is refused, the time of analysis as much as a collection time."""
    set_id = seg.text(1) or str(seg.index)
    codings = _codings(seg, 3)
    code_label = codings[0].code if codings else "(no code)"
    where = f"OBX[{seg.index}] (set ID {set_id}, {code_label})"
    _one_value(seg, _ONE_VALUE_OBX, f"{where}: ")
    raw_status = seg.component(11).strip().upper()  # blanks after it aside, as every field read
    status = raw_status[:1]
    if raw_status not in _USED_STATUSES and raw_status not in _SKIPPED_STATUSES:
        raise Hl7Error(
            f"{where}: result status '{seg.component(11)}' is not an HL7 table 0085 code",
            segment="OBX",
            index=seg.index,
            field=11,
            hl7_code=103,
            ack_code="AE",
        )
    if status not in _USED_STATUSES:
        notes.append(f"{where}: result status '{status}' is not a result; ignored")
        return None, None, None
    reader = _ObxReader(seg, codemap, where, notes)
    try:
        entry = codemap.resolve(codings, section="observations")
        from_finding = False
        if entry is None:
            entry = codemap.resolve(codings, section="conditions")
            from_finding = entry is not None
        if entry is None:
            notes.append(f"{where}: code not in the code map; ignored")
            return None, None, None
        if not [r for r in seg.repetitions(5) if r.strip(seg.enc.component)]:
            notes.append(f"{where}: no value in OBX-5; ignored")
            if empty is not None:  # refused if the result follows in a comment (_read_nte); its field
                empty.append((notes[-1], entry.target))
            return None, None, None
        _one_value(seg, _ONE_VALUE_RESULT, f"{where}: ")
        if entry.caveat and entry.target == "labs.egfr":
            # Which equation an eGFR code names matters (the reference's estimate is race-free CKD-EPI 2021).
            notes.append(f"{where}: read as {entry.target}: {entry.caveat}")
        value = reader.value(entry)
        reader.field = 5
        sub_id = seg.text(4).strip()
        if sub_id:
            where = f"{where} sub-ID {sub_id}"
        if from_finding:
            notes.append(f"{where}: finding code mapped to {entry.target}")
        if status in _PROVISIONAL:
            notes.append(
                f"{where}: {_PROVISIONAL[status]} result (OBX-11 {status}) read: the interpretation rests on "
                "a result that may change"
            )
    except WrongCodeError as exc:
        raise Hl7Error(f"{where}: {exc}", segment="OBX", index=seg.index, field=3, hl7_code=103) from exc
    except ValueProblem as exc:
        conflict = "conflicting values" in str(exc)
        raise Hl7Error(
            f"{where}: {exc}" if not conflict else str(exc),
            segment="OBX",
            index=seg.index,
            field=reader.field,
            # A unit the code does not carry is a table value (UCUM) not found, like the schema's.
            hl7_code=205 if conflict else (103 if reader.field == 6 else 102),
        ) from exc
    when = _result_stamp(
        seg.component(14),
        f"{where} OBX-14",
        segment="OBX",
        index=seg.index,
        fld=14,
        notes=notes,
        today=today,
    )
    if when is not None and obr_on is not None and when.date_in(frame) > obr_on[0].date_in(frame):
        # A specimen is not collected after its order's collection date: an OBX-14 later than the
        # OBR-7 is the time of analysis (common), and the result is of the OBR-7 date.
        notes.append(
            f"{where}: OBX-14 {when.date_in(frame).isoformat()} is after the collection date of "
            f"OBR[{obr_on[1]}] ({obr_on[0].date_in(frame).isoformat()}): read as the time of analysis"
        )
        when = None
    on: _Stamp | None
    if when is not None:
        on, element, locator = when, "OBX-14", (("OBX", seg.index), 14, seg.index)
    elif obr_on is not None:
        on, element = obr_on[0], f"OBR-7 of OBR[{obr_on[1]}]"
        locator = (("OBR", obr_on[1]), 7, seg.index)
    else:
        on, element, locator = None, "", (("OBX", seg.index), 14, seg.index)
    result = DatedResult(
        entry.target,
        value,
        where,
        None,
        element,
        priority=entry.priority,
        group=sub_id,
        locator=locator,
        band=entry.band,
    )
    return result, when, on


# Versions whose DG1 has DG1-21, the diagnosis action code (HL7 table 0206: A add, D delete,
# U update, X no change).
_DG1_ACTION_VERSIONS = ("2.5", "2.5.1")


def _map_dg1(seg: Segment, codemap: CodeMap, panel: PanelAssembler, notes: list[str], version: str) -> None:
    codings = _codings(seg, 3)
    where = f"DG1[{seg.index}] ({codings[0].code if codings else 'no code'})"
    _one_value(seg, _ONE_VALUE_DG1 if version in _DG1_ACTION_VERSIONS else _ONE_VALUE_DG1[:2], f"{where}: ")
    if seg.component(21).strip().upper() == "D":
        # Versions 2.3 and 2.4 define no DG1-21, but engines that stamp 2.4 on 2.5 segments send it: a
        # deleted diagnosis is never read as present.
        older = (
            f" (version {version} defines no DG1-21: read as HL7 table 0206 D, as in 2.5)"
            if version not in _DG1_ACTION_VERSIONS
            else ""
        )
        notes.append(f"{where}: DG1-21 action code D: the diagnosis is deleted; ignored{older}")
        return
    try:
        entry = codemap.resolve(codings, section="conditions")
        if entry is None:
            notes.append(f"{where}: diagnosis code not in the code map; ignored")
            return
        if entry.kind is Kind.SCLEROMYXEDEMA:
            value: Any = "suspected" if seg.component(6).upper() == "W" else "confirmed"
        else:
            value = True
        panel.set(entry.target, value, source=where, priority=entry.priority, from_condition=True)
    except WrongCodeError as exc:
        raise Hl7Error(f"{where}: {exc}", segment="DG1", index=seg.index, field=3, hl7_code=103) from exc
    except ValueProblem as exc:
        raise Hl7Error(f"{where}: {exc}", segment="DG1", index=seg.index, field=3, hl7_code=205) from exc


def _patient(pid: Segment, on: date, notes: list[str], *, dated: bool = True) -> dict[str, Any]:
    patient: dict[str, Any] = {}
    sex = pid.component(8).upper()
    if sex.strip() == HL7_NULL:
        notes.append('PID-8 sex is the HL7 null "" (no value): read as not given')
    elif sex.strip() in _SEX:
        patient["sex"] = _SEX[sex.strip()]
    elif sex.strip():
        # A code of a later table or a local one (X): the sex-specific rules use their sex-neutral windows.
        shown = pid.component(8).strip()[:20]
        notes.append(
            f"PID-8 sex '{shown}' is not in HL7 table 0001 (F, M, O, U, A, N): read as not given (the "
            "sex-specific limits use their sex-neutral windows)"
        )
    raw_birth = pid.component(7)
    if raw_birth.strip() == HL7_NULL:
        notes.append('PID-7 birth date is the HL7 null "" (no value): read as not given; age not derived')
        return patient
    birth = _hl7_date(raw_birth, "PID-7", segment="PID", index=1, fld=7)
    if birth:
        try:
            age = age_in_years(birth, on)
        except ValueProblem as exc:
            raise Hl7Error(f"PID-7: {exc}", segment="PID", index=1, field=7, hl7_code=102) from exc
        if age > MAX_AGE_YEARS:
            raise Hl7Error(
                f"PID-7: birth date '{raw_birth.strip()[:40]}' gives an implausible age of {age} years on "
                f"{on.isoformat()} (at most {MAX_AGE_YEARS}: data-entry check)",
                segment="PID",
                index=1,
                field=7,
                hl7_code=102,
            )
        patient["age_years"] = age
        if not dated:
            notes.append(
                f"no collection date (OBR-7 or OBX-14): the age from PID-7 is taken on {on.isoformat()}, "
                "the day the message was read"
            )
    elif raw_birth.strip():
        notes.append(f"PID-7 birth date '{raw_birth}' is partial; age not derived")
    return patient


# --------------------------------------------------------------------------------------------
# Replies
# --------------------------------------------------------------------------------------------


def _timestamp(now: datetime | None) -> str:
    moment = now or datetime.now(UTC)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.strftime("%Y%m%d%H%M%S%z")


def _new_control_id() -> str:
    return "MGI" + uuid.uuid4().hex[:17].upper()


def _msh(
    enc: Encoding,
    *,
    sending: tuple[str, str],
    receiving: tuple[str, str],
    message_type: str,
    control_id: str,
    processing_id: str,
    version: str,
    now: datetime | None,
) -> str:
    fields = [
        "MSH",
        enc.msh2,
        sending[0],
        sending[1],
        receiving[0],
        receiving[1],
        _timestamp(now),
        "",
        message_type,
        control_id,
        processing_id,
        version,
        "",
        "",
        "",
        "",
        "",
        "UNICODE UTF-8",
    ]
    return enc.field.join(fields)


class _SegmentWriter:
    def __init__(self, enc: Encoding, coded_type: str, result_status: str = "F") -> None:
        self.enc = enc
        self.coded_type = coded_type
        self.result_status = result_status
        self.lines: list[str] = []
        self.obx_count = 0

    def seg(self, *fields: str) -> None:
        self.lines.append(self.enc.field.join(fields).rstrip(self.enc.field))

    def cwe(self, code: str, text: str, system: str = LOCAL_SYSTEM) -> str:
        c = self.enc.component
        return f"{escape(code, self.enc)}{c}{escape(text, self.enc)}{c}{system}"

    def obx(self, value_type: str, code: str, label: str, value: str, sub_id: str = "") -> None:
        self.obx_count += 1
        vt = self.coded_type if value_type == "CWE" else value_type
        ident = self.cwe(code, label)
        self.seg("OBX", str(self.obx_count), vt, ident, sub_id, value, "", "", "", "", "", self.result_status)

    def nte(self, text: str, number: int = 1) -> None:
        self.seg("NTE", str(number), "L", escape(text, self.enc))


def _text_of(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _risk_segments(w: _SegmentWriter, name: str, entry: Mapping[str, Any], sub: str) -> None:
    code = f"RISK_{name.upper()}"
    group = entry.get("group")
    if group:
        value = w.cwe(str(group), str(group).replace("_", "-"))
    elif entry.get("applies") is False:  # the model is not for this category (SMM models for an MGUS)
        value = w.cwe("NOT_APPLICABLE", "Not applicable")
    else:  # it applies, and the data sent leave the group open
        value = w.cwe("NOT_SCORED", "Not scored")
    w.obx("CWE", code, RISK_LABELS.get(name, name), value, sub)
    score = entry.get("score")
    if isinstance(score, int | float) and not isinstance(score, bool):
        label = f"{RISK_LABELS.get(name, name)} score"
        if entry.get("score_is_lower_bound") is True:
            # Data not given could add points: the score is at least this, sent as a bound (SN >=^7),
            # never as an exact number.
            w.obx("SN", f"{code}_SCORE", label, w.enc.component.join((">=", f"{score:g}")), sub)
        else:
            w.obx("NM", f"{code}_SCORE", label, f"{score:g}", sub)
    possible = next(
        (entry[k] for k in ("possible_groups", "groups", "open_between") if isinstance(entry.get(k), list)),
        None,
    )
    if possible:
        reps = w.enc.repetition.join(escape(str(g), w.enc) for g in possible)
        w.obx("ST", f"{code}_POSSIBLE_GROUPS", "Possible risk groups", reps, sub)
    reason = next(
        (entry[k] for k in ("reason", "why", "note", "explanation", "comment") if _text_of(entry.get(k))),
        None,
    )
    if reason:
        w.nte(reason)


def build_oru_response(
    parsed_context: OruContext,
    interpretation: Mapping[str, Any],
    *,
    control_id: str | None = None,
    now: datetime | None = None,
    result_status: str = "F",
) -> str:
    """An ORU^R01 reply (ER7, \\r separators) carrying the interpretation as OBX/NTE segments.

    ``result_status`` goes to OBR-25 and every OBX-11 (HL7 table 0085): F final, P preliminary (a
    review is pending), C corrected (amended after review)."""
    ctx = parsed_context
    enc = ctx.encoding
    version = ctx.version if ctx.version in SUPPORTED_VERSIONS else "2.5.1"
    coded = "CWE" if version in ("2.5", "2.5.1") else "CE"
    w = _SegmentWriter(enc, coded, result_status)
    message_type = enc.component.join(["ORU", "R01"] + ([] if version == "2.3" else ["ORU_R01"]))
    w.lines.append(
        _msh(
            enc,
            sending=(ctx.receiving_application or LOCAL_SYSTEM, ctx.receiving_facility),
            receiving=(ctx.sending_application, ctx.sending_facility),
            message_type=message_type,
            control_id=control_id or _new_control_id(),
            processing_id=ctx.processing_id,
            version=version,
            now=now,
        )
    )
    if ctx.pid:
        w.lines.append(ctx.pid)
    first_obr = ctx.order
    obr = ["OBR", "1"]
    obr.append(first_obr.raw(2) if first_obr else "")
    obr.append(first_obr.raw(3) if first_obr else "")
    obr.append(w.cwe("MGI_INTERPRETATION", "Monoclonal gammopathy interpretation"))
    obr += ["", ""]
    obr.append(first_obr.raw(7) if first_obr else "")
    obr += [""] * 12  # OBR-8 .. OBR-19
    obr.append(escape(ctx.control_id, enc))  # OBR-20 filler field 1: original MSH-10
    obr.append("")  # OBR-21
    obr.append(_timestamp(now))  # OBR-22 results report/status change
    obr += ["", ""]  # OBR-23, OBR-24
    obr.append(result_status)  # OBR-25 result status
    w.seg(*obr)
    ruleset = str(interpretation.get("ruleset_version", ""))
    if ruleset:
        w.obx("ST", "RULESET_VERSION", "Ruleset version", escape(ruleset, enc))
    classification = interpretation.get("classification") or {}
    if classification:
        w.obx(
            "CWE",
            "CLASSIFICATION",
            "Classification",
            w.cwe(str(classification.get("code", "")), str(classification.get("label", ""))),
        )
        provisional = bool(classification.get("provisional"))
        yes_no = ("Y", "Yes") if provisional else ("N", "No")
        w.obx(
            "CWE",
            "CLASSIFICATION_PROVISIONAL",
            "Classification provisional",
            w.cwe(*yes_no, system="HL70136"),
        )
        if classification.get("isotype"):
            w.obx("ST", "ISOTYPE", "Isotype", escape(str(classification["isotype"]), enc))
    risk = interpretation.get("risk") or {}
    names = [m for m in _RISK_MODELS if m in risk] + [m for m in risk if m not in _RISK_MODELS]
    for number, name in enumerate(names, start=1):
        if isinstance(risk[name], Mapping):
            _risk_segments(w, name, risk[name], str(number))
    for number, flag in enumerate(interpretation.get("flags") or [], start=1):
        sub = str(number)
        # CWE-2 is limited to 199 characters: the code's text stays short, the full message
        # follows as an NTE on the same OBX.
        code = str(flag.get("code", ""))
        w.obx("CWE", "FLAG", "Interpretive flag", w.cwe(code, code.replace("_", " ").lower()), sub)
        if flag.get("message"):
            w.nte(str(flag["message"]))
        severity = str(flag.get("severity", ""))
        if severity:
            w.obx("CWE", "FLAG_SEVERITY", "Flag severity", w.cwe(severity, severity), sub)
        refer = flag.get("refer_to") or []
        if refer:
            reps = enc.repetition.join(escape(str(r), enc) for r in refer)
            w.obx("ST", "FLAG_REFER_TO", "Refer to", reps, sub)
    for number, rec in enumerate(interpretation.get("recommendations") or [], start=1):
        code = str(rec.get("code", ""))
        w.obx(
            "CWE",
            "RECOMMENDATION",
            "Recommendation",
            w.cwe(code, code.replace("_", " ").lower()),
            str(number),
        )
        if rec.get("text"):
            w.nte(str(rec["text"]))
    missing = interpretation.get("missing_data") or []
    if missing:
        w.obx("ST", "MISSING_DATA", "Missing data", enc.repetition.join(escape(str(m), enc) for m in missing))
    comment = str(interpretation.get("comment") or "")
    if comment:
        w.obx("FT", "COMMENT", "Interpretive comment", escape(comment, enc, formatted=True))
    record_id = str(interpretation.get("id") or "")
    if record_id:
        # The stored record (GET /v1/interpretations/{id}, its reviews, its audit trail).
        w.obx("ST", "RECORD_ID", "Stored interpretation id", escape(record_id, enc))
    if ctx.notes:
        # What the translation ignored or assumed (unmapped codes, corrected results, partial dates):
        # never silent, so the sender can see which of its results the interpretation did not use.
        w.obx("NM", "INPUT_NOTES", "Notes on the input message", str(len(ctx.notes)))
        for number, note in enumerate(ctx.notes, start=1):
            w.nte(note, number)
    # Whatever was echoed from the sender (MSH, PID, OBR fields), no control character leaves raw.
    return "\r".join(_hex_controls(line, enc) for line in w.lines) + "\r"


def _header_from_text(message: str | bytes) -> dict[str, str] | None:
    try:
        try:
            text = _normalize(message)
        except Hl7Error:  # a character set refused at MSH-18: the header is still echoed
            text = _normalize(message, declared=False)
    except Exception:  # noqa: BLE001 - any undecodable input just means "no header to echo"
        return None
    if not text.startswith("MSH") or len(text) < 8:
        return None
    enc = _encoding_of(text)
    return {"enc": enc, **_header(Segment(text.split("\r", 1)[0], enc, 1))}  # type: ignore[dict-item]


def build_ack(
    message_text_or_parsed: str | bytes | OruContext,
    code: str | None = None,
    error_text: str = "",
    *,
    error: Hl7Error | None = None,
    control_id: str | None = None,
    now: datetime | None = None,
    notes: Sequence[str] | None = None,
) -> str:
    """An ACK (MSH/MSA/ERR) answering the message; code AA, AE or AR (default from ``error``).

    ``notes`` (default: the error's) are what the reading ignored or assumed before it stopped; in
    v2.5/2.5.1 each follows as an ERR of severity I (information), so the sender sees, beside the
    error, which of its results were not read and why."""
    ack_code = code or (error.ack_code if error else "AE")
    if ack_code not in ("AA", "AE", "AR"):
        raise ValueError(f"ACK code must be AA, AE or AR, not {ack_code!r}")
    text = error_text or (error.message if error else "")
    if isinstance(message_text_or_parsed, OruContext):
        ctx = message_text_or_parsed
        header: dict[str, Any] = {
            "enc": ctx.encoding,
            **{
                k: getattr(ctx, k)
                for k in (
                    "message_type",
                    "control_id",
                    "processing_id",
                    "version",
                    "sending_application",
                    "sending_facility",
                    "receiving_application",
                    "receiving_facility",
                )
            },
        }
    else:
        header = _header_from_text(message_text_or_parsed) or {"enc": DEFAULT_ENCODING}
    enc: Encoding = header["enc"]
    sent_version = header.get("version")
    version = (
        sent_version if isinstance(sent_version, str) and sent_version in SUPPORTED_VERSIONS else "2.5.1"
    )
    trigger = "R01"
    if header.get("message_type"):
        parts = header["message_type"].split(enc.component)
        trigger = (parts[1] if len(parts) > 1 else "") or "R01"
    message_type = enc.component.join(["ACK", trigger] + ([] if version == "2.3" else ["ACK"]))
    lines = [
        _msh(
            enc,
            sending=(
                header.get("receiving_application") or LOCAL_SYSTEM,
                header.get("receiving_facility", ""),
            ),
            receiving=(header.get("sending_application", ""), header.get("sending_facility", "")),
            message_type=message_type,
            control_id=control_id or _new_control_id(),
            processing_id=header.get("processing_id") or "P",
            version=version,
            now=now,
        ),
        enc.field.join(
            # MSA-3 holds 80 characters: cut the text, then escape it (cutting the escaped text could
            # split an escape sequence and leave the ACK unreadable).
            ["MSA", ack_code, escape(header.get("control_id", ""), enc), escape(text[:80], enc)]
        ).rstrip(enc.field),
    ]
    if ack_code != "AA":
        hl7_code = error.hl7_code if error else (100 if ack_code == "AR" else 207)
        code_cwe = enc.component.join([str(hl7_code), _ERROR_TEXT.get(hl7_code, "Error"), "HL70357"])
        location = error.erl(enc) if error else ""
        if version in ("2.5", "2.5.1"):
            lines.append(
                enc.field.join(["ERR", "", location, code_cwe, "E", "", "", "", escape(text, enc)]).rstrip(
                    enc.field
                )
            )
        else:
            # v2.3/2.4 ERR-1 (ELD): segment^sequence^field^code&text&table, the whole text of the
            # problem as the code's text (MSA-3 holds only its first 80 characters).
            code_text = escape(text, enc) if text else _ERROR_TEXT.get(hl7_code, "Error")
            sub = enc.subcomponent.join([str(hl7_code), code_text, "HL70357"])
            parts = (location.split(enc.component) + ["", "", ""])[:3]
            lines.append(f"ERR{enc.field}{enc.component.join(parts + [sub])}")
    if version in ("2.5", "2.5.1"):
        info = enc.component.join(["0", _ERROR_TEXT[0], "HL70357"])
        for note in (error.notes if notes is None and error else notes) or ():
            lines.append(enc.field.join(["ERR", "", "", info, "I", "", "", "", escape(note, enc)]))
    return "\r".join(_hex_controls(line, enc) for line in lines) + "\r"


def describe_validation_errors(errors: Mapping[str, list[str]], context: OruContext | None = None) -> str:
    """One line for an ACK from request-schema errors, naming the OBX each field came from."""
    sources = context.sources if context else {}
    parts = []
    for path, messages in errors.items():
        origin = next(
            (
                src
                for fld, src in sorted(sources.items(), key=lambda i: -len(i[0]))
                if path == fld or path.startswith(fld + ".")
            ),
            None,
        )
        if path == "_schema":  # the whole request, not a field: no internal name in the ACK
            parts.append("; ".join(messages))
            continue
        label = f"{path} ({origin})" if origin else path
        parts.append(f"{label}: {'; '.join(messages)}")
    return " | ".join(parts)


_FIELD_OF = {"unit": 6, "value": 5, "comparator": 5, "reference_range": 7, "low": 7, "high": 7}


def validation_error(errors: Mapping[str, list[str]], context: OruContext) -> Hl7Error:
    """An AE error for request-schema failures, located at the first OBX a failing field came from
    (OBX-5 value, OBX-6 unit, OBX-7 reference range)."""
    text = describe_validation_errors(errors, context)
    for path in errors:
        if path == "collected_on" and context.collected_from is not None:
            segment, index, fld = context.collected_from
            return Hl7Error(text, segment=segment, index=index, field=fld, hl7_code=102, ack_code="AE")
        # An earlier day's date (history.N.collected_on) is the date of that day's results: located at
        # the first of their OBX, field 14 (its date, or its order's OBR-7 when OBX-14 is empty).
        entry_date = re.fullmatch(r"(history\.\d+)\.collected_on", path)
        origin = next(
            (
                src
                for fld, src in sorted(context.sources.items(), key=lambda i: -len(i[0]))
                if path == fld
                or path.startswith(fld + ".")
                or (entry_date is not None and fld.startswith(entry_date.group(1) + "."))
            ),
            None,
        )
        match = re.search(r"OBX\[(\d+)\]", origin or "")
        if match:
            last = path.rsplit(".", 1)[-1]
            fld = 14 if entry_date is not None else _FIELD_OF.get(last, 5)
            return Hl7Error(
                text,
                segment="OBX",
                index=int(match.group(1)),
                field=fld,
                hl7_code=103 if last == "unit" else 102,
                ack_code="AE",
            )
    # Not located at a result: a content error all the same, never an internal one. No screening result
    # at all (every order cancelled, no M-protein, immunofixation or free light chain read) is a
    # required result missing; anything else a value the request does not take.
    if "_schema" in errors:
        return Hl7Error(text, segment="OBX", hl7_code=101, ack_code="AE")
    return Hl7Error(text, hl7_code=102, ack_code="AE")


# --------------------------------------------------------------------------------------------
# Batches (FHS/BHS ... BTS/FTS)
# --------------------------------------------------------------------------------------------

# A batch file holds many patients' messages; each message keeps the per-message bounds. This bounds
# the whole file's parse (hl7apy ~0.3 ms a segment) to a few seconds.
MAX_BATCH_SEGMENTS = 5000
MAX_BATCH_MESSAGES = 500


@dataclass
class BatchPart:
    """One BHS ... BTS batch (header and trailer absent when a file holds bare messages)."""

    header: Segment | None
    # Each message as sent: its bytes (a file sent as bytes: read in its own MSH-18 character set by
    # parse_oru), else its text.
    messages: list[str | bytes] = field(default_factory=list)
    trailer: Segment | None = None


@dataclass
class BatchFile:
    """An HL7 v2 batch file: FHS, one or more BHS ... BTS batches of MSH messages, FTS."""

    encoding: Encoding
    header: Segment | None
    batches: list[BatchPart]
    trailer: Segment | None = None


def is_batch(message: str | bytes) -> bool:
    """Whether a body is an HL7 batch file (starts with FHS or BHS)."""
    if isinstance(message, str):
        return message.lstrip("\ufeff\x0b\r\n \t").startswith(("FHS", "BHS"))
    # bytes: a UTF-8 byte-order mark, then blank lines or MLLP's start byte, however many
    head = message[3:] if message.startswith(b"\xef\xbb\xbf") else message
    return head.lstrip(b"\x0b\r\n \t").startswith((b"FHS", b"BHS"))


def split_batch(message: str | bytes) -> BatchFile:
    """Split a batch file into its messages (each still ER7, read later by parse_oru).

    A file sent as bytes is split on its bytes (read as Latin-1, which keeps every byte and the
    separators) and each message handed on as its bytes, read by parse_oru in the character set its
    own MSH-18 declares; the batch segments (FHS, BHS, BTS, FTS) are read as UTF-8, else Latin-1.
    Structure errors (a segment outside any message, a second FHS, no message at all, more than
    MAX_BATCH_MESSAGES) raise Hl7Error (AR); a BTS/FTS count that disagrees is said in the reply."""
    as_bytes = isinstance(message, bytes)
    if isinstance(message, bytes):
        body = message[len(_UTF8_BOM) :] if message.startswith(_UTF8_BOM) else message
        text = _normalize(body.decode("latin-1"), declared=False)
    else:
        text = _normalize(message, declared=False)

    def read(line: str) -> str:
        return _decode(line.encode("latin-1"), declared=False) if as_bytes else line

    enc = _declared_encoding(text)
    if enc is None:
        raise Hl7Error(
            "FHS/BHS-1 and -2: the field separator and the four encoding characters must be five distinct "
            "printable characters (standard: |^~\\&)",
            segment=text[:3],
            index=1,
            field=2,
            hl7_code=102,
            ack_code="AR",
        )
    lines = text.split("\r")
    if len(lines) > MAX_BATCH_SEGMENTS:
        raise MessageTooLarge(f"HL7 batch of {len(lines)} segments: at most {MAX_BATCH_SEGMENTS} per request")
    batch_file = BatchFile(enc, None, [])
    current: BatchPart | None = None
    lines_of: list[str] | None = None
    counts: dict[str, int] = {}

    def close_message() -> None:
        nonlocal lines_of
        if lines_of is not None and current is not None:
            joined = "\r".join(lines_of)
            current.messages.append(joined.encode("latin-1") if as_bytes else joined)
        lines_of = None

    for number, line in enumerate(lines, start=1):
        name = line.split(enc.field, 1)[0]
        counts[name] = counts.get(name, 0) + 1
        seg = Segment(read(line), enc, counts[name])
        if name == "FHS":
            if number != 1:
                raise Hl7Error(
                    "FHS must be the first segment of a batch file",
                    segment="FHS",
                    index=seg.index,
                    hl7_code=100,
                    ack_code="AR",
                )
            batch_file.header = seg
        elif name == "BHS":
            close_message()
            current = BatchPart(seg)
            batch_file.batches.append(current)
        elif name == "MSH":
            close_message()
            if current is None:
                current = BatchPart(None)
                batch_file.batches.append(current)
            lines_of = [line]
        elif name == "BTS":
            close_message()
            if current is None:
                raise Hl7Error(
                    "BTS without a batch", segment="BTS", index=seg.index, hl7_code=100, ack_code="AR"
                )
            current.trailer = seg
            current = None
        elif name == "FTS":
            close_message()
            batch_file.trailer = seg
            current = None
        elif lines_of is None:
            raise Hl7Error(
                f"segment {name[:3]} (line {number}) is outside any message: each message starts with MSH",
                segment=name[:3],
                hl7_code=100,
                ack_code="AR",
            )
        else:
            lines_of.append(line)
    close_message()
    total = sum(len(b.messages) for b in batch_file.batches)
    if total == 0:
        raise Hl7Error("the batch holds no message (MSH)", segment="BHS", hl7_code=100, ack_code="AR")
    if total > MAX_BATCH_MESSAGES:
        raise MessageTooLarge(f"HL7 batch of {total} messages: at most {MAX_BATCH_MESSAGES} per request")
    return batch_file


def batch_count_notes(batch_file: BatchFile) -> list[str]:
    """Disagreements between the trailers' counts (BTS-1, FTS-1) and what the file holds."""
    notes = []
    for number, part in enumerate(batch_file.batches, start=1):
        declared = part.trailer.text(1).strip() if part.trailer else ""
        if declared and declared != str(len(part.messages)):
            notes.append(
                f"batch {number}: BTS-1 declares {declared} messages, the batch holds {len(part.messages)}"
            )
    declared = batch_file.trailer.text(1).strip() if batch_file.trailer else ""
    if declared and declared != str(len(batch_file.batches)):
        notes.append(f"FTS-1 declares {declared} batches, the file holds {len(batch_file.batches)}")
    return notes


def _batch_header(
    name: str, original: Segment | None, enc: Encoding, comment: str, now: datetime | None
) -> str:
    raw = original.raw if original else (lambda n: "")
    fields = [
        name,
        enc.msh2,
        raw(5) or LOCAL_SYSTEM,  # sending: the original receiver
        raw(6),
        raw(3),
        raw(4),
        _timestamp(now),
        "",
        "",
        escape(comment, enc),
        _new_control_id(),
        raw(11),  # reference control ID: the original file's / batch's
    ]
    return enc.field.join(fields).rstrip(enc.field)


def build_batch_reply(
    batch_file: BatchFile,
    replies: list[list[str]],
    summaries: list[str],
    file_comment: str,
    *,
    now: datetime | None = None,
) -> str:
    """The batch acknowledgement: FHS/BHS echoing the sender's control IDs (FHS-12/BHS-12), in each
    batch the replies of its messages in order, BTS-1 their count and BTS-2 the batch's outcome, FTS."""
    enc = batch_file.encoding
    lines = [_batch_header("FHS", batch_file.header, enc, file_comment, now)]
    for part, part_replies, summary in zip(batch_file.batches, replies, summaries, strict=True):
        lines.append(_batch_header("BHS", part.header or batch_file.header, enc, summary, now))
        for reply in part_replies:
            lines.extend(line for line in reply.split("\r") if line)
        lines.append(enc.field.join(["BTS", str(len(part_replies)), escape(summary, enc)]))
    lines.append(enc.field.join(["FTS", str(len(batch_file.batches)), escape(file_comment, enc)]))
    return "\r".join(_hex_controls(line, enc) for line in lines) + "\r"
