"""`/graphql`: GraphiQL for logged-in browsers, JSON over POST for API clients.

The view authenticates before anything is parsed or executed, through the `authenticate`
callable it is given (`graphql_api.orgs.auth.graphql_principal`): a project secret key, or a
logged-in user and the org chosen with `X-PG-Org`. That callable enters the org through
`request.org_scope`, so every resolver runs inside the org's RLS context; the tenancy
middleware has already opened the request's transaction.

CSRF: the view is exempt from Django's middleware because API clients send a key and no
cookie, and it runs the same check itself for every request authenticated by the session
cookie. A request that presents a key is authenticated by the key alone: its cookies grant
nothing, so a cross-site page cannot ride on them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.middleware.csrf import CsrfViewMiddleware
from django.utils.decorators import method_decorator
from django.views.decorators.csrf import csrf_exempt
from graphene_django.views import GraphQLView as GrapheneGraphQLView
from graphene_django.views import HttpError
from graphql import (
    ExecutionResult,
    FieldNode,
    GraphQLError,
    StringValueNode,
    ValidationRule,
    get_operation_ast,
    parse,
    specified_rules,
)

from productgraph.api.errors import ErrorCode
from productgraph.graphql.context import GraphQLContext, Principal
from productgraph.graphql.errors import (
    GraphQLErrorCode,
    RequestRefused,
    format_error,
    is_database_error,
)
from productgraph.graphql.limits import check_document, request_statement_timeout

Authenticate = Callable[[HttpRequest], Principal]
UNSTORABLE_TEXT = (
    "Strings must be valid Unicode without NUL characters (PostgreSQL cannot store them)."
)


class _CsrfCheck(CsrfViewMiddleware):
    def _reject(self, request, reason):  # type: ignore[override]
        return reason


def csrf_failure(request: HttpRequest) -> str | None:
    """Return why Django's CSRF check refuses the request, or None when it passes."""
    check = _CsrfCheck(lambda _request: HttpResponse())
    check.process_request(request)
    reason: Any = check.process_view(request, None, (), {})  # type: ignore[arg-type]
    return reason


def _introspection_only(query: str | None, operation_name: str | None) -> bool:
    """True when the operation selects only `__schema` / `__type` / `__typename`."""
    if not query:
        return True  # nothing will execute: the usual "Must provide query string." follows
    try:
        document = parse(query)
    except GraphQLError:
        return True  # nothing will execute: the syntax error is reported as usual
    operation = get_operation_ast(document, operation_name)
    selections: Any = operation.selection_set.selections if operation else ()
    return operation is not None and all(
        isinstance(selection, FieldNode) and selection.name.value.startswith("__")
        for selection in selections
    )


def _storable(text: str) -> bool:
    """True when PostgreSQL can store and compare `text`: no NUL, no lone surrogate."""
    if "\x00" in text:
        return False
    if text.isascii():
        return True
    try:
        text.encode("utf-8")  # fails on a lone surrogate only
    except UnicodeEncodeError:
        return False
    return True


def _check_params(query: Any, variables: Any, operation_name: Any) -> None:
    """Refuse request parameters of the wrong JSON type, and strings PostgreSQL would refuse.

    Without this, a list as `variables` or a number as `query` reached graphql-core as a
    TypeError (a 500), and a NUL character or a lone surrogate in any string argument reached
    PostgreSQL as a DataError (`internal_error`, with the request's transaction aborted).
    """
    if query is not None and not isinstance(query, str):
        raise RequestRefused(400, ErrorCode.INVALID_REQUEST, "query must be a string.")
    if variables is not None and not isinstance(variables, dict):
        raise RequestRefused(400, ErrorCode.INVALID_REQUEST, "variables must be a JSON object.")
    if operation_name is not None and not isinstance(operation_name, str):
        raise RequestRefused(400, ErrorCode.INVALID_REQUEST, "operationName must be a string.")
    pending: list[Any] = [query, variables]
    while pending:  # iterative: variables may be nested as deep as JSON decoding allowed
        value = pending.pop()
        if isinstance(value, str):
            if not _storable(value):
                raise RequestRefused(400, ErrorCode.INVALID_REQUEST, UNSTORABLE_TEXT)
        elif isinstance(value, dict):
            pending.extend(value.keys())
            pending.extend(value.values())
        elif isinstance(value, list):
            pending.extend(value)


class UnstorableStrings(ValidationRule):
    """Refuse string literals (escapes decoded) that PostgreSQL cannot store or compare."""

    def enter_string_value(self, node: StringValueNode, *_args: Any) -> None:
        if not _storable(node.value):
            self.report_error(
                GraphQLError(
                    UNSTORABLE_TEXT, node, extensions={"code": str(ErrorCode.INVALID_REQUEST)}
                )
            )


@method_decorator(csrf_exempt, name="dispatch")
class GraphQLView(GrapheneGraphQLView):
    """graphene-django's view with this project's authentication, limits and errors."""

    graphiql = True
    authenticate: Authenticate | None = None

    def __init__(self, *, authenticate: Authenticate, **kwargs: Any) -> None:
        super().__init__(
            validation_rules=(*specified_rules, UnstorableStrings),
            **kwargs,
        )
        self.authenticate = authenticate

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        try:
            if request.method == "GET":
                return self._graphiql(request, *args, **kwargs)
            if request.method != "POST":
                raise RequestRefused(
                    405, ErrorCode.METHOD_NOT_ALLOWED, "POST the query as JSON: {query, variables}."
                )
            return self._execute(request)
        except RequestRefused as refused:
            return refused.response()
        except HttpError as error:  # graphene's own request errors (bad JSON, no query)
            return RequestRefused(
                error.response.status_code, ErrorCode.INVALID_REQUEST, error.message
            ).response()

    def _graphiql(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if request.headers.get("Authorization") or request.headers.get("X-PG-API-Key"):
            # An API client: GraphiQL is for a browser, and a query is POSTed.
            raise RequestRefused(
                405, ErrorCode.METHOD_NOT_ALLOWED, "POST the query as JSON: {query, variables}."
            )
        if not request.user.is_authenticated:
            raise RequestRefused(
                401,
                ErrorCode.NOT_AUTHENTICATED,
                "Log in at /login/ to use GraphiQL; "
                "API clients POST JSON with a project secret key.",
            )
        # The body counts too: graphene's dispatch reads `raw` from it, and a GET whose body
        # says raw would be executed there, past `_execute`'s authentication.
        if not self.can_display_graphiql(request, self.parse_body(request)):
            raise RequestRefused(
                405, ErrorCode.METHOD_NOT_ALLOWED, "POST the query as JSON: {query, variables}."
            )
        # graphene renders GraphiQL for this request and executes nothing.
        return super().dispatch(request, *args, **kwargs)

    def _execute(self, request: HttpRequest) -> HttpResponse:
        assert self.authenticate is not None  # noqa: S101 - set by __init__
        principal = self.authenticate(request)
        if not principal.by_key:
            reason = csrf_failure(request)
            if reason is not None:
                raise RequestRefused(403, ErrorCode.FORBIDDEN, f"CSRF check failed: {reason}")
        data = self.parse_body(request)
        query, variables, operation_name, _ = self.get_graphql_params(request, data)
        _check_params(query, variables, operation_name)
        if principal.org_id is None and not _introspection_only(query, operation_name):
            raise RequestRefused(
                400,
                GraphQLErrorCode.ORG_REQUIRED,
                "Choose the organization: send the header X-PG-Org: <org slug> "
                "(or add ?org=<org slug> to the URL).",
            )
        request.graphql_principal = principal  # type: ignore[attr-defined]
        result, status_code = self.get_response(request, data)
        return HttpResponse(status=status_code, content=result, content_type="application/json")

    def parse_body(self, request: HttpRequest) -> Any:
        try:
            return super().parse_body(request)
        except RecursionError:  # graphene catches only TypeError / ValueError
            raise RequestRefused(
                400, ErrorCode.INVALID_REQUEST, "The body is nested too deeply."
            ) from None
        except UnicodeDecodeError:  # an application/graphql body graphene decodes unguarded
            raise RequestRefused(400, ErrorCode.INVALID_REQUEST, "The body is not UTF-8.") from None

    def get_context(self, request: HttpRequest) -> GraphQLContext:
        return GraphQLContext(request=request, principal=request.graphql_principal)  # type: ignore[attr-defined]

    def execute_graphql_request(self, request, data, query, variables, operation_name, *args):
        if query:
            refused = check_document(self.schema.graphql_schema, query)
            if refused:
                return ExecutionResult(data=None, errors=refused)
        request_statement_timeout()
        result: ExecutionResult | None = super().execute_graphql_request(
            request, data, query, variables, operation_name, *args
        )
        if result is not None and any(is_database_error(error) for error in result.errors or ()):
            # A failed statement aborts the transaction: never let the middleware commit it.
            transaction.set_rollback(True)
        return result

    @staticmethod
    def format_error(error: Exception) -> dict[str, Any]:
        return format_error(error)
