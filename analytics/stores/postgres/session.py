"""What every PostgreSQL analytics query shares: its SQL files, its org, its limits."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from functools import cache
from pathlib import Path
from typing import Any

import psycopg.errors
from django.db import DatabaseError, connection, transaction

from analytics.errors import QueryError, QueryTimeout
from productgraph.tenancy.context import OrgContextError, current_org_id

_HERE = Path(__file__).parent
_MILLISECOND = timedelta(milliseconds=1)


@cache
def sql_file(name: str) -> str:
    """A `.sql` file next to this module, without its lines that start with `--`."""
    text = (_HERE / name).read_text(encoding="utf-8")
    return "\n".join(line for line in text.splitlines() if not line.startswith("--")).strip()


@dataclass(frozen=True)
class Bounded:
    """A cursor in a query's savepoint, the org it is scoped to, and the settings before."""

    cursor: Any
    org_id: int
    before: Mapping[str, str]


def _set_config(cursor: Any, values: Mapping[str, str]) -> None:
    cursor.execute(
        "SELECT " + ", ".join("set_config(%s, %s, true)" for _ in values),
        [item for pair in values.items() for item in pair],
    )


@contextmanager
def bounded(
    timeout: timedelta, *, settings: Mapping[str, str] | None = None, saved: Sequence[str] = ()
) -> Iterator[Bounded]:
    """Run the block in a savepoint, with `statement_timeout` and `settings` set for it.

    The caller must be in a transaction and an org context (RLS then scopes every row read;
    the org is also handed to the query, for its indexes). The settings are
    transaction-local and restored after the block with those named in `saved`; a
    cancelled statement raises QueryTimeout and an invalid regular expression QueryError,
    both leaving the caller's transaction usable (the savepoint rolls back).
    """
    if not connection.in_atomic_block:
        raise OrgContextError(
            "run an analytics query inside transaction.atomic() and org_context()"
        )
    org_id = current_org_id()
    if org_id is None:
        raise OrgContextError("run an analytics query inside org_context()")
    values = {"statement_timeout": f"{max(1, timeout // _MILLISECOND)}ms", **(settings or {})}
    names = list(dict.fromkeys([*values, *saved]))
    try:
        with transaction.atomic(), connection.cursor() as cursor:
            # One round trip: the select list is evaluated left to right, reads first.
            cursor.execute(
                "SELECT "
                + ", ".join(
                    ["current_setting(%s)"] * len(names)
                    + ["set_config(%s, %s, true)"] * len(values)
                ),
                [*names, *(item for pair in values.items() for item in pair)],
            )
            before = dict(zip(names, cursor.fetchone()[: len(names)], strict=True))
            yield Bounded(cursor=cursor, org_id=org_id, before=before)
            _set_config(cursor, before)
    except DatabaseError as exc:
        if isinstance(exc.__cause__, psycopg.errors.QueryCanceled):
            raise QueryTimeout(timeout) from exc
        if isinstance(exc.__cause__, psycopg.errors.InvalidRegularExpression):
            # Validation rejects the syntax PostgreSQL reads differently; this is the
            # backstop for anything it missed: the caller's mistake, not a 5xx.
            raise QueryError([f"bad regex: {exc.__cause__}"]) from exc
        raise
