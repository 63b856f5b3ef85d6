"""Limits of the GraphQL edge: document size, query depth and cost, time budget, timeouts.

Page size is limited in `pagination.page_size` (≤ 500).

The size, depth and cost checks run before graphql-core's own validation rules, on a
document parsed with a token limit (`check_document`): some of those rules cost more than
linear time (OverlappingFieldsCanBeMerged compares fields of one response name pairwise), so a
document must be known small before they see it.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from django.db import DEFAULT_DB_ALIAS, OperationalError, connections, transaction
from graphql import GraphQLError, GraphQLSchema, parse, validate
from graphql.language import (
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    InlineFragmentNode,
    OperationDefinitionNode,
    SelectionSetNode,
)
from graphql.validation import ValidationRule

from productgraph.dberrors import is_query_canceled
from productgraph.graphql.errors import CodedGraphQLError, GraphQLErrorCode

MAX_QUERY_DEPTH = 10
# Fields per operation, fragments expanded, `__typename` and introspection included; and
# fields that run an analytic query. Measured: 5,000 aliases of one root field in one
# 2.5 MB request held a worker for 4.3 s; 120,000 `__typename` aliases (not counted then)
# for 9.9 s.
MAX_QUERY_FIELDS = 1_000
MAX_ANALYTIC_FIELDS = 5
ANALYTIC_FIELDS = frozenset({"funnel", "eventCounts"})
# The document itself, before it is parsed: characters, then lexical tokens. GraphiQL's
# introspection query is ~2,000 characters and ~300 tokens.
MAX_QUERY_CHARACTERS = 100_000
MAX_QUERY_TOKENS = 15_000
# One analytic statement at most; and all the analytic fields of one request together, so
# that a request ends well inside the server's answer deadline (28 s,
# productgraph.server.RESPONSE_TIMEOUT_SECONDS) and gunicorn's worker timeout (30 s).
ANALYTIC_STATEMENT_TIMEOUT_MS = 10_000
ANALYTIC_BUDGET_MS = 20_000
# Every other statement of a GraphQL request (lists, pages, mutations).
REQUEST_STATEMENT_TIMEOUT_MS = 15_000


class _OperationRule(ValidationRule):
    """A rule measuring whole operations; knows the document's fragments by name."""

    def __init__(self, context: Any) -> None:
        super().__init__(context)
        self._fragments = {
            definition.name.value: definition
            for definition in context.document.definitions
            if isinstance(definition, FragmentDefinitionNode)
        }


class QueryDepthLimit(_OperationRule):
    """Reject an operation whose fields nest deeper than `MAX_QUERY_DEPTH` (`query_too_deep`).

    `{ projects { publicId } }` has depth 2. Introspection fields (`__schema`, ...) do not
    count: their depth is bounded by the schema itself. graphene's `depth_limit_validator`
    was tried first and replaced: it raises KeyError (a 500) on a spread of an unknown
    fragment, recurses without end on a fragment that spreads itself, reports one error per
    too-deep branch, and carries no error code.
    """

    def __init__(self, context: Any) -> None:
        super().__init__(context)
        self._fragment_depths: dict[str, int] = {}

    def enter_operation_definition(self, node: OperationDefinitionNode, *_args: Any) -> None:
        depth = self._depth(node.selection_set, frozenset())
        if depth > MAX_QUERY_DEPTH:
            name = node.name.value if node.name else "anonymous"
            self.report_error(
                GraphQLError(
                    f"Operation {name!r} nests {depth} levels deep; at most "
                    f"{MAX_QUERY_DEPTH} are allowed.",
                    node,
                    extensions={"code": str(GraphQLErrorCode.QUERY_TOO_DEEP)},
                )
            )

    def _depth(self, selection_set: SelectionSetNode | None, active: frozenset[str]) -> int:
        if selection_set is None:
            return 0
        deepest = 0
        for selection in selection_set.selections:
            if isinstance(selection, FieldNode):
                if not selection.name.value.startswith("__"):
                    deepest = max(deepest, 1 + self._depth(selection.selection_set, active))
            elif isinstance(selection, InlineFragmentNode):
                deepest = max(deepest, self._depth(selection.selection_set, active))
            elif isinstance(selection, FragmentSpreadNode):
                deepest = max(deepest, self._fragment_depth(selection.name.value, active))
        return deepest

    def _fragment_depth(self, name: str, active: frozenset[str]) -> int:
        # Unknown fragments and cycles are reported by graphql-core's own rules
        # (KnownFragmentNames, NoFragmentCycles); here they just add nothing. Memoized, so a
        # fragment spread many times is measured once.
        if name in active or name not in self._fragments:
            return 0
        if name not in self._fragment_depths:
            fragment = self._fragments[name]
            self._fragment_depths[name] = self._depth(fragment.selection_set, active | {name})
        return self._fragment_depths[name]


class QueryCostLimit(_OperationRule):
    """Reject an operation with more than `MAX_QUERY_FIELDS` fields, or more than
    `MAX_ANALYTIC_FIELDS` analytic fields (`funnel`, `eventCounts`): `query_too_complex`.

    Every field counts, `__typename` and introspection fields included. Aliases make a
    small document ask for many fields; fragments are counted once per spread (memoized;
    unknown fragments and cycles count nothing, graphql-core reports them).
    """

    def __init__(self, context: Any) -> None:
        super().__init__(context)
        self._fragment_costs: dict[str, tuple[int, int]] = {}

    def enter_operation_definition(self, node: OperationDefinitionNode, *_args: Any) -> None:
        fields, analytic = self._cost(node.selection_set, frozenset())
        if fields > MAX_QUERY_FIELDS or analytic > MAX_ANALYTIC_FIELDS:
            name = node.name.value if node.name else "anonymous"
            self.report_error(
                GraphQLError(
                    f"Operation {name!r} asks for {fields} fields, {analytic} of them "
                    f"analytic; at most {MAX_QUERY_FIELDS} fields and {MAX_ANALYTIC_FIELDS} "
                    "analytic ones (funnel, eventCounts) are allowed: split the request.",
                    node,
                    extensions={"code": str(GraphQLErrorCode.QUERY_TOO_COMPLEX)},
                )
            )

    def _cost(
        self, selection_set: SelectionSetNode | None, active: frozenset[str]
    ) -> tuple[int, int]:
        fields = analytic = 0
        for selection in selection_set.selections if selection_set else ():
            if isinstance(selection, FieldNode):
                inner = self._cost(selection.selection_set, active)
                fields += 1 + inner[0]
                analytic += (selection.name.value in ANALYTIC_FIELDS) + inner[1]
                continue
            if isinstance(selection, InlineFragmentNode):
                inner = self._cost(selection.selection_set, active)
            elif isinstance(selection, FragmentSpreadNode):
                inner = self._fragment_cost(selection.name.value, active)
            else:
                continue
            fields, analytic = fields + inner[0], analytic + inner[1]
        return fields, analytic

    def _fragment_cost(self, name: str, active: frozenset[str]) -> tuple[int, int]:
        if name in active or name not in self._fragments:
            return 0, 0
        if name not in self._fragment_costs:
            fragment = self._fragments[name]
            self._fragment_costs[name] = self._cost(fragment.selection_set, active | {name})
        return self._fragment_costs[name]


def check_document(schema: GraphQLSchema, query: str) -> list[GraphQLError]:
    """Return the size, depth and cost errors of a document (empty: it may be validated).

    A syntax error is left for the full validation to report, as graphql-core words it.
    """
    if len(query) > MAX_QUERY_CHARACTERS:
        return [_too_large(f"The query has {len(query):,} characters")]
    try:
        document = parse(query, max_lexical_tokens=MAX_QUERY_TOKENS, no_location=True)
    except GraphQLError as error:
        if "Document contains more than" in error.message:
            return [_too_large(f"The query has more than {MAX_QUERY_TOKENS:,} tokens")]
        return []
    return validate(schema, document, [QueryDepthLimit, QueryCostLimit])


def _too_large(what: str) -> GraphQLError:
    return GraphQLError(
        f"{what}; at most {MAX_QUERY_CHARACTERS:,} characters and {MAX_QUERY_TOKENS:,} "
        "tokens are allowed: split the request.",
        extensions={"code": str(GraphQLErrorCode.QUERY_TOO_LARGE)},
    )


@dataclass
class AnalyticBudget:
    """The time the analytic fields of one request may still spend, together."""

    deadline: float = field(default_factory=lambda: time.monotonic() + ANALYTIC_BUDGET_MS / 1000)

    def take(self) -> int:
        """Return the statement timeout (ms) of the next analytic field; raise
        `query_timeout` when the request's budget is spent."""
        remaining = int((self.deadline - time.monotonic()) * 1000)
        if remaining <= 0:
            raise CodedGraphQLError(
                GraphQLErrorCode.QUERY_TIMEOUT,
                f"This request's analytic fields ran for {ANALYTIC_BUDGET_MS / 1000:g} s "
                "together, its whole time budget: this one was not run. Ask for it in "
                "another request, or narrow the time range or the filters.",
            )
        return min(ANALYTIC_STATEMENT_TIMEOUT_MS, remaining)


def request_statement_timeout(*, using: str = DEFAULT_DB_ALIAS) -> None:
    """Cancel any statement of the rest of this request's transaction after 15 s."""
    with connections[using].cursor() as cursor:
        cursor.execute(
            "SELECT set_config('statement_timeout', %s, true)",
            [f"{REQUEST_STATEMENT_TIMEOUT_MS}ms"],
        )


def query_timeout_error(milliseconds: float) -> CodedGraphQLError:
    """The `query_timeout` error of a statement PostgreSQL cancelled after `milliseconds`."""
    return CodedGraphQLError(
        GraphQLErrorCode.QUERY_TIMEOUT,
        f"The query ran longer than {milliseconds / 1000:g} s and was cancelled: "
        "narrow the time range or the filters.",
    )


@contextmanager
def statement_timeout(milliseconds: int, *, using: str = DEFAULT_DB_ALIAS) -> Iterator[None]:
    """Run the block in a savepoint whose statements PostgreSQL cancels after `milliseconds`.

    The timeout is set transaction-locally (`set_config(..., true)`; `SET LOCAL` cannot take
    a bound parameter under psycopg 3) and restored on exit; a cancelled statement rolls
    back to the savepoint, so the rest of the request still runs, and surfaces as
    `query_timeout`.
    """
    connection = connections[using]
    try:
        with transaction.atomic(using=using):
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT current_setting('statement_timeout'),"
                    " set_config('statement_timeout', %s, true)",
                    [f"{int(milliseconds)}ms"],
                )
                previous = cursor.fetchone()[0]
            yield
            with connection.cursor() as cursor:
                cursor.execute("SELECT set_config('statement_timeout', %s, true)", [previous])
    except OperationalError as exc:
        if not is_query_canceled(exc):
            raise
        raise query_timeout_error(milliseconds) from None
