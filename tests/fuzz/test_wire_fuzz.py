"""Broken HTTP framing, sent over a socket to the real gunicorn server with authentication on.

Under sync and gthread workers alike. The outside attack run found two defects the in-process
fuzzers cannot reach: a malformed
chunked body (chunk size ``zz`` or ``-5``) escaped the body reader as a 500, and
``Transfer-Encoding: chunked`` with ``Content-Length`` got gunicorn's HTML page. Every answer
here must be a valid CDS response (200) or a 4xx OperationOutcome in JSON; a client that gives
up may get no answer at all. Afterwards the server must be healthy, and every line it logged
must be JSON.
"""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, note
from hypothesis import strategies as st

from benchmarks.server import Server, free_port, serve_command, service_env
from benchmarks.tokens import TokenMint
from tests.builders import FIXTURES
from tests.fuzz.mutations import examples

VIEW = "/cds-services/ketamine-trd-patient-view"
FEEDBACK = VIEW + "/feedback"
BODY = (FIXTURES / "requests" / "sandbox-patient-view.json").read_bytes()


class Wire:
    def __init__(self, server: Server, mint: TokenMint, log_path: Path) -> None:
        self.server = server
        self.mint = mint
        self.log_path = log_path

    def send(self, path: str, head: list[str], body: bytes) -> bytes:
        """Send a request with a fresh token, close our side, and read whatever comes back."""
        token = self.mint.token(self.server.base + path)
        lines = [f"POST {path} HTTP/1.1", "Host: 127.0.0.1", f"Authorization: Bearer {token}"]
        request = ("\r\n".join(lines + head) + "\r\n\r\n").encode() + body
        with socket.create_connection(("127.0.0.1", self.server.port), timeout=10) as sock:
            sock.sendall(request)
            sock.shutdown(socket.SHUT_WR)
            answer = b""
            while chunk := sock.recv(65536):
                answer += chunk
        return answer


@pytest.fixture(scope="module", params=["sync", "gthread"])
def wire(
    tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> Iterator[Wire]:
    tmp = tmp_path_factory.mktemp(f"wire-{request.param}")
    mint = TokenMint(tmp)
    port = free_port()
    env = service_env(
        {
            "KETAMINE_CDS_DATA_DIR": str(tmp / "data"),
            "KETAMINE_CDS_AUTH_ENABLED": "true",
            "KETAMINE_CDS_TRUSTED_ISSUERS": json.dumps(mint.trusted_issuers()),
            "KETAMINE_CDS_PUBLIC_BASE_URL": f"http://127.0.0.1:{port}",
            "KETAMINE_CDS_CORS_ORIGINS": "https://sandbox.cds-hooks.org",
            "KETAMINE_CDS_THREADS": "4" if request.param == "gthread" else "1",
        }
    )
    log_path = tmp / "server.log"
    server = Server("wire", serve_command(port, 2), env, port, log_path=log_path, workers=2)
    yield Wire(server, mint, log_path)
    server.stop()


def parse(answer: bytes) -> tuple[int, dict[str, str], bytes]:
    while answer.startswith(b"HTTP/1.1 100 "):  # an interim answer to Expect: 100-continue
        answer = answer.partition(b"\r\n\r\n")[2]
    head, _, body = answer.partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in header_lines:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return int(status_line.split()[1]), headers, body


def responses(answer: bytes) -> Iterator[bytes]:
    """Each response on the connection: bytes after a Content-Length body were sent as another
    request, which a keep-alive worker answers in turn."""
    while answer:
        head, _, rest = answer.partition(b"\r\n\r\n")
        length = next(
            int(line.split(b":", 1)[1])
            for line in head.split(b"\r\n")
            if line.lower().startswith(b"content-length:")
        )
        yield head + b"\r\n\r\n" + rest[:length]
        answer = rest[length:]


def assert_answer_is_ours(answer: bytes, path: str) -> None:
    """Every answer is a CDS response or a 4xx OperationOutcome; none at all is a client that
    gave up (the server closed without answering a body that never ended)."""
    while answer.startswith(b"HTTP/1.1 100 "):
        answer = answer.partition(b"\r\n\r\n")[2]
    for response in responses(answer):
        status, headers, body = parse(response)
        assert headers.get("content-type", "").startswith("application/json"), response[:300]
        document = json.loads(body)
        if status == 200:
            assert ("cards" in document) if path == VIEW else ("received" in document), document
            continue
        assert 400 <= status < 500, response[:600]
        assert document["resourceType"] == "OperationOutcome"
        assert document["issue"][0]["diagnostics"]


def chunked(chunks: list[bytes]) -> bytes:
    return b"".join(b"%x\r\n%s\r\n" % (len(c), c) for c in chunks) + b"0\r\n\r\n"


@pytest.mark.parametrize("path", [VIEW, FEEDBACK])
@pytest.mark.parametrize("size", [b"zz", b"-5", b"0x2", b" 5", b"ffffffffffffffffffffffff", b""])
def test_a_malformed_chunk_size_is_a_400_operation_outcome(wire, path, size) -> None:
    body = size + b"\r\n{}\r\n0\r\n\r\n"
    answer = wire.send(path, ["Content-Type: application/json", "Transfer-Encoding: chunked"], body)
    status, _, payload = parse(answer)
    assert status == 400, answer[:600]
    document = json.loads(payload)
    assert document["resourceType"] == "OperationOutcome"
    code = document["issue"][0]["details"]["coding"][0]["code"]
    assert code in {"unreadable-body", "http-400"}, document


def test_chunked_with_content_length_is_a_400_operation_outcome(wire) -> None:
    head = ["Transfer-Encoding: chunked", f"Content-Length: {len(BODY)}"]
    answer = wire.send(VIEW, head, chunked([BODY]))
    status, headers, payload = parse(answer)
    assert status == 400
    assert headers["content-type"] == "application/json"
    assert headers["x-content-type-options"] == "nosniff"
    document = json.loads(payload)
    assert document["issue"][0]["details"]["coding"][0]["code"] == "http-400"
    assert "Transfer-Encoding with Content-Length" in document["issue"][0]["diagnostics"]


def test_a_malformed_body_the_application_never_read_gets_one_answer(wire) -> None:
    """A gthread worker drains an unread body to reuse the connection; a malformed one used to
    add a second, unasked-for 400 after the real answer."""
    answer = wire.send(
        "/cds-services/no-such-service", ["Transfer-Encoding: chunked"], b"zz\r\n{}\r\n0\r\n\r\n"
    )
    assert answer.count(b"HTTP/1.1 ") == 1, answer
    assert parse(answer)[0] == 404


def test_a_well_framed_chunked_request_is_answered(wire) -> None:
    half = len(BODY) // 2
    answer = wire.send(
        VIEW,
        ["Content-Type: application/json", "Transfer-Encoding: chunked"],
        chunked([BODY[:half], BODY[half:]]),
    )
    status, _, payload = parse(answer)
    assert status == 200, answer[:600]
    assert [c["source"]["topic"]["code"] for c in json.loads(payload)["cards"]] == [
        "ketamine-eligibility"
    ]


SIZE_TEXTS = st.sampled_from(
    [b"zz", b"-5", b"0x10", b" 5", b"5 ", b"", b"ffffffffffffffffff", b"5;ext", b"5;\rx", b"+5"]
)
TERMINATORS = st.sampled_from([b"\r\n", b"\n", b"", b"xx", b"\r"])
FRAMING_HEADERS = st.lists(
    st.sampled_from(
        [
            "Transfer-Encoding: chunked",
            "Transfer-Encoding: gzip, chunked",
            "Transfer-Encoding: chunked, gzip",
            "Transfer-Encoding: identity",
            "Transfer-Encoding: chunked, chunked",
            "Content-Length: 5",
            "Content-Length: 999999",
            "Content-Length: -1",
            "Content-Length: abc",
            "Content-Length: +5",
            "Content-Length: 5, 5",
            "Expect: 100-continue",
        ]
    ),
    min_size=1,
    max_size=3,
)


@st.composite
def framings(draw: st.DrawFn) -> tuple[str, list[str], list[Any]]:
    """How to break a request's framing, one way or several: chunk sizes, chunk terminators,
    Transfer-Encoding and Content-Length headers, truncation. ``frame`` applies it to BODY
    (drawn as a recipe, so that no example carries the 30 KB body in its repr)."""
    path = draw(st.sampled_from([VIEW, FEEDBACK]))
    recipe: list[Any] = [draw(st.integers(1, len(BODY)))]
    for _ in range(2):
        size = draw(st.one_of(st.none(), SIZE_TEXTS))  # None: the true size
        recipe += [size, draw(TERMINATORS), draw(TERMINATORS)]
    recipe += [draw(st.booleans()), draw(st.one_of(st.none(), st.floats(0, 1)))]
    return path, ["Content-Type: application/json", *draw(FRAMING_HEADERS)], recipe


def frame(recipe: list[Any]) -> bytes:
    cut, *pieces_recipe, last_chunk, keep = recipe
    body = b""
    for index, piece in enumerate([BODY[:cut], BODY[cut:]]):
        size, after_size, after_data = pieces_recipe[3 * index : 3 * index + 3]
        body += (b"%x" % len(piece) if size is None else size) + after_size + piece + after_data
    if last_chunk:
        body += b"0\r\n\r\n"
    return body if keep is None else body[: int(len(body) * keep)]


@examples(1.5)
@given(request=framings())
def test_broken_framing_never_gets_a_5xx_or_html(wire, request: Any) -> None:
    path, head, recipe = request
    body = frame(recipe)
    note(f"{path} {head} {body[:80]!r}")
    assert_answer_is_ours(wire.send(path, head, body), path)


def test_the_server_stays_healthy_and_logs_only_json(wire) -> None:
    wire.send(VIEW, ["Transfer-Encoding: chunked"], b"zz\r\n{}\r\n0\r\n\r\n")
    wire.send(VIEW, ["Transfer-Encoding: chunked", "Content-Length: 4"], b"0\r\n\r\n")
    with socket.create_connection(("127.0.0.1", wire.server.port), timeout=10) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        status, _, _ = parse(sock.recv(65536))
    assert status == 200
    lines = wire.log_path.read_text().splitlines()
    assert any("Booting worker" in line for line in lines)
    assert any("request refused before the application" in line for line in lines)
    for line in lines:
        record = json.loads(line)  # a plain-text line fails here
        assert {"ts", "level", "logger", "msg"} <= set(record), line
