"""Pydantic models of CDS Hooks 2.0 documents.

Inbound models (requests, contexts, feedback) accept unknown keys and ``extension`` because
real clients send them. Outbound models (cards, discovery) forbid unknown keys, enforce the
spec's invariants at construction, and serialise through ``dump()``, which never emits
``null`` or an empty string, array or object (spec G-02/G-03).
"""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime
from typing import Annotated, Any, Literal
from urllib.parse import unquote, urlsplit

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PrivateAttr,
    SecretStr,
    StringConstraints,
    model_validator,
)

__all__ = [
    "FHIR_ID_PATTERN",
    "RESOURCE_REF_PATTERN",
    "Action",
    "Bundle",
    "Card",
    "CdsResponse",
    "Coding",
    "DiscoveryResponse",
    "FeedbackItem",
    "FeedbackRequest",
    "FhirAuthorization",
    "HookRequest",
    "Link",
    "OrderSelectContext",
    "OrderSignContext",
    "OverrideReason",
    "PatientViewContext",
    "ServiceDefinition",
    "Source",
    "Suggestion",
    "prune",
]

SUMMARY_MAX_CHARS = 139  # the spec says "<140 characters"

NonEmptyStr = Annotated[str, StringConstraints(min_length=1)]
FHIR_ID_PATTERN = r"^(?!\.+$)[A-Za-z0-9\-.]{1,64}$"  # ids of dots alone would walk paths
RESOURCE_REF_PATTERN = r"^[A-Za-z]+/(?!\.+$)[A-Za-z0-9\-.]{1,64}$"  # "Type/id" (userId, ...)
UUID_PATTERN = r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"
FhirId = Annotated[str, StringConstraints(pattern=FHIR_ID_PATTERN)]
ResourceRef = Annotated[str, StringConstraints(pattern=RESOURCE_REF_PATTERN)]
Uuid = Annotated[str, StringConstraints(pattern=UUID_PATTERN)]
Text = Annotated[str, StringConstraints(max_length=255)]
Code = Annotated[str, StringConstraints(min_length=1, max_length=128)]


def _no_nul(value: str) -> str:
    """Text to be stored: PostgreSQL refuses the NUL character, so it is refused here, as 400."""
    if "\x00" in value:
        raise ValueError("must not contain the NUL character (U+0000)")
    return value


# Feedback is stored: its strings fit their columns (PostgreSQL enforces lengths) and hold no NUL.
StoredText = Annotated[Text, AfterValidator(_no_nul)]
StoredCode = Annotated[Code, AfterValidator(_no_nul)]
CardId = Annotated[str, StringConstraints(min_length=1, max_length=64), AfterValidator(_no_nul)]


def _absolute_url(value: str, *, schemes: tuple[str, ...] = ("http", "https")) -> str:
    parts = urlsplit(value)
    if parts.scheme not in schemes or not parts.netloc:
        raise ValueError(f"must be an absolute {'/'.join(schemes)} URL")
    return value


AbsoluteUrl = Annotated[str, AfterValidator(_absolute_url)]


def prune(value: Any) -> Any:
    """Drop ``None``, ``""``, ``[]`` and ``{}`` recursively.

    Usage: ``prune({"a": [], "b": {"c": None}, "d": 1})  # {"d": 1}``
    """
    if isinstance(value, dict):
        out = {k: prune(v) for k, v in value.items()}
        return {k: v for k, v in out.items() if v not in (None, "", [], {})}
    if isinstance(value, list):
        items = [prune(v) for v in value]
        return [v for v in items if v not in (None, "", [], {})]
    return value


def _new_uuid() -> str:
    return str(uuid.uuid4())


class Inbound(BaseModel):
    model_config = ConfigDict(extra="allow", populate_by_name=True, regex_engine="python-re")


class Outbound(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True, regex_engine="python-re")

    def dump(self) -> dict[str, Any]:
        """JSON-ready dict with no nulls and no empty values."""
        dumped: dict[str, Any] = prune(
            self.model_dump(mode="json", exclude_none=True, by_alias=True)
        )
        return dumped


# --- requests ----------------------------------------------------------------------------


def _not_boolean(value: Any) -> Any:
    """Lax integers take true and false as 1 and 0; a number of seconds is never a boolean."""
    if isinstance(value, bool):
        raise ValueError("must be a number of seconds, not a boolean")
    return value


class FhirAuthorization(Inbound):
    """Bearer token for fhirServer. The token is a SecretStr so that it never prints."""

    access_token: SecretStr
    token_type: str = "Bearer"
    expires_in: Annotated[int, BeforeValidator(_not_boolean)] | None = None
    scope: str | None = None
    subject: str | None = None
    patient: str | None = None


def _server_url(value: str) -> str:
    parts = urlsplit(_absolute_url(value))
    if parts.query or parts.fragment or "@" in parts.netloc:
        raise ValueError("must be a base URL without query, fragment or user credentials")
    if any(segment in (".", "..") for segment in unquote(parts.path).split("/")):
        raise ValueError("must not contain '.' or '..' path segments")
    return value.rstrip("/")


class HookRequest(Inbound):
    """The envelope of a hook call. ``context`` is checked per hook by the service's model."""

    hook: Code
    hookInstance: Annotated[str, StringConstraints(min_length=1, max_length=256)]
    fhirServer: Annotated[str, AfterValidator(_server_url)] | None = None
    fhirAuthorization: FhirAuthorization | None = None
    context: dict[str, Any]
    prefetch: dict[str, Any] | None = None
    extension: dict[str, Any] | None = None

    @model_validator(mode="after")
    def _authorization_needs_server(self) -> HookRequest:
        if self.fhirAuthorization is not None and not self.fhirServer:
            raise ValueError("fhirAuthorization is present, so fhirServer is required (cds-r-1)")
        return self


class BundleEntry(Inbound):
    fullUrl: str | None = None
    resource: dict[str, Any] | None = None


class Bundle(Inbound):
    """A FHIR Bundle as clients send it: ``type`` is optional (the Sandbox omits it)."""

    resourceType: Literal["Bundle"]
    type: str | None = None
    entry: list[BundleEntry] = Field(default_factory=list)
    _index: dict[str, dict[str, Any]] | None = PrivateAttr(default=None)

    def resources(self) -> list[dict[str, Any]]:
        return [e.resource for e in self.entry if e.resource is not None]

    def find(self, reference: str) -> dict[str, Any] | None:
        """Return the entry resource named by ``Type/id`` (by id, or by the fullUrl's tail)."""
        if self._index is None:
            self._index = {}
            for e in self.entry:
                res = e.resource or {}
                if isinstance(res.get("resourceType"), str) and isinstance(res.get("id"), str):
                    self._index.setdefault(f"{res['resourceType']}/{res['id']}", res)
                if e.fullUrl:
                    tail = "/".join(e.fullUrl.rstrip("/").rsplit("/", 2)[-2:])
                    self._index.setdefault(tail, res)
        return self._index.get(reference)


class PatientViewContext(Inbound):
    userId: ResourceRef
    patientId: FhirId
    encounterId: FhirId | None = None


class OrderSignContext(PatientViewContext):
    draftOrders: Bundle


class OrderSelectContext(OrderSignContext):
    selections: Annotated[list[ResourceRef], Field(min_length=1)]

    @model_validator(mode="after")
    def _selections_resolve(self) -> OrderSelectContext:
        missing = sorted({ref for ref in self.selections if self.draftOrders.find(ref) is None})
        if missing:
            raise ValueError(
                f"selections {missing} name no resource in draftOrders; each selection must "
                "be the 'Type/id' of a draftOrders entry"
            )
        return self


# --- responses ---------------------------------------------------------------------------


class Coding(Outbound):
    system: NonEmptyStr
    code: NonEmptyStr
    display: NonEmptyStr | None = None


class OverrideReason(Coding):
    display: NonEmptyStr  # required on service-provided override reasons (cds-resp-4)


class Source(Outbound):
    label: NonEmptyStr
    url: AbsoluteUrl | None = None
    icon: AbsoluteUrl | None = None
    topic: Coding | None = None


class Action(Outbound):
    type: Literal["create", "update", "delete"]
    description: NonEmptyStr
    resource: dict[str, Any] | None = None
    resourceId: ResourceRef | None = None

    @model_validator(mode="after")
    def _shape_by_type(self) -> Action:
        if self.type in ("create", "update"):
            if not self.resource or not self.resource.get("resourceType"):
                raise ValueError(f"a {self.type} action needs a resource with a resourceType")
        elif not self.resourceId or self.resource:
            raise ValueError("a delete action needs resourceId ('Type/id') and no resource")
        return self


class Suggestion(Outbound):
    label: NonEmptyStr
    uuid: Uuid = Field(default_factory=_new_uuid)
    isRecommended: bool | None = None
    actions: list[Action] | None = None


class Link(Outbound):
    label: NonEmptyStr
    url: AbsoluteUrl
    type: Literal["absolute", "smart"]
    appContext: NonEmptyStr | None = None
    autolaunchable: bool | None = None

    @model_validator(mode="after")
    def _app_context_only_on_smart(self) -> Link:
        if self.appContext is not None and self.type != "smart":
            raise ValueError("appContext is allowed only on smart links (cds-resp-3)")
        return self


class Card(Outbound):
    uuid: Uuid = Field(default_factory=_new_uuid)
    summary: Annotated[str, StringConstraints(min_length=1, max_length=SUMMARY_MAX_CHARS)]
    detail: NonEmptyStr | None = None
    indicator: Literal["info", "warning", "critical"]
    source: Source
    suggestions: list[Suggestion] | None = None
    selectionBehavior: Literal["at-most-one", "any"] | None = None
    overrideReasons: list[OverrideReason] | None = None
    links: list[Link] | None = None
    extension: dict[str, Any] | None = None

    @model_validator(mode="after")
    def _suggestion_rules(self) -> Card:
        if self.suggestions and self.selectionBehavior is None:
            raise ValueError("a card with suggestions needs selectionBehavior (cds-resp-6)")
        if self.selectionBehavior == "at-most-one" and self.suggestions:
            recommended = sum(1 for s in self.suggestions if s.isRecommended)
            if recommended > 1:
                raise ValueError(
                    "selectionBehavior at-most-one allows one isRecommended suggestion at most "
                    "(cds-resp-1)"
                )
        return self


class CdsResponse(Outbound):
    cards: list[Card] = Field(default_factory=list)
    systemActions: list[Action] | None = None
    extension: dict[str, Any] | None = None

    @model_validator(mode="after")
    def _unique_uuids(self) -> CdsResponse:
        ids = [c.uuid for c in self.cards]
        ids += [s.uuid for c in self.cards for s in c.suggestions or []]
        if len(ids) != len(set(ids)):
            raise ValueError("card and suggestion uuids must be unique within a response")
        return self

    def dump(self) -> dict[str, Any]:
        out = super().dump()
        out["cards"] = out.get("cards", [])  # "cards": [] is the one empty array the spec wants
        return out


class ServiceDefinition(Outbound):
    hook: NonEmptyStr
    title: NonEmptyStr | None = None
    description: NonEmptyStr
    id: FhirId
    prefetch: dict[str, NonEmptyStr] | None = None
    usageRequirements: NonEmptyStr | None = None
    extension: dict[str, Any] | None = None


class DiscoveryResponse(Outbound):
    services: list[ServiceDefinition] = Field(default_factory=list)

    def dump(self) -> dict[str, Any]:
        out = super().dump()
        out["services"] = out.get("services", [])
        return out


# --- feedback ----------------------------------------------------------------------------


class FeedbackCoding(Inbound):
    """A reason Coding as clients send it: the Sandbox omits display, and system when unset."""

    code: StoredCode
    system: StoredText | None = None
    display: StoredText | None = None


LEGACY_REASON_KEYS = frozenset({"code", "system", "display"})


class FeedbackOverride(Inbound):
    reason: FeedbackCoding | None = None
    userComment: (
        Annotated[str, StringConstraints(max_length=4000), AfterValidator(_no_nul)] | None
    ) = None

    @model_validator(mode="before")
    @classmethod
    def _unwrapped_reason(cls, data: Any) -> Any:
        # Sandbox builds before cds-hooks/sandbox#139 sent {code, system} with no "reason".
        # Any of the three keys marks that shape, so a stray display is checked, not dropped.
        if not isinstance(data, dict) or not LEGACY_REASON_KEYS & data.keys():
            return data
        if "reason" in data:
            raise ValueError(
                "give the reason either as reason or as code, system and display beside it, "
                "not both"
            )
        return {
            "reason": {k: data[k] for k in LEGACY_REASON_KEYS if k in data},
            **{k: v for k, v in data.items() if k not in LEGACY_REASON_KEYS},
        }

    @model_validator(mode="after")
    def _reason_or_comment(self) -> FeedbackOverride:
        if self.reason is None and not self.userComment:
            raise ValueError("overrideReason needs a reason or a userComment (cds-fb-3)")
        return self


class AcceptedSuggestion(Inbound):
    id: StoredCode


_TIMESTAMP = re.compile(
    r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})?$", re.ASCII
)


def _timestamp(value: Any) -> Any:
    """RFC 3339 date-time; a missing offset is taken as UTC (some clients omit it)."""
    if not isinstance(value, str) or not _TIMESTAMP.match(value):
        raise ValueError("must be an ISO 8601 date-time, e.g. 2026-03-02T10:05:31Z")
    return value


def _as_utc(value: datetime) -> datetime:
    try:
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    except OverflowError:
        raise ValueError("is outside the range of representable UTC times") from None


class FeedbackItem(Inbound):
    card: CardId  # the uuid of a card as sent; the column holds 64 characters
    outcome: Literal["accepted", "overridden"]
    acceptedSuggestions: list[AcceptedSuggestion] | None = None
    overrideReason: FeedbackOverride | None = None
    outcomeTimestamp: Annotated[datetime, BeforeValidator(_timestamp), AfterValidator(_as_utc)]

    @model_validator(mode="after")
    def _accepted_names_suggestions(self) -> FeedbackItem:
        if self.outcome == "accepted" and not self.acceptedSuggestions:
            raise ValueError("outcome 'accepted' needs acceptedSuggestions (cds-fb-2)")
        return self


class FeedbackRequest(Inbound):
    feedback: Annotated[list[FeedbackItem], Field(min_length=1)]
