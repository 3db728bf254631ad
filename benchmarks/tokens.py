"""Test keys and ES384 tokens, so the benchmarks run the service as deployed: auth on.

Each token carries a fresh ``jti``, so every call also writes the replay table.
"""

from __future__ import annotations

import json
import time
import uuid
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import ec

ISSUER = "https://ehr.example.org"
KID = "bench-1"


class TokenMint:
    def __init__(self, directory: Path) -> None:
        self.key = ec.generate_private_key(ec.SECP384R1())
        public = json.loads(jwt.get_algorithm_by_name("ES384").to_jwk(self.key.public_key()))
        self.jwks_file = directory / "jwks.json"
        self.jwks_file.write_text(json.dumps({"keys": [{**public, "kid": KID}]}))

    def trusted_issuers(self) -> list[dict[str, Any]]:
        return [{"iss": ISSUER, "jwks_file": str(self.jwks_file)}]

    def token(self, audience: str, lifetime_s: int = 600) -> str:
        now = int(time.time())
        claims = {"iss": ISSUER, "aud": audience, "iat": now, "exp": now + lifetime_s}
        return jwt.encode(
            {**claims, "jti": uuid.uuid4().hex}, self.key, algorithm="ES384", headers={"kid": KID}
        )

    def write(self, path: Path, audience: str, count: int) -> None:
        """``count`` tokens, one per line, for a wrk thread to use once each."""
        path.write_text("\n".join(self.token(audience) for _ in range(count)) + "\n")
