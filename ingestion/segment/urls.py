"""The Segment-spec door's routes: /v1/batch and one per call type (segment.md)."""

from django.urls import path

from ingestion.segment.mapping import EVENT_TYPES
from ingestion.segment.views import SegmentView

urlpatterns = [
    path("v1/batch", SegmentView.as_view(), name="segment_batch"),
    *(
        path(
            f"v1/{call_type}", SegmentView.as_view(call_type=call_type), name=f"segment_{call_type}"
        )
        for call_type in EVENT_TYPES
    ),
]
