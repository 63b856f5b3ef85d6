"""What bench reads of the app from outside it, held to the app's own definitions: the write
path's COPY types, the fold queue's Redis keys, the fold's advisory lock."""

from __future__ import annotations

import psycopg
import pytest
import redis
from django.conf import settings
from django.db import connection, transaction

from bench import ceiling, chaos, sessions
from bench.database import COLUMNS
from ingestion.ddl import COPY_TYPES
from productgraph.tenancy.context import org_context
from sessions.fold_queue import touched_keys
from sessions.services import sessions_fold
from tests.conftest import _test_urls

pytestmark = pytest.mark.django_db


def test_the_ceiling_copies_with_the_write_paths_column_types():
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT attname, format_type(atttypid, NULL) FROM pg_attribute "
            "WHERE attrelid = 'ingestion_event'::regclass"
        )
        types = dict(cursor.fetchall())
    aliases = {"timestamptz": "timestamp with time zone"}
    assert [types[column] for column in COLUMNS] == [aliases.get(t, t) for t in COPY_TYPES]
    assert ceiling.TABLE != "ingestion_event"


def test_the_session_watch_counts_the_fold_queues_marks():
    client = redis.Redis.from_url(settings.REDIS_URL)
    keys = touched_keys(org_id=123456, project_id=654321)
    try:
        client.sadd(keys[0], "a", "b")
        client.sadd(keys[-1], "c")
        client.sadd(keys[0].replace("654321", "6543210"), "other project")
        watch = sessions.SessionWatch(0, "", "", 123456, 654321, "", settings.REDIS_URL)
        assert watch.marks(client) == 3
    finally:
        client.delete(*keys, keys[0].replace("654321", "6543210"))
        client.close()


def test_chaos_sees_a_fold_holding_its_lock(acme):
    urls, _ = _test_urls()
    with transaction.atomic(), org_context(acme.org.pk):
        sessions_fold(org_id=acme.org.pk, project_id=acme.project.pk, session_ids=["s1", "s2"])
        with psycopg.connect(urls.owner) as other:
            held = other.execute(chaos._FOLD_LOCKS, [acme.project.pk]).fetchone()
            elsewhere = other.execute(chaos._FOLD_LOCKS, [acme.project.pk + 1]).fetchone()
    assert held and held[0] >= 1
    assert elsewhere == (0,)
