"""The Segment-spec door's routes: /v1/batch and one per call type (segment.md).

analytics.js (analytics-next) posts each call to the first letter of its type (`/v1/t`,
`/v1/p`, `/v1/i`, `/v1/a`, `/v1/g`) and its batching mode to `/v1/b`: the same views,
under those names too, so its `apiHost` may point here unchanged.
"""

from django.urls import path

from ingestion.segment.mapping import EVENT_TYPES
from ingestion.segment.views import SegmentView

# analytics.js' short paths: a call type's first letter (it never sends a screen call).
SHORT_PATHS = {"t": "track", "p": "page", "i": "identify", "a": "alias", "g": "group"}

urlpatterns = [
    path("v1/batch", SegmentView.as_view(), name="segment_batch"),
    path("v1/b", SegmentView.as_view(), name="segment_batch_short"),
    *(
        path(
            f"v1/{call_type}", SegmentView.as_view(call_type=call_type), name=f"segment_{call_type}"
        )
        for call_type in EVENT_TYPES
    ),
    *(
        path(f"v1/{short}", SegmentView.as_view(call_type=call_type), name=f"segment_{short}")
        for short, call_type in SHORT_PATHS.items()
    ),
]
