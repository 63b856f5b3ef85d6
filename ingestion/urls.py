from django.urls import path

from ingestion.views import EventsView

urlpatterns = [path("v1/events", EventsView.as_view(), name="events")]
