"""Soak test: mixed traffic against gunicorn for minutes; no 5xx, feedback stored once, flat memory.

Not part of ``make test`` (pytest collects only ``tests/``). Run it by hand::

    .venv/bin/python -m benchmarks.soak                       # 3 minutes, SQLite in a temp dir
    .venv/bin/python -m benchmarks.soak --duration 120 --workers 4 --clients 6
    .venv/bin/python -m benchmarks.soak --database-url postgresql+psycopg://u:p@127.0.0.1/db

It starts ``ketamine-cds serve`` (gunicorn, sync workers, ``--preload``) with authentication
off, a temporary data directory and no FHIR callbacks. Client processes then send, until the
time is up:

* hook calls for all three hooks, from the bundled fixture requests dated today;
* malformed JSON, wrong types, unknown services and hooks, oversize bodies (declared and
  chunked);
* feedback: every item sent 2 or 3 times (a retry may give the same instant in another UTC
  offset, or repeat the item inside one batch), and once per time window an item that every
  client sends at the same moment, so duplicates also arrive concurrently from other processes.

Afterwards it checks that no answer was a 5xx (and no worker restarted), that every feedback
item answered 200 is stored exactly once (and that the ``stored`` counts add up to the rows),
and that memory is flat: each worker's PSS and USS (from ``/proc/<pid>/smaps_rollup``, sampled
every few seconds) may not grow by more than ``--max-growth-mb`` or ``--max-growth-pct`` after
the warm-up. It prints a Markdown summary and exits 1 on any failure.
"""

from __future__ import annotations

import argparse
import copy
import json
import multiprocessing
import random
import shutil
import signal
import statistics
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import requests

from benchmarks.procs import memory_kb
from benchmarks.server import Server, free_port, serve_command, service_env

SERVICES = {
    "patient-view": "ketamine-trd-patient-view",
    "order-select": "ketamine-order-select",
    "order-sign": "ketamine-order-sign",
}
MAX_BODY_BYTES = 2 * 1024 * 1024  # the soak's cap, so that oversize bodies stay cheap to send
SHARED_WINDOW_S = 3.0  # every client sends the window's shared feedback item ...
SHARED_AT_S = 0.25  # ... this long after the window starts, all at the same moment
TIMEOUT_S = 30.0
MIN_WARM_SAMPLES = 6  # two disjoint groups of 3 for the memory-growth medians

# --- traffic -----------------------------------------------------------------------------------

WEIGHTS = {
    "hook": 46,
    "wrong-types": 8,
    "malformed-json": 6,
    "unknown-service": 3,
    "unknown-hook": 3,
    "oversize": 2,
    "feedback": 28,
    "feedback-invalid": 4,
}


@dataclass
class ClientResult:
    index: int
    statuses: Counter[tuple[str, int]] = field(default_factory=Counter)
    latencies: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    connection_errors: Counter[str] = field(default_factory=Counter)
    # 5xx ("kind status: first bytes"), and other answers the request should not have had
    unexpected: list[str] = field(default_factory=list)
    feedback_ok: set[tuple[str, str, str]] = field(default_factory=set)  # stored keys, 200 seen
    feedback_sent: set[tuple[str, str, str]] = field(default_factory=set)
    stored_total: int = 0
    feedback_posts: int = 0


def fixture_bodies() -> dict[str, list[dict[str, Any]]]:
    from cds_service.fixture_loader import fixture_names, load_fixture

    today = date.today()
    return {
        hook: [
            load_fixture(f"requests/{hook}", name, shift_to=today)
            for name in fixture_names(f"requests/{hook}")
        ]
        for hook in SERVICES
    }


def timestamp_key(moment: datetime) -> str:
    """How the service stores an outcome timestamp: UTC, microseconds, 'Z'."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def written(moment: datetime, rng: random.Random) -> str:
    """The instant as a client may write it: Z, +00:00, or another offset (same instant)."""
    style = rng.choice(["Z", "+00:00", "offset"])
    if style == "offset":
        zone = timezone(timedelta(minutes=rng.choice([-720, -300, 60, 330, 840])))
        return moment.astimezone(zone).isoformat(timespec="milliseconds")
    text = moment.astimezone(UTC).isoformat(timespec="milliseconds")
    return text.replace("+00:00", "Z") if style == "Z" else text


def feedback_item(card: str, moment: datetime, rng: random.Random) -> dict[str, Any]:
    if rng.random() < 0.5:
        return {
            "card": card,
            "outcome": "accepted",
            "acceptedSuggestions": [{"id": str(uuid.UUID(int=rng.getrandbits(128)))}],
            "outcomeTimestamp": written(moment, rng),
        }
    return {
        "card": card,
        "outcome": "overridden",
        "overrideReason": {
            "reason": {
                "system": "https://ketamine-cds.org/fhir/CodeSystem/ketamine-cds",
                "code": rng.choice(["benefit-outweighs-risk", "patient-declined"]),
            },
            "userComment": rng.choice(["", "discussed", "later \u00e9\u200f\U0001f600"]) or None,
        },
        "outcomeTimestamp": written(moment, rng),
    }


def key_of(item: dict[str, Any]) -> tuple[str, str, str]:
    moment = datetime.fromisoformat(item["outcomeTimestamp"].replace("Z", "+00:00"))
    return item["card"], item["outcome"], timestamp_key(moment)


def without_none(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: without_none(v) for k, v in value.items() if v is not None}
    return value


WRONG_TYPES: list[Callable[[dict[str, Any]], None]] = [
    lambda b: b["context"].update(patientId=12345),
    lambda b: b["context"].update(userId=["Practitioner/1"]),
    lambda b: b.update(hook=7),
    lambda b: b.update(hookInstance={"id": 1}),
    lambda b: b.update(prefetch="everything"),
    lambda b: b.update(context=None),
    lambda b: b["prefetch"].update(patient=[1, 2, 3]),
    lambda b: b["prefetch"].update(conditions={"resourceType": "Bundle", "entry": "none"}),
    lambda b: b["prefetch"].update(observations={"resourceType": "Condition", "id": 3}),
    lambda b: b.update(fhirServer=42),
]
INVALID_FEEDBACK: dict[str, list[Any]] = {
    "outcome": [None, 3, "", "maybe"],
    "card": [None, 3, "", "x" * 65, "a\u0000b"],  # 64 characters at most, no NUL
    "outcomeTimestamp": [
        None,
        3,
        "",
        "2026-02-30T10:00:00Z",
        "2026-03-02",
        "0001-01-01T00:00:00+14:00",
    ],
}
MALFORMED = [b"{", b'{"hook": }', b"[1, 2", b"\xff\xfe{}", b"", b"null", b"{}" * 2, b'{"a": NaN}']


class Client:
    def __init__(self, index: int, base: str, run_id: str, deadline: float, seed: int) -> None:
        self.index, self.base, self.run_id, self.deadline = index, base, run_id, deadline
        self.rng = random.Random(seed)
        self.session = requests.Session()
        self.bodies = fixture_bodies()
        self.result = ClientResult(index)
        self.sequence = 0
        self.shared_window = -1

    def post(self, kind: str, path: str, data: Any, **kwargs: Any) -> requests.Response | None:
        started = time.perf_counter()
        try:
            response = self.session.post(
                self.base + path,
                data=data,
                headers={"Content-Type": "application/json"},
                timeout=TIMEOUT_S,
                **kwargs,
            )
        except requests.RequestException as exc:
            self.result.connection_errors[f"{kind}: {type(exc).__name__}"] += 1
            self.session.close()
            self.session = requests.Session()
            return None
        self.result.latencies[kind].append((time.perf_counter() - started) * 1000)
        self.result.statuses[(kind, response.status_code)] += 1
        if response.status_code >= 500:
            self.result.unexpected.append(f"{kind} {response.status_code}: {response.text[:200]}")
        return response

    def run(self) -> ClientResult:
        kinds, weights = zip(*WEIGHTS.items(), strict=True)
        while time.time() < self.deadline:
            self.shared_feedback()
            kind = self.rng.choices(kinds, weights)[0]
            getattr(self, kind.replace("-", "_"))(kind)
        self.session.close()
        return self.result

    # -- hook calls --

    def hook_body(self) -> tuple[str, dict[str, Any]]:
        hook = self.rng.choice(list(SERVICES))
        body = copy.deepcopy(self.rng.choice(self.bodies[hook]))
        body["hookInstance"] = str(uuid.uuid4())
        return hook, body

    def hook(self, kind: str) -> None:
        hook, body = self.hook_body()
        response = self.post(kind, f"/cds-services/{SERVICES[hook]}", json.dumps(body))
        if response is not None and response.status_code != 200 and response.status_code < 500:
            self.result.unexpected.append(f"valid {hook} call answered {response.status_code}")

    def wrong_types(self, kind: str) -> None:
        hook, body = self.hook_body()
        self.rng.choice(WRONG_TYPES)(body)
        self.post(kind, f"/cds-services/{SERVICES[hook]}", json.dumps(body))

    def malformed_json(self, kind: str) -> None:
        path = f"/cds-services/{SERVICES[self.rng.choice(list(SERVICES))]}"
        if self.rng.random() < 0.3:
            path += "/feedback"
        self.post(kind, path, self.rng.choice(MALFORMED))

    def unknown_service(self, kind: str) -> None:
        _, body = self.hook_body()
        self.post(
            kind,
            self.rng.choice(["/cds-services/nope", "/cds-services/x/feedback"]),
            json.dumps(body),
        )

    def unknown_hook(self, kind: str) -> None:
        hook, body = self.hook_body()
        body["hook"] = self.rng.choice(["encounter-start", "order-dispatch", "", "patient-view "])
        self.post(kind, f"/cds-services/{SERVICES[hook]}", json.dumps(body))

    def oversize(self, kind: str) -> None:
        hook, body = self.hook_body()
        body["extension"] = {"padding": "x" * (MAX_BODY_BYTES + 1024)}
        data = json.dumps(body).encode()
        if self.rng.random() < 0.5:
            self.post(kind, f"/cds-services/{SERVICES[hook]}", data)
        else:  # chunked: no Content-Length to refuse it on, so the cap is met while reading
            self.post(kind, f"/cds-services/{SERVICES[hook]}", _chunks(data, 65536))

    # -- feedback --

    def card(self, label: str) -> str:
        self.sequence += 1
        return f"soak-{self.run_id}-{label}-{self.index}-{self.sequence}"

    def send_feedback(self, kind: str, items: list[dict[str, Any]]) -> None:
        body = json.dumps({"feedback": [without_none(i) for i in items]})
        keys = {key_of(i) for i in items}
        self.result.feedback_sent |= keys
        self.result.feedback_posts += 1
        response = self.post(kind, "/cds-services/ketamine-order-sign/feedback", body)
        if response is None:
            return
        if response.status_code != 200:
            if response.status_code < 500:  # post() has recorded those
                self.result.unexpected.append(f"feedback answered {response.status_code}")
            return
        answer = response.json()
        if answer.get("received") != len(items):
            self.result.unexpected.append(f"feedback received {answer} for {len(items)}")
        self.result.stored_total += int(answer.get("stored", 0))
        self.result.feedback_ok |= keys

    def feedback(self, kind: str) -> None:
        """A new item, then 1 or 2 retries: rewritten in another offset, or inside a batch."""
        moment = datetime.now(UTC) - timedelta(seconds=self.rng.uniform(0, 600))
        item = feedback_item(self.card("item"), moment, self.rng)
        self.send_feedback(kind, [item])
        for _ in range(self.rng.choice([1, 2])):
            retry = {**item, "outcomeTimestamp": written(moment, self.rng)}
            if self.rng.random() < 0.3:
                other = feedback_item(self.card("item"), moment, self.rng)
                self.send_feedback(kind, [retry, other, retry])
            else:
                self.send_feedback(kind, [retry])

    def shared_feedback(self) -> None:
        """Once per window, the window's item: every client sends it at the same moment."""
        window = int(time.time() / SHARED_WINDOW_S)
        if window == self.shared_window:
            return
        self.shared_window = window
        time.sleep(max(0.0, window * SHARED_WINDOW_S + SHARED_AT_S - time.time()))
        rng = random.Random(window)  # the same item in every client process
        moment = datetime.fromtimestamp(window * SHARED_WINDOW_S, UTC)
        item = feedback_item(f"soak-{self.run_id}-shared-{window}", moment, rng)
        item["outcomeTimestamp"] = written(moment, self.rng)  # each its own way of writing it
        self.send_feedback("feedback-shared", [item])

    def feedback_invalid(self, kind: str) -> None:
        item = feedback_item(self.card("bad"), datetime.now(UTC), self.rng)
        name = self.rng.choice(list(INVALID_FEEDBACK))
        item[name] = self.rng.choice(INVALID_FEEDBACK[name])
        response = self.post(
            kind, "/cds-services/ketamine-order-sign/feedback", json.dumps({"feedback": [item]})
        )
        if response is not None and response.status_code != 400 and response.status_code < 500:
            self.result.unexpected.append(f"invalid feedback answered {response.status_code}")


def client_main(args: tuple[int, str, str, float, int]) -> ClientResult:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    return Client(*args).run()


# --- the server --------------------------------------------------------------------------------


def start_server(workers: int, data_dir: Path, database_url: str | None) -> tuple[Server, str]:
    """The service, and the database URL it stores feedback in."""
    port = free_port()
    settings = {
        "KETAMINE_CDS_DATA_DIR": str(data_dir),
        "KETAMINE_CDS_AUTH_ENABLED": "false",
        "KETAMINE_CDS_MAX_BODY_BYTES": str(MAX_BODY_BYTES),
        "KETAMINE_CDS_LOG_LEVEL": "WARNING",
    }
    if database_url:
        settings["DATABASE_URL"] = database_url
    server = Server(
        "service",
        serve_command(port, workers),
        service_env(settings),
        port,
        log_path=data_dir.parent / "server.log",
        workers=workers,
    )
    # config.Settings' default when no URL is given
    url = database_url or f"sqlite:///{data_dir.resolve() / 'ketamine-cds.sqlite3'}"
    return server, url


# --- memory ------------------------------------------------------------------------------------


@dataclass
class Sample:
    t: float  # seconds since the clients started
    pss_kb: int
    uss_kb: int


class MemorySampler(threading.Thread):
    def __init__(self, server: Server, every: float) -> None:
        super().__init__(daemon=True)
        self.server, self.every = server, every
        self.samples: dict[int, list[Sample]] = defaultdict(list)
        self.started = time.monotonic()  # reset when the thread starts, with the clients
        self.stopping = threading.Event()

    def sample(self) -> None:
        now = time.monotonic() - self.started
        for pid in self.server.workers():
            found = memory_kb(pid)
            if found:
                self.samples[pid].append(Sample(now, *found))

    def run(self) -> None:
        self.started = time.monotonic()
        while not self.stopping.is_set():
            self.sample()
            self.stopping.wait(self.every)
        self.sample()


@dataclass
class MemoryVerdict:
    pid: int
    metric: str
    warm_mb: float
    end_mb: float
    max_mb: float
    start_mb: float
    slope_mb_per_min: float
    growth_mb: float
    growth_pct: float
    samples: int  # after warm-up
    ok: bool


def slope(points: list[tuple[float, float]]) -> float:
    if len(points) < 2:
        return 0.0
    xs, ys = zip(*points, strict=True)
    mean_x, mean_y = statistics.fmean(xs), statistics.fmean(ys)
    spread = sum((x - mean_x) ** 2 for x in xs)
    return sum((x - mean_x) * (y - mean_y) for x, y in points) / spread if spread else 0.0


def judge_memory(
    samples: dict[int, list[Sample]], warmup: float, max_mb: float, max_pct: float
) -> list[MemoryVerdict]:
    """Growth after warm-up: the median of the last 3 samples against the median of the first
    3 after warm-up (medians, so that one sample taken mid-request does not decide). With fewer
    than MIN_WARM_SAMPLES after warm-up the two overlap, so the verdict is a failure."""
    verdicts = []
    for pid, series in sorted(samples.items()):
        warm = [s for s in series if s.t >= warmup] or series[-1:]
        for metric in ("pss", "uss"):
            values = [getattr(s, f"{metric}_kb") / 1024 for s in series]
            after = [getattr(s, f"{metric}_kb") / 1024 for s in warm]
            start, end = statistics.median(after[:3]), statistics.median(after[-3:])
            growth = end - start
            pct = 100 * growth / start if start else 0.0
            per_min = 60 * slope([(s.t, getattr(s, f"{metric}_kb") / 1024) for s in warm])
            verdicts.append(
                MemoryVerdict(
                    pid,
                    metric.upper(),
                    warm_mb=start,
                    end_mb=end,
                    max_mb=max(values),
                    start_mb=values[0],
                    slope_mb_per_min=per_min,
                    growth_mb=growth,
                    growth_pct=pct,
                    samples=len(warm),
                    ok=len(warm) >= MIN_WARM_SAMPLES and growth <= max_mb and pct <= max_pct,
                )
            )
    return verdicts


# --- feedback in the database ------------------------------------------------------------------


def stored_feedback(database_url: str, run_id: str) -> Counter[tuple[str, str, str]]:
    from sqlalchemy import create_engine, func, select

    from cds_service.storage.models import FeedbackRecord

    engine = create_engine(database_url)
    try:
        with engine.connect() as connection:
            rows = connection.execute(
                select(
                    FeedbackRecord.card_uuid,
                    FeedbackRecord.outcome,
                    FeedbackRecord.outcome_timestamp,
                    func.count(),
                )
                .where(FeedbackRecord.card_uuid.like(f"soak-{run_id}-%"))
                .group_by(
                    FeedbackRecord.card_uuid,
                    FeedbackRecord.outcome,
                    FeedbackRecord.outcome_timestamp,
                )
            )
            return Counter({(card, outcome, ts): n for card, outcome, ts, n in rows})
    finally:
        engine.dispose()


# --- report ------------------------------------------------------------------------------------


def percentile(values: list[float], q: float) -> float:
    """The q-th quantile (0 < q < 1), interpolated between the samples around it."""
    if len(values) < 2:
        return values[0] if values else 0.0
    return statistics.quantiles(values, n=100, method="inclusive")[round(q * 100) - 1]


def error_log_lines(log_path: Path) -> Counter[str]:
    """ERROR lines of the server log, by message (the service logs no PHI)."""
    found: Counter[str] = Counter()
    for line in log_path.read_text(errors="replace").splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            if "[ERROR]" in line or "Traceback" in line:
                found[line[-120:]] += 1
            continue
        if isinstance(record, dict) and record.get("level") in ("ERROR", "CRITICAL"):
            found[str(record.get("msg"))] += 1
    return found


def report(
    args: argparse.Namespace,
    server: Server,
    database_url: str,
    results: list[ClientResult],
    elapsed: float,
    sampler: MemorySampler,
    initial_workers: list[int],
) -> bool:
    failures: list[str] = []
    statuses: Counter[tuple[str, int]] = Counter()
    latencies: dict[str, list[float]] = defaultdict(list)
    connection_errors: Counter[str] = Counter()
    unexpected: list[str] = []
    for r in results:
        statuses.update(r.statuses)
        for kind, values in r.latencies.items():
            latencies[kind] += values
        connection_errors.update(r.connection_errors)
        unexpected += r.unexpected
    total = sum(statuses.values())
    five_xx = sum(n for (_, status), n in statuses.items() if status >= 500)

    out = [f"# Soak: {elapsed / 60:.1f} min, {args.workers} workers, {args.clients} clients", ""]
    out.append(
        f"Database: `{'PostgreSQL' if database_url.startswith('postgres') else 'SQLite'}`; "
        f"{total} requests ({total / elapsed:.0f}/s); 5xx: **{five_xx}**."
    )
    out += ["", "| traffic | answers | p50 ms | p95 ms | max ms |", "|---|---|---|---|---|"]
    for kind in sorted(latencies):
        answers = ", ".join(
            f"{status}: {n}" for (k, status), n in sorted(statuses.items()) if k == kind
        )
        values = latencies[kind]
        out.append(
            f"| {kind} | {answers} | {percentile(values, 0.5):.1f} | "
            f"{percentile(values, 0.95):.1f} | {max(values):.1f} |"
        )
    if five_xx:
        failures.append(f"{five_xx} answers were 5xx")
    if unexpected:
        failures.append(f"{len(unexpected)} unexpected answers, e.g. {unexpected[:3]}")
    real_connection_errors = {
        k: n for k, n in connection_errors.items() if not k.startswith("oversize")
    }
    if connection_errors:
        out += [
            "",
            "Connection errors: "
            + ", ".join(f"{k} x{n}" for k, n in connection_errors.items())
            + " (an oversize upload may be cut off once the server has answered 413)",
        ]
    if real_connection_errors:
        failures.append(f"connection errors outside oversize uploads: {real_connection_errors}")

    # Feedback
    ok = set().union(*(r.feedback_ok for r in results))
    sent = set().union(*(r.feedback_sent for r in results))
    stored_total = sum(r.stored_total for r in results)
    posts = sum(r.feedback_posts for r in results)
    rows = stored_feedback(database_url, args.run_id)
    duplicated = {k: n for k, n in rows.items() if n != 1}
    missing = ok - set(rows)
    unknown = set(rows) - sent
    shared = {k for k in ok if "-shared-" in k[0]}
    out += [
        "",
        f"Feedback: {posts} posts of {len(sent)} distinct items ({len(shared)} sent at once by "
        f"every client); {len(ok)} answered 200; {sum(rows.values())} rows stored; "
        f"`stored` counts add up to {stored_total}.",
    ]
    if duplicated:
        failures.append(
            f"{len(duplicated)} feedback items stored more than once, e.g. {list(duplicated)[:3]}"
        )
    if missing:
        failures.append(
            f"{len(missing)} feedback items answered 200 but not stored, e.g. {list(missing)[:3]}"
        )
    if unknown:
        failures.append(f"{len(unknown)} stored feedback items were never sent")
    if stored_total != sum(rows.values()):
        failures.append(
            f"the answers' stored counts add up to {stored_total}, not {sum(rows.values())}"
        )

    # Workers and memory
    final_workers = server.workers()
    if sorted(sampler.samples) != sorted(initial_workers) or final_workers != initial_workers:
        failures.append(
            f"workers changed during the run: {initial_workers} -> {sorted(sampler.samples)} "
            f"(a crash or a timeout restarted one)"
        )
    verdicts = judge_memory(sampler.samples, args.warmup, args.max_growth_mb, args.max_growth_pct)
    out += [
        "",
        f"Memory per worker (MB; warm = after {args.warmup:.0f} s warm-up; growth = end - warm; "
        f"limit {args.max_growth_mb:.0f} MB and {args.max_growth_pct:.0f}%), "
        f"{max((len(s) for s in sampler.samples.values()), default=0)} samples each, "
        f"every {args.sample_every:.0f} s:",
        "",
        "| worker | metric | first | warm | end | max | growth | slope MB/min | ok |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for v in verdicts:
        out.append(
            f"| {v.pid} | {v.metric} | {v.start_mb:.1f} | {v.warm_mb:.1f} | {v.end_mb:.1f} | "
            f"{v.max_mb:.1f} | {v.growth_mb:+.1f} ({v.growth_pct:+.1f}%) | "
            f"{v.slope_mb_per_min:+.2f} | {'yes' if v.ok else '**no**'} |"
        )
        if v.samples < MIN_WARM_SAMPLES:
            failures.append(
                f"worker {v.pid} {v.metric}: {v.samples} samples after warm-up, "
                f"{MIN_WARM_SAMPLES} needed (run longer or sample more often)"
            )
        elif not v.ok:
            failures.append(f"worker {v.pid} {v.metric} grew {v.growth_mb:+.1f} MB after warm-up")
    errors = error_log_lines(server.log_path)
    if errors:
        out += [
            "",
            "Server log errors: " + "; ".join(f"{m} x{n}" for m, n in errors.most_common(5)),
        ]
        if any("unhandled" in m for m in errors):
            failures.append("the server logged unhandled errors")

    out += ["", "**PASS**" if not failures else "**FAIL**"]
    out += [f"- {f}" for f in failures]
    print("\n".join(out))
    return not failures


# --- main --------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=float, default=180, help="seconds of traffic (180)")
    parser.add_argument("--workers", type=int, default=4, help="gunicorn workers (4)")
    parser.add_argument("--clients", type=int, default=4, help="client processes (4)")
    parser.add_argument("--database-url", help="SQLAlchemy URL (default: SQLite in a temp dir)")
    parser.add_argument("--sample-every", type=float, default=5, help="memory sample period, s")
    parser.add_argument("--warmup", type=float, default=None, help="s (default: half, <= 90)")
    parser.add_argument("--max-growth-mb", type=float, default=15)
    parser.add_argument("--max-growth-pct", type=float, default=10)
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--keep", action="store_true", help="keep the temp dir (log, database)")
    args = parser.parse_args(argv)
    if args.warmup is None:
        args.warmup = min(90.0, args.duration / 2)
    args.run_id = uuid.uuid4().hex[:8]
    seed = args.seed if args.seed is not None else random.randrange(2**32)

    workdir = Path(tempfile.mkdtemp(prefix="ketamine-soak-"))
    try:
        server, database_url = start_server(args.workers, workdir / "data", args.database_url)
    except BaseException:
        shutil.rmtree(workdir, ignore_errors=True)
        raise
    print(
        f"soak {args.run_id}: {server.base}, workers {server.workers()}, seed {seed}, "
        f"{args.duration:.0f} s; log {server.log_path}",
        file=sys.stderr,
    )
    initial_workers = server.workers()
    sampler = MemorySampler(server, args.sample_every)
    try:
        with multiprocessing.get_context("fork").Pool(args.clients) as pool:
            started = time.time()
            deadline = started + args.duration
            sampler.start()  # after the fork: the clients get no copy of its thread
            jobs = [(i, server.base, args.run_id, deadline, seed + i) for i in range(args.clients)]
            results = pool.map(client_main, jobs)
        elapsed = time.time() - started
        sampler.stopping.set()
        sampler.join()
        passed = report(args, server, database_url, results, elapsed, sampler, initial_workers)
    finally:
        sampler.stopping.set()
        server.stop()
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)
    return 0 if passed else 1


def _chunks(data: bytes, size: int) -> Iterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start : start + size]


if __name__ == "__main__":
    raise SystemExit(main())
