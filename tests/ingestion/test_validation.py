"""Every rule of events.md, on the pure validator (ingestion/validation.py; no database),
and properties over generated events: valid ones pass, a mutated field is named, the
quick path never disagrees with the exact checks."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ingestion.catalog import EVENT_TYPES, FIELDS, MAX_ATTRIBUTES, MAX_EVENT_BYTES
from ingestion.validation import Project, validate_event
from orgs.models import MAX_RETENTION_DAYS
from tests.ingestion.helpers import RECENT, event
from tests.ingestion.strategies import events, invalid_value_for

NOW = RECENT + timedelta(hours=1)  # the default event is an hour old
# An org keeping events as long as allowed: the other rules, alone (retention: its own tests).
NOT_BEFORE = NOW - timedelta(days=MAX_RETENTION_DAYS)
PROJECT = Project(public_id="proj_acme", slug="web")


def check(raw, *, not_before=NOT_BEFORE):
    return validate_event(0, raw, project=PROJECT, received_at=NOW, not_before=not_before)


def problems(raw) -> list[tuple[str | None, str]]:
    valid, errors = check(raw)
    assert (valid is None) == bool(errors)
    return [(error.field, error.message) for error in errors]


def value_of(raw, key):
    valid, errors = check(raw)
    assert errors == [], errors
    index = [field.key for field in FIELDS].index(key)
    return valid.values[index]


def test_a_minimal_event_is_valid():
    assert problems(event()) == []


def test_every_missing_required_field_is_reported():
    assert [field for field, _ in problems({})] == [
        "event_id",
        "session.id",
        "event.type",
        "event.timestamp",
    ]


def test_null_required_field_is_missing():
    assert problems(event(session__id=None)) == [("session.id", "is required")]


def test_three_problems_give_three_entries():
    raw = event(event_id="", event__type="nope", page__path=7)
    assert [field for field, _ in problems(raw)] == ["event_id", "event.type", "page.path"]


@pytest.mark.parametrize("event_type", EVENT_TYPES)
def test_each_of_the_18_types_is_accepted(event_type):
    assert len(EVENT_TYPES) == 18
    assert problems(event(event__type=event_type)) == []


def test_an_unknown_type_lists_the_allowed_values():
    [(field, message)] = problems(event(event__type="page_view"))
    assert field == "event.type"
    assert all(allowed in message for allowed in EVENT_TYPES)


def test_types_are_case_sensitive():
    assert problems(event(event__type="Page.View"))


@pytest.mark.parametrize(
    "timestamp",
    [
        "2026-01-15T10:30:00Z",
        "2026-01-15T10:30:00z",
        "2026-01-15T10:30:00.5Z",
        "2026-01-15T10:30:00.123456789+02:00",
        "2026-01-15T10:30:00-05:30",
        "2001-01-01T00:00:00Z",
    ],
)
def test_rfc3339_timestamps_with_offset_are_accepted(timestamp):
    assert problems(event(event__timestamp=timestamp)) == []


@pytest.mark.parametrize(
    "timestamp",
    [
        "2026-01-15T10:30:00",
        "2026-01-15",
        "2026-01-15 10:30:00Z",
        "15/01/2026",
        "2026-02-30T10:00:00Z",
        "2026-01-15T24:00:00Z",
        "1969-12-31T23:59:59Z",
        "0001-01-01T00:00:00+01:00",
        "",
        1736937000,
    ],
)
def test_malformed_or_unsupported_timestamps_are_rejected(timestamp):
    [(field, _)] = problems(event(event__timestamp=timestamp))
    assert field == "event.timestamp"


def test_timestamps_are_stored_in_utc():
    stored = value_of(event(event__timestamp="2026-01-15T12:30:00+02:00"), "event.timestamp")
    assert stored == datetime(2026, 1, 15, 10, 30, tzinfo=UTC)


def test_up_to_24_hours_ahead_is_accepted_and_beyond_is_rejected():
    within = (NOW + timedelta(hours=24)).isoformat()
    beyond = (NOW + timedelta(hours=24, seconds=1)).isoformat()
    assert problems(event(event__timestamp=within)) == []
    assert [f for f, _ in problems(event(event__timestamp=beyond))] == ["event.timestamp"]


def test_an_event_older_than_the_retention_is_too_old_and_one_at_its_start_is_not():
    start = NOW - timedelta(days=90)
    older = event(event__timestamp=(start - timedelta(microseconds=1)).isoformat())
    valid, errors = check(older, not_before=start)
    assert valid is None
    assert [(e.field, e.message.split(":")[0]) for e in errors] == [
        ("event.timestamp", "is too old")
    ]
    assert start.isoformat().replace("+00:00", "Z") in errors[0].message
    assert check(event(event__timestamp=start.isoformat()), not_before=start)[1] == []


def test_a_too_old_event_reports_its_other_problems_too():
    start = NOW - timedelta(days=90)
    raw = event(event__timestamp="2001-01-01T00:00:00Z", event__type="nope")
    valid, errors = check(raw, not_before=start)
    assert valid is None
    assert [e.field for e in errors] == ["event.type", "event.timestamp"]


def test_before_1970_is_reported_as_such_whatever_the_retention():
    [(field, message)] = problems(event(event__timestamp="1969-12-31T23:59:59Z"))
    assert (field, message) == ("event.timestamp", "must not be before 1970-01-01T00:00:00Z")


STRING_LIMITS = [f for f in FIELDS if f.kind == "string" and f.max_length and not f.choices]


@pytest.mark.parametrize("field", STRING_LIMITS, ids=lambda f: f.key)
def test_string_limits_are_inclusive(field):
    at_limit = "x" * field.max_length
    assert problems(event(**{field.key.replace(".", "__"): at_limit})) == []
    over = problems(event(**{field.key.replace(".", "__"): at_limit + "x"}))
    assert [f for f, _ in over] == [field.key]


@pytest.mark.parametrize(("key", "limit"), [("error.message", 8192), ("error.stack", 65536)])
def test_kilobyte_limits_count_utf8_bytes(key, limit):
    assert problems(event(**{key.replace(".", "__"): "x" * limit})) == []
    assert problems(event(**{key.replace(".", "__"): "é" * (limit // 2 + 1)}))


@pytest.mark.parametrize(
    ("key", "good", "bad"),
    [
        ("event.sequence", 0, -1),
        ("api.status_code", 100, 99),
        ("api.status_code", 599, 600),
        ("api.duration_ms", 0, -1),
        ("duration_ms", 0, -5),
        ("ui.scroll.position", 1.0, 1.01),
        ("ui.scroll.position", 0, -0.1),
        ("performance.cls", 0, -0.001),
        ("performance.lcp_ms", 2500.5, -1),
        ("event.sequence", 2**63 - 1, 2**63),
    ],
)
def test_numeric_ranges(key, good, bad):
    assert problems(event(**{key.replace(".", "__"): good})) == []
    assert [f for f, _ in problems(event(**{key.replace(".", "__"): bad}))] == [key]


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("page.path", 12),
        ("user.id", ["a"]),
        ("event.sequence", "3"),
        ("event.sequence", True),
        ("event.sequence", 1.5),
        ("api.status_code", "200"),
        ("performance.lcp_ms", "fast"),
        ("performance.lcp_ms", False),
        ("metadata", "not an object"),
        ("metadata", [1, 2]),
        ("event_id", 5),
    ],
)
def test_a_wrong_type_is_that_fields_error(key, value):
    assert [f for f, _ in problems(event(**{key.replace(".", "__"): value}))] == [key]


def test_zero_is_a_value_and_null_is_absent():
    raw = event(event__sequence=0, api__duration_ms=0, page__path=None, ui__scroll__position=0)
    assert value_of(raw, "event.sequence") == 0
    assert value_of(raw, "ui.scroll.position") == 0.0
    assert value_of(raw, "page.path") is None


def test_integral_floats_are_integers():
    assert value_of(event(api__status_code=200.0), "api.status_code") == 200


@pytest.mark.parametrize("key", ["duration_ms", "api.duration_ms"])
@pytest.mark.parametrize(
    ("value", "stored"),
    [
        (125.5, 126),  # half to even: 126 is even
        (124.5, 124),
        (23.599999999976717, 24),
        (0.5, 0),
        (0.4, 0),
        (-0.0, 0),
        (200.0, 200),
        (7, 7),
        (9223372036854774784.0, 9223372036854774784),  # the largest double below 2**63
    ],
)
def test_fractional_milliseconds_are_rounded_half_to_even(key, value, stored):
    got = value_of(event(**{key.replace(".", "__"): value}), key)
    assert got == stored and type(got) is int


def test_the_quick_path_takes_fractional_milliseconds_itself():
    # A browser SDK sends them on most events: they must not fall back to the exact checks.
    from ingestion.validation import _quick_values

    raw = event(duration_ms=125.5, api__duration_ms=23.599999999976717)
    values = _quick_values(raw, NOW, NOT_BEFORE)
    assert values is not None
    keys = [field.key for field in FIELDS]
    assert (values[keys.index("duration_ms")], values[keys.index("api.duration_ms")]) == (126, 24)


@pytest.mark.parametrize("key", ["duration_ms", "api.duration_ms"])
@pytest.mark.parametrize(
    ("value", "message"),
    [
        (-0.4, "must be at least 0"),  # negative, though it would round to 0
        (-1, "must be at least 0"),
        (float("nan"), "must be a finite number"),
        (float("inf"), "must be a finite number"),
        (float("-inf"), "must be a finite number"),
        (2.0**63, "must be at most 9223372036854775807"),  # rounds beyond a bigint
        ("125.5", "must be a number, not a string"),
        (True, "must be a number, not a boolean"),
        ([125.5], "must be a number, not an array"),
    ],
)
def test_durations_that_are_not_a_finite_non_negative_number_are_refused(key, value, message):
    assert problems(event(**{key.replace(".", "__"): value})) == [(key, message)]


def test_fields_that_are_counts_or_codes_still_refuse_fractions():
    assert problems(event(event__sequence=7.5, api__status_code=200.5)) == [
        ("event.sequence", "must be an integer, not 7.5"),
        ("api.status_code", "must be an integer, not 200.5"),
    ]


def test_ui_state_keeps_strings_as_strings_and_any_json():
    assert value_of(event(ui__state__before="open"), "ui.state.before") == '"open"'
    assert value_of(event(ui__state__after={"a": [1, None]}), "ui.state.after") == '{"a":[1,null]}'
    assert value_of(event(ui__state__after=False), "ui.state.after") == "false"


def test_ui_state_over_32_kb_is_rejected():
    big = "x" * (32 * 1024)
    assert [f for f, _ in problems(event(ui__state__before=big))] == ["ui.state.before"]


def test_metadata_over_16_kb_is_rejected():
    assert problems(event(metadata={"a": "x" * 16000})) == []
    assert [f for f, _ in problems(event(metadata={"a": "x" * 16400}))] == ["metadata"]


@pytest.mark.parametrize(("key", "value"), [("ui.action", "teleport"), ("ui.viewport", "unknown")])
def test_documented_but_unenforced_vocabularies_are_free(key, value):
    assert problems(event(**{key.replace(".", "__"): value})) == []


@pytest.mark.parametrize(
    ("key", "good", "bad"),
    [
        ("ui.state.change_type", "merge", "replace"),
        ("gen_ai.journey.conversion.status", "abandoned", "lost"),
    ],
)
def test_enumerated_fields(key, good, bad):
    assert problems(event(**{key.replace(".", "__"): good})) == []
    assert [f for f, _ in problems(event(**{key.replace(".", "__"): bad}))] == [key]


def test_unknown_keys_are_kept_as_attributes():
    valid, _ = check(event(**{"plan": "pro", "feature.flag": True, "n": None}))
    assert valid.attributes == '{"plan":"pro","feature.flag":true,"n":null}'


def test_keys_are_case_sensitive_so_a_capitalised_key_is_an_attribute():
    valid, errors = check({**event(), "Page.Path": "/x"})
    assert errors == [] and valid.attributes == '{"Page.Path":"/x"}'


def test_more_than_64_extra_keys_is_rejected():
    extra = {f"k{i}": i for i in range(MAX_ATTRIBUTES + 1)}
    assert [f for f, _ in problems(event(**extra))] == ["attributes"]
    assert problems(event(**{f"k{i}": i for i in range(MAX_ATTRIBUTES)})) == []


def test_a_leap_second_is_the_next_minutes_first_instant():
    assert value_of(event(event__timestamp="2016-12-31T23:59:60Z"), "event.timestamp") == (
        datetime(2017, 1, 1, tzinfo=UTC)
    )
    assert value_of(event(event__timestamp="2016-12-31T18:59:60.5-05:00"), "event.timestamp") == (
        datetime(2017, 1, 1, 0, 0, 0, 500000, tzinfo=UTC)
    )
    assert problems(event(event__timestamp="2016-12-31T23:59:61Z")) == [
        ("event.timestamp", "is not a valid date and time")
    ]
    assert problems(event(event__timestamp="2016-02-30T23:59:60Z")) == [
        ("event.timestamp", "is not a valid date and time")
    ]


def test_a_nul_in_an_extra_key_is_one_problem_one_entry():
    assert problems({**event(), "a\x00b": 1}) == [
        ("attributes", "a key must not contain NUL characters")
    ]


def test_extra_keys_over_16_kb_are_rejected():
    assert [f for f, _ in problems(event(blob="x" * 17000))] == ["attributes"]


def test_an_event_over_100_kb_is_rejected_alone():
    raw = event(error__stack="x" * 60000, ui__state__before="y" * 30000, blob="z" * 15000)
    [(field, message)] = problems(raw)
    assert field is None and str(MAX_EVENT_BYTES) in message


def test_an_event_that_is_not_an_object_is_rejected():
    for raw in [1, "x", None, [event()]]:
        [(field, _)] = problems(raw)
        assert field is None


@pytest.mark.parametrize("key", ["project_id", "product_id"])
def test_project_id_must_match_the_key(key):
    assert problems(event(**{key: "proj_acme"})) == []
    assert problems(event(**{key: "web"})) == []
    assert problems(event(**{key: "proj_globex"})) == [(key, "does not match the API key")]
    assert problems(event(**{key: 42})) == [(key, "does not match the API key")]


def test_org_id_is_ignored():
    valid, errors = check(event(**{"org.id": "globex"}))
    assert errors == [] and valid.attributes is None


@pytest.mark.parametrize(
    "raw",
    [
        event(page__path="a\x00b"),
        event(metadata={"a": "b\x00"}),
        event(**{"x\x00y": 1}),
        event(page__title="\ud800"),
        event(ui__state__before={"k": "\udfff"}),
    ],
)
def test_text_postgresql_cannot_store_is_rejected_not_crashed(raw):
    assert problems(raw)


def test_a_backslash_followed_by_u0000_is_text_not_a_nul():
    # The wire's "\\u0000" is a backslash and "u0000": PostgreSQL stores it fine.
    raw = event(metadata={"code": "a\\u0000b"}, ui__state__before="\\u0000", note="\\u0000")
    valid, errors = check(raw)
    assert errors == []
    assert valid.attributes == '{"note":"\\\\u0000"}'


def test_an_event_size_is_counted_in_utf8_bytes():
    # Each field within its own limit; 36,100 three-byte characters: 108,300 bytes.
    raw = event(
        error__stack="€" * 21000,
        ui__state__before="€" * 7000,
        error__message="€" * 2700,
        blob="€" * 5400,
    )
    [(field, message)] = problems(raw)
    assert field is None and str(MAX_EVENT_BYTES) in message


def test_a_number_beyond_any_double_is_an_error_not_a_crash():
    assert problems(event(performance__cls=10**400)) == [
        ("performance.cls", "must be a finite number")
    ]
    assert [f for f, _ in problems(event(api__duration_ms=10**400))] == ["api.duration_ms"]


@pytest.mark.parametrize(
    ("key", "value", "stored"),
    [
        ("error.message", "€" * 2730, "€" * 2730),  # 8,190 bytes: within 8 KB
        ("event.sequence", 3.0, 3),  # an integral float is an integer
        ("performance.cls", 1, 1.0),
        ("ui.scroll.position", 1, 1.0),
    ],
)
def test_values_past_the_quick_checks_are_still_accepted(key, value, stored):
    got = value_of(event(**{key.replace(".", "__"): value}), key)
    assert got == stored and type(got) is type(stored)


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("error.message", "€" * 2731),  # 8,193 bytes
        ("ui.scroll.position", float("inf")),
        ("performance.lcp_ms", float("nan")),
        ("page.path", "/a\x00b"),
        ("event.type", "page.View"),
    ],
)
def test_values_the_quick_checks_pass_on_are_still_rejected(key, value):
    assert [f for f, _ in problems(event(**{key.replace(".", "__"): value}))] == [key]


# The properties: a clock after every generated timestamp (the strategies stop in 2026-11).
AFTER_GENERATED = datetime(2026, 11, 23, tzinfo=UTC)
# The strategies' timestamps go back to 1971: an org keeping events as long as allowed.
GENERATED_NOT_BEFORE = AFTER_GENERATED - timedelta(days=MAX_RETENTION_DAYS)


@settings(max_examples=200, deadline=None)
@given(events())
def test_generated_valid_events_pass_validation(raw):
    valid, errors = validate_event(
        0, raw, project=PROJECT, received_at=AFTER_GENERATED, not_before=GENERATED_NOT_BEFORE
    )
    assert errors == [] and valid is not None


@settings(max_examples=300, deadline=None)
@given(events(), st.sampled_from(FIELDS), st.data())
def test_a_mutated_field_is_rejected_with_that_field_named(raw, field, data):
    raw[field.key] = data.draw(invalid_value_for(field))
    valid, errors = validate_event(
        0, raw, project=PROJECT, received_at=AFTER_GENERATED, not_before=GENERATED_NOT_BEFORE
    )
    assert valid is None
    assert field.key in {error.field for error in errors}


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
    quick = _quick_values(raw, AFTER_GENERATED, not_before) if clean else None
    errors: list = []
    exact, _ = _exact_values(0, raw, AFTER_GENERATED, not_before, errors)
    if quick is not None:
        assert errors == []
        assert quick == exact
        assert [type(value) for value in quick] == [type(value) for value in exact]
