"""Latency of hook calls in process (Flask test client, SQLite in a temp dir): `make bench`.

Scenarios, all with the fixture dates moved to today: a patient-view candidate, an esketamine
order-sign, a chart with each prefetch Bundle repeated 40 times, and the patient-view call with
JWT verification on (ES384, static JWKS, tokens signed beforehand, a fresh jti per call so the
replay table is written each time). Every call also writes its audit row. Prints p50/p95/max.
"""

from __future__ import annotations

import argparse
import copy
import json
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import ec

from cds_service.app import create_app
from cds_service.config import Settings
from cds_service.fixture_loader import load_fixture

BASE = "https://cds.example.org"
ISSUER = "https://ehr.example.org"
PATIENT_VIEW = "/cds-services/ketamine-trd-patient-view"
ORDER_SIGN = "/cds-services/ketamine-order-sign"


def percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def measure(name: str, call: Callable[[], int], runs: int) -> None:
    for _ in range(5):
        call()
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        status = call()
        samples.append((time.perf_counter() - start) * 1000)
        if status != 200:
            raise SystemExit(f"{name}: status {status}")
    print(
        f"{name:<34} n={runs:<5} p50={statistics.median(samples):6.2f} ms  "
        f"p95={percentile(samples, 0.95):6.2f} ms  max={max(samples):6.2f} ms"
    )


def big_chart(body: dict[str, Any], copies: int) -> dict[str, Any]:
    """The request with each prefetch Bundle's entries repeated under new ids."""
    out = copy.deepcopy(body)
    for value in out["prefetch"].values():
        entries = value.get("entry") if isinstance(value, dict) else None
        if not entries:
            continue
        grown = []
        for i in range(copies):
            for entry in entries:
                clone = copy.deepcopy(entry)
                clone["resource"]["id"] = f"{clone['resource'].get('id', 'r')}-{i}"
                grown.append(clone)
        value["entry"] = grown
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=300)
    args = parser.parse_args()
    today = date.today()
    patient_view = load_fixture(
        "requests/patient-view", "candidate-two-failed-trials", shift_to=today
    )
    order_sign = load_fixture(
        "requests/order-sign", "order-sign-esketamine-candidate", shift_to=today
    )

    with tempfile.TemporaryDirectory() as tmp:
        plain = create_app(Settings(data_dir=Path(tmp) / "plain", auth_enabled=False))
        client = plain.test_client()

        def post(url: str, body: dict[str, Any], headers: dict[str, str] | None = None) -> int:
            return client.post(url, json=body, headers=headers or {}).status_code

        measure("patient-view (auth off)", lambda: post(PATIENT_VIEW, patient_view), args.runs)
        measure("order-sign (auth off)", lambda: post(ORDER_SIGN, order_sign), args.runs)
        chart = big_chart(patient_view, 40)
        size = len(json.dumps(chart))
        count = sum(len(v.get("entry", [])) for v in chart["prefetch"].values())
        measure(
            f"patient-view {count} res, {size // 1024} KB",
            lambda: post(PATIENT_VIEW, chart),
            max(30, args.runs // 10),
        )

        key = ec.generate_private_key(ec.SECP384R1())
        jwk = json.loads(jwt.get_algorithm_by_name("ES384").to_jwk(key.public_key()))
        jwks = Path(tmp) / "jwks.json"
        jwks.write_text(json.dumps({"keys": [{**jwk, "kid": "k1"}]}))
        secured = create_app(
            Settings(
                data_dir=Path(tmp) / "secured",
                public_base_url=BASE,
                trusted_issuers=[{"iss": ISSUER, "jwks_file": str(jwks)}],
            )
        ).test_client()

        now = int(time.time())
        tokens = iter(
            jwt.encode(
                {
                    "iss": ISSUER,
                    "aud": BASE + PATIENT_VIEW,
                    "iat": now,
                    "exp": now + 300,
                    "jti": str(uuid.uuid4()),
                },
                key,
                algorithm="ES384",
                headers={"kid": "k1"},
            )
            for _ in range(args.runs + 5)
        )

        def signed_call() -> int:
            headers = {"Authorization": f"Bearer {next(tokens)}"}
            return secured.post(PATIENT_VIEW, json=patient_view, headers=headers).status_code

        measure("patient-view (ES384 JWT verified)", signed_call, args.runs)


if __name__ == "__main__":
    main()
