"""The one helper that sets the organization for Row-Level Security.

The org lives in the PostgreSQL setting `app.current_org_id`, set transaction-locally with
`set_config(..., true)` (tenancy.md, invariant 3): it vanishes at COMMIT or ROLLBACK, so a
pooled or persistent connection never carries one request's org into the next.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack, contextmanager

from django.db import DEFAULT_DB_ALIAS, connections, transaction
from psycopg.pq import TransactionStatus

ORG_SETTING = "app.current_org_id"


class OrgContextError(RuntimeError):
    """The org context was used where it cannot be safe (outside a transaction)."""


def _set(cursor, value: str) -> str:
    """Set the org setting transaction-locally; return the value it had before."""
    cursor.execute(
        "SELECT current_setting(%s, true), set_config(%s, %s, true)",
        [ORG_SETTING, ORG_SETTING, value],
    )
    previous = cursor.fetchone()[0]
    return previous or ""


def current_org_id(using: str = DEFAULT_DB_ALIAS) -> int | None:
    """Return the org set on this connection's current transaction, or None."""
    with connections[using].cursor() as cursor:
        cursor.execute("SELECT NULLIF(current_setting(%s, true), '')", [ORG_SETTING])
        value = cursor.fetchone()[0]
    return int(value) if value else None


def _check_org_id(org_id: object) -> None:
    if not isinstance(org_id, int) or isinstance(org_id, bool) or org_id <= 0:
        raise OrgContextError(f"an org id must be a positive integer, not {org_id!r}")


@contextmanager
def org_context(org_id: int, *, using: str = DEFAULT_DB_ALIAS) -> Iterator[None]:
    """Run the block with `org_id` as the current organization.

    Refuses to run outside a transaction: a setting made there would be session-level and
    outlive the request. The block runs in a savepoint, so an exception that escapes it
    rolls the setting back to the outer org; on a clean exit the outer org is restored.
    """
    connection = connections[using]
    if not connection.in_atomic_block:
        raise OrgContextError("org_context() must run inside transaction.atomic()")
    _check_org_id(org_id)
    with transaction.atomic(using=using):
        with connection.cursor() as cursor:
            outer = _set(cursor, str(org_id))
        yield
        if connection.connection.info.transaction_status == TransactionStatus.INERROR:
            # A statement failed and its error was handled inside the block: roll back to
            # the savepoint (which also restores the outer org) instead of running SQL.
            connection.needs_rollback = True
        if not connection.needs_rollback:
            with connection.cursor() as cursor:
                _set(cursor, outer)


class OrgScope:
    """Lets the edge of a request (DRF authentication, the admin switcher) pick the org once.

    The tenancy middleware opens the request's transaction and an `OrgScope` on
    `request.org_scope`; `enter(org_id)` sets the org for the rest of that transaction.
    When the request's transaction is the outermost one (always, in production) the
    setting simply ends with it: no savepoint and no restore, two round trips fewer per
    request. Nested in an outer transaction (tests), the outer value is restored on exit.
    """

    def __init__(self, stack: ExitStack, *, outermost: bool, using: str = DEFAULT_DB_ALIAS) -> None:
        self._stack = stack
        self._outermost = outermost
        self._using = using
        self.org_id: int | None = None

    def enter(self, org_id: int) -> None:
        """Make `org_id` the org of the rest of this request; a second call must agree."""
        if self.org_id is not None:
            if self.org_id != org_id:
                raise OrgContextError("a request cannot act for two organizations")
            return
        if not self._outermost:
            self._stack.enter_context(org_context(org_id, using=self._using))
            self.org_id = org_id
            return
        connection = connections[self._using]
        if not connection.in_atomic_block:
            raise OrgContextError("OrgScope.enter() must run inside the request transaction")
        _check_org_id(org_id)
        with connection.cursor() as cursor:
            _set(cursor, str(org_id))
        self.org_id = org_id
