"""Tables."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    JSON,
    DateTime,
    Float,
    Integer,
    PrimaryKeyConstraint,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

__all__ = [
    "AuditRecord",
    "Base",
    "FeedbackRecord",
    "IssuedCard",
    "SmartLaunch",
    "SmartSession",
    "UsedTokenId",
]

# None is SQL NULL, not the JSON text 'null', so that "IS NULL" means "none" on every database.
NullableJSON = JSON(none_as_null=True)


class Base(DeclarativeBase):
    pass


class FeedbackRecord(Base):
    """One clinician outcome on one card. (card, outcome, timestamp) is stored once."""

    __tablename__ = "feedback"
    __table_args__ = (
        UniqueConstraint("card_uuid", "outcome", "outcome_timestamp", name="uq_feedback_item"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    service_id: Mapped[str] = mapped_column(String(64), index=True)
    card_uuid: Mapped[str] = mapped_column(String(64), index=True)
    outcome: Mapped[str] = mapped_column(String(16))
    outcome_timestamp: Mapped[str] = mapped_column(String(32))  # UTC, microseconds, "Z"
    accepted_suggestions: Mapped[list[str] | None] = mapped_column(NullableJSON, nullable=True)
    override_system: Mapped[str | None] = mapped_column(String(255), nullable=True)
    override_code: Mapped[str | None] = mapped_column(String(128), nullable=True)
    override_display: Mapped[str | None] = mapped_column(String(255), nullable=True)
    user_comment: Mapped[str | None] = mapped_column(Text, nullable=True)
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class UsedTokenId(Base):
    """A JWT ``jti`` already accepted from an issuer, kept until the token expires (spec J-06)."""

    __tablename__ = "used_token_id"
    __table_args__ = (PrimaryKeyConstraint("issuer", "jti", name="pk_used_token_id"),)

    issuer: Mapped[str] = mapped_column(String(255))
    jti: Mapped[str] = mapped_column(String(255))
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)


class AuditRecord(Base):
    """One hook call: who called, about which (hashed) patient, what was answered.

    No PHI in clear and never a token: the patient id is an HMAC under a site salt.
    """

    __tablename__ = "audit"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    request_id: Mapped[str] = mapped_column(String(64))
    service_id: Mapped[str] = mapped_column(String(64), index=True)
    hook: Mapped[str | None] = mapped_column(String(64), nullable=True)
    hook_instance: Mapped[str | None] = mapped_column(String(64), nullable=True)
    patient_hash: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)
    issuer: Mapped[str | None] = mapped_column(String(255), nullable=True)
    card_topics: Mapped[list[str] | None] = mapped_column(NullableJSON, nullable=True)
    decisions: Mapped[list[str] | None] = mapped_column(NullableJSON, nullable=True)
    status: Mapped[int] = mapped_column(Integer)
    latency_ms: Mapped[float] = mapped_column(Float)


class IssuedCard(Base):
    """A card as sent: its uuid, topic and decision, for joining feedback (issue 6)."""

    __tablename__ = "issued_card"

    card_uuid: Mapped[str] = mapped_column(String(64), primary_key=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    request_id: Mapped[str] = mapped_column(String(64))
    service_id: Mapped[str] = mapped_column(String(64))
    topic: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)
    decision: Mapped[str | None] = mapped_column(String(64), nullable=True)
    indicator: Mapped[str] = mapped_column(String(16))


class SmartLaunch(Base):
    """A SMART launch waiting for its authorization callback; taken once, then deleted.

    Keys are SHA-256 hashes, so the table alone cannot finish a launch; ``sealed`` holds the
    PKCE verifier and the endpoints, encrypted with the session key.
    """

    __tablename__ = "smart_launch"

    state_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    browser_hash: Mapped[str] = mapped_column(String(64))
    sealed: Mapped[str] = mapped_column(Text)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)


class SmartSession(Base):
    """A view session: the FHIR server, its token and the patient, encrypted in ``sealed``;
    found by the hash of the random id in the browser's cookie."""

    __tablename__ = "smart_session"

    id_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    sealed: Mapped[str] = mapped_column(Text)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
