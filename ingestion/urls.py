from django.urls import include, path

from ingestion.views import EventsView

urlpatterns = [
    path("v1/events", EventsView.as_view(), name="events"),
    path("", include("ingestion.otlp.urls")),
    path("", include("ingestion.segment.urls")),
]
