"""Attack: a user's regular expression stalls the worker (and every org behind it) or PostgreSQL.

The attack: a journey step `{"field": "page.path", "op": "regex", "value": "(a+)+b|c"}`
and one event whose path is "/" + "a" * 26 + "c". PostgreSQL's prefilter let the event
through, Python's `re` backtracked in the session fold (5.6 s at 26 characters, doubling with
each more; page.path holds 1,024), the one Celery worker had no time limit of its own, and
another org's sessions waited behind it. And a funnel step `(.*)(.*)(.*)(.*)(.*)\\5\\4\\3\\2\\1$`
(back-references) ran PostgreSQL to its statement timeout.

Now matching runs RE2 (linear in the text whatever the pattern), what neither engine runs in
linear time (back-references, look-arounds) is refused when a definition is saved or a funnel
asked, and every Celery task has a soft and a hard time limit. Before the change the fold
tests below hang (the 1,000-character path) or take seconds (the 26-character one).
"""

from __future__ import annotations

import logging
import time

import pytest
from celery.contrib.testing.worker import start_worker
from celery.exceptions import SoftTimeLimitExceeded
from django.db import connection, transaction
from django.test import Client

from journeys.conditions import validate_conditions
from journeys.models import Journey, SessionJourney
from journeys.services import journey_create
from productgraph.celery import app
from productgraph.keyspace import redis_key
from productgraph.tenancy.context import org_context
from sessions import fold_queue, services, tasks
from tests.conftest import make_tenant
from tests.graphql_api.helpers import as_editor, gql
from tests.ingestion.helpers import event, post
from tests.sessions.helpers import forget_marks, sessions_of

BACKTRACKING = "(a+)+b|c"
BACK_REFERENCES = r"(.*)(.*)(.*)(.*)(.*)\5\4\3\2\1$"
LAG_TARGET_SECONDS = 10  # session lag p95 (docs/performance.md)
ATTACK_STEPS = [
    {"id": "a", "match": [{"field": "page.path", "op": "regex", "value": BACKTRACKING}]}
]
CREATE_JOURNEY = """mutation($steps: JSON!) { createJourney(input: {projectId: "proj_acme",
    key: "attack", name: "Attack", steps: $steps}) { journey { key } } }"""
FUNNEL = """query($steps: [JSON!]!) { funnel(projectId: "proj_acme", steps: $steps,
    from: "2026-01-15T00:00:00Z", to: "2026-01-16T00:00:00Z") { overall { steps { count } } } }"""


def attack_path(length: int) -> str:
    return "/" + "a" * length + "c"


def postgresql_matches(text: str, pattern: str) -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT %s ~ %s", [text, pattern])
        return cursor.fetchone()[0]


def journey_rows(tenant) -> dict[str, str]:
    with transaction.atomic(), org_context(tenant.org.pk):
        return dict(
            SessionJourney.objects.filter(org_id=tenant.org.pk).values_list("session_id", "status")
        )


def ingest(client, tenant, monkeypatch, *events) -> list[tuple]:
    """Post events and mark their sessions as ingestion does after commit; return the folds
    it scheduled (recorded, not sent to a broker)."""
    response = post(client, tenant.ingest_key, {"events": list(events)})
    assert response.status_code == 202, response.content
    sent: list[tuple] = []
    monkeypatch.setattr(fold_queue, "_send_fold", lambda *args: sent.append(args[:3]))
    fold_queue.sessions_mark_touched(
        org_id=tenant.org.pk,
        project_id=tenant.project.pk,
        session_ids={item["session.id"] for item in events},
    )
    assert sent, "ingestion scheduled no fold"
    return sent


def run_folds(folds: list[tuple], task_id: str) -> float:
    """Run the scheduled folds as the worker does (the task, its marks, its id); seconds."""
    started = time.monotonic()
    for number, args in enumerate(folds):
        tasks.fold_touched_sessions.apply(
            args=list(args), task_id=f"{task_id}-{number}", throw=True
        )
    return time.monotonic() - started


@pytest.mark.parametrize("length", [26, 1000])
def test_a_backtracking_journey_regex_folds_in_linear_time(client, acme, monkeypatch, length):
    forget_marks()
    editor = as_editor(client, acme)
    body = gql(client, CREATE_JOURNEY, {"steps": ATTACK_STEPS}, **editor).json()
    assert "errors" not in body, body
    path = attack_path(length)
    attack = event(event_id="attack", page__path=path)
    folds = ingest(client, acme, monkeypatch, attack)
    seconds = run_folds(folds, "attack")
    assert seconds < 2, f"the fold took {seconds:.1f} s"
    assert set(sessions_of(acme)) == {"sess_001"}
    expected = {"sess_001": "converted"} if postgresql_matches(path, BACKTRACKING) else {}
    assert journey_rows(acme) == expected == {"sess_001": "converted"}


def test_another_orgs_sessions_fold_within_the_lag_target_meanwhile(committed):
    acme, globex = make_tenant("acme"), make_tenant("globex")
    with transaction.atomic(), org_context(acme.org.pk):
        journey_create(project=acme.project, key="attack", name="Attack", steps=ATTACK_STEPS)
    app.control.purge()
    forget_marks()
    with start_worker(app, perform_ping_check=False, pool="solo", shutdown_timeout=10):
        attack = event(event_id="attack", page__path=attack_path(1000))
        assert post(Client(), acme.ingest_key, {"events": [attack]}).status_code == 202
        assert post(Client(), globex.ingest_key, {"events": [event()]}).status_code == 202
        posted = time.monotonic()
        lag = None
        while time.monotonic() - posted < 3 * LAG_TARGET_SECONDS:
            if lag is None and "sess_001" in sessions_of(globex):
                lag = time.monotonic() - posted
            if lag is not None and journey_rows(acme):
                break
            time.sleep(0.1)
    assert lag is not None and lag <= LAG_TARGET_SECONDS, f"globex's session waited {lag} s"
    assert journey_rows(acme) == {"sess_001": "converted"}, "acme's fold finished too"


def test_back_references_are_refused_for_journeys_naming_the_construct(client, acme):
    editor = as_editor(client, acme)
    steps = [
        {"id": "a", "match": [{"field": "page.path", "op": "regex", "value": BACK_REFERENCES}]}
    ]
    body = gql(client, CREATE_JOURNEY, {"steps": steps}, **editor).json()
    (error,) = body["errors"]
    assert error["extensions"]["code"] == "invalid_definition"
    assert error["extensions"]["problems"] == [
        "steps[0].match[0].value: bad regex: a back-reference ('\\5') is not supported: "
        "patterns must run in linear time"
    ]
    with transaction.atomic(), org_context(acme.org.pk):
        assert not Journey.objects.filter(org_id=acme.org.pk).exists()


def test_back_references_are_refused_for_funnels_before_postgresql_runs_them(client, acme):
    post(client, acme.ingest_key, {"events": [event(page__path="/" + "ab" * 400)]})
    steps = [
        [{"field": "page.path", "op": "exists"}],
        [{"field": "page.path", "op": "regex", "value": BACK_REFERENCES}],
    ]
    started = time.monotonic()
    body = gql(client, FUNNEL, {"steps": steps}, key=acme.secret_key).json()
    assert time.monotonic() - started < 2
    (error,) = body["errors"]
    assert error["extensions"]["code"] == "invalid_definition"
    assert error["extensions"]["problems"] == [
        "steps[1][0].value: bad regex: a back-reference ('\\5') is not supported: "
        "patterns must run in linear time"
    ]


@pytest.mark.parametrize(
    ("pattern", "named"),
    [
        ("(?=/cart)", "a look-ahead ('(?=')"),
        ("^(?!/cart)", "a negative look-ahead ('(?!')"),
        ("(?<=/)cart", "a look-behind ('(?<=')"),
        ("(?<!x)cart", "a negative look-behind ('(?<!')"),
        ("(a)\\1", "a back-reference ('\\1')"),
        ("(?P<x>a)(?P=x)", "a back-reference ('(?P=')"),
        ("\\k<x>", "a back-reference ('\\k')"),
    ],
)
def test_what_no_linear_time_engine_runs_is_refused(pattern, named):
    for field in ("page.path", "an_attribute"):
        problems = validate_conditions({"field": field, "op": "regex", "value": pattern}, "c")
        assert problems == [
            f"c.value: bad regex: {named} is not supported: patterns must run in linear time"
        ]


def test_a_pattern_re2_refuses_is_refused_with_its_reason():
    # Python and PostgreSQL accept a nested repetition of 255 x 255; RE2 refuses its size.
    [problem] = validate_conditions(
        {"field": "page.path", "op": "regex", "value": "(?:(?:a{255}){255})"}, "c"
    )
    assert problem.startswith("c.value: bad regex: ") and "repetition" in problem


def test_a_stored_journey_validation_now_refuses_does_not_stop_the_fold(
    client, acme, monkeypatch, caplog
):
    forget_marks()
    lookbehind = [{"id": "a", "match": [{"field": "page.path", "op": "regex", "value": "(?<=/)c"}]}]
    with transaction.atomic(), org_context(acme.org.pk):  # saved before look-arounds were refused
        Journey.objects.create(
            org_id=acme.org.pk, project=acme.project, key="old", steps=lookbehind
        )
        journey_create(project=acme.project, key="attack", name="Attack", steps=ATTACK_STEPS)
    folds = ingest(client, acme, monkeypatch, event(page__path="/c"))
    with caplog.at_level(logging.WARNING, logger="journeys.services"):
        run_folds(folds, "old")
    assert journey_rows(acme) == {"sess_001": "converted"}
    assert any("journey old" in record.getMessage() for record in caplog.records)


def test_every_task_of_ours_has_a_soft_and_a_hard_time_limit():
    app.loader.import_default_modules()
    ours = {name: task for name, task in app.tasks.items() if not name.startswith("celery.")}
    assert {"sessions.fold_touched_sessions", "journeys.refresh_org", "orgs.fan_out"} <= set(ours)
    visibility_timeout = app.conf.broker_transport_options["visibility_timeout"]
    for name, task in ours.items():
        soft = task.soft_time_limit or app.conf.task_soft_time_limit
        hard = task.time_limit or app.conf.task_time_limit
        assert soft and hard, f"{name} has no time limit"
        # Cleaning up after the soft limit has time; a running task is never redelivered.
        assert 0 < soft < hard < visibility_timeout, (name, soft, hard)
    fold = ours["sessions.fold_touched_sessions"]
    assert fold.time_limit < app.conf.task_time_limit, "a stalled fold frees the worker sooner"


def test_a_fold_stopped_at_its_soft_time_limit_leaves_its_sessions_for_the_next(
    client, acme, monkeypatch
):
    forget_marks()
    folds = ingest(client, acme, monkeypatch, event())

    def out_of_time(**kwargs):
        raise SoftTimeLimitExceeded()

    with monkeypatch.context() as patched:
        patched.setattr(services, "sessions_fold", out_of_time)
        with pytest.raises(SoftTimeLimitExceeded):
            run_folds(folds, "soft")
    where = {"org_id": acme.org.pk, "project_id": acme.project.pk}
    assert fold_queue.sessions_pending(**where) == 1, "the mark is back"
    redis = fold_queue.redis_client()
    assert not redis.keys(redis_key("sessions", "held", "*")), "nothing held by the dead fold"
    assert not redis.keys(redis_key("sessions", "scheduled", "*")), "the next mark schedules"
    assert sessions_of(acme) == {}
    run_folds(folds, "next")
    assert set(sessions_of(acme)) == {"sess_001"}, "the next fold took it: nothing lost"
    assert fold_queue.sessions_pending(**where) == 0
