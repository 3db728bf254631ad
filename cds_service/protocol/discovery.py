"""The service registry: each service declares its discovery entry next to its handler."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from cds_service.errors import UnknownService
from cds_service.protocol.models import (
    Card,
    DiscoveryResponse,
    OrderSelectContext,
    OrderSignContext,
    PatientViewContext,
    ServiceDefinition,
)

if TYPE_CHECKING:
    from cds_service.protocol.hookcall import HookCall

__all__ = ["HOOK_CONTEXTS", "Service", "ServiceRegistry"]

HOOK_CONTEXTS: dict[str, type[PatientViewContext]] = {
    "patient-view": PatientViewContext,
    "order-select": OrderSelectContext,
    "order-sign": OrderSignContext,
}

Handler = Callable[["HookCall"], list[Card]]


@dataclass(frozen=True)
class Service:
    """One CDS service: its discovery entry, the data it requires, and its handler.

    ``required`` lists groups of prefetch keys; each group needs at least one key whose data
    can be had (prefetched or fetched), or the call is answered 412.
    """

    definition: ServiceDefinition
    handler: Handler
    required: tuple[tuple[str, ...], ...] = field(default_factory=tuple)

    @property
    def id(self) -> str:
        return self.definition.id

    @property
    def hook(self) -> str:
        return self.definition.hook

    @property
    def prefetch(self) -> dict[str, str]:
        return self.definition.prefetch or {}

    @property
    def context_model(self) -> type[PatientViewContext]:
        return HOOK_CONTEXTS[self.hook]


class ServiceRegistry:
    """Services by id; the discovery document is the registry's listing."""

    def __init__(self) -> None:
        self._services: dict[str, Service] = {}

    def service(
        self,
        *,
        id: str,
        hook: str,
        title: str,
        description: str,
        prefetch: dict[str, str],
        usage_requirements: str,
        required: Sequence[Sequence[str]] = (),
    ) -> Callable[[Handler], Handler]:
        """Register the decorated function as the handler of service ``id`` on ``hook``."""
        if hook not in HOOK_CONTEXTS:
            raise ValueError(f"hook {hook!r} is not supported; use one of {sorted(HOOK_CONTEXTS)}")
        unknown = {k for group in required for k in group} - set(prefetch)
        if unknown:
            raise ValueError(f"required keys {sorted(unknown)} have no prefetch template")

        def register(handler: Handler) -> Handler:
            if id in self._services:
                raise ValueError(f"service id {id!r} is registered twice")
            definition = ServiceDefinition(
                id=id,
                hook=hook,
                title=title,
                description=description,
                prefetch=prefetch,
                usageRequirements=usage_requirements,
            )
            self._services[id] = Service(definition, handler, tuple(tuple(g) for g in required))
            return handler

        return register

    def get(self, service_id: str) -> Service:
        try:
            return self._services[service_id]
        except KeyError:
            known = ", ".join(sorted(self._services)) or "none"
            raise UnknownService(
                f"No CDS service with id '{service_id}'. Known services: {known}."
            ) from None

    def discovery(self) -> DiscoveryResponse:
        return DiscoveryResponse(services=[s.definition for s in self._services.values()])

    def __iter__(self) -> Iterator[Service]:
        return iter(self._services.values())
