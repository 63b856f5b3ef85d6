"""Journey definitions (journeys/definitions.py): every problem, precisely named."""

from __future__ import annotations

import pytest

from journeys.conditions import DefinitionError
from journeys.definitions import parse_definition
from tests.journeys.helpers import step


@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [
        ({"steps": []}, "steps: must be a non-empty list"),
        ({"steps": [step("a", "/a"), step("a", "/b")]}, "duplicate step id"),
        (
            {"steps": [{"id": "a", "match": [{"field": "page.path", "op": "like", "value": "/"}]}]},
            "unknown op 'like'",
        ),
        (
            {
                "steps": [
                    {"id": "a", "match": [{"field": "page.path", "op": "regex", "value": "("}]}
                ]
            },
            "bad regex",
        ),
        ({"steps": [{"id": "a", "match": []}]}, "non-empty list of conditions"),
        (
            {"steps": [{"id": "a", "match": [{"field": "", "op": "eq", "value": "x"}]}]},
            "must be an event key",
        ),
        (
            {
                "steps": [
                    {
                        "id": "a",
                        "match": [{"field": "api.status_code", "op": "prefix", "value": "5"}],
                    }
                ]
            },
            "applies to text fields",
        ),
        (
            {"steps": [{"id": "a", "match": [{"field": "page.path", "op": "gt", "value": 3}]}]},
            "applies to number fields",
        ),
        ({"steps": [{"id": "a", "match": [{"any": []}]}]}, "non-empty list"),
        ({"steps": [step("a", "/a")], "timeout_minutes": 0}, "timeout_minutes"),
        ({"steps": [step("a", "/a")], "key": "Bad Key"}, "key:"),
        ({"steps": [step("a", "/a", optional=True)]}, "at least one step must be required"),
    ],
)
def test_definitions_are_validated_with_precise_errors(kwargs, fragment):
    arguments = {"key": "checkout", "entry": [], "exit": [], "timeout_minutes": 30, **kwargs}
    with pytest.raises(DefinitionError) as caught:
        parse_definition(**arguments)
    assert any(fragment in error for error in caught.value.errors), caught.value.errors
