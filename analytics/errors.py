"""The two ways an analytics query fails for its caller: invalid, or too slow."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta


class QueryError(ValueError):
    """A query that cannot run; `errors` lists every problem, each `path: reason`."""

    def __init__(self, errors: Sequence[str]) -> None:
        self.errors = list(errors)
        super().__init__("; ".join(self.errors))


class QueryTimeout(QueryError):
    """The store cancelled the query after `timeout` (narrow the range or the steps)."""

    def __init__(self, timeout: timedelta) -> None:
        self.timeout = timeout
        super().__init__([f"the query took longer than {timeout}"])
