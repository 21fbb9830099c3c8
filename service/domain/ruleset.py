"""The ruleset: every clinical threshold the engine applies, as named, cited data a lab can review.

Each constant names its section of ../shared/clinical-reference.md. Nothing here is rounded or
invented; where the reference gives a number in two unit systems, the canonical one is stored and
the other is documented beside it. Bump RULESET_VERSION whenever a value or rule changes: every
response names the version it was produced with.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal as D
from enum import StrEnum
from typing import Any

RULESET_VERSION = "mgi-rules-2026.12.6"

# What changed in each ruleset version, for a laboratory (GET /v1/ruleset; docs/ruleset-changelog.md
# gives the same with the measured effect on a reference set of panels).
CHANGELOG: tuple[dict[str, Any], ...] = (
    {
        "version": "mgi-rules-2026.12.6",
        "previous": "mgi-rules-2026.12.5",
        "changes": [
            {
                "rules": ["mde.flc_ratio_ge_100"],
                "section": "§2.1 Li",
                "change": "The involved/uninvolved FLC ratio is the quotient of the two chains, divided"
                " exactly: it was the product of one chain and the rounded reciprocal of the other, "
                "which put a ratio of exactly 100 just below it whenever the reciprocal does not "
                "terminate (300/3, 220/2.2, 990/9.9 mg/L: 30 of the 91 pairs from 100/1 to 1000/10 with"
                " kappa involved), and the criterion was not met. A bound that certainly puts the ratio"
                " at 100 or above (lambda '< 3' beside kappa 300) now meets it too.",
                "affects": "Panels whose kappa/lambda ratio is exactly 100 (or 1/100) with the involved"
                " chain >= 100 mg/L: now a myeloma-defining event (myeloma with clonal BMPC >= 10 %, "
                "indeterminate below).",
            },
            {
                "rules": ["category.mgus_non_igm", "urine_m_protein_ge_500"],
                "section": "§2.3, §2.9",
                "change": "A non-IgM MGUS beside a 24-hour urine M-protein sent as a bound that leaves "
                "500 mg/24h open ('> 499', '<= 500') is provisional and asks for the measured value: a "
                "urinary M-protein of 500 mg/24h or more would make it smouldering myeloma. It was a "
                "final MGUS that named nothing missing (a light-chain MGUS already asked for it).",
                "affects": "Non-IgM MGUS panels with such a urine bound.",
            },
            {
                "rules": ["serial.evolving_m_protein"],
                "section": "§3.5",
                "change": "Serial memory takes as the baseline of 'the first 6 months' the patient's "
                "first stored day with a serum M-protein, when it is older than the 12-month window. It"
                " took the first stored day: when that day held no M-protein (an immunofixation, a "
                "blood count or an FLC screen stored on its own), the first M-protein of the window was"
                " read as the start of follow-up, and a rise of 10 % 14 months or more into it raised "
                "EVOLVING_M_PROTEIN, which the same panels sent as request history do not raise.",
                "affects": "Requests with patient_ref and no history whose patient's first stored day "
                "holds no M-protein.",
            },
            {
                "rules": [
                    "data.flow_cytometry",
                    "mde.bmpc_ge_60",
                    "bmpc_10_to_60",
                    "category.smoldering_myeloma",
                ],
                "section": "§2.1 S, §2.9",
                "change": "A flow-cytometry figure of 60 % or more above a marrow figure of 10 to 60 % "
                "leaves the >= 60 % criterion not assessable (flow under-estimates, so the marrow may "
                "hold a myeloma-defining 60 %): the answer is a provisional smouldering myeloma with "
                "the trephine (CD138) count asked for urgently. It was a final smouldering myeloma on "
                "the routine schedule, while the same flow figure above a marrow figure below 10 % was "
                "already referred (2026.12.5).",
                "affects": "Smouldering-myeloma panels with a flow figure >= 60 % above the marrow figure.",
            },
            {
                "rules": ["scleromyxedema.monoclonal_gammopathy", "mgcs.scleromyxedema"],
                "section": "§5, §2.6",
                "change": "Rongioletti criterion (2) is not assessable, not 'not met', beside an FLC "
                "ratio outside its interval without a raised involved chain (the FLC found something "
                "that §2.6 does not place as a clone), and SCLEROMYXEDEMA_NO_PARAPROTEIN says so. "
                "Scleromyxoedema without a paraprotein and without urine immunofixation is provisional "
                "when the category is indeterminate or no monoclonal protein: a positive urine "
                "immunofixation would place a clone. Beside an IgM clone, the marrow examination "
                "recommended with scleromyxoedema is no longer dropped when the marrow section holds "
                "only a plasma-cell figure: the IgM criteria read the lymphoplasmacytic infiltrate.",
                "affects": "Scleromyxoedema panels with such FLC, without urine immunofixation, or with"
                " an IgM clone and no infiltrate figure.",
            },
            {
                "rules": ["data.complete_screen", "mgcs.scleromyxedema"],
                "section": "§6, §2.9, §5",
                "change": "A serum M-protein sent as an upper bound above 0 ('< 16 g/L', the "
                "reference's own encoding of a monoclonal peak seen but not quantified) without serum "
                "immunofixation is a spike: the answer is indeterminate, asking for the immunofixation,"
                " and beside scleromyxoedema keeps the MGCS flag. It was 'No monoclonal protein "
                "detected ... no M-spike' with SCLEROMYXEDEMA_NO_PARAPROTEIN. With a negative "
                "immunofixation the bound is read as before.",
                "affects": "Panels with a bounded serum M-protein and no serum immunofixation.",
            },
            {
                "rules": ["mde.flc_ratio_ge_100"],
                "section": "§2.1 Li",
                "change": "An FLC ratio of 100 or more only on the chain opposite a heavy-chain clone's"
                " light chain (an IgG-kappa clone beside lambda 1000 / kappa 5 mg/L) is not assessable,"
                " not met: the involved chain is the clone's, and the other chain's excess is a "
                "possible second clone (or an error). Without another myeloma-defining event the answer"
                " is indeterminate, referred, with serum FLC and immunofixation to repeat. It was a "
                "final multiple myeloma (or an indeterminate MDE finding) resting on the discordant "
                "chain alone. With another myeloma-defining event the category is unchanged.",
                "affects": "Panels of a heavy-chain clone whose FLC ratio is >= 100 on the other light "
                "chain.",
            },
            {
                "rules": ["follow_up", "serial.evolving_m_protein", "serial.evolving_hemoglobin"],
                "section": "§3.2, §3.5",
                "change": "Beside an evolving pattern (§3.5), the low-risk MGUS schedule no longer says"
                " the marrow is not routinely indicated: the serial results are not stable, and "
                "haematology review decides the interval and the marrow; FOLLOW_UP.tests adds "
                "haemoglobin beside an evolving haemoglobin, and the comment carries the "
                "evolving-pattern review (it was in the recommendations only).",
                "affects": "Low-risk MGUS answers with EVOLVING_* or RISING_M_PROTEIN_SUCCESSIVE flags "
                "(wording, FOLLOW_UP.then and tests); comments of every answer with such a flag.",
            },
            {
                "rules": ["mgcs.scleromyxedema"],
                "section": "§5",
                "change": "Serial memory carries scleromyxoedema stated (confirmed or suspected) with "
                "the patient's latest stored panel that states it, with its Rongioletti findings, to a "
                "request that says nothing about it: the follow-up SPEP an LIS sends without clinical "
                "findings was answered MGUS of undetermined significance on the every-2-3-years "
                "schedule beside the stored diagnosis. A note names the record; any statement in the "
                "request, or a later stored absence, ends the carry; fever and neurological signs are "
                "never carried.",
                "affects": "Requests with patient_ref, without clinical scleromyxoedema findings, whose"
                " patient has a stored panel stating scleromyxoedema.",
            },
            {
                "rules": ["report", "mde.flc_ratio_ge_100", "risk.smm_mayo_2018", "risk.smm_imwg_2020"],
                "section": "§2.1 Li, §3.3, §3.4",
                "change": "What an open FLC criterion asks for: with one chain sent as a bound that "
                "leaves the ratio >= 100 open, only that chain (the exact chain was asked for again); "
                "with a chain sent as 0 mg/L, that chain as the assay's detection limit, with a note "
                "(both chains were asked for although sent).",
                "affects": "missing_data, COMPLETE_WORKUP and comments of panels with a bounded or zero"
                " free light chain.",
            },
            {
                "rules": ["risk.smm_mayo_2018", "risk.smm_imwg_2020"],
                "section": "§3.3, §3.4",
                "change": "With an FLC assay other than Freelite, the 20/2/20 and IMWG 2020 reasons say"
                " that the ratio is from that assay while the models' FLC cut-offs were derived on "
                "Freelite results; they were scored as if Freelite without a word. The scores are "
                "unchanged.",
                "affects": "Reasons of smouldering-myeloma risk models beside flc.assay n_latex, sebia "
                "or other.",
            },
            {
                "rules": [
                    "risk.smm_mayo_2018",
                    "risk.smm_imwg_2020",
                    "data.marrow_recommended",
                    "mgcs.scleromyxedema",
                    "report",
                ],
                "section": "§2.1, §2.9, §3.3, §3.4, §5",
                "change": "With changes 2, 3, 4 and 9: beside a flow figure of 60 % or more above the "
                "marrow figure the SMM models leave the marrow bands open (they were scored 'low' from "
                "the figure the answer says may be too low); a bounded spike without immunofixation "
                "that may be 15 g/L or more asks for the marrow, and one that may be 30 g/L or more is "
                "referred, as exact values are; the discordant-chain note no longer says the excess "
                "chain is taken as involved for the ratio >= 100; a Rongioletti finding stated in the "
                "request (an eruption now absent) no longer ends the carry of a stored diagnosis; and "
                "the comment quotes a kappa/lambda ratio with enough digits never to print a cut-off it"
                " is not (99.996 is not '100').",
                "affects": "The answers of changes 2, 3, 4 and 9; comments quoting a ratio just beside "
                "a cut-off.",
            },
            {
                "rules": ["data.flow_cytometry"],
                "section": "§2.9",
                "change": "A flow figure above a morphology figure below 10 % asks for the trephine "
                "(CD138) count and keeps the category provisional also when a clonal figure is sent "
                "beside the morphology one, as the published rule says; the clonal figure silenced it "
                "(flow 9 % above morphology 5 % and clonal 5 % was a final MGUS).",
                "affects": "Panels with morphology and clonal figures below 10 % and a flow figure "
                "above the morphology one.",
            },
        ],
    },
    {
        "version": "mgi-rules-2026.12.5",
        "previous": "mgi-rules-2026.12.4",
        "changes": [
            {
                "rules": [
                    "serial.evolving_m_protein",
                    "serial.rising_m_protein_successive",
                    "ivig.igg_values_unreliable",
                ],
                "section": "§3.5, §5",
                "change": "Beside an IgG clone and a stated last IVIg dose, the serial M-protein rules no "
                "longer read M-protein results dated up to 3 months after that dose (IgG-based values are "
                "unreliable while IVIg is given): a rise read from them raised EVOLVING_M_PROTEIN or "
                "RISING_M_PROTEIN_SUCCESSIVE from the values the same answer called unreliable. A note names "
                "the dates left out.",
                "affects": "Serial requests with clinical.ivig_last_dose_on beside an IgG clone.",
            },
            {
                "rules": ["data.flow_cytometry", "mde.bmpc_ge_60"],
                "section": "§2.1 S, §2.9",
                "change": "A flow-cytometry figure of 60 % or more above a morphology or clonal figure below "
                "10 % makes the answer indeterminate, referred, with the trephine (CD138) count asked for "
                "urgently and the >= 60 % criterion not assessable: flow under-estimates, so the marrow may "
                "hold a myeloma-defining 60 %. It was a provisional MGUS (or solitary plasmacytoma) on the "
                "routine follow-up. Below 60 % nothing changes.",
                "affects": "Panels with a flow figure >= 60 % above a marrow figure < 10 %.",
            },
            {
                "rules": ["mgcs.scleromyxedema"],
                "section": "§5",
                "change": "A lymphoplasmacytic-infiltrate figure is no marrow result for a non-IgM clone: "
                "the marrow examination recommended beside scleromyxoedema whatever the Mayo risk group "
                "is no longer dropped when the marrow section holds only that figure.",
                "affects": "Non-IgM MGCS panels whose marrow section holds only an infiltrate figure.",
            },
            {
                "rules": [
                    "serial.evolving_m_protein",
                    "serial.evolving_hemoglobin",
                    "serial.rising_m_protein_successive",
                ],
                "section": "§3.5, §2.9",
                "change": "A serial rule that results sent as bounds leave open (an earlier M-protein '< 16 "
                "g/L' before 20 g/L: a rise of 5 g/L or more is possible, not certain) is named in a note "
                "asking for the exact values; it was left unsaid, as if not met. A bound that settles the "
                "rule, either way, changes nothing.",
                "affects": "Notes and comments of serial requests with bounded M-protein or haemoglobin.",
            },
            {
                "rules": ["category.mgus_light_chain"],
                "section": "§2.6",
                "change": "A free light-chain clone found by immunofixation (serum or urine) beside an FLC "
                "ratio abnormal on the other chain's side (free lambda found, kappa in excess) is "
                "indeterminate (discordant, a possible second clone), with serum FLC and immunofixation "
                "to repeat: light-chain MGUS needs the clone's own chain raised. It was a light-chain MGUS "
                "named after the lambda clone on the kappa excess.",
                "affects": "Light-chain panels whose immunofixation clone and FLC excess are of different "
                "chains.",
            },
            {
                "rules": ["flc.reference_intervals"],
                "section": "§4, §2.1 R",
                "change": "A creatinine sent without eGFR, clearance or estimate (age or sex not given) "
                "decides the Freelite interval when the CKD-EPI 2021 equation is below 60 at every adult age "
                "and sex the request leaves open (renal-impairment interval) or 60 or more at every one "
                "(normal interval); with the age given and only the sex open it is otherwise undecided (both "
                "intervals). A 70-year-old of unknown sex with 1.29 mg/dL (44.6 or 59.6) was judged on the "
                "normal interval. Reported end-stage renal disease still decides on its own.",
                "affects": "FLC ratios with a creatinine but no eGFR, clearance or estimate.",
            },
            {
                "rules": ["category.smoldering_myeloma", "category.mgus_non_igm"],
                "section": "§2.3, §2.4",
                "change": "A urine clone whose light chain no serum clone carries (free lambda in urine "
                "beside serum IgG kappa) is named in the isotype ('IgG kappa + free lambda (urine)') and in "
                "the reasons as a second clone; it was dropped without a word, even when the urine "
                "M-protein placed the category.",
                "affects": "Isotype and reasons of panels with such a urine clone.",
            },
            {
                "rules": [
                    "risk.mgus_mayo_2005",
                    "risk.smm_mayo_2018",
                    "risk.smm_imwg_2020",
                    "mde.flc_ratio_ge_100",
                ],
                "section": "§3, §4",
                "change": "Wording: a risk factor left open by a free light chain sent as a bound asks only "
                "for that chain (it asked for both, the exact one included); an FLC assay given as 'other' "
                "is named 'an assay other than Freelite' (was 'the Another assay').",
                "affects": "risk reasons and needed fields, flag and criterion wording.",
            },
            {
                "rules": ["mgcs.scleromyxedema"],
                "section": "§5",
                "change": "Beside thyroid disease (Rongioletti criterion 4 not met) a scleromyxoedema "
                "reported confirmed is worded 'confirmed as reported; thyroid disease to exclude first' in "
                "the MGCS flag, never 'confirmed' beside THYROID_DISEASE_EXCLUSION.",
                "affects": "MGCS flag wording with thyroid disease or a TSH outside its range.",
            },
            {
                "rules": ["follow_up"],
                "section": "§2.7, §3.2",
                "change": "A clone seen in the urine (a urine M-protein above 0 that urine immunofixation "
                "does not contradict, or a positive urine immunofixation) adds the 24-hour urine "
                "(urine_m_protein) to FOLLOW_UP.tests; light-chain smouldering myeloma defined by the urine "
                "was followed without it.",
                "affects": "FOLLOW_UP.tests of panels with a urine clone.",
            },
            {
                "rules": ["serial.evolving_m_protein"],
                "section": "§3.5",
                "change": "Serial memory adds the patient's first stored day, when it is older than the "
                "12-month window, as the baseline from which the >= 10 % rise counts 'the first 6 months': "
                "the first panel of the window was taken for the baseline, and a rise 14 months into "
                "follow-up raised EVOLVING_M_PROTEIN ('within the first 6 months') that the same panels "
                "sent as request history do not.",
                "affects": "Serial-memory answers of patients with stored panels older than 12 months.",
            },
            {
                "rules": ["category.mgus_igm_and_waldenstrom_range"],
                "section": "§2.5, §2.7",
                "change": "An IgM clone beside a free light chain clone that urine immunofixation alone "
                "finds (of a chain no serum clone carries), with a urine M-protein of 500 mg/24h or more, "
                "is indeterminate and referred (the light-chain clone is in the light-chain smouldering "
                "range), as it was when serum immunofixation found the free chain; it was IgM MGUS.",
                "affects": "IgM panels with such a urine clone.",
            },
        ],
    },
    {
        "version": "mgi-rules-2026.12.4",
        "previous": "mgi-rules-2026.12.3",
        "changes": [
            {
                "rules": ["mde.flc_ratio_ge_100", "category.mgus_non_igm", "category.mgus_light_chain"],
                "section": "§2.1 Li, §2.9",
                "change": "Free light chains sent with a chain reported as a bound (lambda '< 20 mg/L' "
                "beside kappa 1000 mg/L) that leaves the SLiM ratio >= 100 open keep non-IgM and "
                "light-chain MGUS provisional, asking for the exact chain: met, it would be a "
                "myeloma-defining event. Such an MGUS was final, on the routine follow-up.",
                "affects": "MGUS with a free light chain reported as a bound that does not settle the "
                "involved/uninvolved ratio >= 100.",
            },
            {
                "rules": ["mde.renal_insufficiency.clearance", "flc.reference_intervals"],
                "section": "§2.1 R, §4",
                "change": "Under 18 a creatinine settles no clearance rule: the CKD-EPI 2021 equation is an "
                "adults' one, so the renal criterion is not assessable and labs.egfr is asked for (it was "
                "settled as not met when the equation stayed >= 40 at every adult age).",
                "affects": "Patients under 18 with a creatinine and no clearance or eGFR.",
            },
            {
                "rules": ["mde.anemia.below_lln", "mde.hypercalcemia.above_uln"],
                "section": "§1.1, §2.1",
                "change": "A haemoglobin or calcium sent as a bound beside the laboratory's limit, leaving "
                "the relative rule open, asks for the exact value (labs.hemoglobin, labs.calcium) instead of "
                "the reference range already sent.",
                "affects": "missing_data of panels with such a bound.",
            },
            {
                "rules": ["category.mgus_igm_and_waldenstrom_range", "category.smoldering_myeloma"],
                "section": "§2.3, §2.5, §3.2",
                "change": "A biclonal IgM + non-IgM spike of 30 g/L or more that cannot be attributed to one "
                "clone (indeterminate) is referred to haematology, and the marrow and the open "
                "myeloma-defining events are asked for: every placing it allows needs haematology. It "
                "asked only for the spike to be quantified per clone.",
                "affects": "Indeterminate biclonal IgM + non-IgM panels with a total spike >= 30 g/L.",
            },
            {
                "rules": ["category.solitary_plasmacytoma", "data.flow_cytometry"],
                "section": "§2.8, §2.9",
                "change": "A biopsy-proven plasmacytoma with a flow-cytometry figure of 10 % or more and no "
                "morphology or clonal figure is indeterminate ('myeloma likely'), referred, with the marrow "
                "asked for: flow under-estimates, and a solitary plasmacytoma needs clonal BMPC < 10 %. It "
                "was a provisional solitary plasmacytoma.",
                "affects": "Plasmacytoma panels with only a flow figure >= 10 %.",
            },
            {
                "rules": ["mgcs.scleromyxedema"],
                "section": "§5",
                "change": "The risk models that do not apply name an MGCS answer's category as the answer "
                "does, never 'of undetermined significance'.",
                "affects": "Risk reasons of MGCS answers.",
            },
            {
                "rules": ["serial.evolving_m_protein", "serial.evolving_hemoglobin"],
                "section": "§3.5",
                "change": "Results in the request's history that no serial rule reads (anything but the "
                "serum M-protein and the haemoglobin), and history entries with no result, are named in a "
                "note.",
                "affects": "Notes and comments of requests whose history carries such results.",
            },
            {
                "rules": ["mde.renal_insufficiency.clearance", "flc.reference_intervals"],
                "section": "§1, §2.1 R, §4",
                "change": "These shown figures never read as a cut-off they are on the other side of: "
                "the derived eGFR (one decimal), the comment's decisive findings and its FLC ratio take more "
                "digits "
                "there (an eGFR of 39.9988 is shown 39.999, not 40.0 beside '< 40'). Nothing compared is "
                "rounded, as before.",
                "affects": "derived.egfr.value and comments of values within rounding of a cut-off; the "
                "derived eGFR note says so.",
            },
        ],
    },
    {
        "version": "mgi-rules-2026.12.3",
        "previous": "mgi-rules-2026.12.2",
        "changes": [
            {
                "rules": ["flc.reference_intervals", "data.complete_screen"],
                "section": "§4, §2.9",
                "change": "A negative work-up whose Freelite ratio the standard interval calls normal and "
                "the renal-impairment interval abnormal (below 0.37), with no eGFR or clearance sent, is "
                "'no monoclonal protein' only provisionally: labs.egfr is asked for, as light-chain MGUS "
                "already did on the kappa side.",
                "affects": "Negative screens with a Freelite ratio of 0.26-0.37 and no renal data.",
            },
            {
                "rules": ["flc.reference_intervals"],
                "section": "§4",
                "change": "Reported end-stage renal disease (clinical.end_stage_renal_disease) is renal "
                "impairment: it selects the Freelite renal-impairment interval, with a note. Beside an "
                "eGFR or clearance of 60 or more the two disagree: the ratio is judged against both "
                "Freelite intervals and is undetermined where they differ. Renal insufficiency (§2.1 R) "
                "still needs a clearance, eGFR or creatinine.",
                "affects": "Freelite panels that report end-stage renal disease.",
            },
            {
                "rules": ["mgcs.scleromyxedema"],
                "section": "§5",
                "change": "Scleromyxoedema reported absent beside the papular and sclerodermoid eruption "
                "is a contradiction said in a note; with the histology also reported typical it is read "
                "as suspected, so the MGCS referral and the dermato-neuro emergency are not lost to it; "
                "with thyroid disease reported (Rongioletti 4 not met) the stated absence stands.",
                "affects": "Requests that report scleromyxoedema absent together with Rongioletti "
                "criteria (1) and (3).",
            },
            {
                "rules": ["mde.renal_insufficiency"],
                "section": "§2.1 R",
                "change": "An eGFR sent beside a measured clearance that would decide clearance < 40 the "
                "other way is named in the clearance criterion's note (the measured clearance still "
                "decides).",
                "affects": "Criterion notes of panels that send both a clearance and an eGFR.",
            },
            {
                "rules": ["data.marrow_figures"],
                "section": "§2.9",
                "change": "Total plasma cells by morphology that reach 10 % or 60 % beside a clonal figure "
                "below it are named in a note (the clonal figure still decides).",
                "affects": "Notes of panels that send both marrow figures on either side of 10 % or 60 %.",
            },
        ],
    },
    {
        "version": "mgi-rules-2026.12.2",
        "previous": "mgi-rules-2026.12.1",
        "changes": [
            {
                "rules": ["mde.renal_insufficiency", "flc.reference_intervals"],
                "section": "§2.1 R, §2.9, §4",
                "change": "A creatinine that does not meet its own rule, with no clearance, eGFR or "
                "CKD-EPI estimate (sex not female or male, age not given or < 18), settles renal "
                "insufficiency as not met only when the equation stays >= 40 for every adult age the "
                "request accepts and either sex; otherwise the criterion is not assessable, the category "
                "provisional and an eGFR asked for. An eGFR or clearance bound that does not decide < 60 "
                "(or such a creatinine) leaves the Freelite ratio interval, and the ratio's verdict, "
                "undetermined unless both intervals agree.",
                "affects": "Panels with creatinine but no clearance, eGFR or estimate; panels with an eGFR "
                "or clearance sent as a bound and a Freelite ratio between the two intervals.",
            },
            {
                "rules": ["ivig.igg_values_unreliable", "risk.mgus_mayo_2005"],
                "section": "§5",
                "change": "Within 3 calendar months of the last IVIg dose an IgG clone's M-protein decides "
                "no M-protein criterion (>= 30 g/L, < 30 g/L) and no M-protein risk factor (§3.1, §3.3, "
                "§3.4): not assessable, category provisional, risk groups open.",
                "affects": "Only requests that send clinical.ivig_last_dose_on beside an IgG clone.",
            },
            {
                "rules": ["data.flow_cytometry"],
                "section": "§2.9",
                "change": "A flow-cytometry figure >= 10 % above a clonal figure below 10 % asks for the "
                "trephine (CD138) count and keeps the category provisional; the trephine request asks for "
                "the clonal figure, not the morphology figure already sent.",
                "affects": "Panels with a flow figure and a clonal figure.",
            },
            {
                "rules": ["data.complete_screen"],
                "section": "§2.9, §2.2-§2.4",
                "change": "Clonal marrow plasma cells (> 0 %) with no monoclonal protein found are no longer "
                "answered 'no monoclonal protein detected': the reference places no category on such a "
                "clone below 10 %, so the answer is INDETERMINATE (provisional, naming the FLC data, when "
                "the FLC ratio is not assessable).",
                "affects": "Negative screens that send a clonal plasma-cell percentage above 0.",
            },
            {
                "rules": ["risk.mgus_mayo_2005"],
                "section": "§3.1, §4",
                "change": "With an assay other than Freelite the Mayo FLC factor is present or absent only "
                "when the assay's interval gives the same verdict as the model's 0.26-1.65; otherwise it is "
                "unknown and a Freelite measurement is asked for.",
                "affects": "MGUS panels with flc.assay n_latex, sebia or other.",
            },
            {
                "rules": ["report"],
                "section": "§2.9, §1.1",
                "change": "The provisional reason and missing_data name the criteria actually open; risk "
                "reasons and the work-up request use words, never codes or field paths; the eGFR note "
                "mentions other causes of an eGFR below 40 only beside an estimate that could be below 40; "
                "dates before 1900-01-01 and history results dated before the patient's birth are refused.",
                "affects": "Comments and recommendations of most answers (wording); requests with such "
                "dates.",
            },
        ],
    },
    {
        "version": "mgi-rules-2026.12.1",
        "previous": "mgi-rules-2026.11.3",
        "changes": [
            {
                "rules": ["mde.hypercalcemia", "mde.anemia"],
                "section": "§1.1",
                "change": "A calcium or haemoglobin sent without the laboratory's limit no longer settles "
                "the relative rule as not met: it is not met only when no plausible limit could meet it "
                "(calcium <= 2.70 mmol/L; haemoglobin >= 105 g/L in a woman, >= 120 g/L otherwise); "
                "otherwise it is not assessable, the category is provisional and the reference range is "
                "asked for.",
                "affects": "Panels with calcium above 2.70 mmol/L (10.82 mg/dL) or haemoglobin below 120 "
                "g/L (105 g/L in a woman) sent without a reference range.",
            },
            {
                "rules": ["mde.renal_insufficiency", "flc.reference_intervals"],
                "section": "§2.1 R, §4",
                "change": "With neither clearance nor eGFR sent, the race-free CKD-EPI 2021 eGFR is "
                "estimated from creatinine, age (>= 18) and sex (female or male), used for the renal rule "
                "(< 40) and the renal FLC interval (< 60), and reported under derived with its caveats.",
                "affects": "Panels with creatinine, age and sex but no clearance or eGFR: renal "
                "insufficiency can now be met below 177 umol/L, and the renal FLC interval applied.",
            },
            {
                "rules": ["mde.flc_ratio_ge_100"],
                "section": "§2.1 Li",
                "change": "With an assay other than Freelite the FLC biomarker is not assessable; a ratio "
                "that would meet it is escalated (urgent flag FLC_SLIM_RANGE_NON_FREELITE) and holds the "
                "category open.",
                "affects": "Panels with flc.assay n_latex, sebia or other: such a ratio no longer makes "
                "multiple myeloma.",
            },
            {
                "rules": ["category.multiple_myeloma", "category.solitary_plasmacytoma"],
                "section": "§2.8",
                "change": "A biopsy-proven plasmacytoma with clonal BMPC >= 10 % is multiple myeloma (was "
                "smouldering myeloma); with total plasma cells by morphology only, INDETERMINATE "
                "(myeloma likely; confirm clonality) and referred.",
                "affects": "Panels with a plasmacytoma and marrow plasma cells >= 10 % and no MDE.",
            },
            {
                "rules": ["data.complete_screen", "data.flow_cytometry", "data.marrow_recommended"],
                "section": "§2.9, §5",
                "change": "No monoclonal protein without serum immunofixation or FLC is provisional and says "
                "which test is missing; renal insufficiency or anaemia without a clone asks for FLC and "
                "immunofixation urgently; flow cytometry >= 10 % rules out a final MGUS; an M-spike >= 15 "
                "g/L without immunofixation and a monoclonal gammopathy with scleromyxoedema ask for the "
                "marrow.",
                "affects": "Negative screens, panels with flow-cytometry figures, spikes without "
                "immunofixation and scleromyxoedema without a marrow result.",
            },
            {
                "rules": ["ivig.igg_values_unreliable"],
                "section": "§5",
                "change": "New input clinical.ivig_last_dose_on: within 3 calendar months IgG-based values "
                "are reported as unreliable (flag IVIG_IGG_UNRELIABLE).",
                "affects": "Only requests that send the date.",
            },
            {
                "rules": ["report"],
                "section": "§2.9",
                "change": "The MYELOMA_DEFINING_EVENT flag and myeloma_defining_events always agree (beside "
                "an IgM clone the events are now listed too); a not-assessable event is never summarised "
                "as absent; labels and comments use words, never field names.",
                "affects": "Comments of most answers (wording); IgM panels with CRAB or SLiM findings.",
            },
        ],
    },
)

IMWG_2014 = "IMWG 2014 (Rajkumar et al., Lancet Oncol 2014;15:e538-48)"
KYLE_WM_2012 = "Kyle et al., Blood 2012; WHO 2016"
MAYO_MGUS_2005 = "Mayo MGUS risk (Rajkumar et al., Blood 2005;106:812-7)"
IMWG_FOLLOW_UP_2010 = "IMWG follow-up (Kyle et al., Leukemia 2010;24:1121-7)"
MAYO_SMM_2018 = "Mayo 2018 '20/2/20' (Lakshman et al., Blood Cancer J 2018;8:59)"
IMWG_SMM_2020 = "IMWG 2020 SMM risk score (Mateos et al., Blood Cancer J 2020;10:102)"
RAVI_2016 = "Evolving pattern (Mayo; Ravi et al., Blood Cancer J 2016)"
RAJKUMAR_2015 = "High-risk SMM marker (Rajkumar, Landgren, Mateos, Blood 2015)"
LC_SMM_WORKING = "Working definition, not IMWG 2014"
FERMAND_2018 = "MGCS (Fermand et al., Blood 2018)"
RONGIOLETTI = "Scleromyxoedema diagnostic criteria (Rongioletti)"
DISPENZIERI_2009 = "IMWG serum FLC guidelines (Dispenzieri et al., Leukemia 2009;23:215-24)"
EDF_S1 = "EDF S1 guideline (Knobler et al., JEADV 2017; Guarneri et al., JEADV 2017)"


def src(citation: str, section: str) -> str:
    """The source string a criterion carries: citation plus reference section."""
    return f"{citation}; clinical-reference {section}"


# --- §1.1 Plausibility windows (data-entry checks, not clinical thresholds) ----------------------
@dataclass(frozen=True, slots=True)
class Window:
    """A closed plausible window low ≤ x ≤ high, in the analyte's canonical unit (§1)."""

    low: D
    high: D

    def holds(self, x: D) -> bool:
        return self.low <= x <= self.high


@dataclass(frozen=True, slots=True)
class Plausibility:
    """§1.1: the plausible value, and the plausible lab reference limits, of one analyte."""

    value: Window
    lower_limit: Window | None = None
    upper_limit: Window | None = None
    # Haemoglobin's lower limit has sex-specific windows; ``lower_limit`` is the wider one.
    lower_limit_female: Window | None = None
    lower_limit_male: Window | None = None


# ref: §1.1 — keyed by quantity.Analyte values, canonical units (g/L, mg/24h, mg/L, mmol/L, umol/L,
# g/L, mL/min, mL/min/1.73m2, %, mIU/L). Creatinine clearance and eGFR share one window.
PLAUSIBILITY: dict[str, Plausibility] = {
    "serum_m_protein": Plausibility(Window(D(0), D(150))),
    "urine_m_protein": Plausibility(Window(D(0), D(50000))),
    "free_light_chain": Plausibility(Window(D(0), D(100000)), Window(D("0.5"), D(15)), Window(D(10), D(150))),
    "calcium": Plausibility(
        Window(D("1.0"), D("6.0")), Window(D("1.8"), D("2.4")), Window(D("2.45"), D("2.80"))
    ),
    "creatinine": Plausibility(Window(D(10), D(4000)), Window(D(20), D(90)), Window(D(60), D(150))),
    "hemoglobin": Plausibility(
        Window(D(20), D(250)),
        Window(D(100), D(140)),
        Window(D(140), D(200)),
        lower_limit_female=Window(D(100), D(125)),
        lower_limit_male=Window(D(115), D(140)),
    ),
    "creatinine_clearance": Plausibility(Window(D(0), D(250))),
    "egfr": Plausibility(Window(D(0), D(250))),
    "tsh": Plausibility(Window(D(0), D(500)), Window(D("0.1"), D("1.0")), Window(D("2.5"), D(10))),
    "percent": Plausibility(Window(D(0), D(100))),
}


# --- §2.1 Myeloma-defining events -------------------------------------------------------------
# ref: §2.1 C — > 0.25 mmol/L (> 1 mg/dL) above the ULN, or > 2.75 mmol/L (> 11 mg/dL).
CALCIUM_ABOVE_ULN_MMOL_L = D("0.25")
CALCIUM_ABSOLUTE_MMOL_L = D("2.75")
# ref: §2.1 C — the published equivalents in mg/dL (shown beside the canonical cut-offs, never compared).
CALCIUM_ABOVE_ULN_MG_DL = D(1)
CALCIUM_ABSOLUTE_MG_DL = D(11)
# ref: §2.1 R — creatinine clearance < 40 mL/min, or serum creatinine > 177 µmol/L (> 2 mg/dL).
CREATININE_CLEARANCE_ML_MIN = D(40)
CREATININE_UMOL_L = D(177)
# ref: §2.1 R — the published equivalent in mg/dL (shown, never compared).
CREATININE_MG_DL = D(2)
# ref: §2.1 R — race-free CKD-EPI 2021 (Inker et al., N Engl J Med 2021;385:1737-49), Scr in mg/dL:
# eGFR = 142 × min(Scr/κ, 1)^α × max(Scr/κ, 1)^-1.200 × 0.9938^age × 1.012 (if female); used when
# neither clearance nor eGFR is sent but creatinine, age (≥ 18 years) and sex (female or male) are.
CKD_EPI_2021 = "CKD-EPI 2021 (Inker et al., N Engl J Med 2021;385:1737-49)"
CKD_EPI_CONSTANT = D(142)
CKD_EPI_HIGH_EXPONENT = D("-1.200")
CKD_EPI_AGE_BASE = D("0.9938")
CKD_EPI_FEMALE_FACTOR = D("1.012")
CKD_EPI_KAPPA = {"female": D("0.7"), "male": D("0.9")}
CKD_EPI_ALPHA = {"female": D("-0.241"), "male": D("-0.302")}
CKD_EPI_MIN_AGE_YEARS = D(18)
# The oldest age the request accepts (patient.age_years 0-150): a data-entry window, not a clinical
# number. When the estimate cannot be made (age or sex not given, or age < 18), a creatinine settles the
# clearance rule only if the equation stays >= 40 for every adult age up to this one and either sex (§2.1).
ADULT_AGE_MAX_YEARS = D(150)
# ref: §1 — creatinine mg/dL × 88.4 = µmol/L (the equation takes mg/dL).
CREATININE_UMOL_PER_MG_DL = D("88.4")
# ref: §2.1 A — haemoglobin > 20 g/L below the LLN, or < 100 g/L.
HEMOGLOBIN_BELOW_LLN_G_L = D(20)
HEMOGLOBIN_ABSOLUTE_G_L = D(100)
# ref: §1 — g/dL × 10 = g/L: the equivalent in g/dL shown beside the cut-off (never compared).
G_L_PER_G_DL = D(10)
HEMOGLOBIN_ABSOLUTE_G_DL = HEMOGLOBIN_ABSOLUTE_G_L / G_L_PER_G_DL
# ref: §2.1 B — ≥ 1 osteolytic lesion on skeletal radiography, CT or PET-CT.
OSTEOLYTIC_LESIONS_MIN = 1
# ref: §2.1 S — clonal BMPC ≥ 60 %.
BMPC_SLIM_PERCENT = D(60)
# ref: §2.1 Li — involved/uninvolved FLC ratio ≥ 100 with involved FLC ≥ 100 mg/L (Freelite).
FLC_SLIM_RATIO = D(100)
FLC_SLIM_INVOLVED_MG_L = D(100)
# ref: §2.1 M — > 1 focal lesion (each ≥ 5 mm) on MRI, i.e. at least two.
MRI_FOCAL_LESIONS_MORE_THAN = 1
# ref: §2.1 M — each focal lesion ≥ 5 mm.
MRI_FOCAL_LESION_MIN_MM = 5

# --- §2.2–§2.8 Categories ---------------------------------------------------------------------
# ref: §2.2 — clonal BMPC ≥ 10 % (with ≥ 1 MDE) for myeloma; §2.3 BMPC 10–60 % for SMM;
# §2.4/§2.6 BMPC < 10 % for MGUS; §2.8 < 10 % for plasmacytoma with minimal marrow involvement.
BMPC_MYELOMA_PERCENT = D(10)
# ref: §2.3/§2.4/§2.5 — serum M-protein 30 g/L (3 g/dL) separates MGUS from SMM / Waldenström range.
SERUM_M_PROTEIN_G_L = D(30)
# ref: §1 — the equivalent in g/dL (g/dL × 10 = g/L), shown beside the cut-off (never compared).
SERUM_M_PROTEIN_G_DL = SERUM_M_PROTEIN_G_L / G_L_PER_G_DL
# ref: §2.3/§2.6/§2.7 — urinary M-protein 500 mg/24h.
URINE_M_PROTEIN_MG_24H = D(500)
# ref: §2.5 — marrow lymphoplasmacytic infiltration 10 %.
LPL_INFILTRATE_PERCENT = D(10)

# --- §3 Risk ----------------------------------------------------------------------------------
# ref: §3.1 — Mayo MGUS risk factors.
MAYO_MGUS_M_PROTEIN_G_L = D(15)
MAYO_MGUS_FLC_RATIO_LOW = D("0.26")
MAYO_MGUS_FLC_RATIO_HIGH = D("1.65")
# ref: §3.1 — factors present → (group, 20-year progression %, with death as competing risk %).
MAYO_MGUS_GROUPS: tuple[tuple[str, int, int], ...] = (
    ("low", 5, 2),
    ("low_intermediate", 21, 10),
    ("high_intermediate", 37, 18),
    ("high", 58, 27),
)
# ref: §3.3 — 20/2/20: BMPC > 20 %, M-protein > 20 g/L, involved/uninvolved FLC ratio > 20.
SMM_2018_BMPC_PERCENT = D(20)
SMM_2018_M_PROTEIN_G_L = D(20)
SMM_2018_FLC_RATIO = D(20)
# ref: §3.3 — factors → (group, median TTP months, 2-year progression % in the IMWG validation).
SMM_2018_GROUPS: tuple[tuple[str, int, int], ...] = (
    ("low", 110, 6),
    ("intermediate", 68, 18),
    ("high", 29, 44),
)


@dataclass(frozen=True, slots=True)
class Band:
    """A scoring band: lo < x ≤ hi (lo_closed makes it lo ≤ x), worth ``points``."""

    lo: D
    hi: D
    points: int
    lo_closed: bool = False


_INF = D("Infinity")
# ref: §3.4 — IMWG 2020 bands (canonical units: M-protein in g/L, 1.5 g/dL = 15 g/L, 3 g/dL = 30 g/L;
# "exactly 3.0 scores 3", so every band is closed at its top).
SMM_2020_FLC_BANDS = (
    Band(D(0), D(10), 0, True),
    Band(D(10), D(25), 2),
    Band(D(25), D(40), 3),
    Band(D(40), _INF, 5),
)
SMM_2020_M_PROTEIN_BANDS = (
    Band(D(0), D(15), 0, True),
    Band(D(15), D(30), 3),
    Band(D(30), _INF, 4),
)
SMM_2020_BMPC_BANDS = (
    Band(D(0), D(15), 0, True),
    Band(D(15), D(20), 2),
    Band(D(20), D(30), 3),
    Band(D(30), D(40), 5),
    Band(D(40), _INF, 6),
)
SMM_2020_FISH_POINTS = 2
# ref: §3.4 — total → (group, lowest total, 2-year progression %); "> 12" is high.
SMM_2020_GROUPS: tuple[tuple[str, int, str], ...] = (
    ("low", 0, "3.8"),
    ("low_intermediate", 5, "26"),
    ("intermediate", 9, "51"),
    ("high", 13, "73"),
)

# ref: §3.5 — evolving M-protein: ≥ 10 % rise within the first 6 months (only if M-protein ≥ 30 g/L)
# and/or ≥ 25 % rise within 12 months, with a minimum absolute rise of 5 g/L.
EVOLVING_EARLY_RISE_FRACTION = D("0.10")
EVOLVING_EARLY_MONTHS = 6
EVOLVING_EARLY_MIN_M_PROTEIN_G_L = D(30)
EVOLVING_RISE_FRACTION = D("0.25")
EVOLVING_MONTHS = 12
EVOLVING_MIN_ABSOLUTE_RISE_G_L = D(5)
# ref: §3.5 — evolving haemoglobin: fall ≥ 5 g/L within 12 months.
EVOLVING_HB_FALL_G_L = D(5)
EVOLVING_HB_MONTHS = 12
# ref: §3.5 — M-protein rise ≥ 25 % on two successive evaluations within 6 months.
SUCCESSIVE_RISE_FRACTION = D("0.25")
SUCCESSIVE_RISE_MONTHS = 6


# --- §4 Free light chain reference intervals ----------------------------------------------------
class FlcAssay(StrEnum):
    """FLC assay families with published intervals (§4)."""

    FREELITE = "freelite"
    N_LATEX = "n_latex"
    SEBIA = "sebia"
    OTHER = "other"


@dataclass(frozen=True, slots=True)
class FlcInterval:
    """A κ/λ ratio interval (and κ, λ intervals where published), with its basis."""

    ratio_low: D
    ratio_high: D
    basis: str
    kappa: tuple[D, D] | None = None
    lambda_: tuple[D, D] | None = None


# ref: §4 — intervals are configuration data: a lab may send its own ratio interval with the
# request (flc.ratio_reference_range) and its own κ/λ ranges on each quantity.
FLC_INTERVALS: dict[str, FlcInterval] = {
    "freelite": FlcInterval(
        D("0.26"),
        D("1.65"),
        "Freelite, normal renal function (Katzmann 2002)",
        (D("3.3"), D("19.4")),
        (D("5.7"), D("26.3")),
    ),
    "freelite_renal": FlcInterval(
        D("0.37"),
        D("3.10"),
        "Freelite, renal impairment (Hutchison 2008): eGFR or CrCl < 60",
        (D("3.3"), D("19.4")),
        (D("5.7"), D("26.3")),
    ),
    "n_latex": FlcInterval(
        D("0.31"),
        D("1.56"),
        "Siemens N Latex FLC",
        (D("6.7"), D("22.4")),
        (D("8.3"), D("27.0")),
    ),
    "sebia": FlcInterval(
        D("0.37"),
        D("1.44"),
        "Sebia FLC",
        (D("5.2"), D("15.3")),
        (D("8.2"), D("18.1")),
    ),
    "sebia_end_stage_renal": FlcInterval(
        D("0.46"),
        D("2.23"),
        "Sebia FLC, end-stage renal disease",
        (D("5.2"), D("15.3")),
        (D("8.2"), D("18.1")),
    ),
}
# ref: §4 — the Freelite renal interval is the default "when eGFR < 60 or CrCl < 60".
FLC_RENAL_CUTOFF = D(60)

# --- §5 MGCS and scleromyxoedema -----------------------------------------------------------------
# ref: §5 — IgG-based values are unreliable while IVIg is given "and for about 3 months after the last
# dose". The reference gives no day count: read as 3 calendar months, i.e. a panel collected on or before
# the same day of the month 3 months after the last dose (the end of a shorter month when that day does
# not exist) is inside the window. No tolerance is added to "about".
IVIG_WINDOW_MONTHS = 3
IVIG_CONTEXT = (
    "Treatment context (for the referral, not a prescription): first line high-dose IVIg "
    "2 g/kg per cycle every 4-6 weeks, divided over 2-5 days, usually indefinitely (EDF S1 "
    "guideline, Knobler et al., JEADV 2017; Guarneri et al., JEADV 2017); second line systemic "
    "corticosteroids with thalidomide or lenalidomide; refractory: bortezomib-dexamethasone, "
    "autologous stem-cell transplant. Melphalan is avoided (secondary malignancy)."
)


def describe() -> dict[str, Any]:
    """The ruleset in force as plain data (GET /v1/ruleset), generated from the table of criteria and the
    catalogue of flags and recommendations (``publish``, which reads this module: imported here late)."""
    from .publish import describe as generated

    return generated()
