"""The OTLP/HTTP door: POST /v1/logs and /v1/traces (docs/reference/otlp.md)."""
