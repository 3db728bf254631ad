"""The service registry: each service declares its discovery entry next to its handler."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from cds_service.errors import UnknownService, UnsupportedHook
from cds_service.protocol.models import (
    Card,
    DiscoveryResponse,
    OrderSelectContext,
    OrderSignContext,
    PatientViewContext,
    ServiceDefinition,
)
from cds_service.protocol.prefetch import TOKEN, USER_TOKENS

if TYPE_CHECKING:
    from cds_service.protocol.hookcall import HookCall

__all__ = ["HOOK_CONTEXTS", "Service", "ServiceRegistry"]

# Context fields each hook marks "Prefetch Token: Yes" (the CDS Hooks hook definitions).
HOOK_CONTEXT_TOKENS: dict[str, frozenset[str]] = {
    "patient-view": frozenset({"userId", "patientId", "encounterId"}),
    "order-select": frozenset({"userId", "patientId", "encounterId"}),
    "order-sign": frozenset({"userId", "patientId", "encounterId"}),
}
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
    """Services by (id, hook); the discovery document is the registry's listing.

    One id may serve several hooks (spec D-05): a call is dispatched on its id and its body's
    ``hook``.
    """

    def __init__(self) -> None:
        self._services: dict[tuple[str, str], Service] = {}

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
        for key, template in prefetch.items():
            _check_tokens(key, template, hook)

        def register(handler: Handler) -> Handler:
            if (id, hook) in self._services:
                raise ValueError(f"service id {id!r} is registered twice for {hook!r}")
            definition = ServiceDefinition(
                id=id,
                hook=hook,
                title=title,
                description=description,
                prefetch=prefetch,
                usageRequirements=usage_requirements,
            )
            self._services[(id, hook)] = Service(
                definition, handler, tuple(tuple(g) for g in required)
            )
            return handler

        return register

    def hooks_of(self, service_id: str) -> list[str]:
        """The hooks ``service_id`` serves; raises UnknownService (404) when it serves none."""
        hooks = [hook for (sid, hook) in self._services if sid == service_id]
        if not hooks:
            known = ", ".join(sorted({sid for sid, _ in self._services})) or "none"
            raise UnknownService(f"No CDS service with id '{service_id}'. Known services: {known}.")
        return hooks

    def dispatch(self, service_id: str, hook: str) -> Service:
        """The service for (id, hook): 404 for an unknown id, 400 for a hook it does not serve."""
        hooks = self.hooks_of(service_id)
        if hook not in hooks:
            served = ", ".join(f"'{h}'" for h in hooks)
            raise UnsupportedHook(
                f"Service '{service_id}' serves the {served} hook, not '{hook}'. "
                "Call the service registered for that hook (see GET /cds-services).",
                expression=["hook"],
            )
        return self._services[(service_id, hook)]

    def discovery(self) -> DiscoveryResponse:
        return DiscoveryResponse(services=[s.definition for s in self._services.values()])

    def __iter__(self) -> Iterator[Service]:
        return iter(self._services.values())


def _check_tokens(key: str, template: str, hook: str) -> None:
    """Tokens must be root-level primitive context fields or user tokens (spec P-11)."""
    for token in TOKEN.findall(template):
        field_name = token.removeprefix("context.")
        if token in USER_TOKENS or (
            token.startswith("context.") and field_name in HOOK_CONTEXT_TOKENS[hook]
        ):
            continue
        raise ValueError(
            f"prefetch {key!r} uses {{{{{token}}}}}, which {hook} cannot fill; use one of "
            f"{sorted(f'context.{f}' for f in HOOK_CONTEXT_TOKENS[hook])} or a user token"
        )
