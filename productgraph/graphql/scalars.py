"""Scalars and argument helpers shared by the apps' GraphQL types."""

from __future__ import annotations

from datetime import UTC, datetime

from graphene.types.generic import GenericScalar


class JSON(GenericScalar):
    """Any JSON value (object, list, string, number, boolean or null), sent as is."""

    class Meta:
        name = "JSON"


def utc(value: datetime | None) -> datetime | None:
    """Return an argument's datetime as an aware one; a naive value is read as UTC."""
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=UTC)
