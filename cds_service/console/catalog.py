"""What the console offers: fixture patients, draft orders, and the requests built from them.

Every request is built from the bundled fixtures with their dates moved to ``today``
(fixtures/README.md), so a demo patient's 30-day windows never lapse.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date
from functools import cache
from importlib.resources import files
from typing import Any

from cds_service.evaluate import HOOKS, EvaluationError, build_request
from cds_service.fixture_loader import ANCHOR, fixture_names, load_fixture

__all__ = ["ConsoleError", "Scenario", "build_console_request", "draft_orders", "scenarios"]

CONSOLE_USER = "Practitioner/ketamine-cds-console"
ORDER_HOOKS = ("order-select", "order-sign")
FROM_SCENARIO = "scenario"


class ConsoleError(ValueError):
    """A console request that names an unknown scenario, hook or order; the message says which."""


@dataclass(frozen=True)
class Scenario:
    name: str
    patient_id: str
    patient: str
    story: str
    order_hooks: tuple[str, ...]

    def as_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "patientId": self.patient_id,
            "patient": self.patient,
            "story": self.story,
            **({"ownOrders": list(self.order_hooks)} if self.order_hooks else {}),
        }


def _patient_label(patient: dict[str, Any]) -> str:
    name = (patient.get("name") or [{}])[0]
    given = " ".join(name.get("given") or [])
    born = date.fromisoformat(patient["birthDate"])
    age = ANCHOR.year - born.year - ((ANCHOR.month, ANCHOR.day) < (born.month, born.day))
    return f"{given} {name.get('family', '')}".strip() + f", {patient.get('gender', '?')}, {age}"


@cache
def scenarios() -> tuple[Scenario, ...]:
    """The fixture patients, each with its story and the order hooks it has its own drafts for."""
    stories = {n: load_fixture("expected", n)["story"] for n in fixture_names("expected")}
    with_orders = {hook: set(fixture_names(f"requests/{hook}")) for hook in ORDER_HOOKS}
    found = []
    for name in fixture_names("patients"):
        patient = load_fixture("patients", name)["entry"][0]["resource"]
        found.append(
            Scenario(
                name=name,
                patient_id=patient["id"],
                patient=_patient_label(patient),
                story=stories.get(name, "The CDS Hooks Sandbox's example patient."),
                order_hooks=tuple(h for h in ORDER_HOOKS if name in with_orders[h]),
            )
        )
    return tuple(found)


@cache
def _orders_document() -> dict[str, Any]:
    text = (files("cds_service.console") / "orders.json").read_text(encoding="utf-8")
    document: dict[str, Any] = json.loads(text)
    return document


def draft_orders() -> dict[str, str]:
    """The draft orders the console offers, as key → label."""
    return {key: o["label"] for key, o in _orders_document()["orders"].items()}


def _template_order(key: str, patient_id: str, today: date) -> dict[str, Any]:
    template = json.dumps(_orders_document()["orders"][key]["resource"])
    filled = template.replace("{patient}", patient_id).replace("{today}", today.isoformat())
    order: dict[str, Any] = json.loads(filled)
    return order


def _scenario_context(name: str, hook: str, today: date) -> dict[str, Any]:
    """The fixture's own draftOrders and selections, from its request for this or the other hook."""
    for source_hook in (hook, *(h for h in ORDER_HOOKS if h != hook)):
        if name in fixture_names(f"requests/{source_hook}"):
            context: dict[str, Any] = load_fixture(f"requests/{source_hook}", name, shift_to=today)[
                "context"
            ]
            return context
    raise ConsoleError(f"scenario {name!r} has no draft orders of its own; pick a draft order")


def build_console_request(scenario: str, hook: str, order: str, today: date) -> dict[str, Any]:
    """The CDS Hooks request an EHR would send for this fixture patient, hook and draft order."""
    known = {s.name: s for s in scenarios()}
    if scenario not in known:
        raise ConsoleError(f"unknown scenario {scenario!r}")
    if hook not in HOOKS:
        raise ConsoleError(f"unknown hook {hook!r}; expected one of {', '.join(HOOKS)}")
    bundle = load_fixture("patients", scenario, shift_to=today)
    patient_id = known[scenario].patient_id
    own_context: dict[str, Any] | None = None
    if hook in ORDER_HOOKS:
        if order == FROM_SCENARIO:
            own_context = _scenario_context(scenario, hook, today)
            drafts = [e["resource"] for e in own_context["draftOrders"]["entry"]]
        elif order in draft_orders():
            drafts = [_template_order(order, patient_id, today)]
        else:
            raise ConsoleError(
                f"unknown draft order {order!r}; expected {FROM_SCENARIO!r} or one of "
                f"{', '.join(draft_orders())}"
            )
        bundle = {**bundle, "entry": [*bundle["entry"], *({"resource": d} for d in drafts)]}
    try:
        request = build_request(bundle, hook)
    except EvaluationError as exc:
        raise ConsoleError(str(exc)) from None
    request["context"]["userId"] = CONSOLE_USER
    if own_context and hook == "order-select" and own_context.get("selections"):
        request["context"]["selections"] = own_context["selections"]
    return request
