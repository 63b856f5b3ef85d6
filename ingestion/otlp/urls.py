"""The OTLP/HTTP door: POST /v1/logs and /v1/traces (docs/reference/otlp.md)."""

from django.urls import path

from ingestion.otlp.views import LogsView, TracesView

urlpatterns = [
    path("v1/logs", LogsView.as_view(), name="otlp_logs"),
    path("v1/traces", TracesView.as_view(), name="otlp_traces"),
]
