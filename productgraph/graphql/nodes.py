"""The Relay `node(id)` field, answering null for anything the caller cannot see.

graphene's own `Node.Field` raises plain exceptions for a malformed id or a type name that
is not a node, which would surface as internal errors. Here a malformed id, an unknown
type, a missing row and another org's row are all the same: null.
"""

from __future__ import annotations

from typing import Any

import graphene
from graphene import relay
from graphql_relay import from_global_id

MAX_ID_DIGITS = 19  # a PostgreSQL bigint


def _resolve_node(root: Any, info: Any, id: str) -> Any:
    try:
        type_name, raw_id = from_global_id(id)
    except (ValueError, TypeError):
        return None
    # Every node of this schema is keyed by a bigint primary key. `str.isdigit()` alone
    # also accepts "²" or "٣", which `int()` refuses or reads as another number.
    if not (raw_id.isascii() and raw_id.isdigit() and len(raw_id) <= MAX_ID_DIGITS):
        return None
    named = info.schema.get_type(type_name) if type_name else None
    graphene_type = getattr(named, "graphene_type", None)
    meta = getattr(graphene_type, "_meta", None)
    if meta is None or relay.Node not in getattr(meta, "interfaces", ()):
        return None
    return graphene_type.get_node(info, raw_id)  # type: ignore[union-attr]


def node_field() -> graphene.Field:
    """Return the root `node(id: ID!)` field."""
    return graphene.Field(
        relay.Node,
        id=graphene.ID(required=True, description="A global id from an `id` field."),
        resolver=_resolve_node,
        description="Any object by global id; null when it does not exist for the caller.",
    )
