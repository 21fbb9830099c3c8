"""Pure translation between LIS formats and the public JSON contract (api-contract.md).

Adapters translate INTO the JSON request body, so the HTTP layer validates it with the same request
schema and runs the same engine as a JSON call (identical interpretations), and OUT of the JSON
response into an HL7 v2 ORU^R01 reply or a FHIR R4 DiagnosticReport. No web framework here.

* ``codes``  -- code map (``codemap.yaml`` + $MGI_CODEMAP_FILE), value parsing, IFE forms
* ``hl7v2``  -- ER7 ORU^R01 in (hl7apy), ORU^R01 reply and ACK out
* ``fhir``   -- R4 Bundle in, DiagnosticReport / OperationOutcome out (fhir.resources R4B)
"""

from .codes import (
    IFE_FORMS_DOC,
    CodeMap,
    CodeMapError,
    ValueProblem,
    WrongCodeError,
    load_codemap,
)
from .fhir import (
    FhirError,
    FhirTranslation,
    bundle_to_request,
    interpretation_to_diagnostic_report,
    operation_outcome,
    translate_bundle,
)
from .hl7v2 import (
    Hl7Error,
    OruContext,
    build_ack,
    build_oru_response,
    describe_validation_errors,
    message_to_request,
    parse_oru,
)

__all__ = [
    "IFE_FORMS_DOC",
    "CodeMap",
    "CodeMapError",
    "FhirError",
    "FhirTranslation",
    "Hl7Error",
    "OruContext",
    "ValueProblem",
    "WrongCodeError",
    "build_ack",
    "build_oru_response",
    "bundle_to_request",
    "describe_validation_errors",
    "interpretation_to_diagnostic_report",
    "load_codemap",
    "message_to_request",
    "operation_outcome",
    "parse_oru",
    "translate_bundle",
]
