"""The Segment-spec door: POST /v1/batch, /v1/track, /v1/page, ... (docs/reference/segment.md)."""
