"""The web server's front: slow and hostile clients never hold the code that does the work.

gunicorn runs `Worker` (config/gunicorn.py), its gevent worker with two changes:

- **A request is read whole before Django sees it.** Every connection is a greenlet: its
  headers are read within gunicorn's keep-alive timeout (a client that sends half a
  header and waits is dropped when it runs out), and `BufferedApplication` reads the body,
  up to `MAX_BUFFERED_BODY` bytes, within `BODY_TIMEOUT_SECONDS` (else 408). Only then is
  the request queued for one of a few long-lived *executor* greenlets (gunicorn's
  `--threads`, default 4 in config/gunicorn.py), which run Django exactly as a sync
  worker does: one request at a time each, keeping their database connection between
  requests (a greenlet per request would open one per request). A thousand idle
  connections cost a thousand greenlets, not a worker.
- **Errors are JSON.** gunicorn answers what it cannot parse (a bad request line, headers
  too large, a bad chunk) itself, as an HTML page; here it is the project's error envelope.
  A request whose answer is not ready within `RESPONSE_TIMEOUT_SECONDS` (below the worker
  timeout) is answered `503 request_timeout` with `Retry-After`; a request still queued
  then is never run, one already running finishes (its statements are bounded by their
  statement timeouts) and its answer is dropped.

The sync server of the test client and `manage.py runserver` never load this module.
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import gevent
import gevent.event
import gevent.queue
from gunicorn import util
from gunicorn.workers.ggevent import GeventWorker

# The largest body any endpoint takes (/v1/events: 10 MB, ingestion.body.MAX_BODY_BYTES),
# plus one byte, so that the endpoint itself sees the body is over its limit. A declared
# Content-Length beyond it is not read at all: the endpoint answers 413 (or 400) from the
# header, after authenticating the request as usual.
MAX_BUFFERED_BODY = 10 * 1024 * 1024 + 1
# What one worker holds of request bodies at once, all connections together. Without it, a
# few hundred clients each sending 10 MB and stalling took a worker's memory from 130 to 470
# MB (tests/security/test_attack_server.py holds such clients) and could take the machine's;
# past it, a body is answered 503 `server_busy` (Retry-After) instead of being read. 25
# bodies of the largest size.
BUFFER_BUDGET_BYTES = 25 * (MAX_BUFFERED_BODY - 1)
BODY_TIMEOUT_SECONDS = 30.0
# Below gunicorn's worker timeout (30 s): GraphQL's analytic budget is 20 s of it.
RESPONSE_TIMEOUT_SECONDS = 28.0
RETRY_AFTER_SECONDS = 5
_READ_CHUNK = 64 * 1024
_JSON = "application/json; charset=utf-8"

Status = str
Headers = list[tuple[str, str]]
WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


def error_document(code: str, message: str) -> bytes:
    """The project's error envelope (productgraph.api.errors), as bytes."""
    return json.dumps({"error": {"code": code, "message": message}}).encode()


def _error(
    start_response: Callable[..., Any],
    status: str,
    code: str,
    message: str,
    extra: tuple[tuple[str, str], ...] = (),
) -> list[bytes]:
    body = error_document(code, message)
    headers = [("Content-Type", _JSON), ("Content-Length", str(len(body))), *extra]
    start_response(status, headers)
    return [body]


class _Busy(Exception):
    """The worker's body budget is spent: the request is not read."""


@dataclass
class _Budget:
    """Bytes of request bodies a worker holds; one gevent thread, so no lock."""

    limit: int
    used: int = 0

    def take(self, size: int) -> None:
        if self.used + size > self.limit:
            raise _Busy
        self.used += size

    def give(self, size: int) -> None:
        self.used -= size


@dataclass
class _Job:
    environ: dict[str, Any]
    result: gevent.event.AsyncResult = field(default_factory=gevent.event.AsyncResult)
    abandoned: bool = False


class BufferedApplication:
    """Read each request's body whole, then run the WSGI app on an executor greenlet."""

    def __init__(self, app: WSGIApp, *, executors: int, budget: int = BUFFER_BUDGET_BYTES) -> None:
        self.app = app
        self.executors = max(1, executors)
        self.budget = _Budget(budget)
        self._jobs: gevent.queue.Queue[_Job] = gevent.queue.Queue()
        self._started = False

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        held = [0]  # what this request's body holds of the budget, until it is answered
        try:
            return self._answer(environ, start_response, held)
        finally:
            self.budget.give(held[0])

    def _answer(
        self, environ: dict[str, Any], start_response: Callable[..., Any], held: list[int]
    ) -> Any:
        try:
            environ = self._buffered(environ, held)
        except gevent.Timeout:
            return _error(
                start_response,
                "408 Request Timeout",
                "request_timeout",
                f"The body did not arrive within {BODY_TIMEOUT_SECONDS:g} s.",
                (("Connection", "close"),),
            )
        except _Busy:
            return _error(
                start_response,
                "503 Service Unavailable",
                "server_busy",
                "The server holds as many request bodies as it may; retry later.",
                (("Retry-After", str(RETRY_AFTER_SECONDS)), ("Connection", "close")),
            )
        if not self._started:
            self._started = True
            for _ in range(self.executors):
                gevent.spawn(self._serve)
        job = _Job(environ)
        self._jobs.put(job)
        try:
            status, headers, body = job.result.get(timeout=RESPONSE_TIMEOUT_SECONDS)
        except gevent.Timeout:
            job.abandoned = True
            return _error(
                start_response,
                "503 Service Unavailable",
                "request_timeout",
                f"The request was not answered within {RESPONSE_TIMEOUT_SECONDS:g} s; "
                "retry later, or ask for less.",
                (("Retry-After", str(RETRY_AFTER_SECONDS)),),
            )
        start_response(status, headers)
        return [body]

    def _buffered(self, environ: dict[str, Any], held: list[int]) -> dict[str, Any]:
        """Return the environ with its body read into memory, each part taken from the
        worker's budget and counted in `held` (raise gevent.Timeout, or _Busy)."""
        stream = environ["wsgi.input"]
        try:
            declared = int(environ.get("CONTENT_LENGTH") or 0)
        except ValueError:
            declared = 0
        chunked = "chunked" in environ.get("HTTP_TRANSFER_ENCODING", "").lower()
        if declared > MAX_BUFFERED_BODY or (declared <= 0 and not chunked):
            body = b""  # nothing to read, or too much: the endpoint answers from the header
        else:
            wanted = min(declared, MAX_BUFFERED_BODY) if declared > 0 else MAX_BUFFERED_BODY
            parts, size = [], 0
            with gevent.Timeout(BODY_TIMEOUT_SECONDS):
                while size < wanted:
                    part = stream.read(min(_READ_CHUNK, wanted - size))
                    if not part:
                        break
                    self.budget.take(len(part))
                    held[0] += len(part)
                    parts.append(part)
                    size += len(part)
            body = b"".join(parts)
        environ = dict(environ)
        environ["wsgi.input"] = io.BytesIO(body)
        environ.pop("wsgi.file_wrapper", None)  # responses are collected in memory anyway
        return environ

    def _serve(self) -> None:
        """Run queued requests one at a time, for the life of the worker."""
        while True:
            job = self._jobs.get()
            if job.abandoned:
                continue
            try:
                job.result.set(self._run(job.environ))
            except Exception as exc:  # handed to the request's greenlet, which raises it
                job.result.set_exception(exc)

    def _run(self, environ: dict[str, Any]) -> tuple[Status, Headers, bytes]:
        started: list[tuple[Status, Headers]] = []
        chunks: list[bytes] = []

        def start_response(status: Status, headers: Headers, exc_info: Any = None) -> Any:
            started[:] = [(status, headers)]
            return chunks.append

        iterable = self.app(environ, start_response)
        try:
            chunks.extend(iterable)
        finally:
            close = getattr(iterable, "close", None)
            if close is not None:
                close()  # Django's request_finished: its connection handling
        status, headers = started[0]
        return status, headers, b"".join(chunks)


_ERROR_CODES = {403: "forbidden", 500: "internal_error", 501: "not_implemented"}


def write_json_error(sock: Any, status_int: int, reason: str, mesg: str) -> None:
    """gunicorn's `util.write_error`, answering in the JSON envelope instead of HTML."""
    code = _ERROR_CODES.get(status_int, "invalid_request")
    body = error_document(code, (mesg or reason)[:500])
    head = (
        f"HTTP/1.1 {status_int} {reason}\r\nConnection: close\r\n"
        f"Content-Type: {_JSON}\r\nContent-Length: {len(body)}\r\n\r\n"
    )
    util.write_nonblock(sock, head.encode("latin-1") + body)


class Worker(GeventWorker):
    """gunicorn's gevent worker with a buffering front and JSON error pages."""

    wsgi: Any

    def init_process(self) -> None:
        # gunicorn writes its own error pages through this one function (workers/base.py).
        util.write_error = write_json_error
        super().init_process()

    def load_wsgi(self) -> None:
        super().load_wsgi()
        self.wsgi = BufferedApplication(self.wsgi, executors=self.cfg.threads)
