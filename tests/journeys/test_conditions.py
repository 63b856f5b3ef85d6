"""One condition language, two evaluators: Python (matching) and SQL (funnels) agree."""

from __future__ import annotations

from django.db import connection
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from ingestion.selectors import session_event_dicts
from journeys.conditions import matches, regex_search, to_sql, validate_conditions
from productgraph.tenancy.context import org_context
from tests.ingestion.helpers import event, post

PATHS = ["/", "/home", "/home/x", "/cart", "/Cart", ""]
EVENTS = [
    event(event_id="1", page__path="/home", api__status_code=200, plan="pro", n=3),
    event(event_id="2", page__path="/home/x", event__type="ui.click", plan="free", n=3.5),
    event(event_id="3", page__path="/cart", api__status_code=500, n="3", flag=True),
    event(event_id="4", event__type="error", flag=1, n=None),
    event(event_id="5", page__path="/Cart", user__id="u", plan=["pro"]),
]

conditions: st.SearchStrategy = st.deferred(
    lambda: st.one_of(
        st.builds(
            lambda op, value: {"field": "page.path", "op": op, "value": value},
            st.sampled_from(["eq", "neq", "prefix", "contains"]),
            st.sampled_from([p for p in PATHS if p]),
        ),
        st.builds(
            lambda value: {"field": "page.path", "op": "regex", "value": value},
            st.sampled_from(["^/home", "art$", "[Cc]art", "x|y"]),
        ),
        st.builds(
            lambda op, value: {"field": "api.status_code", "op": op, "value": value},
            st.sampled_from(["eq", "neq", "gt", "gte", "lt", "lte"]),
            st.sampled_from([200, 404, 500, 200.0]),
        ),
        st.builds(
            lambda field, value: {"field": field, "op": "exists", "value": value},
            st.sampled_from(["page.path", "user.id", "plan", "n", "flag", "nope"]),
            st.booleans(),
        ),
        st.builds(
            lambda field, op, value: {"field": field, "op": op, "value": value},
            st.sampled_from(["plan", "n", "flag"]),
            st.sampled_from(["eq", "neq"]),
            st.sampled_from(["pro", "free", 3, 3.5, "3", True, 1]),
        ),
        st.builds(
            lambda op, value: {"field": "n", "op": op, "value": value},
            st.sampled_from(["gt", "gte", "lt", "lte"]),
            st.sampled_from([3, 3.5, 2]),
        ),
        st.builds(
            lambda field, op, value: {"field": field, "op": op, "value": value},
            st.sampled_from(["plan"]),
            st.sampled_from(["prefix", "contains", "regex"]),
            st.sampled_from(["pr", "e", "^f"]),
        ),
        st.builds(
            lambda values: {"field": "event.type", "op": "in", "value": values},
            st.lists(st.sampled_from(["page.view", "error", "ui.click"]), min_size=1, max_size=2),
        ),
        st.builds(  # ints and floats mixed: one numeric array in SQL
            lambda field, values: {"field": field, "op": "in", "value": values},
            st.sampled_from(["api.status_code", "n"]),
            st.lists(st.sampled_from([200, 500.0, 404, 3, 3.5]), min_size=1, max_size=3),
        ),
        st.builds(lambda items: {"any": items}, st.lists(conditions, min_size=1, max_size=3)),
        st.lists(conditions, min_size=1, max_size=3),
    )
)


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(condition=conditions)
def test_sql_and_python_select_the_same_events(client, acme, condition):
    assume(not validate_conditions(condition, "c"))
    post(client, acme.ingest_key, {"events": EVENTS})
    with org_context(acme.org.pk):
        stored = session_event_dicts(
            org_id=acme.org.pk, project_id=acme.project.pk, session_ids=["sess_001"]
        )["sess_001"]
        expected = sorted(e["event_id"] for e in stored if matches(condition, e))
        params: list = []
        sql = to_sql(condition, params, alias="e")
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT e.event_id FROM ingestion_event e WHERE e.org_id = %s AND {sql}",  # noqa: S608
                [acme.org.pk, *params],
            )
            got = sorted(row[0] for row in cursor.fetchall())
    assert got == expected, (condition, sql, params)


def test_regex_syntax_postgresql_reads_differently_is_rejected():
    for pattern in [r"(?P<n>x)", r"\bhome", r"x{,2}", r"[[:alpha:]]", r"(?i:a)", r"a++", r"(?>a)"]:
        errors = validate_conditions({"field": "page.path", "op": "regex", "value": pattern}, "c")
        assert errors and "bad regex" in errors[0], pattern
    for pattern in [r"(?<=/)x", r"(?=a)", r"(a)\1"]:  # no linear-time engine runs these
        errors = validate_conditions({"field": "page.path", "op": "regex", "value": pattern}, "c")
        assert errors and "linear time" in errors[0], pattern
    for pattern in [r"^/checkout/\d+$", r"(?i)^/home", r"(?:a|b)+", r"/x", r"\++", r"[]a]"]:
        assert not validate_conditions(
            {"field": "page.path", "op": "regex", "value": pattern}, "c"
        ), pattern


def test_portable_regexes_mean_the_same_in_postgresql(db):
    subjects = ["/home", "/HOME/x", "a+b", "]a", "/checkout/12", "x/y"]
    subjects += ["a\nb", "x\u00a0y", "\u041a", "\u00b2!"]
    patterns = [r"^/checkout/\d+$", r"(?i)^/home", r"(?:a|b)\+", r"/x", r"\++", r"[]a]"]
    patterns += [r"a.b", r"(?x) ^ /home # a comment", r"x\sy", r"\x41a", r"[\w]\W", r"b$", r"\w!"]
    for pattern in patterns:
        assert not validate_conditions(
            {"field": "page.path", "op": "regex", "value": pattern}, "c"
        ), pattern
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT s FROM unnest(%s::text[]) s WHERE s ~ %s ORDER BY s", [subjects, pattern]
            )
            got = [row[0] for row in cursor.fetchall()]
        assert got == sorted(s for s in subjects if regex_search(pattern)(s)), pattern


def test_non_finite_numbers_are_not_values():
    for value in [float("inf"), float("nan")]:
        assert validate_conditions({"field": "n", "op": "gt", "value": value}, "c")
        assert validate_conditions({"field": "n", "op": "in", "value": [1, value]}, "c")


def test_null_is_not_a_value_to_compare_with():
    # Matching never equals a null or missing field; the funnel SQL would (JSON null = null).
    for op, value in [("eq", None), ("neq", None), ("in", ["pro", None])]:
        for field in ("plan", "page.path"):
            problems = validate_conditions({"field": field, "op": op, "value": value}, "c")
            assert problems and "takes a" in problems[0], (field, op, problems)
