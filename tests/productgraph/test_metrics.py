"""Prometheus metrics: the counters a batch moves, the request histogram, GET /metrics."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from django.db import transaction
from prometheus_client import REGISTRY
from prometheus_client.parser import text_string_to_metric_families

from productgraph import metrics
from productgraph.tenancy.context import org_context
from sessions import services
from tests.conftest import database_down
from tests.ingestion.helpers import event, post

ROOT = Path(__file__).resolve().parents[2]


def sample(name: str, **labels: str) -> float:
    """The current value of one sample of this process's registry (0 if never set)."""
    return REGISTRY.get_sample_value(name, labels) or 0.0


def ingest_samples() -> dict[str, float]:
    names = ["batches", "events_accepted", "events_duplicates", "events_rejected", "body_bytes"]
    return {name: sample(f"productgraph_ingest_{name}_total") for name in names}


def delta(before: dict[str, float], after: dict[str, float]) -> dict[str, float]:
    return {name: after[name] - before[name] for name in before}


def scrape(text: str) -> dict[tuple[str, frozenset], float]:
    """Parse an exposition into {(sample name, labels): value}."""
    return {
        (found.name, frozenset(found.labels.items())): found.value
        for family in text_string_to_metric_families(text)
        for found in family.samples
    }


def test_posted_batch_moves_the_ingestion_counters_exactly(client, acme, caplog):
    assert post(client, acme.ingest_key, {"events": [event(event_id="evt_1")]}).status_code == 202
    batch = {
        "events": [
            event(event_id="evt_1"),  # already stored: accepted and a duplicate
            event(event_id="evt_2"),
            event(event_id="evt_3"),
            event(event_id="evt_4", **{"event.type": ""}),
            {"event_id": "evt_5"},
        ]
    }
    body = json.dumps(batch).encode()
    before = ingest_samples()
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="ingestion.views"):
        response = post(client, acme.ingest_key, body)
    assert response.json()["accepted"] == 3, response.json()
    assert delta(before, ingest_samples()) == {
        "batches": 1,
        "events_accepted": 3,
        "events_duplicates": 1,
        "events_rejected": 2,
        "body_bytes": len(body),
    }
    lines = [record.getMessage() for record in caplog.records if record.name == "ingestion.views"]
    # One line per request (the request id is added by the log handler), no payload, no key.
    assert lines == ["ingested project=proj_acme accepted=3 duplicates=1 rejected=2 door=events"]
    line = lines[0]
    assert acme.ingest_key not in line and "evt_" not in line and "sess_" not in line


def test_a_refused_batch_moves_no_ingestion_counter(client, acme):
    before = ingest_samples()
    assert post(client, acme.ingest_key, b"not json").status_code == 400
    assert delta(before, ingest_samples()) == dict.fromkeys(before, 0)


def test_request_histogram_is_labelled_by_route_name_not_path(client, acme):
    labels = {"route": "events", "method": "POST", "status": "2xx"}
    before = sample("productgraph_http_request_duration_seconds_count", **labels)
    post(client, acme.ingest_key, {"events": [event()]})
    client.get("/nope/12345")
    text = client.get("/metrics").content.decode()
    samples = scrape(text)
    key = frozenset(labels.items())
    assert samples[("productgraph_http_request_duration_seconds_count", key)] == before + 1
    assert samples[("productgraph_http_requests_total", key)] >= 1
    bucket = frozenset({**labels, "le": "+Inf"}.items())
    assert samples[("productgraph_http_request_duration_seconds_bucket", bucket)] == before + 1
    unmatched = frozenset({"route": "unmatched", "method": "GET", "status": "4xx"}.items())
    assert samples[("productgraph_http_requests_total", unmatched)] >= 1
    values = {value for name, labels in samples for _, value in labels}
    assert not any("/" in value or "acme" in value for value in values), values


def test_an_invented_method_is_counted_as_other(client, db):
    labels = {"route": "health", "method": "other", "status": "4xx"}
    before = sample("productgraph_http_requests_total", **labels)
    client.generic("BREW", "/health")
    assert sample("productgraph_http_requests_total", **labels) == before + 1


def test_metrics_without_token_answer_loopback(client, db, settings):
    settings.METRICS_TOKEN = None
    response = client.get("/metrics", REMOTE_ADDR="127.0.0.1")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain; version=0.0.4")
    assert b"productgraph_http_requests_total" in response.content
    assert client.get("/metrics", REMOTE_ADDR="::1").status_code == 200
    assert client.get("/metrics", REMOTE_ADDR="::ffff:127.0.0.1").status_code == 200


def test_metrics_without_token_refuse_other_clients(client, db, settings):
    settings.METRICS_TOKEN = None
    response = client.get("/metrics", REMOTE_ADDR="10.1.2.3", HTTP_X_FORWARDED_FOR="127.0.0.1")
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "forbidden"


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"HTTP_AUTHORIZATION": "Bearer wrong-token"},
        {"HTTP_AUTHORIZATION": "Bearer s3cret-metrics-token-extra"},
        {"HTTP_AUTHORIZATION": "Basic s3cret-metrics-token"},
    ],
    ids=["no-header", "wrong-token", "longer-token", "basic-scheme"],
)
def test_metrics_with_token_refuse_anything_but_that_bearer_even_on_loopback(
    client, db, settings, headers
):
    settings.METRICS_TOKEN = "s3cret-metrics-token"
    response = client.get("/metrics", REMOTE_ADDR="127.0.0.1", **headers)
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "forbidden"
    assert "s3cret" not in response.content.decode()


def test_metrics_with_the_right_token_answer_any_client(client, db, settings):
    settings.METRICS_TOKEN = "s3cret-metrics-token"
    response = client.get(
        "/metrics", REMOTE_ADDR="203.0.113.9", HTTP_AUTHORIZATION="Bearer s3cret-metrics-token"
    )
    assert response.status_code == 200
    assert b"productgraph_ingest_batches_total" in response.content


def test_metrics_answer_without_the_database(client, db, settings):
    settings.METRICS_TOKEN = None
    with database_down():
        assert client.get("/metrics").status_code == 200


def test_metrics_refuse_post_in_the_envelope(client, db):
    response = client.post("/metrics")
    assert response.status_code == 405
    assert response.json()["error"]["code"] == "method_not_allowed"


def test_a_fold_counts_itself_its_sessions_and_its_events(client, acme):
    events = [event(event_id=f"evt_{n}", session__id=f"sess_{n % 2}") for n in range(5)]
    assert post(client, acme.ingest_key, {"events": events}).status_code == 202
    before = [sample(f"productgraph_session_fold_{name}_total") for name in ("sessions", "events")]
    folds = sample("productgraph_session_folds_total")
    with transaction.atomic(), org_context(acme.org.pk):
        services.sessions_fold(
            org_id=acme.org.pk, project_id=acme.project.pk, session_ids=["sess_0", "sess_1"]
        )
    after = [sample(f"productgraph_session_fold_{name}_total") for name in ("sessions", "events")]
    assert sample("productgraph_session_folds_total") == folds + 1
    assert [a - b for a, b in zip(after, before, strict=True)] == [2, 5]


def test_fold_timer_observes_also_a_failed_fold():
    count = sample("productgraph_session_fold_duration_seconds_count")
    with pytest.raises(RuntimeError), metrics.fold_timer():
        raise RuntimeError("fold failed")
    assert sample("productgraph_session_fold_duration_seconds_count") == count + 1


_WORKER = textwrap.dedent(
    """
    import sys
    from types import SimpleNamespace

    from productgraph import metrics

    metrics.ingest_observed(
        SimpleNamespace(accepted=int(sys.argv[1]), duplicates=1, rejected=2), body_bytes=100
    )
    metrics.HTTP_DURATION.labels("events", "POST", "2xx").observe(0.02)
    """
)


def test_multiprocess_mode_sums_every_process_of_the_directory(tmp_path, client, db, settings):
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(tmp_path)}
    env.pop("DJANGO_SETTINGS_MODULE", None)  # the module must not need Django set up
    pids = []
    for accepted in (3, 4):
        worker = subprocess.run(  # noqa: S603 - our own interpreter and script
            [sys.executable, "-c", _WORKER + "print(__import__('os').getpid())", str(accepted)],
            cwd=ROOT,
            env=env,
            check=True,
            capture_output=True,
            text=True,
        )
        pids.append(worker.stdout.strip())
    assert sorted(path.name for path in tmp_path.iterdir()) == sorted(
        f"{kind}_{pid}.db" for pid in pids for kind in ("counter", "histogram")
    )
    samples = scrape(metrics.exposition(multiprocess_dir=str(tmp_path)).decode())
    assert samples[("productgraph_ingest_events_accepted_total", frozenset())] == 7
    assert samples[("productgraph_ingest_events_duplicates_total", frozenset())] == 2
    assert samples[("productgraph_ingest_batches_total", frozenset())] == 2
    assert samples[("productgraph_ingest_body_bytes_total", frozenset())] == 200
    labels = frozenset({"route": "events", "method": "POST", "status": "2xx"}.items())
    assert samples[("productgraph_http_request_duration_seconds_count", labels)] == 2

    settings.PROMETHEUS_MULTIPROC_DIR = str(tmp_path)
    served = scrape(client.get("/metrics").content.decode())
    assert served[("productgraph_ingest_events_accepted_total", frozenset())] == 7
