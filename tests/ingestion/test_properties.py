"""Property tests: valid events are stored field for field; a mutated field is named."""

from __future__ import annotations

import itertools
import json
from datetime import UTC, datetime, timedelta

import msgspec
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ingestion.catalog import FIELDS
from ingestion.validation import Project, validate_event
from orgs.models import MAX_RETENTION_DAYS
from tests.ingestion.helpers import post, retention_set, stored
from tests.ingestion.strategies import events, invalid_value_for

NOW = datetime(2026, 11, 23, tzinfo=UTC)
# The strategies' timestamps go back to 1971: an org keeping events as long as allowed.
NOT_BEFORE = NOW - timedelta(days=MAX_RETENTION_DAYS)
_EXAMPLES = itertools.count()
PROJECT = Project(public_id="proj_acme", slug="web")


@settings(max_examples=200, deadline=None)
@given(events())
def test_generated_valid_events_pass_validation(raw):
    valid, errors = validate_event(0, raw, project=PROJECT, received_at=NOW, not_before=NOT_BEFORE)
    assert errors == [] and valid is not None


@settings(max_examples=300, deadline=None)
@given(events(), st.sampled_from(FIELDS), st.data())
def test_a_mutated_field_is_rejected_with_that_field_named(raw, field, data):
    raw[field.key] = data.draw(invalid_value_for(field))
    valid, errors = validate_event(0, raw, project=PROJECT, received_at=NOW, not_before=NOT_BEFORE)
    assert valid is None
    assert field.key in {error.field for error in errors}


def _expected(field, value):
    if field.kind == "timestamp":
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    if field.kind == "number":
        return float(value)
    if field.rounded:
        return round(value)
    return value


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(batch=st.lists(events(), min_size=1, max_size=5, unique_by=lambda e: e["event_id"]))
def test_valid_events_are_stored_field_for_field(client, acme, batch):
    # Examples share the test's transaction: make ids unique per example, or a shrunk id
    # repeated by a later example would (rightly) be a duplicate of an earlier one.
    example = next(_EXAMPLES)
    retention_set(acme.org.pk, MAX_RETENTION_DAYS)  # the strategies' years are all kept
    for raw in batch:
        raw["event_id"] = f"{example}-{raw['event_id']}"
    response = post(client, acme.ingest_key, {"events": batch})
    assert response.status_code == 202, response.content
    assert response.json()["rejected"] == 0
    rows = {row.event_id: row for row in stored(acme.org.pk)}
    for raw in batch:
        row = rows[raw["event_id"]]
        for field in FIELDS:
            got = getattr(row, field.column)
            if field.key not in raw:
                assert got is None, field.key
            elif field.kind in ("json", "object"):
                assert json.dumps(got, sort_keys=True) == json.dumps(raw[field.key], sort_keys=True)
            else:
                assert got == _expected(field, raw[field.key]), field.key


def _anything_for(field) -> st.SearchStrategy:
    """Valid, invalid and borderline values of a field, and values of other kinds."""
    return st.one_of(
        st.from_type(type(None)),
        st.booleans(),
        st.integers(min_value=-(2**70), max_value=2**70),
        st.floats(),
        st.text(max_size=30),
        st.sampled_from(["", "0", "page.view", "2026-01-15T10:30:00Z", "€" * 3000]),
        invalid_value_for(field),
    )


@settings(max_examples=400, deadline=None)
@given(events(), st.lists(st.sampled_from(FIELDS), max_size=3), st.data())
def test_the_quick_path_never_disagrees_with_the_exact_checks(raw, fields, data):
    """Where the one-conversion quick path answers, the exact checks give the same values.

    Under the quick path's own precondition, as `validate_event` uses it: the event's
    serialization holds no NUL and no lone surrogate (those go to the exact checks).
    """
    from ingestion.validation import _encode, _exact_values, _has_nul, _quick_values

    for field in fields:
        raw[field.key] = data.draw(_anything_for(field))
    try:
        clean = not _has_nul(_encode(raw))
    except (msgspec.EncodeError, UnicodeEncodeError, OverflowError, TypeError, RecursionError):
        clean = False
    # A retention starting mid-range: both paths meet events on either side of it.
    not_before = datetime(2000, 1, 1, tzinfo=UTC)
    quick = _quick_values(raw, NOW, not_before) if clean else None
    errors: list = []
    exact, _ = _exact_values(0, raw, NOW, not_before, errors)
    if quick is not None:
        assert errors == []
        assert quick == exact
        assert [type(value) for value in quick] == [type(value) for value in exact]
