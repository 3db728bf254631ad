"""Patient-view fixture scenarios and what each must produce.

Run ``python -m tests.scenarios`` to write ``fixtures/patients``, ``fixtures/requests/patient-view``
and ``fixtures/expected`` from these definitions; ``tests/test_scenarios.py`` fails when the
files drift from them, and runs every request over HTTP against its expectation.
"""

from __future__ import annotations

import json
import sys
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from tests import fhir as f
from tests.builders import FIXTURES, hook_request

Resource = dict[str, Any]


@dataclass
class Scenario:
    name: str
    story: str
    build: Callable[[str], list[Resource]]
    cards: list[dict[str, Any]] = field(default_factory=list)
    hook: str = "patient-view"
    drafts: Callable[[str], list[Resource]] | None = None
    selections: list[str] | None = None


def eligibility(
    decision: str,
    indicator: str,
    trd: str,
    reasons: list[str],
    phrases: list[str] | None = None,
    suggestions: list[list[str]] | None = None,
) -> dict[str, Any]:
    card: dict[str, Any] = {
        "topic": "ketamine-eligibility",
        "indicator": indicator,
        "decision": decision,
        "trd": trd,
        "reasons": sorted(reasons),
        "phrases": phrases or [],
    }
    if suggestions is not None:  # [action type, resourceId or resourceType] per suggestion
        card["suggestions"] = suggestions
    return card


def interaction(
    indicator: str, decision: str, trd: str, reasons: list[str], phrases: list[str] | None = None
) -> dict[str, Any]:
    return {
        "topic": "drug-interaction",
        "indicator": indicator,
        "decision": decision,
        "trd": trd,
        "reasons": sorted(reasons),
        "phrases": phrases or [],
    }


def suicide(
    code: str, indicator: str, decision: str, trd: str, phrases: list[str] | None = None
) -> dict[str, Any]:
    return {
        "topic": "suicide-risk",
        "indicator": indicator,
        "decision": decision,
        "trd": trd,
        "reasons": [code],
        "phrases": phrases or [],
    }


def blood_pressure(
    code: str, decision: str, trd: str, phrases: list[str] | None = None
) -> dict[str, Any]:
    return {
        "topic": "blood-pressure",
        "indicator": "critical",
        "decision": decision,
        "trd": trd,
        "reasons": [code],
        "phrases": phrases or [],
    }


def checklist(
    decision: str, trd: str, reasons: list[str], phrases: list[str] | None = None
) -> dict[str, Any]:
    return {
        "topic": "order-checklist",
        "indicator": "info",
        "decision": decision,
        "trd": trd,
        "reasons": sorted(reasons),
        "phrases": phrases or [],
    }


def trd_base(
    pid: str,
    *,
    given: str = "Jordan",
    family: str = "Lee",
    birth: str = "1984-07-19",
    gender: str = "female",
    mdd: tuple[Any, Any] = f.MDD_RECURRENT,
    blood_pressure: tuple[int, int] | None = (128, 82),
    phq: int | None = 16,
    onset: bool = True,
    second_trial: bool = True,
) -> list[Resource]:
    """Adult with recurrent MDD since 420 days ago and two failed adequate SSRI trials."""
    icd, sct = mdd
    resources = [
        f.patient(pid, given, family, birth, gender),
        f.condition(
            f"{pid}-mdd",
            pid,
            icd,
            sct,
            onset=f.ago(420) if onset else None,
            recorded=f.ago(415) if onset else None,
        ),
        f.med_request(
            f"{pid}-sertraline",
            pid,
            *f.SERTRALINE_100,
            start=f.ago(390),
            end=f.ago(320),
            status_reason="Stopped: inadequate response",
        ),
        f.phq9(f"{pid}-phq9-baseline", pid, 18, f.ago(400)),
        f.phq9(f"{pid}-phq9-on-sertraline", pid, 16, f.ago(330)),
    ]
    if second_trial:
        resources += [
            f.med_request(
                f"{pid}-escitalopram", pid, *f.ESCITALOPRAM_20, start=f.ago(300), end=f.ago(230)
            ),
            f.phq9(f"{pid}-phq9-on-escitalopram", pid, 15, f.ago(240)),
        ]
    if phq is not None:
        resources += [
            f.phq9(f"{pid}-phq9-recent", pid, phq, f.ago(10)),
            f.item9(f"{pid}-item9-recent", pid, 0, f.ago(10)),
        ]
    if blood_pressure:
        resources.append(f.bp(f"{pid}-bp-recent", pid, *blood_pressure, f.ago(7)))
    return resources


TRIAL_NAMES = ["sertraline 100 MG Oral Tablet", "escitalopram 20 MG Oral Tablet"]
SCENARIOS = [
    Scenario(
        "candidate-two-failed-trials",
        "Recurrent MDD, two failed adequate SSRI trials, PHQ-9 16, BP 128/82.",
        lambda p: trd_base(p),
        [
            eligibility(
                "candidate",
                "info",
                "met",
                [],
                [
                    "Ketamine or esketamine is a reasonable next step: TRD, 2 failed trials",
                    *TRIAL_NAMES,
                    "Yes: adequate, no response",
                ],
            )
        ],
    ),
    Scenario(
        "candidate-caution-bp-150-92",
        "TRD met; latest BP 150/92.",
        lambda p: trd_base(p, blood_pressure=(150, 92)),
        [
            eligibility(
                "candidate-caution",
                "warning",
                "met",
                ["bp-above-140-90"],
                ["150/92 mmHg", "check BP before the dose and about 40 minutes after"],
            )
        ],
    ),
    Scenario(
        "candidate-caution-older-adult-sud-in-remission",
        "TRD met; 67 years old; alcohol dependence in remission (F10.21).",
        lambda p: [
            *trd_base(p, birth="1958-05-11", gender="male", given="Walter"),
            f.condition(
                f"{p}-aud",
                p,
                ("F10.21", "Alcohol dependence, in remission"),
                onset="2015-03-01",
                recorded="2016-01-12",
            ),
        ],
        [
            eligibility(
                "candidate-caution",
                "warning",
                "met",
                ["age-65-plus", "substance-use-in-remission"],
                [
                    "Alcohol dependence, in remission, recorded 1 Mar 2015",
                    "age 67",
                    "Watch for sedation, falls and larger BP rises",
                    "monitor for misuse",
                ],
            )
        ],
    ),
    Scenario(
        "contraindicated-cerebral-aneurysm",
        "TRD met; nonruptured cerebral aneurysm (I67.1) on record.",
        lambda p: [
            *trd_base(p),
            f.condition(
                f"{p}-aneurysm",
                p,
                ("I67.1", "Cerebral aneurysm, nonruptured"),
                ("128609009", "Intracranial aneurysm (disorder)"),
                recorded="2023-06-19",
            ),
        ],
        [
            eligibility(
                "contraindicated",
                "critical",
                "met",
                ["aneurysmal-vascular-disease"],
                [
                    "Do not start ketamine or esketamine: aneurysmal vascular disease",
                    "Cerebral aneurysm, nonruptured, recorded 19 Jun 2023",
                    "Source: Spravato label §4",
                    "ECT: high risk with an aneurysm",
                ],
            )
        ],
    ),
    Scenario(
        "contraindicated-pregnant-with-high-bp",
        "TRD met; pregnancy status 'pregnant' 20 days ago and BP 164/98 a week ago.",
        lambda p: [
            *trd_base(p, birth="1993-02-08", blood_pressure=(164, 98)),
            f.pregnancy_status(f"{p}-pregnancy", p, True, f.ago(20)),
        ],
        [
            blood_pressure(
                "bp-severe-pregnancy",
                "contraindicated",
                "met",
                ["Recheck BP today", "in pregnancy", "ACOG Committee Opinion 767"],
            ),
            eligibility(
                "contraindicated",
                "critical",
                "met",
                ["pregnancy", "bp-poorly-controlled"],
                [
                    "Do not start ketamine or esketamine: pregnant",
                    "Not recommended in pregnancy; this service's own hard stop",
                    "not a label contraindication",
                    "164/98 mmHg",
                ],
            ),
        ],
    ),
    Scenario(
        "contraindicated-ketamine-allergy-traumatic-ich",
        "TRD met; ketamine allergy and a resolved traumatic cerebral hemorrhage (S06.340A).",
        lambda p: [
            *trd_base(p, gender="male", given="Sam"),
            f.allergy(
                f"{p}-ketamine-allergy", p, (f.RXNORM, "6130", "ketamine"), recorded="2021-09-30"
            ),
            f.condition(
                f"{p}-tbi",
                p,
                (
                    "S06.340A",
                    "Traumatic hemorrhage of right "
                    "cerebrum without loss of consciousness, initial encounter",
                ),
                onset="2019-04-02",
                status="resolved",
            ),
        ],
        [
            eligibility(
                "contraindicated",
                "critical",
                "met",
                ["intracerebral-hemorrhage-history", "ketamine-hypersensitivity"],
                ["Traumatic hemorrhage of right cerebrum", "ketamine, recorded 30 Sep 2021"],
            )
        ],
    ),
    Scenario(
        "contraindicated-cerebral-avm",
        "TRD met; cerebral arteriovenous malformation.",
        lambda p: [
            *trd_base(p),
            f.condition(
                f"{p}-avm",
                p,
                ("Q28.2", "Arteriovenous malformation of cerebral vessels"),
                ("234142008", "Cerebral arteriovenous malformation (disorder)"),
                recorded="2012-11-05",
            ),
        ],
        [
            eligibility(
                "contraindicated",
                "critical",
                "met",
                ["arteriovenous-malformation"],
                ["Arteriovenous malformation of cerebral vessels"],
            )
        ],
    ),
    Scenario(
        "not-indicated-bipolar-with-psychosis-history",
        "Bipolar depression (F31.4) and a past brief psychotic disorder (F23).",
        lambda p: [
            f.patient(p, "Riley", "Park", "1990-10-02", "male"),
            f.condition(
                f"{p}-bipolar",
                p,
                (
                    "F31.4",
                    "Bipolar disorder, current "
                    "episode depressed, severe, without psychotic features",
                ),
                onset=f.ago(200),
            ),
            f.condition(
                f"{p}-psychosis",
                p,
                ("F23", "Brief psychotic disorder"),
                onset="2018-07-01",
                status="resolved",
            ),
            f.phq9(f"{p}-phq9", p, 19, f.ago(12)),
            f.bp(f"{p}-bp", p, 124, 78, f.ago(12)),
        ],
        [
            eligibility(
                "not-indicated",
                "warning",
                "not-applicable",
                ["bipolar-disorder", "psychosis-history"],
                ["Bipolar disorder", "Brief psychotic disorder, recorded 1 Jul 2018"],
            )
        ],
    ),
    Scenario(
        "not-indicated-age-16",
        "Sixteen-year-old who meets TRD criteria.",
        lambda p: trd_base(p, birth="2009-09-14", given="Avery"),
        [eligibility("not-indicated", "warning", "met", ["age-under-18"], ["age 16"])],
    ),
    Scenario(
        "not-recommended-psychotic-features-and-tia",
        "TRD met; MDD with psychotic features (F33.3); TIA history (Z86.73).",
        lambda p: [
            *trd_base(
                p,
                mdd=(
                    (
                        "F33.3",
                        "Major depressive disorder, recurrent, severe with psychotic symptoms",
                    ),
                    (
                        "28475009",
                        "Severe recurrent major depression with psychotic features (disorder)",
                    ),
                ),
            ),
            f.condition(
                f"{p}-tia",
                p,
                (
                    "Z86.73",
                    "Personal history of transient "
                    "ischemic attack (TIA), and cerebral infarction without "
                    "residual deficits",
                ),
                recorded="2022-02-14",
            ),
        ],
        [
            eligibility(
                "not-recommended",
                "warning",
                "met",
                ["psychotic-features", "stroke-history"],
                ["A personal history of TIA or cerebral infarction without residual deficits"],
            )
        ],
    ),
    Scenario(
        "not-recommended-active-alcohol-use-and-cirrhosis",
        "TRD met; active alcohol dependence (F10.20) and alcoholic cirrhosis (K70.30).",
        lambda p: [
            *trd_base(p, gender="male", given="Chris"),
            f.condition(
                f"{p}-aud", p, ("F10.20", "Alcohol dependence, uncomplicated"), onset="2019-01-01"
            ),
            f.condition(
                f"{p}-cirrhosis",
                p,
                ("K70.30", "Alcoholic cirrhosis of liver without ascites"),
                onset="2024-08-20",
            ),
        ],
        [
            eligibility(
                "not-recommended",
                "warning",
                "met",
                ["active-substance-use", "liver-disease"],
                [
                    "Alcohol dependence, uncomplicated",
                    "Alcoholic cirrhosis of liver without ascites",
                    "Confirm the Child-Pugh class",
                ],
            )
        ],
    ),
    Scenario(
        "candidate-caution-lactation",
        "TRD met; lactating mother (Z39.1).",
        lambda p: [
            *trd_base(p, birth="1994-12-01"),
            f.condition(
                f"{p}-lactation",
                p,
                ("Z39.1", "Encounter for care and examination of lactating mother"),
                recorded=f.ago(30),
            ),
        ],
        [
            eligibility(
                "candidate-caution",
                "warning",
                "met",
                ["lactation"],
                [
                    "Encounter for care and examination of lactating mother",
                    "Advise against breastfeeding during treatment",
                ],
            )
        ],
    ),
    Scenario(
        "candidate-postpartum-without-lactation",
        "TRD met; routine postpartum follow-up 25 days ago, nothing on breastfeeding.",
        lambda p: [
            *trd_base(p, birth="1994-12-01"),
            f.condition(
                f"{p}-postpartum",
                p,
                ("Z39.2", "Encounter for routine postpartum follow-up"),
                recorded=f.ago(25),
            ),
        ],
        [eligibility("candidate", "info", "met", ["postpartum"], ["Ask about breastfeeding"])],
    ),
    Scenario(
        "candidate-caution-fatty-liver",
        "TRD met; fatty liver (K76.0).",
        lambda p: [
            *trd_base(p, gender="male", given="Alex"),
            f.condition(
                f"{p}-nafld",
                p,
                ("K76.0", "Fatty (change of) liver, not elsewhere classified"),
                onset="2022-08-10",
            ),
        ],
        [
            eligibility(
                "candidate-caution",
                "warning",
                "met",
                ["fatty-liver-disease"],
                [
                    "Fatty (change of) liver, not elsewhere classified",
                    "with moderate impairment (Child-Pugh B), monitor longer after each dose",
                ],
            )
        ],
    ),
    Scenario(
        "defer-recent-nstemi",
        "TRD met; 66 years old; NSTEMI 40 days ago.",
        lambda p: [
            *trd_base(p, birth="1959-03-30", gender="male", given="Dana"),
            f.condition(
                f"{p}-nstemi",
                p,
                ("I21.4", "Non-ST elevation (NSTEMI) myocardial infarction"),
                onset=f.ago(40),
            ),
        ],
        [
            eligibility(
                "defer",
                "warning",
                "met",
                ["uncontrolled-cardiovascular-disease", "age-65-plus"],
                ["Non-ST elevation (NSTEMI) myocardial infarction"],
            )
        ],
    ),
    Scenario(
        "defer-hypertensive-crisis",
        "TRD met; latest BP 184/112.",
        lambda p: trd_base(p, blood_pressure=(184, 112)),
        [
            blood_pressure(
                "bp-hypertensive-crisis",
                "defer",
                "met",
                ["Recheck BP today", "184/112 mmHg", "AHA/ACC 2025"],
            ),
            eligibility("defer", "warning", "met", ["bp-hypertensive-crisis"], ["184/112 mmHg"]),
        ],
    ),
    Scenario(
        "indeterminate-no-recent-bp-or-phq9",
        "Two failed trials, but no BP or PHQ-9 in the last 30 days.",
        lambda p: trd_base(p, blood_pressure=None, phq=None),
        [
            eligibility(
                "indeterminate",
                "info",
                "indeterminate",
                ["bp-missing", "missing-phq9"],
                ["a blood pressure within 30 days", "a PHQ-9 within 30 days"],
            )
        ],
    ),
    Scenario(
        "indeterminate-undocumented-trial",
        "One failed trial; a fluoxetine statement without dose or dates; no onset date.",
        lambda p: [
            *trd_base(p, second_trial=False, onset=False),
            f.med_statement(
                f"{p}-fluoxetine", p, None, "fluoxetine (outside records, dose unknown)"
            ),
        ],
        [
            eligibility(
                "indeterminate",
                "info",
                "indeterminate",
                ["missing-trial-data", "missing-episode-onset"],
                ["Uncertain: dates unknown", "no onset recorded, so the last 24 months"],
            )
        ],
    ),
    Scenario(
        "indeterminate-five-week-trial",
        "One failed trial and a completed 35-day escitalopram trial.",
        lambda p: [
            *trd_base(p, second_trial=False),
            f.med_request(
                f"{p}-escitalopram", p, *f.ESCITALOPRAM_20, start=f.ago(200), end=f.ago(165)
            ),
        ],
        [
            eligibility(
                "indeterminate",
                "info",
                "indeterminate",
                ["trial-duration-indeterminate"],
                ["35 days, 42 needed"],
            )
        ],
    ),
    Scenario(
        "indeterminate-unspecified-depression",
        "Depression, unspecified (F32.A) only: no qualifying MDD diagnosis.",
        lambda p: [
            f.patient(p, "Morgan", "Diaz", "1979-04-23", "female"),
            f.condition(f"{p}-dep", p, ("F32.A", "Depression, unspecified"), recorded=f.ago(90)),
            f.phq9(f"{p}-phq9", p, 14, f.ago(9)),
            f.bp(f"{p}-bp", p, 122, 76, f.ago(9)),
        ],
        [
            eligibility(
                "indeterminate",
                "info",
                "indeterminate",
                ["no-qualifying-mdd"],
                ["an active major depressive disorder diagnosis"],
            )
        ],
    ),
    Scenario(
        "not-trd-one-trial-carotid-aneurysm",
        "One failed trial only; carotid artery aneurysm (I72.0) on record.",
        lambda p: [
            *trd_base(p, second_trial=False),
            f.condition(
                f"{p}-aneurysm", p, ("I72.0", "Aneurysm of carotid artery"), recorded="2020-05-05"
            ),
        ],
        [
            eligibility(
                "not-trd",
                "info",
                "not-met",
                ["aneurysmal-vascular-disease"],
                [
                    "Also on record: aneurysmal vascular disease",
                    "1 more failed adequate trial of at least 42 days",
                ],
            )
        ],
    ),
    Scenario(
        "not-trd-partial-response",
        "Two failed trials, but the latest PHQ-9 is 7.",
        lambda p: trd_base(p, phq=7),
        [eligibility("not-trd", "info", "not-met", [], ["partial response"])],
    ),
    Scenario(
        "no-depressive-disorder-no-cards",
        "Hypertension only: no cards.",
        lambda p: [
            f.patient(p, "Pat", "Nguyen", "1970-01-15", "male"),
            f.condition(
                f"{p}-htn",
                p,
                ("I10", "Essential (primary) hypertension"),
                ("59621000", "Essential hypertension (disorder)"),
                onset="2015-06-01",
            ),
            f.bp(f"{p}-bp", p, 138, 86, f.ago(5)),
        ],
        [],
    ),
    Scenario(
        "suicide-urgent-with-trd",
        "TRD met; PHQ-9 item 9 = 2 five days ago.",
        lambda p: [*trd_base(p), f.item9(f"{p}-item9-urgent", p, 2, f.ago(5))],
        [
            suicide(
                "suicide-risk-urgent",
                "critical",
                "candidate",
                "met",
                ["PHQ-9 item 9 = 2", "does not rule out esketamine"],
            ),
            eligibility("candidate", "info", "met", []),
        ],
    ),
    Scenario(
        "suicide-assessment-without-depression",
        "No depressive disorder; PHQ-9 item 9 = 1 three days ago.",
        lambda p: [
            f.patient(p, "Quinn", "Ortiz", "1988-08-08", "female"),
            f.item9(f"{p}-item9", p, 1, f.ago(3)),
        ],
        [
            suicide(
                "suicide-risk-assessment-required",
                "warning",
                "not-indicated",
                "not-applicable",
                ["PHQ-9 item 9 = 1"],
            )
        ],
    ),
    Scenario(
        "suicidal-ideation-one-trial",
        "One failed trial; suicidal ideation (R45.851) recorded 10 days ago.",
        lambda p: [
            *trd_base(p, second_trial=False),
            f.condition(
                f"{p}-si",
                p,
                ("R45.851", "Suicidal ideations"),
                ("6471006", "Suicidal thoughts (finding)"),
                recorded=f.ago(10),
            ),
        ],
        [
            suicide(
                "suicide-risk-urgent", "critical", "not-trd", "not-met", ["Suicidal ideations"]
            ),
            eligibility("not-trd", "info", "not-met", []),
        ],
    ),
    Scenario(
        "entered-in-error-data-is-ignored",
        "TRD met; an aneurysm entered in error, refuted psychosis, an allergy entered in "
        "error, and a BP of 190/125 entered in error.",
        lambda p: [
            *trd_base(p),
            f.condition(
                f"{p}-aneurysm",
                p,
                ("I67.1", "Cerebral aneurysm, nonruptured"),
                recorded="2024-01-01",
                verification="entered-in-error",
            ),
            f.condition(
                f"{p}-psychosis",
                p,
                (
                    "F29",
                    "Unspecified psychosis not due to a substance or known physiological condition",
                ),
                recorded="2024-01-01",
                verification="refuted",
            ),
            f.allergy(
                f"{p}-allergy", p, (f.RXNORM, "6130", "ketamine"), verification="entered-in-error"
            ),
            {**f.bp(f"{p}-bp-error", p, 190, 125, f.ago(2)), "status": "entered-in-error"},
        ],
        [eligibility("candidate", "info", "met", [])],
    ),
]


MDD_REASON = ("F33.1", "Major depressive disorder, recurrent, moderate")


def _ketamine_patient(p: str, **kw: Any) -> list[Resource]:
    return [*trd_base(p, **kw), f.weight(f"{p}-weight", p, 70, f.ago(7))]


SCENARIOS += [
    Scenario(
        "order-sign-esketamine-candidate",
        "TRD met; signing a Spravato 56 mg order.",
        lambda p: trd_base(p),
        hook="order-sign",
        drafts=lambda p: [f.spravato_draft(f"{p}-spravato", p)],
        cards=[
            eligibility(
                "candidate",
                "info",
                "met",
                [],
                ["Esketamine is a reasonable next step: TRD, 2 failed trials"],
                [],
            ),
            checklist(
                "candidate",
                "met",
                ["rems-requirements"],
                [
                    "REMS",
                    "56 mg",
                    "84 mg",
                    "about 40 minutes after",
                    "next day",
                    "advise contraception",
                ],
            ),
        ],
    ),
    Scenario(
        "order-sign-esketamine-with-lorazepam-draft",
        "TRD met; Spravato and lorazepam drafted together.",
        lambda p: trd_base(p),
        hook="order-sign",
        drafts=lambda p: [
            f.spravato_draft(f"{p}-spravato", p),
            f.drug_draft(f"{p}-lorazepam", p, "197901", "lorazepam 1 MG Oral Tablet"),
        ],
        cards=[
            eligibility("candidate", "info", "met", []),
            checklist("candidate", "met", ["rems-requirements"]),
            interaction(
                "warning",
                "candidate",
                "met",
                ["interaction-cns-depressant"],
                ["lorazepam 1 MG Oral Tablet (draft order), 1 mg/day", "respiratory depression"],
            ),
        ],
    ),
    Scenario(
        "order-sign-esketamine-pregnant-hard-stop",
        "TRD met; pregnant; signing a Spravato order.",
        lambda p: [
            *trd_base(p, birth="1993-02-08"),
            f.pregnancy_status(f"{p}-preg", p, True, f.ago(14)),
        ],
        hook="order-sign",
        drafts=lambda p: [f.spravato_draft(f"{p}-spravato", p)],
        cards=[
            eligibility(
                "contraindicated",
                "critical",
                "met",
                ["pregnancy"],
                ["pregnant", "Not recommended in pregnancy; this service's own hard stop"],
                [
                    [
                        "delete",
                        "MedicationRequest/pat-order-sign-esketamine-pregnant-hard-stop-spravato",
                    ],
                    ["create", "ServiceRequest"],
                    ["create", "ServiceRequest"],
                ],
            )
        ],
    ),
    Scenario(
        "order-sign-ketamine-aneurysm-hard-stop",
        "TRD met; cerebral aneurysm; signing IV ketamine 35 mg over 40 minutes.",
        lambda p: [
            *_ketamine_patient(p),
            f.condition(
                f"{p}-aneurysm",
                p,
                ("I67.1", "Cerebral aneurysm, nonruptured"),
                recorded="2023-06-19",
            ),
        ],
        hook="order-sign",
        drafts=lambda p: [f.iv_ketamine_draft(f"{p}-ketamine", p, 35)],
        cards=[
            eligibility(
                "contraindicated",
                "critical",
                "met",
                ["aneurysmal-vascular-disease"],
                ["Do not order IV ketamine", "ECT: high risk with an aneurysm"],
                [
                    [
                        "delete",
                        "MedicationRequest/pat-order-sign-ketamine-aneurysm-hard-stop-ketamine",
                    ],
                    ["create", "ServiceRequest"],
                    ["create", "ServiceRequest"],
                ],
            )
        ],
    ),
    Scenario(
        "order-select-iv-ketamine-dose-outside-band",
        "TRD met, 70 kg; IV ketamine 100 mg (1.43 mg/kg) for MDD selected.",
        _ketamine_patient,
        hook="order-select",
        drafts=lambda p: [f.iv_ketamine_draft(f"{p}-ketamine", p, 100, reason=MDD_REASON)],
        cards=[
            eligibility(
                "candidate-caution",
                "warning",
                "met",
                ["dose-outside-band"],
                [
                    "1.43 mg/kg",
                    "Check the IV ketamine order before signing",
                    "0.5 mg/kg over about 40 minutes",
                ],
                [],
            ),
            checklist(
                "candidate-caution",
                "met",
                ["off-label-consent", "dose-outside-band"],
                ["100 mg over 40 minutes = 1.43 mg/kg of 70 kg", "outside the dose band"],
            ),
        ],
    ),
    Scenario(
        "order-select-iv-ketamine-weight-missing",
        "TRD met, no weight on record; IV ketamine 35 mg over 40 minutes selected.",
        lambda p: trd_base(p),
        hook="order-select",
        drafts=lambda p: [f.iv_ketamine_draft(f"{p}-ketamine", p, 35)],
        cards=[
            eligibility(
                "candidate-caution",
                "warning",
                "met",
                ["weight-missing"],
                ["Weigh the patient to check the mg/kg dose"],
                [],
            ),
            checklist(
                "candidate-caution",
                "met",
                ["off-label-consent", "weight-missing"],
                [
                    "Informed consent that covers off-label use",
                    "weigh the patient to check the mg/kg dose",
                ],
            ),
        ],
    ),
    Scenario(
        "order-sign-anaesthesia-ketamine-bolus-no-cards",
        "IV ketamine 150 mg push, no depression reason: anaesthesia, no cards.",
        _ketamine_patient,
        hook="order-sign",
        drafts=lambda p: [f.iv_ketamine_draft(f"{p}-ketamine", p, 150, minutes=None)],
        cards=[],
    ),
    Scenario(
        "order-sign-ketamine-with-stimulant-maoi-lamotrigine",
        "TRD met; takes lisdexamfetamine, phenelzine and lamotrigine; IV ketamine 35 mg.",
        lambda p: [
            *_ketamine_patient(p),
            f.med_request(
                f"{p}-lisdex",
                p,
                "854834",
                "lisdexamfetamine dimesylate 30 MG Oral Capsule",
                start=f.ago(200),
                status="active",
            ),
            f.med_request(
                f"{p}-phenelzine",
                p,
                "312347",
                "phenelzine 15 MG Oral Tablet",
                start=f.ago(120),
                status="active",
            ),
            f.med_request(
                f"{p}-lamotrigine",
                p,
                "198427",
                "lamotrigine 100 MG Oral Tablet",
                start=f.ago(300),
                status="active",
            ),
        ],
        hook="order-sign",
        drafts=lambda p: [f.iv_ketamine_draft(f"{p}-ketamine", p, 35, reason=MDD_REASON)],
        cards=[
            eligibility("candidate", "info", "met", []),
            checklist("candidate", "met", ["off-label-consent"]),
            interaction(
                "warning",
                "candidate",
                "met",
                ["interaction-stimulant-bp", "interaction-maoi-bp", "interaction-lamotrigine"],
                [
                    "lisdexamfetamine",
                    "phenelzine 15 MG Oral Tablet, 15 mg/day",
                    "check BP before and after dosing",
                ],
            ),
        ],
    ),
    Scenario(
        "order-select-focuses-on-the-selection",
        "Sertraline selected while a Spravato draft waits: no cards for the selection.",
        lambda p: trd_base(p),
        hook="order-select",
        drafts=lambda p: [
            f.drug_draft(f"{p}-sertraline", p, *f.SERTRALINE_50),
            f.spravato_draft(f"{p}-spravato", p),
        ],
        selections=["MedicationRequest/pat-order-select-focuses-on-the-selection-sertraline"],
        cards=[],
    ),
    Scenario(
        "order-sign-esketamine-not-trd",
        "One failed trial; signing a Spravato order.",
        lambda p: trd_base(p, second_trial=False),
        hook="order-sign",
        drafts=lambda p: [f.spravato_draft(f"{p}-spravato", p)],
        cards=[
            eligibility(
                "not-trd",
                "warning",
                "not-met",
                [],
                ["1 more failed adequate trial of at least 42 days"],
                [],
            ),
            checklist("not-trd", "not-met", ["rems-requirements"]),
        ],
    ),
    Scenario(
        "order-sign-esketamine-no-recent-bp",
        "TRD met, no BP in 30 days; signing a Spravato order.",
        lambda p: trd_base(p, blood_pressure=None),
        hook="order-sign",
        drafts=lambda p: [f.spravato_draft(f"{p}-spravato", p)],
        cards=[
            eligibility(
                "indeterminate",
                "warning",
                "met",
                ["bp-missing"],
                ["Before ordering esketamine, record a blood pressure within 30 days"],
            ),
            checklist("indeterminate", "met", ["rems-requirements"]),
        ],
    ),
    Scenario(
        "order-sign-esketamine-service-g2082",
        "TRD met; signing an esketamine administration visit (HCPCS G2082).",
        lambda p: trd_base(p),
        hook="order-sign",
        drafts=lambda p: [f.esketamine_service_draft(f"{p}-g2082", p)],
        cards=[
            eligibility("candidate", "info", "met", []),
            checklist("candidate", "met", ["rems-requirements"]),
        ],
    ),
]


NEUROMODULATION_INDICATOR = {
    "hard-stop": "critical",
    "high-risk": "warning",
    "caution": "warning",
    "no-concern": "info",
}


def neuromodulation(
    status: str,
    decision: str,
    trd: str,
    reasons: list[str],
    phrases: list[str] | None = None,
    suggestions: list[list[str]] | None = None,
) -> dict[str, Any]:
    """The card's indicator follows the neuromodulation status, never the ketamine decision."""
    card: dict[str, Any] = {
        "topic": "neuromodulation-safety",
        "indicator": NEUROMODULATION_INDICATOR[status],
        "status": status,
        "decision": decision,
        "trd": trd,
        "reasons": sorted(reasons),
        "phrases": phrases or [],
    }
    if suggestions is not None:
        card["suggestions"] = suggestions
    return card


SCENARIOS += [
    Scenario(
        "order-sign-ect-recent-mi-and-aneurysm",
        "TRD met; NSTEMI 30 days ago and a cerebral aneurysm; signing an ECT order.",
        lambda p: [
            *trd_base(p, birth="1958-02-02", gender="male", given="Lou"),
            f.condition(
                f"{p}-mi",
                p,
                ("I21.4", "Non-ST elevation (NSTEMI) myocardial infarction"),
                onset=f.ago(30),
            ),
            f.condition(
                f"{p}-aneurysm",
                p,
                ("I67.1", "Cerebral aneurysm, nonruptured"),
                recorded="2021-04-04",
            ),
        ],
        hook="order-sign",
        drafts=lambda p: [f.neuromodulation_draft(f"{p}-ect", p, "ect")],
        cards=[
            neuromodulation(
                "high-risk",
                "contraindicated",
                "met",
                ["ect-recent-mi", "ect-vascular-lesion"],
                [
                    "Non-ST elevation (NSTEMI) myocardial infarction",
                    "Cerebral aneurysm, nonruptured",
                    "ECT has no absolute contraindications",
                    "anaesthesia",
                ],
            )
        ],
    ),
    Scenario(
        "order-select-ect-raised-icp",
        "TRD met; idiopathic intracranial hypertension (G93.2); ECT selected.",
        lambda p: [
            *trd_base(p),
            f.condition(
                f"{p}-iih", p, ("G93.2", "Benign intracranial hypertension"), onset="2024-09-01"
            ),
        ],
        hook="order-select",
        drafts=lambda p: [f.neuromodulation_draft(f"{p}-ect", p, "ect")],
        cards=[
            neuromodulation(
                "high-risk",
                "candidate",
                "met",
                ["ect-raised-icp"],
                ["Benign intracranial hypertension"],
            )
        ],
    ),
    Scenario(
        "order-sign-tms-implant-and-seizures",
        "TRD met; cochlear implant and epilepsy; signing a TMS order: a hard stop.",
        lambda p: [
            *trd_base(p),
            f.condition(f"{p}-ci", p, ("Z96.21", "Cochlear implant status"), recorded="2018-01-01"),
            f.condition(
                f"{p}-epi",
                p,
                ("G40.909", "Epilepsy, unspecified, not intractable, without status epilepticus"),
                onset="2010-01-01",
            ),
        ],
        hook="order-sign",
        drafts=lambda p: [f.neuromodulation_draft(f"{p}-tms", p, "tms")],
        cards=[
            neuromodulation(
                "hard-stop",
                "candidate",
                "met",
                ["tms-metal-implant", "tms-seizure-risk"],
                [
                    "Do not start TMS: device or metal in the head or neck",
                    "Cochlear implant status",
                    "Epilepsy, unspecified",
                ],
                [["delete", "ServiceRequest/pat-order-sign-tms-implant-and-seizures-tms"]],
            )
        ],
    ),
    Scenario(
        "order-sign-tms-no-cautions",
        "TRD met, nothing coded against TMS; signing a TMS order.",
        lambda p: trd_base(p),
        hook="order-sign",
        drafts=lambda p: [f.neuromodulation_draft(f"{p}-tms", p, "tms")],
        cards=[
            neuromodulation(
                "no-concern", "candidate", "met", [], ["nothing in the record against it"]
            )
        ],
    ),
]


def course(
    indicator: str, decision: str, trd: str, reasons: list[str], phrases: list[str] | None = None
) -> dict[str, Any]:
    return {
        "topic": "ketamine-course",
        "indicator": indicator,
        "decision": decision,
        "trd": trd,
        "reasons": sorted(reasons),
        "phrases": phrases or [],
    }


IV_INDUCTION = (24, 22, 20, 17, 15, 10)  # days ago: 3, 2, then 1 infusions


def _iv_course(
    p: str,
    baseline: int,
    latest: int,
    days: tuple[int, ...] = IV_INDUCTION,
) -> list[Resource]:
    return [
        *_ketamine_patient(p),
        f.phq9(f"{p}-phq9-baseline-course", p, baseline, f.ago(days[0] + 3)),
        *(
            f.ketamine_administration(f"{p}-infusion-{i}", p, f.ago(d))
            for i, d in enumerate(days, 1)
        ),
        f.phq9(f"{p}-phq9-latest", p, latest, f.ago(3)),
    ]


ESKETAMINE_SESSIONS = (33, 30, 26, 23, 19, 16, 12, 9, 2)  # twice weekly, then weekly

SCENARIOS += [
    Scenario(
        "course-iv-ketamine-responder",
        "Six IV infusions over 3 weeks; PHQ-9 20 before, 8 now.",
        lambda p: _iv_course(p, 20, 8),
        [
            course(
                "info",
                "monitoring",
                "met",
                ["induction-complete", "response"],
                [
                    "6 sessions",
                    "PHQ-9 before the course: 20 on 3 Feb 2026",
                    "latest: 8 on 27 Feb 2026, response",
                    "response",
                    "If maintenance is planned, next session around 20 Mar 2026",
                ],
            ),
        ],
    ),
    Scenario(
        "course-esketamine-remitter",
        "Esketamine twice weekly for 4 weeks, then weekly; PHQ-9 18 before, 3 now.",
        lambda p: [
            *trd_base(p),
            f.phq9(f"{p}-phq9-base", p, 18, f.ago(36)),
            *(
                f.esketamine_administration(f"{p}-spravato-{i}", p, f.ago(d))
                for i, d in enumerate(ESKETAMINE_SESSIONS, 1)
            ),
            f.phq9(f"{p}-phq9-latest", p, 3, f.ago(1)),
        ],
        [
            course(
                "info",
                "monitoring",
                "met",
                ["induction-complete", "response", "remission"],
                ["response and remission", "next session due around 7 Mar 2026"],
            ),
        ],
    ),
    Scenario(
        "course-iv-ketamine-non-responder",
        "Six IV infusions; PHQ-9 19 before, 16 now: no response after induction.",
        lambda p: _iv_course(p, 19, 16),
        [
            course(
                "warning",
                "monitoring",
                "met",
                ["induction-complete", "non-response"],
                ["Give no further sessions: no response after induction", "Consider ECT or TMS"],
            ),
        ],
    ),
    Scenario(
        "course-iv-off-protocol-with-lorazepam",
        "Four IV infusions in the first week, none in the week since, while taking lorazepam.",
        lambda p: [
            *_iv_course(p, 18, 15, days=(10, 9, 8, 7)),
            f.med_request(
                f"{p}-lorazepam",
                p,
                "197901",
                "lorazepam 1 MG Oral Tablet",
                start=f.ago(90),
                status="active",
            ),
        ],
        [
            course(
                "warning",
                "monitoring",
                "met",
                ["induction-in-progress", "off-protocol-frequency", "session-overdue"],
                [
                    "at most 3 in the first week: 23 Feb 2026 came too close",
                    "Next session 4 days overdue",
                ],
            ),
            interaction(
                "warning",
                "monitoring",
                "met",
                ["interaction-cns-depressant"],
                ["lorazepam 1 MG Oral Tablet, 1 mg/day"],
            ),
        ],
    ),
    Scenario(
        "course-esketamine-crowded-sessions",
        "Three esketamine sessions within five days.",
        lambda p: [
            *trd_base(p),
            f.phq9(f"{p}-phq9-base", p, 17, f.ago(8)),
            *(
                f.esketamine_administration(f"{p}-spravato-{i}", p, f.ago(d))
                for i, d in enumerate((6, 4, 2), 1)
            ),
        ],
        [
            course(
                "warning",
                "monitoring",
                "met",
                ["induction-in-progress", "off-protocol-frequency"],
                ["Space the sessions, at most 2 in any 7 days:", "came too close"],
            ),
        ],
    ),
    Scenario(
        "course-ignores-anaesthesia-ketamine",
        "TRD met; a 150 mg ketamine push for a procedure 10 days ago: no course.",
        lambda p: [
            *_ketamine_patient(p),
            f.ketamine_administration(f"{p}-anaesthesia", p, f.ago(10), dose_mg=150, minutes=2),
        ],
        [eligibility("candidate", "info", "met", [])],
    ),
]


def _charted_course(
    p: str, session: Callable[[str, str], Resource], days: tuple[int, ...] = IV_INDUCTION
) -> list[Resource]:
    return [
        *_ketamine_patient(p),
        f.phq9(f"{p}-phq9-baseline-course", p, 20, f.ago(days[0] + 3)),
        *(session(f"{p}-infusion-{i}", f.ago(d)) for i, d in enumerate(days, 1)),
        f.phq9(f"{p}-phq9-latest", p, 8, f.ago(3)),
    ]


RESPONDER = ["induction-complete", "response"]

SCENARIOS += [
    Scenario(
        "course-iv-ketamine-rate-ratio",
        "Six IV infusions charted as 35 mg at a rate of 35 mg per 40 minutes, with a date only.",
        lambda p: _charted_course(
            p, lambda i, d: f.ketamine_session(i, p, d, rate_ratio_minutes=40)
        ),
        [
            course(
                "info",
                "monitoring",
                "met",
                RESPONDER,
                ["6 sessions", "latest: 8 on 27 Feb 2026, response"],
            )
        ],
    ),
    Scenario(
        "course-iv-ketamine-text-duration",
        "Six IV infusions whose length is written only in the text: 'infused over 40 minutes'.",
        lambda p: _charted_course(
            p, lambda i, d: f.ketamine_session(i, p, d, text="35 mg IV infused over 40 minutes")
        ),
        [course("info", "monitoring", "met", RESPONDER, ["6 sessions"])],
    ),
    Scenario(
        "course-iv-ketamine-dated-series",
        "One infusion charted with a rate, five with a date and dose only, and a 2 mg/kg bolus "
        "on the day of an appendectomy, which is not part of the course.",
        lambda p: [
            *_charted_course(
                p,
                lambda i, d: f.ketamine_session(
                    i, p, d, rate_ratio_minutes=40 if i.endswith("-1") else None
                ),
            ),
            f.ketamine_session(f"{p}-anaesthesia", p, f.ago(40), dose_mg=140, text="140 mg IV"),
            f.procedure(
                f"{p}-appendectomy",
                p,
                (f.SCT, "80146002", "Appendectomy"),
                f.ago(40),
                surgical=True,
            ),
        ],
        [course("info", "monitoring", "met", RESPONDER, ["6 sessions since"])],
    ),
    Scenario(
        "order-sign-ketamine-after-non-response",
        "Six IV infusions without response (PHQ-9 19 to 16); signing another infusion: one card.",
        lambda p: _iv_course(p, 19, 16),
        hook="order-sign",
        drafts=lambda p: [f.iv_ketamine_draft(f"{p}-ketamine", p, 35, reason=MDD_REASON)],
        cards=[
            eligibility(
                "not-recommended",
                "warning",
                "met",
                ["non-response"],
                ["No response to the last course", "Consider ECT or TMS"],
                [["create", "ServiceRequest"], ["create", "ServiceRequest"]],
            ),
            # no course card: the order's own card already says to stop the course, and why
        ],
    ),
    Scenario(
        "blood-pressure-pregnant-severe-today",
        "TRD met; pregnant; BP 166/112 two hours ago.",
        lambda p: [
            *trd_base(p, birth="1995-06-30", blood_pressure=None),
            f.pregnancy_status(f"{p}-pregnancy", p, True, f.ago(12)),
            f.bp_at(f"{p}-bp-today", p, 166, 112, f.ago(0), "08:00:00"),
        ],
        [
            blood_pressure(
                "bp-severe-pregnancy",
                "contraindicated",
                "met",
                ["Urgent obstetric evaluation", "166/112 mmHg", "within 30-60 minutes"],
            ),
            eligibility(
                "contraindicated", "critical", "met", ["pregnancy", "bp-poorly-controlled"]
            ),
        ],
    ),
    Scenario(
        "not-recommended-psychotic-depression-no-tms",
        "TRD met; MDD, recurrent, severe with psychotic symptoms (F33.3): ECT is offered, "
        "TMS is not.",
        lambda p: trd_base(
            p,
            mdd=(
                ("F33.3", "Major depressive disorder, recurrent, severe with psychotic symptoms"),
                (
                    "28475009",
                    "Severe recurrent major depression with psychotic features (disorder)",
                ),
            ),
        ),
        [
            eligibility(
                "not-recommended",
                "warning",
                "met",
                ["psychotic-features"],
                [
                    "an antidepressant with an antipsychotic",
                    "and for TMS, is in depression without psychotic features",
                ],
                [["create", "ServiceRequest"]],
            )
        ],
    ),
]


def patient_id(scenario: Scenario) -> str:
    return f"pat-{scenario.name}"[:64]


def render(scenario: Scenario) -> dict[str, Any]:
    """The three files of a scenario: bundle, Sandbox-shaped request, expected cards."""
    pid = patient_id(scenario)
    bundle = f.bundle(pid, scenario.build(pid))
    request = hook_request(
        scenario.hook, bundle, hookInstance=str(uuid.uuid5(uuid.NAMESPACE_URL, scenario.name))
    )
    if scenario.drafts:
        drafts = scenario.drafts(pid)
        request["context"]["draftOrders"] = {
            "resourceType": "Bundle",
            "entry": [{"resource": r} for r in drafts],
        }
        if scenario.hook == "order-select":
            first = f"{drafts[0]['resourceType']}/{drafts[0]['id']}"
            request["context"]["selections"] = scenario.selections or [first]
    return {
        f"patients/{scenario.name}.json": bundle,
        f"requests/{scenario.hook}/{scenario.name}.json": request,
        f"expected/{scenario.name}.json": {
            "story": scenario.story,
            "hook": scenario.hook,
            "cards": scenario.cards,
        },
    }


def readme() -> str:
    """fixtures/README.md: one line per scenario, with the decision it must produce."""
    lines = [
        "# Fixtures",
        "",
        "FHIR R4 patients dated against 2026-03-02 (the anchor date), each with a patient-view",
        "request shaped as the CDS Hooks Sandbox sends it and the cards it must produce.",
        "Generated from `tests/scenarios.py` (`python -m tests.scenarios`); do not edit by hand.",
        "`mdd-recurrent-two-trials` and `requests/sandbox-*.json` are the Sandbox examples.",
        "`cds_service.fixture_loader` moves the dates to today for demos.",
        "",
        "| scenario | patient | expected cards |",
        "|---|---|---|",
    ]
    for s in SCENARIOS:
        cards = ", ".join(f"{c['topic']} ({c['decision']}, {c['indicator']})" for c in s.cards)
        lines.append(f"| `{s.name}` | {s.story} | {cards or 'none'} |")
    return "\n".join(lines) + "\n"


def dumps(document: Any) -> str:
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


def main() -> int:
    for scenario in SCENARIOS:
        for relative, document in render(scenario).items():
            path = FIXTURES / relative
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(dumps(document))
    (FIXTURES / "README.md").write_text(readme())
    print(f"wrote {len(SCENARIOS)} scenarios under {FIXTURES}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
