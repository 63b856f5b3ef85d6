"""Fuzzing the ingestion edge: arbitrary JSON never raises, it is valid or a documented error.

`tests/ingestion/test_validation.py` generates *valid* events (and single-field mutations);
here the input is anything JSON can carry: any value as an event, any value under a catalog
key, nesting, huge numbers, odd text. The validator must answer every one with a valid event
or with the per-event errors of events.md, and the whole request path with a 202 or a
documented 4xx.
"""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ingestion import body
from ingestion.catalog import BY_KEY, FIELDS, PROJECT_KEYS
from ingestion.validation import Project, ValidEvent, validate_event
from tests.ingestion.helpers import RECENT, event, post

RECEIVED_AT = RECENT + timedelta(hours=1)  # the helper's event is an hour old
NOT_BEFORE = RECEIVED_AT - timedelta(days=90)  # the default retention
PROJECT = Project(public_id="proj_acme", slug="web")
# Where a per-event error may point (events.md, "Per-event error format"; docs/reference).
ERROR_FIELDS = {None, "attributes", *BY_KEY, *PROJECT_KEYS}
FAST = settings(max_examples=200, deadline=None)

# Any text, NUL and lone surrogates included: the validator must reject what PostgreSQL
# cannot store, not crash on it.
ANY_TEXT = st.text(max_size=30)
NUMBERS = (
    st.integers()
    | st.integers(-(2**70), 2**70)
    | st.floats()  # NaN and infinities included
    | st.sampled_from([0, -0.0, 1e308, -1e308, 2**63, 2**64, 10**400, 200.0, 0.5])
)
SCALARS = st.none() | st.booleans() | NUMBERS | ANY_TEXT
JSON = st.recursive(
    SCALARS,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(ANY_TEXT, children, max_size=4)
    ),
    max_leaves=12,
)
KEYS = st.sampled_from([field.key for field in FIELDS] + list(PROJECT_KEYS) + ["org.id"]) | ANY_TEXT

# What can cross the wire: msgspec refuses NaN, infinities and lone surrogate escapes as
# invalid JSON (a whole-batch 400, tested in tests/ingestion/test_body.py).
WIRE_TEXT = st.text(st.characters(exclude_categories=["Cs"]), max_size=30)
WIRE_JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**70), 2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | WIRE_TEXT,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(WIRE_TEXT, children, max_size=4)
    ),
    max_leaves=12,
)
WIRE_KEYS = st.sampled_from([field.key for field in FIELDS] + list(PROJECT_KEYS)) | WIRE_TEXT


@st.composite
def near_valid_events(draw, keys=KEYS, values=JSON) -> dict:
    """A valid event with some keys (catalog keys mostly) set to arbitrary JSON."""
    raw = event()
    for key in draw(st.lists(keys, max_size=5)):
        raw[key] = draw(values)
    return raw


def assert_documented(index: int, valid: ValidEvent | None, errors: list) -> None:
    assert (valid is None) == bool(errors), "an event is valid or has errors, never both"
    for error in errors:
        assert error.index == index
        assert error.field in ERROR_FIELDS, error
        assert isinstance(error.message, str) and error.message, error
        assert json.dumps(error.as_dict())  # the wire form serializes


@FAST
@given(raw=JSON | st.dictionaries(KEYS, JSON, max_size=8) | near_valid_events())
def test_validator_answers_any_json_with_a_valid_event_or_documented_errors(raw):
    valid, errors = validate_event(
        3, raw, project=PROJECT, received_at=RECEIVED_AT, not_before=NOT_BEFORE
    )
    assert_documented(3, valid, errors)


@FAST
@given(raw=st.binary(max_size=200) | JSON.map(lambda value: json.dumps(value).encode()))
def test_body_decoding_answers_any_bytes_with_events_or_a_documented_400(raw):
    try:
        events = body.decode_batch(raw).events
    except body.BodyError as exc:
        assert exc.status == 400
        assert exc.code in {"invalid_json", "invalid_body", "batch_too_large"}
    else:
        assert isinstance(events, list)


@FAST
@given(raw=st.binary(max_size=200))
def test_gunzip_answers_any_bytes_with_bytes_or_a_documented_error(raw):
    try:
        assert isinstance(body.gunzip_limited(raw), bytes)
    except body.BodyError as exc:
        assert (exc.status, exc.code) in {(400, "invalid_json"), (413, "payload_too_large")}


@pytest.mark.django_db
@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(batch=st.lists(near_valid_events(WIRE_KEYS, WIRE_JSON) | WIRE_JSON, max_size=4))
def test_any_batch_is_202_with_errors_pointing_into_it(client, acme, batch):
    response = post(client, acme.ingest_key, {"events": batch})
    assert response.status_code == 202, response.content
    result = response.json()
    assert result["accepted"] + result["rejected"] == len(batch)
    assert {error["index"] for error in result["errors"]} <= set(range(len(batch)))
    assert len({error["index"] for error in result["errors"]}) == result["rejected"]
