"""Every clinical threshold and window, with its rule and source (docs/clinical-basis.md §13).

Operators override any of them with ``KETAMINE_CDS_CLINICAL__<NAME>`` (e.g.
``KETAMINE_CDS_CLINICAL__BP_WINDOW_DAYS=14``) or a ``[clinical]`` table in the TOML file.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["ClinicalSettings"]


class ClinicalSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    # TRD (docs/clinical-basis.md §2)
    trial_min_days: int = Field(42, ge=1, description="Adequate trial: at least 6 weeks.")
    not_trd_card: bool = Field(
        True,
        description="Show the short not-trd info card on patient-view; order hooks always show it.",
    )
    trial_never_counts_below_days: int = Field(
        28, ge=0, description="Shorter completed trials never count (EU-PEARL Rec 10)."
    )
    trial_gap_days: int = Field(14, ge=0, description="Refills this close join one trial.")
    failed_trials_required: int = Field(2, ge=1, description="FDA/EMA: at least two.")
    augmentation_counts_as_trial: bool = Field(
        False, description="Count an adequate augmenter as a failed step (CANMAT-style)."
    )
    episode_lookback_months: int = Field(
        24, ge=1, description="Only trials this recent count when the episode start is older."
    )
    phq9_window_days: int = Field(30, ge=1, description="The PHQ-9 that shows persistence.")
    phq9_persisting_at: int = Field(10, description="PHQ-9 at or above: depression persists.")
    phq9_remission_below: int = Field(5, description="PHQ-9 below: remission (CMS159).")
    phq9_response_drop: float = Field(
        0.5, gt=0, lt=1, description="A drop of this fraction from baseline is a response."
    )
    phq9_baseline_days: int = Field(90, ge=1, description="A baseline PHQ-9 this recent.")

    # Blood pressure (docs/clinical-basis.md §4; Spravato label §2, §5; AHA/ACC 2025; ACOG 767)
    bp_window_days: int = Field(30, ge=1, description="The latest BP must be this recent.")
    bp_caution_above: tuple[int, int] = Field((140, 90), description="Above either: caution.")
    bp_defer_at: tuple[int, int] = Field((160, 100), description="At or above either: defer.")
    bp_crisis_at: tuple[int, int] = Field(
        (180, 120), description="At or above either: severe hypertension (AHA/ACC 2025)."
    )
    bp_severe_pregnancy_at: tuple[int, int] = Field(
        (160, 110), description="In pregnancy or postpartum, at or above either: severe (ACOG)."
    )
    bp_urgent_hours: int = Field(
        24, ge=1, description="A severe reading this recent gets the urgent wording."
    )

    # R-AGE (Spravato label §8.4: not approved under 18; §8.5 and §5: larger BP rises at 65+)
    minimum_age: int = 18
    older_adult_age: int = 65
    starting_dose_jurisdiction: Literal["US", "EU"] = Field(
        "US", description="Whose esketamine starting dose to quote at 65+: US label or EU SmPC."
    )

    # Pregnancy, lactation, the postpartum (docs/clinical-basis.md §3.2)
    pregnancy_status_window_days: int = Field(90, ge=1)
    pregnancy_condition_window_days: int = Field(
        300, ge=1, description="A pregnancy Condition counts while its date is this recent."
    )
    hcg_window_days: int = Field(30, ge=1)
    postpartum_days: int = Field(
        42, ge=1, description="Postpartum: a delivery this recent (6 weeks; ACOG)."
    )
    reproductive_ages: tuple[int, int] = Field(
        (12, 50), description="Female patients of these ages get the contraception advice."
    )

    # Acute cardiovascular disease: MI or ACS within 90 days (docs/clinical-basis.md §3.6)
    acute_cardiovascular_window_days: int = Field(90, ge=1)

    # Depression-treatment ketamine and the IV dose check (docs/clinical-basis.md §6, §8)
    ketamine_dose_band_mg_per_kg: tuple[float, float] = Field(
        (0.4, 1.0), description="dose-outside-band: an IV dose outside this band (0.5 studied)."
    )
    weight_window_days: int = Field(90, ge=1, description="weight-missing: no weight this recent.")
    treatment_max_mg_per_kg: float = Field(
        1.0, gt=0, description="An IV ketamine dose up to this counts as depression treatment."
    )
    treatment_max_mg_without_weight: float = Field(
        100, gt=0, description="... or up to this many mg when no weight is known."
    )
    treatment_min_infusion_minutes: float = Field(
        30, gt=0, description="... infused over at least this long (a bolus is anaesthesia)."
    )
    treatment_max_infusion_minutes: float = Field(
        120, gt=0, description="... and no longer than this (hours-long: sedation or pain)."
    )

    # An ongoing course (docs/clinical-basis.md §7)
    course_gap_days: int = Field(60, ge=1, description="A longer gap starts a new course.")
    course_window_days: int = Field(
        60, ge=1, description="A course is shown while its last session is this recent."
    )
    course_baseline_days: int = Field(14, ge=1, description="Baseline PHQ-9 before session 1.")
    iv_induction_sessions: int = Field(6, ge=1, description="IV: 3, 2, then 1 infusions.")
    iv_induction_days: int = Field(21, ge=1)
    iv_first_week_max_sessions: int = Field(3, ge=1)
    iv_maintenance_interval_days: int = Field(28, ge=1, description="About monthly (seed).")
    esketamine_induction_days: int = Field(28, ge=1, description="Twice weekly, weeks 1-4.")
    esketamine_induction_sessions: int = Field(
        8, ge=1, description="Induction is complete after this many sessions (2 a week, 4 weeks)."
    )
    esketamine_max_sessions_per_7_days: int = Field(2, ge=1)
    course_overdue_grace_days: int = Field(
        3, ge=0, description="A next session this many days past its due date is overdue."
    )
    prior_non_response_days: int = Field(
        365, ge=1, description="A course that ended in non-response this recent still counts."
    )

    # Suicide risk (docs/clinical-basis.md §5)
    suicide_window_days: int = Field(30, ge=1)
    item9_urgent_at: int = Field(2, ge=1, description="PHQ-9 item 9 at or above: urgent.")
