"""Classify database exceptions the edges turn into documented errors."""

from __future__ import annotations

import psycopg
from django.db import InterfaceError, OperationalError

# 08xxx connection exceptions; admin/crash shutdown; cannot connect now; too many connections.
_UNAVAILABLE_STATES = {"57P01", "57P02", "57P03", "53300"}
RLS_VIOLATION_STATE = "42501"  # insufficient_privilege, raised for WITH CHECK violations


def _psycopg_error(exc: BaseException) -> psycopg.Error | None:
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, psycopg.Error):
            return seen
        seen = seen.__cause__
    return None


def is_rls_violation(exc: BaseException) -> bool:
    """True for a write rejected by a row-level security policy."""
    error = _psycopg_error(exc)
    return bool(
        error is not None
        and error.sqlstate == RLS_VIOLATION_STATE
        and "row-level security" in str(error)
    )


def is_database_unavailable(exc: BaseException) -> bool:
    """True when PostgreSQL cannot be reached or is shutting down (retry later)."""
    if not isinstance(
        exc, (OperationalError, InterfaceError, psycopg.OperationalError, psycopg.InterfaceError)
    ):
        return False
    error = _psycopg_error(exc)
    if error is None:
        return True  # Django's wrapper without a cause: the connection itself failed
    state = error.sqlstate
    return state is None or state.startswith("08") or state in _UNAVAILABLE_STATES


QUERY_CANCELED_STATE = "57014"  # query_canceled: a statement_timeout ran out


def is_query_canceled(exc: BaseException) -> bool:
    """True when PostgreSQL cancelled the statement (its statement_timeout ran out)."""
    error = _psycopg_error(exc)
    return error is not None and error.sqlstate == QUERY_CANCELED_STATE
