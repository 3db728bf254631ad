"""HTTP load through gunicorn on loopback, with wrk, and the workers' memory.

The service runs as deployed: ``ketamine-cds serve`` (gunicorn, sync workers, --preload),
authentication on with an ES384 test key, audit rows and the jti replay table in SQLite (WAL,
busy timeout). The floor (``benchmarks.floor``) runs under the same gunicorn settings.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmarks.server import Server, free_port, serve_command, service_env
from benchmarks.tokens import TokenMint

WRK_SCRIPT = Path(__file__).with_name("wrk.lua")


@dataclass
class LoadResult:
    target: str  # "service" | "floor"
    size: int
    concurrency: int
    requests: int
    seconds: float
    errors: int
    p50_ms: float
    p95_ms: float
    p99_ms: float

    @property
    def throughput(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0


def start_service(
    data_dir: Path, mint: TokenMint, workers: int, extra_env: dict[str, str] | None = None
) -> Server:
    port = free_port()
    env = service_env(
        {
            "KETAMINE_CDS_DATA_DIR": str(data_dir),
            "KETAMINE_CDS_AUTH_ENABLED": "true",
            "KETAMINE_CDS_PUBLIC_BASE_URL": f"http://127.0.0.1:{port}",
            "KETAMINE_CDS_TRUSTED_ISSUERS": json.dumps(mint.trusted_issuers()),
            "KETAMINE_CDS_LOG_LEVEL": "WARNING",
            "KETAMINE_CDS_CORS_ORIGINS": '["https://ehr.example.org"]',
            **(extra_env or {}),
        }
    )
    return Server("service", serve_command(port, workers), env, port, workers=workers)


def start_floor(workers: int) -> Server:
    port = free_port()
    command = [
        sys.executable,
        "-m",
        "benchmarks.floor",
        "--bind",
        f"127.0.0.1:{port}",
        "--workers",
        str(workers),
    ]
    return Server("floor", command, service_env({}), port, workers=workers)


def run_wrk(
    server: Server,
    path: str,
    body_file: Path,
    concurrency: int,
    seconds: int,
    tokens: tuple[TokenMint, int] | None,
    scratch: Path,
) -> dict[str, Any]:
    """One wrk run; with ``tokens`` (mint, expected request count), a fresh token per request."""
    threads = min(concurrency, 2)
    env = {**os.environ, "BENCH_PATH": path, "BENCH_BODY": str(body_file), "BENCH_TOKENS": ""}
    if tokens:
        mint, expected = tokens
        prefix = scratch / f"tokens-{server.port}-{concurrency}-{time.monotonic_ns()}"
        for thread in range(threads):
            mint.write(Path(f"{prefix}-{thread}.txt"), server.base + path, expected // threads + 50)
        env["BENCH_TOKENS"] = str(prefix)
    wrk = shutil.which("wrk")
    if not wrk:
        raise SystemExit("wrk is not installed: apt-get install wrk (make bench does this as root)")
    completed = subprocess.run(
        [
            wrk,
            f"-t{threads}",
            f"-c{concurrency}",
            f"-d{seconds}s",
            "--timeout",
            "10s",
            "-s",
            str(WRK_SCRIPT),
            server.base,
        ],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    line = next(x for x in completed.stdout.splitlines() if x.startswith("BENCH_JSON "))
    result: dict[str, Any] = json.loads(line.removeprefix("BENCH_JSON "))
    if result["reused_tokens"]:
        raise SystemExit(
            f"wrk sent {result['reused_tokens']} requests with an already used token (refused "
            f"as replays, so counted as errors): more than the {tokens[1] if tokens else 0} "
            "expected; raise the estimate in benchmarks/run.py"
        )
    return result


def to_result(target: str, size: int, concurrency: int, raw: dict[str, Any]) -> LoadResult:
    return LoadResult(
        target=target,
        size=size,
        concurrency=concurrency,
        requests=raw["requests"],
        seconds=raw["duration_us"] / 1e6,
        errors=raw["errors"],
        p50_ms=raw["p50_us"] / 1000,
        p95_ms=raw["p95_us"] / 1000,
        p99_ms=raw["p99_us"] / 1000,
    )
