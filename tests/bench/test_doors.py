"""bench.doors: every door's bench body is stored whole by the real door (a bench whose
events were refused would measure refusals, and `make bench` would call the run invalid)."""

from __future__ import annotations

import pytest

from bench.doors import DOORS
from bench.events import SESSION_TOKEN_BYTES, TOKEN_BYTES, make_events
from tests.ingestion.helpers import stored

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("name", sorted(DOORS))
def test_each_doors_bench_body_is_stored_whole(client, acme, name):
    door = DOORS[name]
    events = make_events(count=200, project_public_id="proj_acme", seed=7)
    body = door.encode(events).replace(TOKEN_BYTES, b"t" * len(TOKEN_BYTES))
    body = body.replace(SESSION_TOKEN_BYTES, b"s" * len(SESSION_TOKEN_BYTES))
    response = client.post(
        door.path, data=body, content_type=door.content_type, HTTP_X_PG_API_KEY=acme.ingest_key
    )
    assert response.status_code == door.success, response.content
    answer = door.read(response.content, len(events))
    assert (answer["accepted"], answer["rejected"], answer["duplicates"]) == (200, 0, 0), answer
    rows = stored(acme.org.pk)
    assert len(rows) == 200
    sessions = {event["session.id"].replace("~", "s") for event in events}
    assert {row.session_id for row in rows} == sessions, "the sessions survive the mapping"
