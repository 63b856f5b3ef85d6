"""Journey definitions: parsing and validation with precise errors (analytics.md, Journeys)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from journeys.conditions import DefinitionError, validate_conditions

_SLUG = re.compile(r"\A[a-z0-9][a-z0-9_-]{0,254}\Z")
MAX_STEPS = 50
DEFAULT_TIMEOUT_MINUTES = 30  # analytics.md: timeout_minutes (default 30)


@dataclass(frozen=True)
class Step:
    """One ordered step: matched by `match`, or directly by a tagged event."""

    id: str
    name: str
    match: list[Any]
    optional: bool = False


@dataclass(frozen=True)
class JourneyDefinition:
    """What matching needs of a journey."""

    key: str
    entry: list[Any]
    steps: tuple[Step, ...]
    exit: list[Any]
    timeout_minutes: int = DEFAULT_TIMEOUT_MINUTES


def parse_definition(
    *, key: Any, entry: Any, steps: Any, exit: Any, timeout_minutes: Any
) -> JourneyDefinition:
    """Validate a journey definition; raise DefinitionError listing every problem."""
    errors: list[str] = []
    if not isinstance(key, str) or not _SLUG.match(key):
        errors.append("key: a slug of lowercase letters, digits, '-' or '_' (max 255)")
    for name, value in (("entry", entry), ("exit", exit)):
        if not isinstance(value, list):
            errors.append(f"{name}: must be a list of conditions (may be empty)")
        else:
            errors += validate_conditions(value, name)
    if (
        not isinstance(timeout_minutes, int)
        or isinstance(timeout_minutes, bool)
        or not (1 <= timeout_minutes <= 7 * 24 * 60)
    ):
        errors.append("timeout_minutes: a whole number of minutes from 1 to 10080")
    parsed: list[Step] = []
    if not isinstance(steps, list) or not steps:
        errors.append("steps: must be a non-empty list of steps")
    elif len(steps) > MAX_STEPS:
        errors.append(f"steps: at most {MAX_STEPS} steps")
    else:
        seen: set[str] = set()
        for position, step in enumerate(steps):
            path = f"steps[{position}]"
            if not isinstance(step, dict):
                errors.append(f"{path}: must be an object with id, name, match")
                continue
            unknown = set(step) - {"id", "name", "match", "optional"}
            if unknown:
                errors.append(f"{path}: unknown key(s) {', '.join(sorted(map(str, unknown)))}")
            step_id, name, match = step.get("id"), step.get("name", ""), step.get("match")
            optional = step.get("optional", False)
            if not isinstance(step_id, str) or not step_id or len(step_id) > 255:
                errors.append(f"{path}.id: a non-empty string (max 255)")
            elif step_id in seen:
                errors.append(f"{path}.id: duplicate step id {step_id!r}")
            else:
                seen.add(step_id)
            if not isinstance(name, str) or len(name) > 255:
                errors.append(f"{path}.name: a string (max 255)")
            if not isinstance(optional, bool):
                errors.append(f"{path}.optional: true or false")
            if not isinstance(match, list) or not match:
                errors.append(f"{path}.match: a non-empty list of conditions")
            else:
                errors += validate_conditions(match, f"{path}.match")
            if isinstance(step_id, str) and isinstance(match, list):
                parsed.append(Step(step_id, name or step_id, match, optional is True))
        if steps and all(isinstance(s, dict) and s.get("optional") is True for s in steps):
            errors.append("steps: at least one step must be required")
    if errors:
        raise DefinitionError(errors)
    return JourneyDefinition(
        key=key, entry=entry, steps=tuple(parsed), exit=exit, timeout_minutes=timeout_minutes
    )
