"""Issue 15, cases 1, 3 and 6: the production server (gunicorn, config/gunicorn.py) under attack.

Case 1: two clients that send half a header and wait held both sync workers, and `/health`
stopped answering. Case 3: a request that outlived the worker timeout got gunicorn's HTML
500. Case 6: gunicorn's own errors were HTML pages. Each test runs the real server, as
`make run` and the Dockerfile do, on the test database.
"""

from __future__ import annotations

import base64
import http.client
import io
import json
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import gevent
import pytest

from bench.server import Gunicorn
from config.env import BASE_DIR
from productgraph import server
from tests.conftest import make_tenant
from tests.live import live_gunicorn


@pytest.fixture(scope="module")
def live(django_db_setup, tmp_path_factory) -> Iterator[Gunicorn]:
    """gunicorn with the production settings and worker on the test database."""
    with live_gunicorn(tmp_path_factory.mktemp("gunicorn")) as gunicorn:
        yield gunicorn


def _request(live: Gunicorn, method: str, path: str, body: bytes = b"", **headers: str):
    connection = http.client.HTTPConnection("127.0.0.1", live.port, timeout=30)
    try:
        connection.request(method, path, body=body, headers=headers)
        response = connection.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        connection.close()


def _raw(live: Gunicorn, data: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", live.port), timeout=10) as client:
        client.sendall(data)
        chunks = []
        while chunk := client.recv(65536):
            chunks.append(chunk)
        return b"".join(chunks)


def test_slow_clients_do_not_starve_health(live):
    held = []
    try:
        for _ in range(100):  # `printf 'GET /health HTTP/1.1\r\nHost: x\r\nX-A: '; sleep 30`
            client = socket.create_connection(("127.0.0.1", live.port))
            client.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\nX-A: ")
            held.append(client)
        for _ in range(50):  # a body that never finishes
            client = socket.create_connection(("127.0.0.1", live.port))
            client.sendall(
                b"POST /v1/events HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                b'Content-Length: 100000\r\n\r\n{"events": ['
            )
            held.append(client)
        time.sleep(0.5)
        for _ in range(5):
            connection = http.client.HTTPConnection("127.0.0.1", live.port, timeout=1.0)
            connection.request("GET", "/health")  # raises TimeoutError past 1 s
            response = connection.getresponse()
            assert (response.status, response.read()) == (200, b'{"status":"ok"}')
            connection.close()
    finally:
        for client in held:
            client.close()


def test_half_a_header_is_dropped_after_the_keepalive_timeout(live):
    with socket.create_connection(("127.0.0.1", live.port), timeout=15) as client:
        client.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\nX-A: ")
        started = time.monotonic()
        assert client.recv(1024) == b""  # closed, no answer
        assert time.monotonic() - started < 10


@pytest.mark.parametrize(
    ("request_bytes", "status"),
    [
        (b"GARBAGE\r\n\r\n", 400),
        (b"GET /health HTTP/1.1\r\nHost: x\r\nX-A: " + b"a" * 9_000 + b"\r\n\r\n", 431),
        (b"GET /" + b"a" * 5_000 + b" HTTP/1.1\r\nHost: x\r\n\r\n", 414),
        (b"POST /v1/events HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", 400),
    ],
    ids=["bad-request-line", "header-too-large", "uri-too-long", "bad-chunk"],
)
def test_gunicorn_own_errors_answer_in_the_json_envelope(live, request_bytes, status):
    answer = _raw(live, request_bytes)
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(f"HTTP/1.1 {status} ".encode()), head
    assert b"Content-Type: application/json" in head
    assert json.loads(body)["error"]["code"] == "invalid_request"


def test_unknown_paths_and_methods_answer_json(live):
    for method, path in [("GET", "/nope"), ("POST", "/metrics"), ("DELETE", "/health")]:
        status, headers, body = _request(live, method, path)
        assert status in (404, 405), (method, path)
        assert headers["Content-Type"].startswith("application/json"), (method, path)
        assert json.loads(body)["error"]["code"] in ("not_found", "method_not_allowed")


def test_an_oversized_event_body_is_413_json_without_being_read(live, committed):
    tenant = make_tenant("acme")
    status, _, body = _request(
        live,
        "POST",
        "/v1/events",
        b"",
        **{
            "Content-Type": "application/json",
            "Content-Length": str(50 * 1024 * 1024),
            "X-PG-API-Key": tenant.ingest_key,
        },
    )
    assert status == 413
    assert json.loads(body)["error"]["code"] == "payload_too_large"


def test_events_and_graphql_work_through_the_front(live, committed):
    tenant = make_tenant("acme")
    batch = {
        "events": [
            {
                "event_id": "front-1",
                "session.id": "s1",
                "event.type": "page.view",
                "event.timestamp": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                "page.path": "/home",
            }
        ]
    }
    body = json.dumps(batch).encode()
    for _ in range(2):  # the second is a duplicate: exactly once through the front too
        status, _, answer = _request(
            live,
            "POST",
            "/v1/events",
            body,
            **{"Content-Type": "application/json", "X-PG-API-Key": tenant.ingest_key},
        )
        assert status == 202, answer
    assert json.loads(answer)["duplicates"] == 1
    query = json.dumps({"query": '{ events(projectId: "proj_acme") { nodes { eventId } } }'})
    status, _, answer = _request(
        live,
        "POST",
        "/graphql",
        query.encode(),
        **{"Content-Type": "application/json", "Authorization": f"Bearer {tenant.secret_key}"},
    )
    assert status == 200, answer
    assert json.loads(answer)["data"]["events"]["nodes"] == [{"eventId": "front-1"}]


def test_120000_typename_aliases_answer_json_quickly_on_the_server(live, committed):
    tenant = make_tenant("acme")
    query = "{" + " ".join(f"a{i}: __typename" for i in range(120_000)) + "}"
    started = time.monotonic()
    status, headers, answer = _request(
        live,
        "POST",
        "/graphql",
        json.dumps({"query": query}).encode(),
        **{"Content-Type": "application/json", "Authorization": f"Bearer {tenant.secret_key}"},
    )
    assert status == 400
    assert headers["Content-Type"].startswith("application/json")
    assert [error["extensions"]["code"] for error in json.loads(answer)["errors"]] == [
        "query_too_large"
    ]
    assert time.monotonic() - started < 5  # generous: the attack held a worker for 9.9 s


def test_a_csrf_failure_answers_in_the_json_envelope(db):
    from django.test import Client

    response = Client(enforce_csrf_checks=True).post("/login/", {"username": "x"})
    assert response.status_code == 403
    assert response["Content-Type"].startswith("application/json")
    assert response.json()["error"]["code"] == "forbidden"
    assert "CSRF" in response.json()["error"]["message"]


# --- the front itself, in this process (gevent, no monkey patching needed) ---------------


class _StalledBody(io.RawIOBase):
    """A request body that never arrives."""

    def read(self, size: int = -1) -> bytes:
        gevent.sleep(60)
        return b""


def _start_response(seen: list):
    return lambda status, headers, exc_info=None: seen.append((status, headers))


def test_a_body_that_does_not_arrive_in_time_is_408_json(monkeypatch):
    monkeypatch.setattr(server, "BODY_TIMEOUT_SECONDS", 0.1)
    never = pytest.fail  # the application must not be called
    front = server.BufferedApplication(lambda environ, start: never("called"), executors=1)
    seen: list = []
    environ = {"wsgi.input": _StalledBody(), "CONTENT_LENGTH": "100", "REQUEST_METHOD": "POST"}
    body = b"".join(front(environ, _start_response(seen)))
    assert seen[0][0] == "408 Request Timeout"
    assert ("Connection", "close") in seen[0][1]
    assert json.loads(body)["error"]["code"] == "request_timeout"


def test_a_request_not_answered_in_time_is_503_json_and_a_queued_one_never_runs(monkeypatch):
    monkeypatch.setattr(server, "RESPONSE_TIMEOUT_SECONDS", 0.2)
    ran: list[str] = []

    def slow_app(environ, start_response):
        ran.append(environ["PATH_INFO"])
        gevent.sleep(0.5)
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"late"]

    front = server.BufferedApplication(slow_app, executors=1)
    results: dict[str, tuple] = {}

    def call(path: str) -> None:
        seen: list = []
        environ = {"wsgi.input": io.BytesIO(b""), "PATH_INFO": path, "REQUEST_METHOD": "GET"}
        results[path] = (b"".join(front(environ, _start_response(seen))), seen)

    gevent.joinall([gevent.spawn(call, "/first"), gevent.spawn(call, "/second")])
    gevent.sleep(0.6)  # the first finishes; the second, abandoned while queued, never runs
    assert ran == ["/first"]
    for path in ("/first", "/second"):
        body, seen = results[path]
        assert seen[0][0] == "503 Service Unavailable"
        assert ("Retry-After", str(server.RETRY_AFTER_SECONDS)) in seen[0][1]
        assert json.loads(body)["error"]["code"] == "request_timeout"


class _HalfBody(io.RawIOBase):
    """A body whose first `size` bytes arrive, then nothing more (a stalled attacker)."""

    def __init__(self, size: int) -> None:
        self.left = size

    def read(self, size: int = -1) -> bytes:
        if self.left <= 0:
            gevent.sleep(60)
            return b""
        part = min(size, self.left)
        self.left -= part
        return b"x" * part


def test_bodies_past_the_workers_budget_are_503_not_held_in_memory(monkeypatch):
    """Issue 16's attack: stalled 10 MB bodies on many connections took a worker's memory
    from 130 to 470 MB; a worker now holds at most its budget of bodies at once."""
    monkeypatch.setattr(server, "BODY_TIMEOUT_SECONDS", 0.5)
    served: list[int] = []

    def app(environ, start_response):
        served.append(len(environ["wsgi.input"].read()))
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"ok"]

    front = server.BufferedApplication(app, executors=1, budget=300_000)
    answers: list[tuple[str, list]] = []

    def call(body: io.RawIOBase, length: int) -> None:
        seen: list = []
        environ = {"wsgi.input": body, "CONTENT_LENGTH": str(length), "REQUEST_METHOD": "POST"}
        b"".join(front(environ, _start_response(seen)))
        answers.append((seen[0][0], seen[0][1]))

    stalled = [gevent.spawn(call, _HalfBody(100_000), 200_000) for _ in range(3)]
    gevent.sleep(0.05)  # the three hold 300,000 bytes: the budget
    assert front.budget.used == 300_000
    call(io.BytesIO(b"y" * 1000), 1000)  # nothing left for a small honest body
    assert answers[-1][0] == "503 Service Unavailable"
    assert ("Retry-After", str(server.RETRY_AFTER_SECONDS)) in answers[-1][1]
    gevent.joinall(stalled)  # each times out (408) and gives its share back
    assert front.budget.used == 0
    call(io.BytesIO(b"y" * 1000), 1000)
    assert answers[-1][0] == "200 OK" and served == [1000]


def test_the_front_reads_the_whole_body_and_runs_the_app_with_it():
    received: list[bytes] = []

    def app(environ, start_response):
        received.append(environ["wsgi.input"].read())
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"o", b"k"]

    front = server.BufferedApplication(app, executors=2)
    seen: list = []
    environ = {
        "wsgi.input": io.BytesIO(b"x" * 200_000),
        "CONTENT_LENGTH": "200000",
        "REQUEST_METHOD": "POST",
    }
    assert b"".join(front(environ, _start_response(seen))) == b"ok"
    assert received == [b"x" * 200_000]
    assert seen[0][0] == "200 OK"


def test_make_run_binds_loopback_unless_told_otherwise():
    procfile = (Path(BASE_DIR) / "Procfile").read_text()
    web = next(line for line in procfile.splitlines() if line.startswith("web:"))
    assert "--bind ${BIND_HOST:-127.0.0.1}:" in web
    assert "0.0.0.0" not in web  # noqa: S104 - the address must not be there


def test_keys_outside_the_headers_never_reach_the_access_log(live, committed):
    tenant = make_tenant("acme")
    now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    batch = {"events": [{"event_id": "beacon-1", "session.id": "s1", "event.type": "custom",
                         "event.timestamp": now}]}  # fmt: skip
    body = json.dumps(batch).encode()
    basic = base64.b64encode(f"{tenant.ingest_key}:".encode()).decode()
    answers = [
        _request(live, "POST", f"/v1/events?api_key={tenant.ingest_key}", body,
                 **{"Content-Type": "text/plain", "Referer": f"http://shop/?api_key={tenant.ingest_key}"}),
        _request(live, "POST", f"/v1/events?x=1&api%5Fkey={tenant.ingest_key}", body,
                 **{"Content-Type": "text/plain"}),
        _request(live, "POST", "/v1/events", body,
                 **{"Content-Type": "application/json", "Authorization": f"Basic {basic}"}),
        _request(live, "POST", "/v1/events",
                 json.dumps({**batch, "api_key": tenant.ingest_key}).encode(),
                 **{"Content-Type": "text/plain"}),
    ]  # fmt: skip
    assert [status for status, _, _ in answers] == [202] * 4, answers
    # Found by attack: gunicorn's own warnings quoted the malformed request line or header.
    _raw(
        live,
        f"POST /v1/events?api_key={tenant.ingest_key}\x01 HTTP/1.1\r\nHost: x\r\n\r\n".encode(),
    )
    _raw(live, f"POST /v1/events HTTP/1.1\r\nX-PG-API-Key {tenant.ingest_key}\r\n\r\n".encode())
    _request(live, "POST", f"/v1/events?api+key={tenant.ingest_key}", body,
             **{"Content-Type": "text/plain"})  # fmt: skip
    deadline = time.monotonic() + 5
    while (log := live.log_path.read_text()).count("Invalid") < 2 or "api+key" not in log:
        assert time.monotonic() < deadline, log
        time.sleep(0.1)
    assert tenant.ingest_key not in log
    assert tenant.ingest_key[3:] not in log
    assert "api_key=[redacted]" in log and "api%5Fkey=[redacted]" in log
