"""Root URLconf."""

from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from graphql_api.orgs.auth import graphql_principal
from graphql_api.schema import schema
from productgraph import health, metrics
from productgraph.api import handlers
from productgraph.api.schema_view import DocsView, SchemaView
from productgraph.graphql.view import GraphQLView

urlpatterns = [
    path("health", health.HealthView.as_view(), name="health"),
    path("ready", health.ReadyView.as_view(), name="ready"),
    path("metrics", metrics.metrics_view, name="metrics"),
    path("api/schema/", SchemaView.as_view(), name="schema"),
    path("api/docs/", DocsView.as_view(url_name="schema"), name="api-docs"),
    path(
        "graphql",
        GraphQLView.as_view(schema=schema, authenticate=graphql_principal),
        name="graphql",
    ),
    # Members who are not staff (analysts) log in here; then GraphiQL at /graphql?org=<slug>.
    path(
        "login/",
        auth_views.LoginView.as_view(redirect_authenticated_user=True),
        name="login",
    ),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("", include("ingestion.urls")),
    path("", include("orgs.urls")),
    path("admin/", admin.site.urls),
]

handler400 = handlers.bad_request
handler403 = handlers.permission_denied
handler404 = handlers.not_found
handler500 = handlers.server_error
