"""What a service handler receives: the validated request, its typed context, and the data."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import TYPE_CHECKING

from cds_service.protocol.models import HookRequest, PatientViewContext
from cds_service.protocol.prefetch import PrefetchData

if TYPE_CHECKING:
    from cds_service.config import Settings

__all__ = ["HookCall"]


@dataclass(frozen=True)
class HookCall:
    service_id: str
    request: HookRequest
    context: PatientViewContext
    data: PrefetchData
    settings: Settings
    today: date
    now: datetime | None = None  # the service clock's moment; ``today`` is its date
