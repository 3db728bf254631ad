"""The drug-interaction card: monitor closely, and each interacting medication with its effect
and its start date (Spravato label §7)."""

from __future__ import annotations

from cds_service.clinical.assessment import Assessment
from cds_service.protocol.models import Card, Link
from cds_service.services.codes import override_reasons
from cds_service.services.common import capital, extension, links, source, summary_fit
from cds_service.services.content import md, texts
from cds_service.services.detail import Detail, evidence_phrase
from cds_service.services.reasons import sources

__all__ = ["interaction_card"]


def interaction_card(
    assessment: Assessment, *, drug: str, ordered: bool, handouts: tuple[Link, ...] = ()
) -> Card | None:
    """``ordered``: the drug is being ordered (an order hook), not a course under way."""
    reasons = list(assessment.interactions)
    if not reasons:
        return None
    words = texts()["interaction"]
    info_only = all(r.code == "interaction-lamotrigine" for r in reasons)
    # The summary names the drugs that need monitoring; lamotrigine, for information, is in the
    # detail only, unless it is all there is.
    named = reasons if info_only else [r for r in reasons if r.code != "interaction-lamotrigine"]
    names = ", ".join(
        dict.fromkeys(md((e.value or "").split(",")[0]) for r in named for e in r.evidence)
    )
    effects = " and ".join(
        dict.fromkeys(
            words["effectWords"][r.code] for r in reasons if r.code in words["effectWords"]
        )
    )
    summary = words["summary"]["info" if info_only else "warning"].format(
        effects=effects, drug=drug, names=names
    )
    detail = Detail(
        do=words["do"]["info" if info_only else "order" if ordered else "course"].format(drug=drug),
        why=[
            "; ".join(evidence_phrase(e) for e in r.evidence)
            + ". "
            + capital(words["effects"][r.code])
            for r in reasons
        ],
        source=sources(
            [words["drugSource"][drug]] if drug in words["drugSource"] else [],
            [words["sources"][r.code] for r in reasons],
        ),
    )
    return Card(
        summary=summary_fit(summary),
        detail=detail.markdown(),
        indicator="info" if info_only else "warning",
        source=source("drug-interaction"),
        overrideReasons=override_reasons("drug-interaction"),
        links=links("spravato-label", handouts=handouts),
        extension=extension(assessment, reasons),
    )
