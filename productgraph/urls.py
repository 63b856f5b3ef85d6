"""Root URLconf."""

from django.contrib import admin
from django.urls import include, path

from productgraph import health
from productgraph.api import handlers

urlpatterns = [
    path("health", health.HealthView.as_view(), name="health"),
    path("ready", health.ReadyView.as_view(), name="ready"),
    path("", include("orgs.urls")),
    path("admin/", admin.site.urls),
]

handler404 = handlers.not_found
handler500 = handlers.server_error
