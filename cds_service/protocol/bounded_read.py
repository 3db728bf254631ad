"""Read an HTTP response body within a size cap and a deadline.

A socket timeout bounds each read, not the body: a server that sends a byte just before every
timeout could hold a worker for as long as it liked. Reading one socket read at a time and
checking the deadline in between bounds the whole body by the deadline plus one read timeout.
"""

from __future__ import annotations

import time

import requests

__all__ = ["BodyTooLarge", "BodyTooSlow", "read_body"]

READ_CHUNK_BYTES = 16384


class BodyTooLarge(Exception):
    """The body grew past ``max_bytes``."""


class BodyTooSlow(Exception):
    """The body was still arriving at the deadline."""


def read_body(response: requests.Response, *, max_bytes: int, deadline: float) -> bytes:
    """The whole body of a ``stream=True`` response; ``deadline`` is a ``time.monotonic()``."""
    chunks: list[bytes] = []
    size = 0
    while True:
        chunk = response.raw.read1(READ_CHUNK_BYTES, decode_content=True)
        if not chunk:
            return b"".join(chunks)
        size += len(chunk)
        if size > max_bytes:
            raise BodyTooLarge(f"the response exceeds {max_bytes} bytes")
        if time.monotonic() > deadline:
            raise BodyTooSlow("the response was still arriving at the deadline")
        chunks.append(chunk)
