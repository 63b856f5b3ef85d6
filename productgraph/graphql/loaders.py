"""Request-scoped batch loaders: one query per batch of keys, never one per row.

GraphQL executes synchronously here and depth first, so a child field of row 1 resolves
before row 2 exists as far as the executor is concerned: a classic DataLoader would need an
async or deferred executor to see all of a page's keys. Instead the resolver that fetches
a page *announces* the keys its rows will ask for (`Loaders.expect`), and the first child
that loads any key fetches it together with every announced key not loaded yet. A page of
50 sessions asking for their journeys therefore costs one query, whether or not the query
selects that field (an unselected field announces keys but never fetches them).

Loaders live on the request's context: nothing is shared between requests, so a value can
never leak across organizations or outlive the request's transaction.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence
from typing import Any, Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")

Fetch = Callable[..., Mapping[Any, Any]]


class BatchLoader(Generic[K, V]):
    """Load values by key through `fetch(keys)`, batching the announced keys."""

    def __init__(
        self,
        fetch: Callable[[Sequence[K]], Mapping[K, V]],
        *,
        expected: set[K],
        default: Callable[[], V | None],
    ) -> None:
        self._fetch = fetch
        self._expected = expected
        self._default = default
        self._values: dict[K, V | None] = {}
        self.batches = 0

    def prime(self, key: K, value: V) -> None:
        """Remember a value fetched elsewhere (e.g. the project a query named)."""
        self._values.setdefault(key, value)

    def load(self, key: K) -> V | None:
        """Return the value of `key`; the first miss fetches every announced key at once."""
        if key not in self._values:
            batch = [key, *(k for k in self._expected if k != key and k not in self._values)]
            found = self._fetch(batch)
            self.batches += 1
            for item in batch:
                self._values[item] = found.get(item, self._default())
        return self._values[key]


class Loaders:
    """The loaders of one request, one per (fetch function, keyword arguments)."""

    def __init__(self) -> None:
        self._loaders: dict[tuple[Fetch, tuple[tuple[str, Hashable], ...]], BatchLoader] = {}
        self._expected: dict[Fetch, set[Any]] = {}

    def expect(self, fetch: Fetch, keys: Iterable[Hashable]) -> None:
        """Announce keys that rows of a page will load through `fetch` (any arguments)."""
        self._expected.setdefault(fetch, set()).update(keys)

    def get(
        self, fetch: Fetch, *, default: Callable[[], Any] = lambda: None, **kwargs: Hashable
    ) -> BatchLoader:
        """Return the loader calling `fetch(keys, **kwargs)`, created on first use."""
        identity = (fetch, tuple(sorted(kwargs.items())))
        loader = self._loaders.get(identity)
        if loader is None:

            def bound(keys: Sequence[Any]) -> Mapping[Any, Any]:
                return fetch(keys, **kwargs)

            loader = BatchLoader(
                bound, expected=self._expected.setdefault(fetch, set()), default=default
            )
            self._loaders[identity] = loader
        return loader
