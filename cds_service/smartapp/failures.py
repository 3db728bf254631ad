"""What can go wrong between a card's link and the view, in words for the person who clicked.

Each failure is a plain page with a status; none shows a stack trace, a token or patient data.
``detail`` names the part that failed (an HTTP status, an exception's type), never a value the
server or the browser sent.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["FAILURES", "Failure", "LaunchFailure"]


@dataclass(frozen=True)
class Failure:
    status: int
    title: str
    explanation: str


AGAIN = "Open the view again from the card in the patient's chart."

FAILURES = {
    "bad-launch": Failure(
        400,
        "The view was not launched from an EHR",
        "The launch link needs the EHR's iss and launch parameters. " + AGAIN,
    ),
    "unknown-iss": Failure(
        403,
        "This FHIR server is not one the view may read",
        "The EHR named a FHIR server that is not on this service's allowlist, or that has no "
        "SMART client registration here (KETAMINE_CDS_SMART_CLIENTS). Ask the service's "
        "administrator to register it.",
    ),
    "discovery": Failure(
        502,
        "The EHR's SMART configuration could not be read",
        "The service asked the FHIR server for its SMART configuration "
        "(.well-known/smart-configuration), and {detail}. Try again; if it persists, tell "
        "the service's administrator.",
    ),
    "denied": Failure(
        403,
        "The EHR did not grant access",
        "The authorization server answered {detail} instead of a code. " + AGAIN,
    ),
    "state": Failure(
        400,
        "This sign-in is not valid",
        "It was already used, has expired, or was begun in another browser. " + AGAIN,
    ),
    "token": Failure(
        502,
        "The EHR did not give a usable token",
        "The service exchanged the authorization code at the EHR's token endpoint, and {detail}. "
        + AGAIN,
    ),
    "no-patient": Failure(
        400,
        "No patient is in context",
        "The EHR granted access but named no patient, so there is no chart to show. Open the "
        "view from a card in a patient's chart.",
    ),
    "mix-up": Failure(
        400,
        "The sign-in came back from another server",
        "The authorization server that answered is not the one the view sent you to, so its "
        "code was not used. " + AGAIN,
    ),
    "busy": Failure(
        503,
        "Too many launches are in progress",
        "The service keeps a limited number of launches waiting for their sign-in. Try again in "
        "a few minutes; if it persists, tell the service's administrator.",
    ),
    "replaced": Failure(
        409,
        "This view was replaced by a later one",
        "A later launch in this browser opened the view for a patient, perhaps another one, "
        "so this page no longer shows anything. Open the view again from the card in the "
        "patient's chart you are working in.",
    ),
    "expired": Failure(
        401,
        "Your session has ended",
        "The view's session ends after a period without use, or when the EHR's access token "
        "expires, and there is none in this browser now. " + AGAIN,
    ),
    "fhir": Failure(
        502,
        "The chart could not be read",
        "The service read the patient's chart from the FHIR server, and {detail}. Try again; "
        "if it persists, tell the service's administrator.",
    ),
    "storage": Failure(
        503,
        "The service cannot reach its database",
        "Sign-ins and sessions are kept in the service's database, which did not answer. Try "
        "again in a minute; if it persists, tell the service's administrator.",
    ),
    "disabled": Failure(
        404,
        "The TRD and course view is not set up",
        "This service has no SMART client registration (KETAMINE_CDS_SMART_CLIENTS), so the "
        "view cannot be launched.",
    ),
}


class LaunchFailure(Exception):
    """One of ``FAILURES``, with the detail its explanation takes."""

    def __init__(self, kind: str, detail: str = "") -> None:
        super().__init__(kind)
        self.kind = kind
        self.detail = detail

    @property
    def failure(self) -> Failure:
        return FAILURES[self.kind]

    def explanation(self) -> str:
        return self.failure.explanation.format(detail=self.detail or "it failed")
