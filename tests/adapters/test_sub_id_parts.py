"""OBX-4 sub-IDs tell apart the parts of one analyte: one band per clone of a biclonal immunofixation,
one clone per immunofixation result. A band beyond the clones named, or one clone under two sub-IDs,
is refused at its OBX, never summed or read once."""

from __future__ import annotations

from datetime import date

import pytest

from service.adapters.hl7v2 import Hl7Error, parse_oru

HL7 = "x-application/hl7-v2+er7"
TODAY = date(2024, 8, 1)
HEADER = r"MSH|^~\&|Cerner|MAIN|MGI|LAB|20240502103000||ORU^R01|R-BANDS-1|P|2.5.1"
PID = "PID|1||111^^^MRN||ONE^PAT||19600315|F"
OBR = "OBR|1|P1|F1|SPEP^SPEP^L|||20240501083000"
BICLONAL = "ST|25700-6^IFE^LN||IgG kappa~IgA lambda||||||F"


def message(*results: str) -> str:
    lines = [HEADER, PID, OBR, *(f"OBX|{n}|{r}" for n, r in enumerate(results, start=1))]
    return "\r".join(lines) + "\r"


def band(sub_id: str, value: str) -> str:
    return f"NM|33358-3^M-protein^LN|{sub_id}|{value}|g/dL|||||F"


def ife(sub_id: str, text: str) -> str:
    return f"ST|25700-6^IFE^LN|{sub_id}|{text}||||||F"


def refused(text: str, codemap) -> Hl7Error:
    with pytest.raises(Hl7Error) as err:
        parse_oru(text, codemap, today=TODAY)
    return err.value


class TestBands:
    def test_two_bands_of_two_clones_are_added(self, codemap):
        ctx = parse_oru(message(band("1", "1.2"), band("2", "0.4"), BICLONAL), codemap, today=TODAY)
        assert ctx.request["spep"]["m_protein"] == {"value": 1.6, "unit": "g/dL"}

    def test_two_bands_of_one_size_are_both_added(self, codemap):
        # They were read once before: sub-IDs 1 and 2 are two bands, whatever their values.
        ctx = parse_oru(message(band("1", "1.2"), band("2", "1.2"), BICLONAL), codemap, today=TODAY)
        assert ctx.request["spep"]["m_protein"] == {"value": 2.4, "unit": "g/dL"}

    def test_a_third_band_beside_two_clones_is_refused_at_its_obx(self, codemap):
        err = refused(message(band("1", "1.2"), band("2", "0.4"), band("3", "0.3"), BICLONAL), codemap)
        assert (err.segment, err.index, err.field) == ("OBX", 3, 5)
        assert "3 bands" in str(err) and "names 2 clones" in str(err)
        assert "repeated measurement" in str(err)

    def test_through_the_endpoint_a_third_band_is_an_ae_never_a_sum(self, client):
        text = message(band("1", "1.2"), band("2", "0.4"), band("3", "0.3"), BICLONAL)
        reply = client.post("/v1/hl7v2", data=text.encode(), content_type=HL7)
        body = reply.data.decode()
        assert reply.status_code == 422
        assert "MSA|AE|" in body and "ERR||OBX^3^5|102" in body

    def test_the_same_band_sent_twice_under_its_sub_id_is_read_once(self, codemap):
        ctx = parse_oru(
            message(band("1", "1.2"), band("2", "0.4"), band("1", "1.2"), BICLONAL), codemap, today=TODAY
        )
        assert ctx.request["spep"]["m_protein"] == {"value": 1.6, "unit": "g/dL"}


class TestClones:
    def test_one_clone_under_two_sub_ids_is_refused_at_the_second(self, codemap):
        err = refused(message(band("", "1.2"), ife("1", "IgG kappa"), ife("2", "IgG kappa")), codemap)
        assert (err.segment, err.index, err.field) == ("OBX", 3, 5)
        assert "serum_ife" in str(err) and "the same clone (IgG kappa) under two sub-IDs" in str(err)

    def test_two_bands_beside_one_clone_twice_are_refused_for_the_clone(self, codemap):
        # Not "no immunofixation naming two clones": the immunofixation named one clone twice.
        err = refused(
            message(band("1", "1.2"), band("2", "0.4"), ife("1", "IgG kappa"), ife("2", "IgG-κ")), codemap
        )
        assert (err.segment, err.index) == ("OBX", 4)
        assert "the same clone (IgG kappa)" in str(err)

    def test_a_free_light_chain_twice_is_named_as_such(self, codemap):
        err = refused(
            message(band("", "1.2"), ife("1", "free kappa"), ife("2", "kappa light chain only")), codemap
        )
        assert "the same clone (free kappa)" in str(err)

    def test_the_same_result_sent_twice_without_or_with_its_sub_id_is_read_once(self, codemap):
        for first, second in (("", ""), ("1", "1")):
            text = message(band("", "1.2"), ife(first, "IgG kappa"), ife(second, "IgG kappa"))
            ctx = parse_oru(text, codemap, today=TODAY)
            assert ctx.request["serum_ife"]["clones"] == [{"heavy_chain": "IgG", "light_chain": "kappa"}]

    def test_two_clones_under_two_sub_ids_are_a_biclonal_result(self, codemap):
        ctx = parse_oru(
            message(band("", "1.2"), ife("1", "IgG kappa"), ife("2", "IgA lambda")), codemap, today=TODAY
        )
        assert len(ctx.request["serum_ife"]["clones"]) == 2

    def test_negative_under_two_sub_ids_is_negative(self, codemap):
        ctx = parse_oru(
            message(band("", "0"), ife("1", "negative"), ife("2", "negative")), codemap, today=TODAY
        )
        assert ctx.request["serum_ife"]["result"] == "negative"
