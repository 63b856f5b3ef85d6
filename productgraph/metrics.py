"""Prometheus metrics: their definitions, the request middleware and `GET /metrics`.

Every metric is created here, at import, with a `productgraph_` prefix and labels whose
values come from the code (route names, HTTP methods, status classes), never from the
request: no org, project, path or key ever becomes a label.

Under gunicorn (`config/gunicorn.py`) `PROMETHEUS_MULTIPROC_DIR` is set before any worker
imports `prometheus_client`, so each process writes its samples to files in that directory
and `GET /metrics` sums them over every worker, living or dead. Without it (runserver, the
tests, a management command) the process's own default registry is served. See ADR 0004.
"""

from __future__ import annotations

import hmac
import ipaddress
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Protocol

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt
from prometheus_client import (
    CONTENT_TYPE_PLAIN_0_0_4,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    disable_created_metrics,
    generate_latest,
    multiprocess,
)

from productgraph.api.errors import ErrorCode, error_response

# Latency buckets in seconds: an ingest batch of 100 events takes ~10-30 ms, a funnel query
# or an admin page up to seconds.
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
FOLD_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
# Any other method a client invents is counted as "other": label values stay bounded.
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
UNMATCHED_ROUTE = "unmatched"

# No `_created` series: multiprocess mode has none, and single-process mode should not differ.
disable_created_metrics()

HTTP_REQUESTS = Counter(
    "productgraph_http_requests",
    "HTTP requests answered, by route name, method and status class.",
    ["route", "method", "status"],
)
HTTP_DURATION = Histogram(
    "productgraph_http_request_duration_seconds",
    "Time from the first middleware to the response, by route name, method and status class.",
    ["route", "method", "status"],
    buckets=LATENCY_BUCKETS,
)
INGEST_BATCHES = Counter(
    "productgraph_ingest_batches", "Batches of POST /v1/events that reached the write path."
)
INGEST_ACCEPTED = Counter(
    "productgraph_ingest_events_accepted", "Valid events of those batches, new or already stored."
)
INGEST_DUPLICATES = Counter(
    "productgraph_ingest_events_duplicates", "Accepted events that were already stored."
)
INGEST_REJECTED = Counter("productgraph_ingest_events_rejected", "Events that failed validation.")
INGEST_BODY_BYTES = Counter(
    "productgraph_ingest_body_bytes", "Request body bytes of those batches, after gunzip."
)
SESSION_FOLDS = Counter(
    "productgraph_session_folds", "Session folds run (sessions_fold calls with session ids)."
)
SESSION_FOLD_SESSIONS = Counter(
    "productgraph_session_fold_sessions", "Session rows written by the folds."
)
SESSION_FOLD_EVENTS = Counter(
    "productgraph_session_fold_events", "Events read and folded into sessions by the folds."
)
SESSION_FOLD_DURATION = Histogram(
    "productgraph_session_fold_duration_seconds",
    "Duration of one queued fold task's transaction, advisory-lock wait and commit included.",
    buckets=FOLD_BUCKETS,
)


class IngestOutcome(Protocol):
    """What a batch's result tells the metrics (ingestion's `IngestResult`)."""

    @property
    def accepted(self) -> int: ...

    @property
    def duplicates(self) -> int: ...

    @property
    def rejected(self) -> int: ...


def ingest_observed(outcome: IngestOutcome, *, body_bytes: int, refused: int = 0) -> None:
    """Count one batch that reached the write path, and the records its door `refused`
    before validation (rejected events too)."""
    INGEST_BATCHES.inc()
    INGEST_ACCEPTED.inc(outcome.accepted)
    INGEST_DUPLICATES.inc(outcome.duplicates)
    INGEST_REJECTED.inc(outcome.rejected + refused)
    INGEST_BODY_BYTES.inc(body_bytes)


def fold_observed(*, sessions: int, events: int) -> None:
    """Count one fold, the session rows it wrote and the events it folded."""
    SESSION_FOLDS.inc()
    SESSION_FOLD_SESSIONS.inc(sessions)
    SESSION_FOLD_EVENTS.inc(events)


@contextmanager
def fold_timer() -> Iterator[None]:
    """Observe the block's duration in the fold duration histogram (also when it raises)."""
    started = time.perf_counter()
    try:
        yield
    finally:
        SESSION_FOLD_DURATION.observe(time.perf_counter() - started)


def route_of(request: HttpRequest) -> str:
    """The URL pattern's name (or view path), never the raw path; `unmatched` if none."""
    match = request.resolver_match
    return match.view_name if match is not None else UNMATCHED_ROUTE


class MetricsMiddleware:
    """Count and time every request by route name, method and status class.

    Measured cost (ADR 0004): 4.5-6 µs per request in single-process mode, 6-10 µs with the
    multiprocess files (a lock and an mmap write per sample), against ~11 ms for a
    100-event `POST /v1/events`; 300 interleaved pairs of that POST differed by less than
    their noise (10.90 ms median without, 10.85 ms with).
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        started = time.perf_counter()
        response = self.get_response(request)
        elapsed = time.perf_counter() - started
        method = request.method if request.method in METHODS else "other"
        labels = (route_of(request), method, f"{response.status_code // 100}xx")
        HTTP_REQUESTS.labels(*labels).inc()
        HTTP_DURATION.labels(*labels).observe(elapsed)
        return response


def exposition(*, multiprocess_dir: str | None) -> bytes:
    """Every metric in the Prometheus text format: summed over the directory's processes."""
    if multiprocess_dir is None:
        return generate_latest(REGISTRY)
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry, path=multiprocess_dir)
    return generate_latest(registry)


def _is_loopback(address: str) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return ip.ipv4_mapped.is_loopback
    return ip.is_loopback


def scrape_allowed(request: HttpRequest, *, token: str | None) -> bool:
    """With a token: the matching `Authorization: Bearer` header. Without: loopback only.

    REMOTE_ADDR is the peer's address; X-Forwarded-For is ignored on purpose. Behind a
    proxy on the same host every request looks local: set METRICS_TOKEN there.
    """
    if token:
        scheme, _, provided = request.headers.get("Authorization", "").partition(" ")
        return scheme.lower() == "bearer" and hmac.compare_digest(
            provided.strip().encode(), token.encode()
        )
    return _is_loopback(request.META.get("REMOTE_ADDR", ""))


# Exempt from Django's CSRF check, which would refuse any other method (403, its page) before
# the 405 below: the scrape authenticates by token or address, never by cookie.
@csrf_exempt
def metrics_view(request: HttpRequest) -> HttpResponse:
    """GET /metrics: the Prometheus exposition; anything else in the error envelope."""
    if request.method not in ("GET", "HEAD"):
        return error_response(
            405, ErrorCode.METHOD_NOT_ALLOWED, "Use GET.", headers={"Allow": "GET, HEAD"}
        )
    if not scrape_allowed(request, token=settings.METRICS_TOKEN):
        return error_response(
            403,
            ErrorCode.FORBIDDEN,
            "Metrics need 'Authorization: Bearer <METRICS_TOKEN>', or a loopback client "
            "when METRICS_TOKEN is unset.",
        )
    body = exposition(multiprocess_dir=settings.PROMETHEUS_MULTIPROC_DIR)
    # generate_latest() writes the classic text format, 0.0.4, which every Prometheus reads.
    return HttpResponse(body, content_type=CONTENT_TYPE_PLAIN_0_0_4)
