"""`manage.py seed_demo`: the same keys each time, and a curl that works."""

from __future__ import annotations

import json

from tests.conftest import run_json


def test_seed_demo_prints_the_same_keys_each_time(db, capsys, settings, tmp_path):
    settings.PRODUCTGRAPH_DATA_DIR = tmp_path
    first = run_json(capsys, "seed_demo")
    again = run_json(capsys, "seed_demo")
    assert first["project"] == "proj_demo"
    assert first["ingest_key"] == again["ingest_key"]
    assert "X-PG-API-Key: " + first["ingest_key"] in first["curl"]
    assert (tmp_path / "demo_keys.json").stat().st_mode & 0o777 == 0o600
    for damaged in ("{not json", '["a list"]', '{"ingest": 42}'):  # new keys, no traceback
        (tmp_path / "demo_keys.json").write_text(damaged)
        fresh = run_json(capsys, "seed_demo")
        assert fresh["project"] == "proj_demo" and fresh["ingest_key"].startswith("pk_")


def test_seed_demo_curl_sends_an_event_that_is_stored(db, capsys, settings, tmp_path, client):
    import shlex

    settings.PRODUCTGRAPH_DATA_DIR = tmp_path
    printed = run_json(capsys, "seed_demo")
    words = shlex.split(printed["curl"].replace("\\\n", " "))
    body = words[words.index("-d") + 1]
    response = client.post(
        "/v1/events",
        data=body,
        content_type="application/json",
        HTTP_X_PG_API_KEY=printed["ingest_key"],
    )
    assert response.status_code == 202
    assert json.loads(response.content)["accepted"] == 1, response.content
