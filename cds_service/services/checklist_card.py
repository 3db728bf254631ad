"""The order-checklist card: the steps an esketamine or IV ketamine order needs.

Esketamine: the Spravato label and REMS. IV ketamine: the APA consensus statement (Sanacora et
al. 2017) and the Ketalar label. Shown for a depression-treatment order that no hard stop
blocks (docs/clinical-basis.md §8); the steps are data in ``cards/text.json``.
"""

from __future__ import annotations

from cds_service.clinical.assessment import Assessment
from cds_service.clinical.orders import DOSING_CHECKS, intravenous, latest_weight
from cds_service.clinical.settings import ClinicalSettings
from cds_service.protocol.models import Card
from cds_service.record.orders import DraftOrder
from cds_service.services.codes import override_reasons
from cds_service.services.common import extension, handout, links, source, summary_fit
from cds_service.services.content import texts
from cds_service.services.detail import Detail, Table, day

__all__ = ["checklist_card"]

ORDER_REASONS = DOSING_CHECKS | {"rems-requirements", "off-label-consent"}


def _could_become_pregnant(assessment: Assessment, settings: ClinicalSettings) -> bool:
    record = assessment.record
    low, high = settings.reproductive_ages
    return (
        record.sex == "female"
        and record.age is not None
        and low <= record.age <= high
        and assessment.reason("pregnancy") is None
    )


def _order_dose(assessment: Assessment, order: DraftOrder, settings: ClinicalSettings) -> str:
    """The order's dose against the site's mg/kg band (cards/text.json "checklist" "orderDose")."""
    words = texts()["checklist"]["orderDose"]
    low, high = settings.ketamine_dose_band_mg_per_kg
    band = {"low": f"{low:g}", "high": f"{high:g}"}

    def inside(per_kg: float) -> str:
        return str(words["within" if low <= per_kg <= high else "outside"])

    minutes = (
        words["minutes"].format(minutes=f"{order.infusion_minutes:g}")
        if order.infusion_minutes
        else ""
    )
    if order.dose_mg_per_kg is not None:
        per_kg = order.dose_mg_per_kg
        return str(
            words["perKg"].format(
                per_kg=f"{per_kg:g}", minutes=minutes, inside=inside(per_kg), **band
            )
        )
    if order.dose_mg is None:
        return str(words["noDose"])
    weight = latest_weight(assessment.record, settings)
    if weight is None or not weight.value:
        return str(
            words["noWeight"].format(dose=f"{order.dose_mg:g}", days=settings.weight_window_days)
        )
    per_kg = order.dose_mg / weight.value
    if not minutes and intravenous(order):
        minutes = words["noLength"]
    return str(
        words["dose"].format(
            dose=f"{order.dose_mg:g}",
            minutes=minutes,
            per_kg=f"{per_kg:.2f}",
            weight=f"{weight.value:g}",
            date=day(weight.when),
            inside=inside(per_kg),
            **band,
        )
    )


def checklist_card(
    assessment: Assessment, order: DraftOrder, settings: ClinicalSettings, *, base_url: str
) -> Card | None:
    if assessment.hard_stop:
        return None
    words = texts()["checklist"]
    if order.kind == "esketamine":
        kind = "esketamine"
        rows = [list(row) for row in words["esketamine"]]
        record = assessment.record
        older = record.age is not None and record.age >= settings.older_adult_age
        if older and settings.starting_dose_jurisdiction == "EU":
            for row in rows:
                if row[0] == "Day-1 dose":
                    row[1] += " " + words["esketamineOlderEU"]
    else:
        kind = "ketamine"
        dose = _order_dose(assessment, order, settings)
        rows = [[cell.format(order_dose=dose) for cell in row] for row in words["ketamine"]]
        if order.kind == "ketamine" and not intravenous(order):  # the IV dose row does not apply
            rows = [list(words["ketamineIvOnly"]) if row[0] == "Dose" else row for row in rows]
    if _could_become_pregnant(assessment, settings):
        rows.append(list(words["contraception"][kind]))
    detail = Detail(
        do=words["do"][kind],
        why=[words["intro"][kind]],
        table=Table(header=words["header"], rows=rows),
        source=words["source"][kind],
    )
    reasons = [r for r in assessment.reasons if r.code in ORDER_REASONS]
    return Card(
        summary=summary_fit(
            words["summary"]["ketamine-iv" if kind == "ketamine" and intravenous(order) else kind]
        ),
        detail=detail.markdown(),
        indicator="info",
        source=source("order-checklist"),
        overrideReasons=override_reasons("order-checklist"),
        links=links("spravato-rems", "spravato-label", handouts=(handout(kind, base_url),))
        if kind == "esketamine"
        else links("apa-consensus", handouts=(handout(kind, base_url),)),
        extension=extension(assessment, reasons),
    )
