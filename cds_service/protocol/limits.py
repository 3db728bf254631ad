"""Caps on what one hook call may carry, beyond the body-size cap (README, Errors).

A body under the byte cap can still hold tens of thousands of tiny entries or keys, each of
which costs parsing and rule time; these answer 413 with the field and the limit.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from cds_service.errors import PayloadTooLarge

if TYPE_CHECKING:
    from cds_service.config import Settings
    from cds_service.protocol.models import HookRequest

__all__ = ["check_limits"]


def check_limits(request: HookRequest, settings: Settings) -> None:
    """Raise PayloadTooLarge when the prefetch keys, a prefetch Bundle's entries or the draft
    orders are more than their caps allow."""
    prefetch = request.prefetch or {}
    if len(prefetch) > settings.max_prefetch_keys:
        raise PayloadTooLarge(
            f"prefetch has {len(prefetch)} keys; the limit is {settings.max_prefetch_keys}.",
            error_code="too-many-prefetch-keys",
            expression=["prefetch"],
        )
    drafts = _entry_count(request.context.get("draftOrders"))
    if drafts > settings.max_draft_orders:
        raise PayloadTooLarge(
            f"context.draftOrders has {drafts} orders; the limit is "
            f"{settings.max_draft_orders} (KETAMINE_CDS_MAX_DRAFT_ORDERS).",
            error_code="too-many-draft-orders",
            expression=["context.draftOrders.entry"],
        )
    bundles = {f"prefetch.{key}": value for key, value in prefetch.items()}
    for path, value in bundles.items():
        count = _entry_count(value)
        if count > settings.max_bundle_entries:
            raise PayloadTooLarge(
                f"{path} has {count} entries; the limit is {settings.max_bundle_entries}.",
                error_code="too-many-entries",
                expression=[f"{path}.entry"],
            )


def _entry_count(value: Any) -> int:
    if isinstance(value, dict) and isinstance(value.get("entry"), list):
        return len(value["entry"])
    return 0
