"""Hypothesis strategies that break valid CDS Hooks documents, and the checks every answer passes.

A mutation starts from a valid document (a bundled fixture request, a feedback body) and changes
it at a random JSON path: drops the node, gives it another JSON type, buries it under deep
nesting, swaps in a node from elsewhere in the document, adds an unknown key, or replaces a
string with a huge or unicode-odd one. Bodies go out either as ASCII JSON (``\\u`` escapes,
lone surrogates included) or as raw UTF-8 (a lone surrogate then makes the bytes invalid).

Profiles: ``ci`` (the default, what ``make test`` runs: a few hundred examples in all) and
``deep`` (thousands per test, for a local hunt)::

    HYPOTHESIS_PROFILE=deep .venv/bin/python -m pytest tests/fuzz -p no:cacheprovider
"""

from __future__ import annotations

import copy
import json
import logging
import signal
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from hypothesis import event, note, settings
from hypothesis import strategies as st

from cds_service.fixture_loader import fixture_names, load_fixture
from cds_service.logs import safe_traceback

JsonPath = tuple[str | int, ...]


def examples(weight: float) -> settings:
    """Settings for one test: ``weight`` times the profile's example count (the profiles are
    in tests/conftest.py)."""
    return settings(max_examples=max(1, round(settings.default.max_examples * weight)))


# --- the valid starting points -----------------------------------------------------------------

HOOK_KINDS = {
    "patient-view": ("requests/patient-view", "ketamine-trd-patient-view"),
    "order-select": ("requests/order-select", "ketamine-order-select"),
    "order-sign": ("requests/order-sign", "ketamine-order-sign"),
}


def fixture_requests(hook: str) -> list[dict[str, Any]]:
    """Every bundled fixture request for ``hook``, as sent (dated around the test clock)."""
    kind, _ = HOOK_KINDS[hook]
    return [load_fixture(kind, name) for name in fixture_names(kind)]


def service_url(hook: str) -> str:
    return f"/cds-services/{HOOK_KINDS[hook][1]}"


# --- JSON paths --------------------------------------------------------------------------------


def children(node: Any) -> Iterator[tuple[str | int, Any]]:
    if isinstance(node, dict):
        yield from node.items()
    elif isinstance(node, list):
        yield from enumerate(node)


def node_paths(document: Any, prefix: JsonPath = ()) -> list[JsonPath]:
    """The path of every node under ``document`` (not the root itself), parents first."""
    out: list[JsonPath] = []
    for key, value in children(document):
        path = (*prefix, key)
        out.append(path)
        out += node_paths(value, path)
    return out


def get_at(document: Any, path: JsonPath) -> Any:
    for key in path:
        document = document[key]
    return document


def set_at(document: Any, path: JsonPath, value: Any) -> Any:
    """Put ``value`` at ``path`` (in place) and return the document (``value`` for the root)."""
    if not path:
        return value
    get_at(document, path[:-1])[path[-1]] = value
    return document


def delete_at(document: Any, path: JsonPath) -> Any:
    if path:
        del get_at(document, path[:-1])[path[-1]]
    return document


def resource_paths(document: Any) -> list[JsonPath]:
    """Paths of every JSON object with a string resourceType (the resources, bundles included)."""
    return [
        p
        for p in [(), *node_paths(document)]
        if isinstance(node := get_at(document, p), dict)
        and isinstance(node.get("resourceType"), str)
    ]


def clone(document: Any) -> Any:
    return copy.deepcopy(document)


# --- values ------------------------------------------------------------------------------------

ODD_TEXT = [
    "",
    " ",
    "\u0000",
    "a\u0000b",
    "\u200f\u202eevil\u202c",  # RTL mark, right-to-left override
    "\ufeff",  # BOM
    "\U0001f600",  # emoji
    "\U0001f3f3\ufe0f\u200d\U0001f308",  # ZWJ sequence
    "e\u0301\u0301\u0301\u0301",  # stacked combining marks
    "\uffff\ufffe\U0010ffff",  # noncharacters
    "\ud800",  # lone high surrogate
    "\udfff",  # lone low surrogate
    "\ud83d",  # half an emoji
    "\u2028\u2029",  # JS line separators
    "\x1b[31m\r\n",
    "ketamine infusion",
    "esketamine 56 mg",
    "Patient/../../etc/passwd",
    "{{context.patientId}}",
    "%00%2e%2e",
    "<script>alert(1)</script>",
    "\uff11\uff12\uff13\uff14\uff15",  # fullwidth digits
    "٢٠٢٦-٠٣-٠٢",  # Arabic-Indic digits in a date
    "NaN",
    "-0",
    "1e309",
    "null",
    "true",
]

SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**63), max_value=2**64),
    st.integers(),  # beyond 64 bits too
    st.floats(allow_nan=False, allow_infinity=False),
    st.sampled_from([0, -1, 1, 0.5, -0.0, 1e308, 5e-324, 2**53 + 1]),
    st.text(max_size=12),
    st.sampled_from(ODD_TEXT),
)
JSON_VALUES = st.recursive(
    SCALARS,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=10,
)
NON_FINITE = st.sampled_from([float("nan"), float("inf"), float("-inf")])

# Words the text rules search for, repeated into huge strings: a regex that backtracks on them
# shows up as a slow request.
HUGE_UNITS = [
    "a",
    "1",
    "1.",
    " ",
    "ketamine ",
    "infusion ",
    "ketamine infusion\n",
    "no ",
    "mg ",
    "twice daily ",
    "\U0001f600",
    "e\u0301",
    "\u200f",
    "9" * 7 + "-",
]


@st.composite
def huge_strings(draw: st.DrawFn) -> str:
    unit = draw(st.sampled_from(HUGE_UNITS))
    length = draw(st.sampled_from([300, 5_000, 70_000, 400_000]))
    return unit * max(1, length // len(unit))


def retyped(original: Any) -> st.SearchStrategy[Any]:
    """A value of another JSON type than ``original``, often built from it."""
    derived: list[Any] = [None, True, False, 0, -1, 3.5, "", "x", [], {}, [original]]
    derived += [{"value": original}, _dumps(original, True), str(original)]
    if isinstance(original, dict | list):
        derived.append(list(original.values()) if isinstance(original, dict) else {"0": original})
    return st.sampled_from([v for v in derived if type(v) is not type(original)]) | JSON_VALUES


class Nested:
    """``value`` under ``depth`` arrays or objects, written out only by ``encode``.

    Deep nesting stays virtual so that the test's own helpers (deepcopy, json.dumps) never
    recurse past Python's limit; the service parses the real thing.
    """

    def __init__(self, value: Any, depth: int, kind: str) -> None:
        self.value, self.depth, self.kind = value, depth, kind

    def text(self, ensure_ascii: bool) -> str:
        inner = _dumps(self.value, ensure_ascii)
        if self.kind == "list":
            return "[" * self.depth + inner + "]" * self.depth
        return '{"a":' * self.depth + inner + "}" * self.depth

    def __repr__(self) -> str:
        return f"Nested({self.value!r:.60}, depth={self.depth}, kind={self.kind!r})"


# --- document mutations ------------------------------------------------------------------------

Mutation = Callable[[st.DrawFn, Any, JsonPath], Any]


def _drop(draw: st.DrawFn, document: Any, path: JsonPath) -> Any:
    note(f"drop {path}")
    return delete_at(document, path)


def _retype(draw: st.DrawFn, document: Any, path: JsonPath) -> Any:
    value = draw(retyped(get_at(document, path)))
    note(f"retype {path} -> {value!r:.80}")
    return set_at(document, path, value)


def _nest(draw: st.DrawFn, document: Any, path: JsonPath) -> Any:
    """Bury the node. Half the depths are shallow; the others bring the document to about
    1,000 levels: past Python's recursion limit for any str() or repr() of the node (from
    about 980 here), and around the parser's limit of 1,024."""
    shallow = st.sampled_from([1, 2, 3, 10, 100])
    deep = st.sampled_from([990, 1000, 1010, 1020, 1030]).map(lambda n: max(1, n - len(path)))
    depth = draw(shallow | deep)
    kind = draw(st.sampled_from(["list", "dict"]))
    note(f"nest {path} under {depth} {kind}s")
    return set_at(document, path, Nested(get_at(document, path), depth, kind))


def _swap(draw: st.DrawFn, document: Any, path: JsonPath) -> Any:
    """Put a copy of another node of the document here (a Condition where the Patient was)."""
    other = draw(st.sampled_from(node_paths(document)))
    note(f"copy {other} to {path}")
    return set_at(document, path, clone(get_at(document, other)))


def _add_key(draw: st.DrawFn, document: Any, path: JsonPath) -> Any:
    target = get_at(document, path)
    if not isinstance(target, dict):
        return _retype(draw, document, path)
    key = draw(st.sampled_from(["extension", "resourceType", "id", "entry", "_x"]) | st.text())
    target[key] = draw(JSON_VALUES)
    note(f"add {path}.{key!r}")
    return document


def put_odd_text(draw: st.DrawFn, document: Any, path: JsonPath) -> Any:
    original = get_at(document, path)
    odd = draw(st.sampled_from(ODD_TEXT) | st.text(min_size=1, max_size=8))
    if isinstance(original, str) and draw(st.booleans()):
        odd = original + odd if draw(st.booleans()) else odd + original
    note(f"odd text at {path}: {odd!r:.80}")
    return set_at(document, path, odd)


def put_huge_string(draw: st.DrawFn, document: Any, path: JsonPath) -> Any:
    value = draw(huge_strings())
    note(f"huge string at {path}: {len(value)} x {value[:12]!r}")
    return set_at(document, path, value)


GENERIC: list[Mutation] = [_drop, _retype, _nest, _swap, _add_key, put_odd_text]


def pick(draw: st.DrawFn, sources: list[dict[str, Any]]) -> dict[str, Any]:
    """A copy of one of ``sources``.

    Drawing an index rather than ``sampled_from(sources)`` keeps the documents out of strategy
    reprs, which Hypothesis would otherwise build (and warn about: they are hundreds of KB).
    """
    index = draw(st.integers(0, len(sources) - 1))
    note(f"source #{index}")
    return clone(sources[index])  # type: ignore[no-any-return]


def mutate(
    draw: st.DrawFn,
    sources: list[dict[str, Any]],
    *,
    mutations: list[Mutation] = GENERIC,
    at_most: int = 4,
) -> dict[str, Any]:
    """One of ``sources``, changed by 1 to ``at_most`` mutations at random paths."""
    document = pick(draw, sources)
    for _ in range(draw(st.integers(1, at_most))):
        paths = node_paths(document)
        if not paths:
            break
        path = draw(st.sampled_from(paths))
        document = draw(st.sampled_from(mutations))(draw, document, path)
    return document


# --- encoding ----------------------------------------------------------------------------------

ENCODINGS = ["ascii-escapes", "utf-8"]


def encode(document: Any, how: str) -> bytes:
    """JSON bytes. ``ascii-escapes`` writes every non-ASCII character (surrogates too) as \\u
    escapes; ``utf-8`` writes raw UTF-8, where a lone surrogate gives invalid bytes."""
    if how == "ascii-escapes":
        return _dumps(document, True).encode("ascii")
    return _dumps(document, False).encode("utf-8", "surrogatepass")


def _dumps(document: Any, ensure_ascii: bool) -> str:
    deep: dict[str, Nested] = {}

    def placeholder(value: Any) -> str:
        if not isinstance(value, Nested):
            raise TypeError(type(value).__name__)
        token = f"@nested-{len(deep)}@"
        deep[token] = value
        return token

    text = json.dumps(document, ensure_ascii=ensure_ascii, default=placeholder)
    for token, value in deep.items():
        text = text.replace(f'"{token}"', value.text(ensure_ascii), 1)
    return text


def has_lone_surrogate(value: Any) -> bool:
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return True
        return False
    if isinstance(value, dict):
        return any(has_lone_surrogate(k) or has_lone_surrogate(v) for k, v in value.items())
    if isinstance(value, list):
        return any(has_lone_surrogate(v) for v in value)
    if isinstance(value, Nested):
        return has_lone_surrogate(value.value)
    return False


# --- answers -----------------------------------------------------------------------------------

MAX_SECONDS = 10.0  # far above any sane request; a backtracking regex takes minutes


class TookTooLong(Exception):
    pass


@contextmanager
def within(seconds: float) -> Iterator[None]:
    """Fail the block, rather than hang the run, once it takes ``seconds``. SIGALRM, main
    thread only; the regex engine checks for signals, so even a backtracking search stops."""

    def expire(_signal: int, _frame: Any) -> None:
        raise TookTooLong(f"still running after {seconds} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


HOOK_STATUSES = {200, 400, 404, 412, 413}
FEEDBACK_STATUSES = {200, 400, 404, 413}


class ServerErrors(logging.Handler):
    """Collects the stack of every unhandled error the app logs, for the failure message."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.stacks: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.exc_info and record.exc_info[1] is not None:
            self.stacks.append(safe_traceback(record.exc_info[1]))


@contextmanager
def server_errors() -> Iterator[ServerErrors]:
    handler = ServerErrors()
    logger = logging.getLogger("cds_service")
    logger.addHandler(handler)
    try:
        yield handler
    finally:
        logger.removeHandler(handler)


# A gunicorn sync worker has 15 frames on the stack when it calls the app, the test client
# about 5 between ``client.post`` and the app: measured, and kept so in ``production_stack``.
# To measure again (after a gunicorn or Flask upgrade), count ``len(inspect.stack())`` in a
# view served by ``ketamine-cds serve`` and in the same view under the test client.
FRAMES_LEFT_FOR_THE_APP = 1000 - 15 + 5


@contextmanager
def production_stack() -> Iterator[None]:
    """Give a request the stack a gunicorn worker gives it.

    Hypothesis raises the recursion limit while a test runs, to make room for its own frames,
    and that hid a RecursionError (JSON nests 1,024 deep, str() of it needs ~1,000 frames):
    under Hypothesis the request had room a worker does not have.
    """
    depth, frame = 0, sys._getframe()
    while frame is not None:
        depth, frame = depth + 1, frame.f_back
    previous = sys.getrecursionlimit()
    sys.setrecursionlimit(depth + FRAMES_LEFT_FOR_THE_APP)
    try:
        yield
    finally:
        sys.setrecursionlimit(previous)


def post(client: Any, url: str, body: bytes, errors: ServerErrors) -> tuple[int, Any]:
    """POST ``body``; check the answer is fast, JSON, and a 4xx OperationOutcome unless 200.

    The client (tests/conftest.py) has already checked a 200 against the CDS Hooks response
    schema and every answer for nulls and empty values.
    """
    errors.stacks.clear()
    started = time.perf_counter()
    with production_stack(), within(MAX_SECONDS):
        response = client.post(url, data=body, content_type="application/json")
    elapsed = time.perf_counter() - started
    status = response.status_code
    text = response.get_data(as_text=True)
    assert status < 500, f"{status} for a {len(body)}-byte body: {text[:500]}\n" + "\n".join(
        errors.stacks
    )
    assert elapsed < MAX_SECONDS, f"{elapsed:.1f} s for a {len(body)}-byte body"
    assert response.mimetype == "application/json", response.mimetype
    document = json.loads(text)
    if status != 200:
        assert 400 <= status < 500
        assert document["resourceType"] == "OperationOutcome"
        assert document["issue"], document
        codes = [i["details"]["coding"][0]["code"] for i in document["issue"]]
        note(f"{status} {codes}")
        event(f"{status} {codes[0]}")
    else:
        event("200")
    return status, document
