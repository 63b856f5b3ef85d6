"""Root URLconf."""

from django.contrib import admin
from django.urls import include, path

from productgraph import health
from productgraph.api import handlers

urlpatterns = [
    path("health", health.health, name="health"),
    path("ready", health.ready, name="ready"),
    path("", include("orgs.urls")),
    path("admin/", admin.site.urls),
]

handler404 = handlers.not_found
handler500 = handlers.server_error
