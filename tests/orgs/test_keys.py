"""The keys (orgs/keys.py): stored only as hashes, in the shape the logs redact."""

from __future__ import annotations

from orgs import keys
from orgs.models import ApiKey
from productgraph.tenancy.context import org_context


def test_keys_are_stored_only_as_hashes(acme):
    with org_context(acme.org.pk):
        stored = list(ApiKey.objects.values_list("prefix", "key_hash"))
    assert len(stored) == 2
    for prefix, key_hash in stored:
        assert len(key_hash) == 64
        assert acme.ingest_key not in (prefix, key_hash)
        assert len(prefix) == keys.PREFIX_LENGTH


def test_the_logs_key_shape_matches_every_key_kind():
    """productgraph.log_redaction cannot import orgs (the kernel imports no app): its key
    pattern is checked against the real format here, so neither drifts alone."""
    from orgs import keys
    from productgraph.log_redaction import KEY_SHAPE, redact_keys

    for kind in keys.KIND_PREFIXES:
        key = keys.generate(kind)
        assert KEY_SHAPE.fullmatch(key), kind
        assert redact_keys(f"GET /{key} x") == f"GET /{key[:3]}[redacted] x"
