"""At most ``max_cards`` cards per response (KETAMINE_CDS_MAX_CARDS).

Each draft order can add cards, so a request with many drafts could otherwise answer with
thousands. Over the limit, the most urgent cards are kept (critical, then warning, then info,
each in the order the service made them) and one card says how many were left out and on what
topics. That card is as urgent as the most urgent card it stands for, so that a hard stop left
out cannot be read past.
"""

from __future__ import annotations

from collections import Counter
from typing import Literal

from cds_service.protocol.models import Card
from cds_service.services.common import source, summary_fit
from cds_service.services.content import texts
from cds_service.services.detail import Detail

__all__ = ["capped"]

Indicator = Literal["critical", "warning", "info"]
URGENCY: tuple[Indicator, ...] = ("critical", "warning", "info")
EXTENSION_KEY = "org.ketamine-cds.cards-not-shown"


def capped(cards: list[Card], limit: int, *, orders: bool) -> list[Card]:
    """``cards`` when there are at most ``limit``; else the ``limit - 1`` most urgent, then a
    card that names what was left out. ``orders``: on an order hook, where fewer orders at a
    time show the rest."""
    if len(cards) <= limit:
        return cards
    ranked = sorted(cards, key=lambda card: URGENCY.index(card.indicator))
    kept, left_out = ranked[: limit - 1], ranked[limit - 1 :]
    return [*kept, _not_shown_card(left_out, total=len(cards), limit=limit, orders=orders)]


def _not_shown_card(left_out: list[Card], *, total: int, limit: int, orders: bool) -> Card:
    words = texts()["cardsNotShown"]
    by_indicator = Counter(card.indicator for card in left_out)
    counts = _and(
        [
            f"{by_indicator[level]} {words['indicators'][level]} "
            + ("card" if by_indicator[level] == 1 else "cards")
            for level in URGENCY
            if by_indicator[level]
        ]
    )
    topics = ", ".join(dict.fromkeys(_topic(card) for card in left_out))
    count = len(left_out)
    detail = Detail(
        do=words["do"]["orders" if orders else "view"],
        why=[
            words["why"].format(total=total, shown=limit - 1, counts=counts, topics=topics),
        ],
    )
    return Card(
        summary=summary_fit(
            words["summary"].format(
                count=count,
                cards="card" if count == 1 else "cards",
                level=words["indicators"][left_out[0].indicator],
                topic=_topic(left_out[0]),
            )
        ),
        detail=detail.markdown(),
        indicator=left_out[0].indicator,
        source=source("cards-not-shown"),
        extension={
            EXTENSION_KEY: {
                "total": total,
                "notShown": count,
                "limit": limit,
                "byIndicator": {level: by_indicator[level] for level in URGENCY},
            }
        },
    )


def _topic(card: Card) -> str:
    topic = card.source.topic
    return (topic.display or topic.code) if topic else card.source.label


def _and(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]
