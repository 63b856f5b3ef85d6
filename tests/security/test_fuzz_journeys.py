"""Fuzzing journey definitions and conditions: arbitrary JSON is valid or a listed error, and
a valid condition compiles to SQL that PostgreSQL runs and that agrees with Python.

`tests/journeys/test_conditions.py` proves the two evaluators equal on a small grammar of
well-behaved conditions. Here the grammar is hostile: any field name, unknown ops, values of
the wrong type, `in` lists mixing ints, floats, strings and booleans, huge numbers, and
regexes built from the syntax where Python and PostgreSQL differ (named groups, `\\b`,
`{,n}`, POSIX classes, bounds over 255, a lone `{`, ...). Whatever validation accepts must
run in PostgreSQL without an error and select the events the Python matcher selects.
"""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection, transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ingestion.selectors import session_event_dicts
from journeys.conditions import OPS, DefinitionError, matches, to_sql, validate_conditions
from journeys.definitions import JourneyDefinition, parse_definition
from productgraph.tenancy.context import org_context
from tests.ingestion.helpers import event, post

# Integers around and beyond a double's range (validation refuses those beyond it).
FLOAT_RANGE_INTS = st.integers(-(2**1100), 2**1100)
JSON = st.recursive(
    st.none()
    | st.booleans()
    | FLOAT_RANGE_INTS
    | st.floats()
    | st.text(st.characters(exclude_categories=["Cs"], exclude_characters="\x00"), max_size=8),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=4), children, max_size=3)
    ),
    max_leaves=8,
)

# Texts on which Python's `re` and PostgreSQL's regex engine are likely to disagree: word
# boundaries, non-ASCII letters and digits, braces, newlines.
TEXTS = ["a", "ab", "a b", "word", "ba", "A", "aaa", "12", "é", "日本", "x{2}", "{", "_-"]
TEXTS += ["a\n", "\n", "٣", "a\nb"]
NUMBERS = [0, 1, 2, 2.5, -1, 200, 404, 10**20]
FIELDS = [
    "page.path",
    "event.type",
    "user.id",
    "api.status_code",
    "performance.cls",
    "event.sequence",
    "event.timestamp",
    "ui.state.before",
    "metadata",
    "s",  # an attribute holding text
    "n",  # an attribute holding numbers (and text, in one event)
    "flag",  # an attribute holding booleans
    "missing",
]


def stored_events() -> list[dict[str, Any]]:
    events = []
    for position, text in enumerate(TEXTS):
        number = NUMBERS[position % len(NUMBERS)]
        events.append(
            event(
                event_id=f"t{position}",
                page__path=text,
                user__id=text,
                api__status_code=100 + position,
                performance__cls=position / 4,
                event__sequence=position,
                s=text,
                n=number if position != 3 else "2",
                flag=position % 2 == 0,
            )
        )
    return events


# Regex syntax where the two engines differ, and plain pieces to combine them with.
REGEX_PIECES = [
    *["a", "b", ".", "^", "$", "|", "(", ")", "[", "]", "*", "+", "?", ",", "2", "-", "\\"],
    *["\\b", "\\B", "\\d", "\\w", "\\s", "\\A", "\\Z", "\\n", "\\x41", "\\u0061", "\\0"],
    *["(?P<n>a)", "(?P=n)", "(?i)", "(?i:a)", "(?#c)", "(?>a)", "(?(1)a|b)", "\\g<1>"],
    *["(?=a)", "(?<=a)", "(?<!a)", "(?:a)", "(a)\\1", "[^a]", "a*+", "a++", "a?+"],
    *["a{,2}", "a{2}", "a{1,2}", "a{2}+", "[[:alpha:]]", "[[:digit:]]", "[[.a.]]", "[[=a=]]"],
    *["{", "}", "a{256}", "a{1,300}", "[\\d]", "[\\D]", "\\D", "\\S", "\\W"],
]
REGEXES = st.lists(st.sampled_from(REGEX_PIECES), min_size=1, max_size=4).map("".join)
NUMBER_VALUES = (
    st.sampled_from(NUMBERS)
    | FLOAT_RANGE_INTS
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.sampled_from([0.0, 1.0, 2.0, 100.5, 1e308, 2**63])
)
SCALARS = st.sampled_from(TEXTS) | NUMBER_VALUES | st.booleans() | st.none()
VALUES_BY_OP = {
    "exists": st.booleans(),
    "prefix": st.sampled_from(TEXTS),
    "contains": st.sampled_from(TEXTS),
    "regex": REGEXES | st.sampled_from(TEXTS),
    "in": st.lists(SCALARS, min_size=1, max_size=4)
    | st.lists(st.integers(0, 3) | st.sampled_from([0.5, 1.0, 2.5]), min_size=2, max_size=4),
    **dict.fromkeys(["gt", "gte", "lt", "lte"], NUMBER_VALUES),
    **dict.fromkeys(["eq", "neq"], SCALARS),
}


@st.composite
def typed_conditions(draw) -> dict[str, Any]:
    """A condition of a known field and op with a value of about the right type."""
    op = draw(st.sampled_from(OPS))
    return {"field": draw(st.sampled_from(FIELDS)), "op": op, "value": draw(VALUES_BY_OP[op])}


@st.composite
def hostile_conditions(draw) -> dict[str, Any]:
    """Anything shaped roughly like a condition: any field, op, value and extra keys."""
    condition: dict[str, Any] = {
        "field": draw(st.sampled_from(FIELDS) | st.text(max_size=6) | JSON),
        "op": draw(st.sampled_from(OPS) | st.sampled_from(["like", "", None]) | JSON),
    }
    if draw(st.booleans()):
        condition["value"] = draw(SCALARS | st.lists(SCALARS, max_size=4) | REGEXES | JSON)
    if draw(st.integers(0, 4)) == 0:
        condition[draw(st.sampled_from(["extra", "any"]))] = draw(JSON)
    return condition


def condition_trees(leaves: st.SearchStrategy) -> st.SearchStrategy:
    """Lists (AND) and `any` groups (OR) of conditions, nested."""
    return st.recursive(
        leaves,
        lambda children: (
            st.lists(children, max_size=3)
            | st.lists(children, max_size=3).map(lambda items: {"any": items})
        ),
        max_leaves=5,
    )


CONDITIONS = condition_trees(typed_conditions() | hostile_conditions())


def assert_listed(exc: DefinitionError) -> None:
    assert exc.errors and all(isinstance(error, str) and error for error in exc.errors)


@settings(max_examples=100, deadline=None)
@given(
    key=JSON | st.sampled_from(["checkout", "a", "A", "-x"]),
    entry=JSON | st.lists(CONDITIONS, max_size=2),
    steps=JSON
    | st.lists(
        st.fixed_dictionaries(
            {"id": JSON | st.sampled_from(["s1", "s2"]), "match": JSON | CONDITIONS},
            optional={"name": JSON, "optional": JSON, "extra": JSON},
        ),
        max_size=3,
    ),
    exit=JSON | st.lists(CONDITIONS, max_size=2),
    timeout_minutes=JSON | FLOAT_RANGE_INTS,
)
def test_any_definition_is_valid_or_a_listed_error(key, entry, steps, exit, timeout_minutes):
    try:
        parsed = parse_definition(
            key=key, entry=entry, steps=steps, exit=exit, timeout_minutes=timeout_minutes
        )
    except DefinitionError as exc:
        assert_listed(exc)
    else:
        assert isinstance(parsed, JourneyDefinition) and parsed.steps


def run_both(acme, condition: Any) -> tuple[list[str], list[str]]:
    """The event ids selected by the SQL compilation and by the Python matcher."""
    with transaction.atomic(), org_context(acme.org.pk):
        stored = session_event_dicts(
            org_id=acme.org.pk, project_id=acme.project.pk, session_ids=["sess_001"]
        ).get("sess_001", [])
        params: list[Any] = []
        sql = to_sql(condition, params, alias="e")
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT e.event_id FROM ingestion_event e"  # noqa: S608 - compiled, params bound
                f" WHERE e.org_id = %s AND e.project_id = %s AND {sql} ORDER BY 1",
                [acme.org.pk, acme.project.pk, *params],
            )
            in_sql = [row[0] for row in cursor.fetchall()]
    in_python = sorted(item["event_id"] for item in stored if matches(condition, item))
    return in_sql, in_python


@settings(
    max_examples=200,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(condition=condition_trees(typed_conditions()))
def test_valid_conditions_run_in_postgresql_and_agree_with_python(client, acme, condition):
    if not acme_has_events(acme):
        response = post(client, acme.ingest_key, {"events": stored_events()})
        assert response.json()["accepted"] == len(TEXTS), response.content
    problems = validate_conditions(condition, "c")
    assert all(isinstance(problem, str) and problem for problem in problems)
    if problems:
        return
    in_sql, in_python = run_both(acme, condition)
    assert in_sql == in_python, condition


def acme_has_events(acme) -> bool:
    with transaction.atomic(), org_context(acme.org.pk), connection.cursor() as cursor:
        cursor.execute(
            "SELECT EXISTS (SELECT 1 FROM ingestion_event WHERE org_id = %s)", [acme.org.pk]
        )
        return cursor.fetchone()[0]


# --- Found by this fuzzing and fixed in journeys/conditions.py: pinned here. -------------


@pytest.mark.parametrize("value", [10**400, -(10**400), float("inf"), float("nan")])
def test_a_bound_beyond_a_double_is_refused_without_a_crash(value):
    for op in ("gt", "eq", "in"):
        [problem] = validate_conditions(
            {"field": "n", "op": op, "value": [value] if op == "in" else value}, "c"
        )
        assert problem.startswith("c.value")


@pytest.mark.parametrize(
    ("condition", "named"),
    [
        ({"field": "page.path", "op": "regex", "value": "a{256}"}, "over 255"),
        ({"field": "page.path", "op": "regex", "value": "x{1"}, "unescaped '{'"),
        ({"field": "page.path", "op": "eq", "value": "a\x00"}, "NUL"),
        ({"field": "a\x00", "op": "exists"}, "NUL"),
        ({"field": "s", "op": "eq", "value": "\ud800"}, "surrogate"),
        ({"field": "s", "op": "in", "value": ["ok", "\ud800"]}, "surrogate"),
    ],
    ids=["bound-over-255", "unbalanced-brace", "nul-value", "nul-field", "lone-surrogate", "in"],
)
def test_what_postgresql_cannot_run_is_refused_by_validation(condition, named):
    [problem] = validate_conditions(condition, "c")
    assert named in problem


@pytest.mark.parametrize(
    ("pattern", "text"),
    [
        ("a$", "a\n"),
        ("^a$", "a\n"),
        (".", "\n"),
        ("\\d", "٣"),
        ("[\\d]", "٣"),
        ("a\\Z", "a\n"),
        ("\\w", "²"),
        ("\\w", "é"),
        ("\\s", "\u00a0"),
        ("\\s", "\u3000"),
        ("\\x41a", "\u041a"),
        ("\\u041a", "\u041a"),
    ],
    ids=[
        "dollar-before-newline",
        "anchored-newline",
        "dot-newline",
        "unicode-digit",
        "unicode-digit-in-class",
        "end-before-newline",
        "superscript-is-no-word",
        "accented-letter-is-word",
        "no-break-space-is-no-space",
        "ideographic-space-is-space",
        "hex-escape-takes-every-digit",
        "unicode-escape",
    ],
)
def test_python_and_postgresql_read_a_valid_regex_alike(client, acme, pattern, text):
    condition = {"field": "page.path", "op": "regex", "value": pattern}
    assert validate_conditions(condition, "c") == []
    post(client, acme.ingest_key, {"events": [event(page__path=text)]})
    in_sql, in_python = run_both(acme, condition)
    assert in_sql == in_python, (pattern, text, in_sql, in_python)
