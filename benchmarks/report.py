"""BENCHMARKS.md and its plot, from one run's measurements, with each target judged."""

from __future__ import annotations

import statistics
from pathlib import Path
from typing import Any

from benchmarks.fhir_budget import ANSWERS, MARGIN_S, BudgetResult
from benchmarks.inprocess import STAGES, WRITES, StageTimes
from benchmarks.load import LoadResult

P95_TARGET_MS = 50.0
FLOOR_RATIO_TARGET = 2.0
MEMORY_TARGET_MB = 150.0
LINEAR_SLACK = 1.15  # cost(5000)/cost(1000) may exceed 5 by this factor before it is "worse"


Pair = tuple[LoadResult, LoadResult]  # (floor, service), measured one after the other


def find(load: list[LoadResult], target: str, size: int, concurrency: int) -> LoadResult:
    return next(r for r in load if (r.target, r.size, r.concurrency) == (target, size, concurrency))


def _verdict(ok: bool) -> str:
    return "**met**" if ok else "**missed**"


def plot(path: Path, stages: list[StageTimes], load: list[LoadResult]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sizes = [s.size for s in stages]
    figure, axis = plt.subplots(figsize=(8, 5), dpi=110)
    for target, style in (("service", "-"), ("floor", "--")):
        for quantile, marker in (("p50_ms", "o"), ("p95_ms", "s")):
            values = [getattr(find(load, target, size, 1), quantile) for size in sizes]
            axis.plot(
                sizes, values, style, marker=marker, label=f"{target} {quantile[:3]} (HTTP, c=1)"
            )
    axis.plot(sizes, [s.total_ms for s in stages], ":", marker="^", label="service in process")
    axis.axhline(P95_TARGET_MS, color="grey", linewidth=0.8)
    axis.text(sizes[0], P95_TARGET_MS * 1.08, "50 ms", color="grey", fontsize=8)
    axis.set_xscale("log")
    axis.set_yscale("log")
    axis.set_xlabel("resources in the patient-view prefetch")
    axis.set_ylabel("latency (ms)")
    axis.set_title("patient-view latency against chart size")
    axis.grid(True, which="both", linewidth=0.3)
    axis.legend(fontsize=8)
    figure.tight_layout()
    figure.savefig(path)
    plt.close(figure)


def _targets(
    stages: list[StageTimes],
    load: list[LoadResult],
    memory: dict[int, dict[str, float]],
    soak: LoadResult,
    pairs: list[Pair],
    budget: tuple[list[BudgetResult], float],
) -> list[str]:
    at500 = find(load, "service", 500, 1)
    service_1k, floor_1k = find(load, "service", 1000, 1), find(load, "floor", 1000, 1)
    ratio_p50 = statistics.median(sv.p50_ms / fl.p50_ms for fl, sv in pairs)
    ratio_p95 = statistics.median(sv.p95_ms / fl.p95_ms for fl, sv in pairs)
    by_size = {s.size: s.total_ms for s in stages}
    growth = by_size[5000] / by_size[1000]
    http_growth = find(load, "service", 5000, 1).p50_ms / service_1k.p50_ms
    floor_growth = find(load, "floor", 5000, 1).p50_ms / floor_1k.p50_ms
    linear = growth <= 5 * LINEAR_SLACK and http_growth <= max(5, floor_growth) * LINEAR_SLACK
    worst_pss = max(m["pss"] for m in memory.values())
    worst_uss = max(m["uss"] for m in memory.values())
    writes = max(s.median_ms("jti") + s.median_ms("audit") for s in stages)
    small = next(s for s in stages if s.size == min(by_size))
    write_share = (small.median_ms("jti") + small.median_ms("audit")) / small.total_ms
    budget_results, budget_s = budget
    slowest = max(r.max_ms for r in budget_results)
    limit_ms = (budget_s + MARGIN_S) * 1000
    answers = {status for r in budget_results for status in r.statuses}
    within_budget = slowest <= limit_ms and answers <= ANSWERS
    return [
        "| target | measured | verdict |",
        "|---|---|---|",
        f"| patient-view, 500-resource prefetch, HTTP c=1: p95 ≤ {P95_TARGET_MS:.0f} ms | "
        f"p95 {at500.p95_ms:.1f} ms (p50 {at500.p50_ms:.1f}); floor p95 "
        f"{find(load, 'floor', 500, 1).p95_ms:.1f} ms | "
        f"{_verdict(at500.p95_ms <= P95_TARGET_MS)} |",
        f"| 1,000 resources: ≤ {FLOOR_RATIO_TARGET:.0f}x the floor (HTTP c=1) | "
        f"median over {len(pairs)} alternating floor/service pairs: p50 {ratio_p50:.2f}x, "
        f"p95 {ratio_p95:.2f}x (the grid's pair: p50 {service_1k.p50_ms:.1f} vs "
        f"{floor_1k.p50_ms:.1f} ms, p95 {service_1k.p95_ms:.1f} vs {floor_1k.p95_ms:.1f} ms) | "
        f"{_verdict(max(ratio_p50, ratio_p95) <= FLOOR_RATIO_TARGET)} |",
        f"| cost no worse than linear in chart size | 1,000 → 5,000 resources (5x): the "
        f"service's own work (in process) {growth:.2f}x; over HTTP {http_growth:.2f}x, where "
        f"the floor alone grows {floor_growth:.2f}x (moving and parsing the larger body) | "
        f"{_verdict(linear)} |",
        f"| 0 errors at c=32 for {soak.seconds:.0f} s | {soak.requests} requests "
        f"({soak.throughput:.0f}/s) on the {soak.size}-resource chart, {soak.errors} errors | "
        f"{_verdict(soak.errors == 0)} |",
        f"| < {MEMORY_TARGET_MB:.0f} MB per worker (PSS/USS) | largest worker after any run: "
        f"PSS {worst_pss:.0f} MB, USS {worst_uss:.0f} MB | "
        f"{_verdict(worst_pss < MEMORY_TARGET_MB)} |",
        f"| SQLite under load: WAL, busy timeout; audit and jti writes do not dominate | "
        f"WAL + busy_timeout set per connection; jti + audit writes at most {writes:.2f} ms "
        f"per call, {write_share:.0%} of the smallest chart's in-process time | "
        f"{_verdict(write_share < 0.5)} |",
        f"| FHIR fallback: answers within the {budget_s:.1f} s budget + {MARGIN_S:.2f} s, with "
        f"cards or a 412 | slowest of {sum(r.calls for r in budget_results)} calls "
        f"{slowest:.0f} ms (limit {limit_ms:.0f}), answers "
        f"{', '.join(str(a) for a in sorted(answers))} against a FHIR server up to "
        f"{max(r.delay_s for r in budget_results):.0f} s slow | {_verdict(within_budget)} |",
    ]


def _ratio_parts(load: list[LoadResult], pairs: list[Pair]) -> list[str]:
    """How the service's time over the floor's splits into a per-call and a per-resource part,
    from the c=1 medians: what the target's owner needs to judge the 2x target."""
    smallest = min(r.size for r in load)
    fixed = find(load, "service", smallest, 1).p50_ms - find(load, "floor", smallest, 1).p50_ms
    floor_1k = statistics.median(fl.p50_ms for fl, _ in pairs)
    extra_1k = statistics.median(sv.p50_ms for _, sv in pairs) - floor_1k
    per_resource_us = (extra_1k - fixed) * 1000 / (1000 - smallest)
    allowed = (FLOOR_RATIO_TARGET - 1) * floor_1k
    return [
        "## What the 1,000-resource ratio is made of (HTTP, c=1, p50)",
        "",
        f"At {smallest} resources the service takes {fixed:.1f} ms more than the floor: the "
        "work every call does whatever the chart's size (verifying the ES384 token, the jti "
        "and audit commits, the rules, the cards). At 1,000 resources it takes "
        f"{extra_1k:.1f} ms more (medians of the alternating pairs), so reading the larger "
        f"chart adds about {per_resource_us:.1f} µs per resource beyond the floor's own "
        "parsing. The floor itself takes "
        f"{floor_1k:.1f} ms at 1,000 resources, and ≤ {FLOOR_RATIO_TARGET:.0f}x allows the "
        f"service {allowed:.1f} ms more than that: the per-call "
        f"part alone uses {fixed / allowed:.0%} of it, leaving "
        f"{max(0.0, allowed - fixed) * 1000 / (1000 - smallest):.1f} µs per resource for "
        "reading the chart.",
    ]


def write_report(
    path: Path,
    *,
    run: dict[str, Any],
    stages: list[StageTimes],
    load: list[LoadResult],
    memory: dict[int, dict[str, float]],
    soak: LoadResult,
    pairs: list[Pair],
    budget: tuple[list[BudgetResult], float],
) -> None:
    image = path.with_name("benchmarks-latency.png")
    plot(image, stages, load)
    lines = [
        "# Benchmarks",
        "",
        f"Written by `make bench` (`benchmarks/run.py`) on {run['when']}"
        + (" — **quick run, not for the record**." if run["quick"] else "."),
        f"Machine: {run['machine']}. Each HTTP cell is one wrk run of {run['seconds']} s; the "
        "service and the floor run side by side in the same run, under the same gunicorn "
        "settings. The service runs as deployed: authentication on (ES384 test key, a fresh "
        "jti per call, so the replay table is written each time), an audit row and issued-card "
        "rows per call, SQLite in WAL mode.",
        "",
        "Charts come from `benchmarks/charts.py`: the `candidate-two-failed-trials` fixture "
        "grown with conditions, medication requests, BP/PHQ-9/heart-rate/weight observations "
        "and administrations (about 0.8 KB per resource); the answer stays *candidate* at "
        "every size.",
        "",
        "## Targets",
        "",
        *_targets(stages, load, memory, soak, pairs, budget),
        "",
        *_ratio_parts(load, pairs),
        "",
        "## Latency against chart size",
        "",
        f"![patient-view latency against chart size]({image.name})",
        "",
        "## In process, by stage (median ms, auth on)",
        "",
        "parse = auth, JSON, request models, prefetch; record = FHIR → PatientRecord; "
        "clinical = the rules; cards = card texts, response JSON, audit rows, and freeing the "
        "request (the test client frees it before returning; gunicorn frees it after the "
        "response is written, so over HTTP that part is not in the latency). "
        "jti and audit are the two database writes inside parse and cards.",
        "",
        "| resources | body KB | "
        + " | ".join(STAGES)
        + " | total | µs per resource | "
        + " | ".join(WRITES)
        + " |",
        "|---:" * (len(STAGES) + len(WRITES) + 4) + "|",
    ]
    for s in stages:
        lines.append(
            f"| {s.size:,} | {run['body_kb'][s.size]:,} | "
            + " | ".join(f"{s.median_ms(stage):.2f}" for stage in STAGES)
            + f" | {s.total_ms:.2f} | {s.total_ms * 1000 / s.size:.0f} | "
            + " | ".join(f"{s.median_ms(w):.2f}" for w in WRITES)
            + " |"
        )
    lines += [
        "",
        "## HTTP through gunicorn (ms; throughput in requests/s)",
        "",
        "| resources | c | floor p50 | floor p95 | floor p99 | floor req/s | service p50 | "
        "service p95 | service p99 | service req/s | p50 ratio | errors |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for size in sorted({r.size for r in load}):
        for concurrency in sorted({r.concurrency for r in load}):
            fl = find(load, "floor", size, concurrency)
            sv = find(load, "service", size, concurrency)
            lines.append(
                f"| {size:,} | {concurrency} | {fl.p50_ms:.1f} | {fl.p95_ms:.1f} | "
                f"{fl.p99_ms:.1f} | {fl.throughput:.0f} | {sv.p50_ms:.1f} | {sv.p95_ms:.1f} | "
                f"{sv.p99_ms:.1f} | {sv.throughput:.0f} | {sv.p50_ms / fl.p50_ms:.2f}x | "
                f"{sv.errors + fl.errors} |"
            )
    lines += [
        "",
        "## 1,000 resources at c=1: floor and service in alternating pairs",
        "",
        "The ≤ 2x target is judged on the median ratio of these pairs (the first is the grid's "
        "cell above): each pair is a floor run and then a service run, so a change in the "
        "machine's speed between runs moves single ratios, not the median.",
        "",
        "| pair | floor p50 | floor p95 | service p50 | service p95 | p50 ratio | p95 ratio |",
        "|---:|---:|---:|---:|---:|---:|---:|",
        *(
            f"| {n} | {fl.p50_ms:.1f} | {fl.p95_ms:.1f} | {sv.p50_ms:.1f} | {sv.p95_ms:.1f} | "
            f"{sv.p50_ms / fl.p50_ms:.2f}x | {sv.p95_ms / fl.p95_ms:.2f}x |"
            for n, (fl, sv) in enumerate(pairs, 1)
        ),
        "",
        "## Worker memory (largest worker, MB, from /proc/PID/smaps_rollup)",
        "",
        "| after | PSS | USS |",
        "|---|---:|---:|",
    ]
    for size, values in memory.items():
        label = "the c=32 soak" if size == -1 else f"the {size:,}-resource runs"
        lines.append(f"| {label} | {values['pss']:.0f} | {values['uss']:.0f} |")
    results, budget_s = budget
    lines += [
        "",
        f"## FHIR fallback budget ({budget_s:.1f} s) against a slow FHIR server",
        "",
        "A Sandbox-shaped patient-view with `fhirServer` and no prefetch; the fixture FHIR "
        "server on loopback waits *delay* before each answer. Calls are sent one per worker at a "
        "time; `/healthz` is timed while they are in flight (with sync workers it waits for a "
        "free worker, which the budget bounds). 200 means the cards came from fetched data; "
        "412 means the required data did not arrive within the budget.",
        "",
        "| FHIR delay (s) | calls | answers | p50 ms | max ms | /healthz max ms |",
        "|---:|---:|---|---:|---:|---:|",
    ]
    for r in results:
        answers = ", ".join(f"{count}x {status}" for status, count in sorted(r.statuses.items()))
        lines.append(
            f"| {r.delay_s:.1f} | {r.calls} | {answers} | {r.p50_ms:.0f} | {r.max_ms:.0f} | "
            f"{r.healthz_max_ms:.0f} |"
        )
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
