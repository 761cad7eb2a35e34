"""Fuzz: the remote-planner wire. Random requests get a JSON error status; the server answers the next good one."""

from __future__ import annotations

import json
import socket
import threading

import numpy as np
import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from occsim.planners.remote_server import encode, make_server
from tests.fuzz.profiles import budget

pytestmark = pytest.mark.fuzz

TIMEOUT = 5.0  # [s] for one answer: the server must never hang on a request


class Model:
    """Drives straight on at the request's speed; trips over a malformed request like a real model would."""

    privileged = False

    def reset(self, info):
        pass

    def infer(self, request):
        speed = float(np.asarray(request["ego"], dtype=np.float64)[0])
        return np.stack([np.arange(1, 7) * 0.5 * speed, np.zeros(6)], axis=1)


@pytest.fixture(scope="module")
def server():
    srv = make_server(Model, port=0)
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    yield srv.server_address
    srv.shutdown()
    srv.server_close()


def exchange(address, raw: bytes) -> tuple[int, dict | None]:
    """Send raw request bytes, end our side, and read the whole answer: (status, JSON body or None)."""
    with socket.create_connection(address, timeout=TIMEOUT) as conn:
        try:
            conn.sendall(raw)
            conn.shutdown(socket.SHUT_WR)  # a short body ends here instead of waiting for the read timeout
        except OSError:
            pass  # the server answered and closed early (a refused header): its answer is still there to read
        chunks = []
        try:
            while chunk := conn.recv(65536):
                chunks.append(chunk)
        except ConnectionResetError:
            pass
    answer = b"".join(chunks)
    if not answer:
        return 0, None
    head, _, body = answer.partition(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    try:
        return status, json.loads(body)
    except ValueError:
        return status, None


def request(method: str, path: str, body: bytes, headers: dict[str, str]) -> bytes:
    lines = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1", "Connection: close"]
    lines += [f"{k}: {v}" for k, v in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1", "replace") + body


def post(address, path: str, payload: dict) -> tuple[int, dict | None]:
    body = json.dumps(encode(payload)).encode()
    headers = {"Content-Type": "application/json", "Content-Length": str(len(body))}
    return exchange(address, request("POST", path, body, headers))


JSON = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=10)),
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=8), inner, max_size=4)),
    max_leaves=20,
)
ARRAYS = st.fixed_dictionaries(
    {
        "__array__": st.one_of(st.just(True), JSON),
        "dtype": st.one_of(
            st.sampled_from(["float32", "uint8", "object", "U4", "V8", "<f8", "complex64", "bogus", "O"]), JSON
        ),
        "shape": st.one_of(st.lists(st.integers(-2, 10**12), max_size=4), JSON),
        "data": st.one_of(st.binary(max_size=64).map(lambda b: __import__("base64").b64encode(b).decode()), JSON),
    }
)
BODIES = st.one_of(
    JSON.map(lambda v: json.dumps(v).encode()),
    st.dictionaries(
        st.sampled_from(["session", "info", "ego", "images", "command", "timestamp", "x"]),
        st.one_of(JSON, ARRAYS),
        max_size=5,
    ).map(lambda v: json.dumps(v).encode()),
    st.binary(max_size=200),
    st.integers(1, 20_000).map(lambda n: b"[" * n + b"]" * n),
)
HEADERS = st.fixed_dictionaries(
    {},
    optional={
        "Content-Type": st.one_of(st.just("application/json"), st.text(max_size=30)),
        "Content-Length": st.one_of(st.integers(-5, 10**10).map(str), st.text(max_size=10)),
        "Transfer-Encoding": st.just("chunked"),
        "Expect": st.just("100-continue"),
    },
).map(lambda h: {k: v.replace("\r", "").replace("\n", "") for k, v in h.items()})
METHODS = st.sampled_from(["GET", "POST", "PUT", "DELETE", "HEAD", "OPTIONS", "PATCH", "BREW"])
PATHS = st.one_of(st.sampled_from(["/alive", "/reset", "/infer", "/close", "/", "//", "/../etc"]), st.text(max_size=20))


@given(
    METHODS,
    PATHS.map(lambda p: p.replace(" ", "%20").replace("\r", "").replace("\n", "") or "/"),
    BODIES,
    HEADERS,
    st.booleans(),
)
@example("POST", "/infer", b'{"session": "nope"}', {"Content-Type": "application/json", "Content-Length": "19"}, False)
@example(
    "POST",
    "/reset",
    b"[" * 20_000 + b"]" * 20_000,
    {"Content-Type": "application/json", "Content-Length": "40000"},
    False,
)
@example("POST", "/reset", b"{}", {"Content-Type": "application/json", "Content-Length": "999999"}, False)
@example("POST", "/infer", b"{}", {"Content-Type": "application/json", "Content-Length": str(10**10)}, False)
@example("PUT", "/reset", b"{}", {"Content-Type": "application/json", "Content-Length": "2"}, False)
@example("BREW", "/", b"", {}, True)
@example("GET", "\x1f", b"{}", {}, False)  # found: read as HTTP/0.9, answered without a status line
@example("POST", "\x1f", b"{}", {}, False)  # found: http.server's own refusal had no status line
@example("GET", "/a b c d", b"", {}, False)  # a malformed request line
@budget(1.0)
def test_random_requests_get_an_error_status_and_the_server_answers_the_next_good_one(
    server, method, path, body, headers, fix_length
):
    if fix_length:
        headers = {**headers, "Content-Length": str(len(body))}
    status, answer = exchange(server, request(method, path, body, headers))
    if method != "HEAD":
        assert status in (200, 400, 404, 405, 410, 411, 413, 414, 415, 431, 500, 505), status
        assert isinstance(answer, dict), f"{status}: every answer is a JSON object"
        assert status == 200 or "error" in answer
    # the next good episode is served
    status, opened = post(server, "/reset", {"info": {}})
    assert status == 200, opened
    frame = {"session": opened["session"], "ego": np.array([4.0, 0, 0, 0], np.float32), "command": 2}
    status, plan = post(server, "/infer", frame)
    assert status == 200 and plan["trajectory"][5] == [12.0, 0.0], plan
