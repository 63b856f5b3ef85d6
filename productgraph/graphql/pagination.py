"""Keyset (cursor) pagination: opaque cursors, page sizes, and the connection types.

A cursor is the base64url of the sort key of the last row of a page, tagged with what it
sorts (`["sessions", "2026-01-15T10:30:00+00:00", 42]`). It is only position data: every
page query filters by the principal's org and project first, so a cursor made in another
org (or forged) can only move the position within rows the caller may see. Pages are
fetched as `first + 1` rows to learn `hasNextPage`: there is never a `COUNT(*)`.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, TypeVar

import graphene

from productgraph.graphql.errors import CodedGraphQLError, GraphQLErrorCode

DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 500
# A real cursor is well under 200 characters; anything longer is not one of ours.
MAX_CURSOR_LENGTH = 1000

T = TypeVar("T")
Position = tuple[Any, ...]

# What a cursor may hold, by position: a timestamp, a number, a flag, or a nullable number.
DATETIME, INT, BOOL, OPTIONAL_INT = "datetime", "int", "bool", "int?"


def page_size(first: int | None) -> int:
    """Return the page size asked for: 50 by default, an error above 500 (never clamped)."""
    if first is None:
        return DEFAULT_PAGE_SIZE
    if first > MAX_PAGE_SIZE:
        raise CodedGraphQLError(
            GraphQLErrorCode.PAGE_SIZE_TOO_LARGE,
            f"first may be at most {MAX_PAGE_SIZE}; page with `after` instead.",
            max=MAX_PAGE_SIZE,
        )
    if first < 1:
        raise CodedGraphQLError(GraphQLErrorCode.INVALID_ARGUMENT, "first must be at least 1.")
    return first


def encode_cursor(kind: str, position: Position) -> str:
    """Return the opaque cursor of a row's sort key."""
    values = [value.isoformat() if isinstance(value, datetime) else value for value in position]
    raw = json.dumps([kind, *values], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _invalid_cursor() -> CodedGraphQLError:
    return CodedGraphQLError(
        GraphQLErrorCode.INVALID_CURSOR,
        "Not a cursor of this list: pass an endCursor this list returned.",
    )


def _parse(value: Any, kind: str) -> Any:
    if kind == DATETIME and isinstance(value, str):
        parsed = datetime.fromisoformat(value)
        if parsed.tzinfo is None:
            raise ValueError("naive timestamp")
        return parsed
    if kind in (INT, OPTIONAL_INT) and isinstance(value, int) and not isinstance(value, bool):
        return value
    if kind == OPTIONAL_INT and value is None:
        return None
    if kind == BOOL and isinstance(value, bool):
        return value
    raise ValueError(f"not a {kind}")


def decode_cursor(cursor: str | None, kind: str, shape: Sequence[str]) -> Position | None:
    """Return the position a cursor holds, None for no cursor; `invalid_cursor` otherwise."""
    if cursor is None:
        return None
    if len(cursor) > MAX_CURSOR_LENGTH:
        raise _invalid_cursor()
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        tag, *values = json.loads(raw)
        if tag != kind or len(values) != len(shape):
            raise ValueError("another list's cursor")
        return tuple(_parse(value, part) for value, part in zip(values, shape, strict=True))
    except (binascii.Error, UnicodeDecodeError, ValueError, TypeError, RecursionError):
        raise _invalid_cursor() from None


@dataclass(frozen=True)
class Page(Generic[T]):
    """One page of a keyset-paginated list: `(cursor, row)` pairs and whether more exist."""

    edges: list[tuple[str, T]]
    has_next_page: bool

    @classmethod
    def empty(cls) -> Page[T]:
        """The page of a list the caller may not see: indistinguishable from an empty one."""
        return cls(edges=[], has_next_page=False)

    @classmethod
    def of(cls, rows: Sequence[T], *, first: int, kind: str, key: Callable[[T], Position]):
        """Build a page from up to `first + 1` rows fetched in sort order."""
        return cls(
            edges=[(encode_cursor(kind, key(row)), row) for row in rows[:first]],
            has_next_page=len(rows) > first,
        )

    @property
    def end_cursor(self) -> str | None:
        """The cursor to pass as `after` for the next page (None on an empty page)."""
        return self.edges[-1][0] if self.edges else None


class PageInfo(graphene.ObjectType):
    """Where a page ends and whether another follows (forward pagination only)."""

    has_next_page = graphene.Boolean(required=True)
    end_cursor = graphene.String(description="Pass as `after` to fetch the next page.")

    @staticmethod
    def resolve_has_next_page(root: Page, info) -> bool:
        return root.has_next_page

    @staticmethod
    def resolve_end_cursor(root: Page, info) -> str | None:
        return root.end_cursor


def connection(node_type: type[graphene.ObjectType], type_name: str, doc: str) -> type:
    """Return `<type_name>Connection` (edges, nodes, pageInfo) resolving from a `Page`."""

    class Edge(graphene.ObjectType):
        class Meta:
            name = f"{type_name}Edge"
            description = f"One {type_name} and its cursor."

        cursor = graphene.String(required=True)
        node = graphene.Field(node_type, required=True)

        @staticmethod
        def resolve_cursor(root: tuple[str, Any], info) -> str:
            return root[0]

        @staticmethod
        def resolve_node(root: tuple[str, Any], info) -> Any:
            return root[1]

    class Connection(graphene.ObjectType):
        class Meta:
            name = f"{type_name}Connection"
            description = doc

        edges = graphene.List(graphene.NonNull(Edge), required=True)
        nodes = graphene.List(graphene.NonNull(node_type), required=True)
        page_info = graphene.Field(PageInfo, required=True)

        @staticmethod
        def resolve_edges(root: Page, info) -> list[tuple[str, Any]]:
            return root.edges

        @staticmethod
        def resolve_nodes(root: Page, info) -> list[Any]:
            return [row for _, row in root.edges]

        @staticmethod
        def resolve_page_info(root: Page, info) -> Page:
            return root

    return Connection


def page_arguments() -> dict[str, graphene.Argument]:
    """The `first` / `after` arguments every paginated field takes."""
    return {
        "first": graphene.Int(
            description=f"Page size: default {DEFAULT_PAGE_SIZE}, at most {MAX_PAGE_SIZE}.",
        ),
        "after": graphene.String(description="The endCursor of the previous page."),
    }
