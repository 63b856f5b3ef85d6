"""The request's data loaders (productgraph/graphql/loaders.py)."""

from __future__ import annotations

from productgraph.graphql.loaders import Loaders


def test_a_loader_fetches_announced_keys_in_one_batch():
    calls: list[list[int]] = []

    def fetch(keys, *, scale):
        calls.append(sorted(keys))
        return {key: key * scale for key in keys if key != 3}

    loaders = Loaders()
    loaders.expect(fetch, [1, 2, 3])
    loader = loaders.get(fetch, scale=10)
    assert [loader.load(key) for key in (1, 2, 3, 4)] == [10, 20, None, 40]
    assert calls == [[1, 2, 3], [4]]
    assert loaders.get(fetch, scale=10) is loader
    other = loaders.get(fetch, default=list, scale=2)
    assert other.load(3) == [] and calls[-1] == [1, 2, 3], "arguments share the announcement"
