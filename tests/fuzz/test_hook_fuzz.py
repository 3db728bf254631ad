"""Mutated hook calls never get a 5xx: a valid CDS response (200) or a 4xx OperationOutcome.

Every test starts from the bundled fixture requests of all three hooks and breaks them: random
JSON paths anywhere (deep inside prefetch resources and draftOrders too), resources of the
wrong type, Bundles without entries, dates at every FHIR precision and invalid ones, huge and
odd strings, both encodings. Unexpected exceptions stay 500 in the service, so these find them.
See tests/fuzz/mutations.py for the profiles (``HYPOTHESIS_PROFILE=deep`` for a long run).
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any

import pytest
from hypothesis import given, note
from hypothesis import strategies as st

from tests.fuzz.mutations import (
    ENCODINGS,
    GENERIC,
    HOOK_KINDS,
    HOOK_STATUSES,
    JSON_VALUES,
    NON_FINITE,
    JsonPath,
    Nested,
    clone,
    encode,
    examples,
    fixture_requests,
    get_at,
    has_lone_surrogate,
    mutate,
    node_paths,
    pick,
    post,
    put_huge_string,
    put_odd_text,
    resource_paths,
    server_errors,
    service_url,
    set_at,
)

HOOKS = list(HOOK_KINDS)
SOURCES = {hook: fixture_requests(hook) for hook in HOOKS}
NOW = date(2026, 3, 2)  # the test clock (tests/conftest.py) and the fixtures' anchor


@pytest.fixture
def hook_client(make_app: Any) -> Any:
    # No callbacks: a prefetch key the fuzzer breaks must not reach out to the fixtures'
    # fhirServer (localhost:8081). The refusal path is what is exercised instead.
    return make_app(fhir_server_allowlist=[]).test_client()


def call(client: Any, hook: str, document: Any, how: str) -> tuple[int, Any]:
    with server_errors() as errors:
        status, answer = post(client, service_url(hook), encode(document, how), errors)
    assert status in HOOK_STATUSES, status
    if has_lone_surrogate(document) and status != 413:  # not JSON text, however encoded
        assert answer["issue"][0]["details"]["coding"][0]["code"] == "invalid-json"
    return status, answer


# --- random paths anywhere -------------------------------------------------------------------


@pytest.mark.parametrize("hook", HOOKS)
@examples(4)
@given(data=st.data())
def test_mutations_at_random_paths(hook_client: Any, hook: str, data: st.DataObject) -> None:
    document = mutate(data.draw, SOURCES[hook])
    call(hook_client, hook, document, data.draw(st.sampled_from(ENCODINGS), label="encoding"))


@pytest.mark.parametrize("hook", HOOKS)
@examples(1)
@given(data=st.data())
def test_mutations_inside_prefetch_and_draft_orders(
    hook_client: Any, hook: str, data: st.DataObject
) -> None:
    """The same mutations, aimed below prefetch and draftOrders only, where the rules read."""
    document = pick(data.draw, SOURCES[hook])
    roots: list[JsonPath] = [("prefetch",)]
    if "draftOrders" in document["context"]:
        roots.append(("context", "draftOrders"))
    for _ in range(data.draw(st.integers(1, 6), label="mutations")):
        root = data.draw(st.sampled_from(roots))
        if not isinstance(get_at(document, root), dict):
            break
        inner = [(*root, *p) for p in node_paths(get_at(document, root))]
        if not inner:
            break
        path = data.draw(st.sampled_from(inner))
        document = data.draw(st.sampled_from(GENERIC))(data.draw, document, path)
    call(hook_client, hook, document, "ascii-escapes")


def is_typed_leaf(path: JsonPath) -> bool:
    """A unit, a date, a type or a status: scalars the record layer reads as text."""
    last, parent = path[-1], str(path[-2]) if len(path) > 1 else ""
    if last in ("code", "unit") and parent.endswith(("Quantity", "Duration", "low", "high")):
        return True
    return last in (*DATE_FIELDS, "start", "end", "resourceType", "status", "intent", "id")


@pytest.mark.parametrize("hook", HOOKS)
@examples(1)
@given(data=st.data())
def test_values_nested_near_the_parser_limit(
    hook_client: Any, hook: str, data: st.DataObject
) -> None:
    """Leaves buried so that the document nests about 1,000 deep (JSON allows 1,024 here):
    whatever reads such a value must not str() or repr() it (RecursionError)."""
    document = pick(data.draw, SOURCES[hook])
    leaves = [p for p in node_paths(document) if not isinstance(get_at(document, p), dict | list)]
    typed = [p for p in leaves if is_typed_leaf(p)]  # units, dates, types: read as text
    choice = st.sampled_from(typed) | st.sampled_from(leaves)
    for path in data.draw(st.lists(choice, min_size=1, max_size=3, unique=True)):
        total = data.draw(st.sampled_from([990, 1000, 1010, 1020]))
        kind = data.draw(st.sampled_from(["list", "dict"]))
        note(f"{path} under {total - len(path)} {kind}s")
        set_at(document, path, Nested(get_at(document, path), total - len(path), kind))
    call(hook_client, hook, document, "utf-8")


# --- wrong resource types, odd Bundles ---------------------------------------------------------

PREFETCH_KEYS = [
    "patient",
    "conditions",
    "medicationRequests",
    "medicationStatements",
    "medicationAdministrations",
    "observations",
    "allergies",
    "procedures",
]


def resources_of(document: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        get_at(document, p)
        for p in resource_paths(document)
        if get_at(document, p)["resourceType"] != "Bundle"
    ]


def searchset(resources: list[Any], **extra: Any) -> dict[str, Any]:
    return {
        "resourceType": "Bundle",
        "type": "searchset",
        "entry": [{"resource": r} for r in resources],
        **extra,
    }


OUTCOME_ENTRY = {
    "resource": {
        "resourceType": "OperationOutcome",
        "issue": [{"severity": "error", "code": "processing", "diagnostics": "backend down"}],
    },
    "search": {"mode": "outcome"},
}


def wrong_shape(draw: st.DrawFn, document: dict[str, Any], original: Any) -> Any:
    """What a confused client could put where a resource or a searchset belongs."""
    others = resources_of(document) or [{"resourceType": "Basic"}]
    other = clone(draw(st.sampled_from(others)))
    bundle = original if isinstance(original, dict) else searchset([])
    shapes = [
        other,  # a Condition where the Patient should be, a Patient as a search result...
        searchset([other]),
        searchset([clone(original), clone(bundle)]),  # a Bundle of Bundles
        searchset([searchset([other])] * 3),
        searchset([other, clone(original)], total=-1),
        {**clone(bundle), "type": draw(st.sampled_from(["collection", "transaction", 7]))},
        {**clone(bundle), "entry": [*clone(bundle).get("entry", []), OUTCOME_ENTRY]},
        {**clone(bundle), "link": [{"relation": "next", "url": "http://localhost:8081/x?p=2"}]},
        {"resourceType": "OperationOutcome", "issue": "none"},
        {"resourceType": draw(st.sampled_from(["", "Bundle ", "bundle", "Patient"]))},
        [other],
        draw(JSON_VALUES),
    ]
    return draw(st.sampled_from(shapes))


@pytest.mark.parametrize("hook", HOOKS)
@examples(1.5)
@given(data=st.data())
def test_wrong_resource_types_in_prefetch_and_draft_orders(
    hook_client: Any, hook: str, data: st.DataObject
) -> None:
    document = pick(data.draw, SOURCES[hook])
    targets: list[JsonPath] = [("prefetch", k) for k in PREFETCH_KEYS]
    if hook != "patient-view":
        targets.append(("context", "draftOrders"))
    for _ in range(data.draw(st.integers(1, 3), label="changes")):
        path = data.draw(st.sampled_from(targets))
        original = get_at(document, path[:-1]).get(path[-1])
        value = wrong_shape(data.draw, document, original)
        note(f"{path} <- {str(value)[:120]}")
        set_at(document, path, value)
    call(hook_client, hook, document, "utf-8")


EMPTY_BUNDLES = [
    lambda b: {k: v for k, v in b.items() if k != "entry"},
    lambda b: {**b, "entry": []},
    lambda b: {**b, "entry": [{}]},
    lambda b: {**b, "entry": [{"fullUrl": "urn:uuid:1"}]},
    lambda b: {**b, "entry": [{"resource": None}, {"resource": {}}, {"resource": []}]},
    lambda b: {**b, "entry": [{"resource": {"id": "x"}}, {"resource": {"resourceType": None}}]},
    lambda b: {**b, "entry": [None, 1, "x", [], {"search": {"mode": "outcome"}}]},
    lambda b: {**b, "entry": {}},
    lambda b: {**b, "entry": "none"},
    lambda b: {**b, "entry": [{"resource": e} for e in b.get("entry", [])]},  # entry in entry
    lambda b: {**b, "entry": [{**e, "resource": None} for e in b.get("entry", [])]},
    lambda b: {**b, "entry": [{"resource": {"resourceType": "Bundle"}}]},
    lambda b: {"resourceType": "Bundle"},
]


@pytest.mark.parametrize("hook", HOOKS)
@examples(1)
@given(data=st.data())
def test_bundles_without_entries_or_resources(
    hook_client: Any, hook: str, data: st.DataObject
) -> None:
    document = pick(data.draw, SOURCES[hook])
    bundles = [
        p for p in resource_paths(document) if get_at(document, p)["resourceType"] == "Bundle"
    ]
    paths = data.draw(st.lists(st.sampled_from(bundles), min_size=1, max_size=4, unique=True))
    for path in paths:
        index = data.draw(st.integers(0, len(EMPTY_BUNDLES) - 1), label="shape")
        note(f"{path}: empty-bundle shape #{index}")
        set_at(document, path, EMPTY_BUNDLES[index](clone(get_at(document, path))))
    status, answer = call(hook_client, hook, document, "utf-8")
    # An empty or broken prefetch Bundle is data (nothing on record), never an error. The
    # draftOrders Bundle is the order itself: a broken one may be refused, naming the field.
    if status != 200:
        assert any(path[:2] == ("context", "draftOrders") for path in paths), answer
        assert status == 400, answer
        assert all("draftOrders" in i["diagnostics"] for i in answer["issue"]), answer


# --- dates ---------------------------------------------------------------------------------

DATE_FIELDS = [  # plain date/dateTime fields the record layer and the rules read
    "birthDate",
    "onsetDateTime",
    "abatementDateTime",
    "recordedDate",
    "effectiveDateTime",
    "effectiveInstant",
    "issued",
    "authoredOn",
    "performedDateTime",
    "occurrenceDateTime",
    "dateAsserted",
    "lastOccurrence",
]
PERIOD_FIELDS = [
    "onsetPeriod",
    "abatementPeriod",
    "effectivePeriod",
    "performedPeriod",
    "occurrencePeriod",
]
DEEP_PERIODS: list[JsonPath] = [  # periods inside MedicationRequest structures
    ("dispenseRequest", "validityPeriod"),
    ("dosageInstruction", 0, "timing", "repeat", "boundsPeriod"),
    ("dosage", 0, "timing", "repeat", "boundsPeriod"),
    ("dosage", "timing", "repeat", "boundsPeriod"),  # MedicationAdministration.dosage is one
]
INVALID_DATES = [
    "2026-02-30",
    "2026-02-29",
    "2024-02-29",
    "2026-13-01",
    "2026-00-10",
    "2026-03-00",
    "2026-03-02T24:00:00Z",
    "24:00",
    "0000",
    "0000-01-01",
    "0001-01-01T00:00:00+14:00",
    "9999-12-31T23:59:59-12:00",
    "99999",
    "99999-01-01",
    "",
    " ",
    "garbage",
    "2026-3-2",
    "2026/03/02",
    "20260302",
    "2026-03-02T",
    "2026-03-02T10",
    "2026-03-02T10:00:60Z",
    "2026-03-02T10:00:00+25:00",
    "2026-03-02T10:00:00.1234567890123Z",
    "2026-03-02 10:00:00",
    "-2026-01-01",
    "+2026-01-01",
    "2026-03-02T10:00:00Z\u0000",
    "\uff12\uff10\uff12\uff16-\uff10\uff13-\uff10\uff12",
    "٢٠٢٦-٠٣-٠٢",
    "1849-12-31",
    "2201-01-01",
    "1850-01-01T00:00:00+14:00",
    "2200-12-31T23:59:59-12:00",
]
OFFSETS = ["", "Z", "+00:00", "-00:00", "+14:00", "-12:00", "+05:30", "+23:59"]


@st.composite
def fhir_dates(draw: st.DrawFn) -> str:
    """A date at every FHIR precision, mostly near the test clock, or an invalid one."""
    if draw(st.integers(0, 3)) == 0:
        return draw(st.sampled_from(INVALID_DATES))
    day = draw(
        st.dates(NOW - timedelta(days=800), NOW + timedelta(days=60))
        | st.dates(date(1840, 1, 1), date(2210, 12, 31))
        | st.sampled_from([date.min, date.max, NOW, NOW - timedelta(days=1)])
    )
    precision = draw(st.sampled_from(["Y", "YM", "YMD", "hm", "hms", "frac", "datetime"]))
    if precision == "Y":
        return f"{day.year:04d}"
    if precision == "YM":
        return f"{day.year:04d}-{day.month:02d}"
    if precision == "YMD":
        return day.isoformat()
    moment = datetime.combine(day, draw(st.times()))
    offset = draw(st.sampled_from(OFFSETS))
    if precision == "hm":
        return moment.strftime("%Y-%m-%dT%H:%M") + offset
    if precision == "hms":
        return moment.strftime("%Y-%m-%dT%H:%M:%S") + offset
    if precision == "frac":
        digits = draw(st.integers(1, 9))
        return (
            moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond:06d}000"[:digits] + offset
        )
    return datetime.combine(day, time(12, 0)).isoformat() + offset


@st.composite
def periods(draw: st.DrawFn) -> Any:
    shape = draw(st.sampled_from(["both", "start", "end", "empty", "reversed"]))
    start, end = draw(fhir_dates()), draw(fhir_dates())
    if shape == "reversed":
        start, end = max(start, end), min(start, end)
    return {
        "both": {"start": start, "end": end},
        "reversed": {"start": start, "end": end},
        "start": {"start": start},
        "end": {"end": end},
        "empty": {},
    }[shape]


def redate(draw: st.DrawFn, sources: list[dict[str, Any]]) -> dict[str, Any]:
    """A fixture request with 1 to 8 date fields replaced or added, at any depth."""
    document = pick(draw, sources)
    resources = [
        p for p in resource_paths(document) if get_at(document, p)["resourceType"] != "Bundle"
    ]
    existing = [
        p
        for p in node_paths(document)
        if p and isinstance(p[-1], str) and (p[-1] in DATE_FIELDS or p[-1] in ("start", "end"))
    ]
    for _ in range(draw(st.integers(1, 8))):
        how = draw(st.sampled_from(["existing", "field", "period", "deep"]))
        if how == "existing" and existing:
            path = draw(st.sampled_from(existing))
            set_at(document, path, draw(fhir_dates()))
            continue
        resource = get_at(document, draw(st.sampled_from(resources)))
        if how == "field":
            resource[draw(st.sampled_from(DATE_FIELDS))] = draw(fhir_dates())
        elif how == "period":
            resource[draw(st.sampled_from(PERIOD_FIELDS))] = draw(periods())
        else:
            _put_deep(resource, draw(st.sampled_from(DEEP_PERIODS)), draw(periods()))
    return document


def _put_deep(resource: dict[str, Any], path: JsonPath, value: Any) -> None:
    """Set ``value`` at ``path`` inside ``resource``, making objects and one-item lists."""
    node: Any = resource
    for key, following in zip(path, (*path[1:], None), strict=True):
        if following is None:
            break
        fresh: Any = [{}] if isinstance(following, int) else {}
        if isinstance(node, dict):
            if not isinstance(node.get(key), list | dict):
                node[key] = fresh
            node = node[key]
        elif isinstance(node, list) and isinstance(key, int):
            if not node:
                node.append({})
            node = node[0]
    if isinstance(node, dict) and isinstance(path[-1], str):
        node[path[-1]] = value


@pytest.mark.parametrize("hook", HOOKS)
@examples(2)
@given(data=st.data())
def test_dates_at_every_precision_and_invalid(
    hook_client: Any, hook: str, data: st.DataObject
) -> None:
    document = redate(data.draw, SOURCES[hook])
    status, answer = call(hook_client, hook, document, "ascii-escapes")
    assert status == 200, answer  # a date the service cannot read is missing, not an error


# --- strings, numbers and encodings ---------------------------------------------------------


@pytest.mark.parametrize("hook", HOOKS)
@examples(0.5)
@given(data=st.data())
def test_huge_strings_are_answered_quickly(
    hook_client: Any, hook: str, data: st.DataObject
) -> None:
    """Up to a few hundred KB in any string, half the time in the free texts the rules search
    (code, dosage and display texts). The two expressions that were once quadratic on such
    texts are pinned with their worst inputs in test_regressions.py."""
    document = pick(data.draw, SOURCES[hook])
    strings = [p for p in node_paths(document) if isinstance(get_at(document, p), str)]
    searched = [p for p in strings if p[-1] in ("text", "display")]
    paths = st.sampled_from(searched) | st.sampled_from(strings)
    for path in data.draw(st.lists(paths, min_size=1, max_size=2, unique=True)):
        document = put_huge_string(data.draw, document, path)
    call(hook_client, hook, document, "utf-8")


@pytest.mark.parametrize("hook", HOOKS)
@examples(1)
@given(data=st.data())
def test_odd_unicode_in_both_encodings(hook_client: Any, hook: str, data: st.DataObject) -> None:
    """Lone surrogates are invalid JSON text both ways (400); NUL, RTL marks, emoji, combining
    characters and noncharacters are data like any other."""
    document = pick(data.draw, SOURCES[hook])
    strings = [p for p in node_paths(document) if isinstance(get_at(document, p), str)]
    for path in data.draw(st.lists(st.sampled_from(strings), min_size=1, max_size=6, unique=True)):
        document = put_odd_text(data.draw, document, path)
    call(hook_client, hook, document, data.draw(st.sampled_from(ENCODINGS), label="encoding"))


@examples(1)
@given(data=st.data())
def test_non_finite_numbers_are_invalid_json(hook_client: Any, data: st.DataObject) -> None:
    """json.dumps writes NaN and Infinity, which are not JSON: 400, never a crash."""
    hook = data.draw(st.sampled_from(HOOKS))
    document = pick(data.draw, SOURCES[hook])
    path = data.draw(st.sampled_from(node_paths(document)))
    set_at(document, path, data.draw(NON_FINITE))
    status, answer = call(hook_client, hook, document, "ascii-escapes")
    assert status == 400
    assert answer["issue"][0]["details"]["coding"][0]["code"] == "invalid-json"


@examples(1)
@given(
    body=st.binary(max_size=64)
    | st.text(max_size=64).map(lambda t: t.encode("utf-8", "surrogatepass"))
    | st.sampled_from([b"{", b"[]", b"null", b"\xef\xbb\xbf{}", b"{}" * 3, b'{"hook": }']),
    hook=st.sampled_from(HOOKS),
)
def test_arbitrary_bytes_are_refused_with_400(hook_client: Any, body: bytes, hook: str) -> None:
    with server_errors() as errors:
        status, answer = post(hook_client, service_url(hook), body, errors)
    assert status == 400, answer
