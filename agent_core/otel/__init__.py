"""OpenTelemetry export of runs: each run as one trace in the GenAI semantic conventions.

- ``run_spans(events)``: a run's events -> ``ReadableSpan`` objects (deterministic ids and times).
- ``otlp_json(spans)`` / ``read_otlp_json(text)``: OTLP/JSON text, one ``ExportTraceServiceRequest``.
- ``OtlpSender(endpoint).send(spans)``: OTLP over HTTP with the official exporter.
- ``LiveExporter(store, endpoint)``: a thread that exports each run as it ends.

The OpenTelemetry SDK is imported on first use of a name here, so the CLI's other commands
start without it.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

_EXPORTS = {
    "SEMCONV_SCHEMA_URL": "agent_core.otel.spans",
    "COST_ATTRIBUTE": "agent_core.otel.spans",
    "TOTAL_COST_ATTRIBUTE": "agent_core.otel.spans",
    "run_spans": "agent_core.otel.spans",
    "trace_id_for": "agent_core.otel.spans",
    "root_span_id": "agent_core.otel.spans",
    "otlp_json": "agent_core.otel.encode",
    "read_otlp_json": "agent_core.otel.encode",
    "to_request": "agent_core.otel.encode",
    "traces_endpoint": "agent_core.otel.encode",
    "OtlpSender": "agent_core.otel.encode",
    "LiveExporter": "agent_core.otel.live",
    "LiveStats": "agent_core.otel.live",
}
__all__ = [
    "COST_ATTRIBUTE",
    "SEMCONV_SCHEMA_URL",
    "TOTAL_COST_ATTRIBUTE",
    "LiveExporter",
    "LiveStats",
    "OtlpSender",
    "otlp_json",
    "read_otlp_json",
    "root_span_id",
    "run_spans",
    "to_request",
    "trace_id_for",
    "traces_endpoint",
]

if TYPE_CHECKING:
    from agent_core.otel.encode import OtlpSender, otlp_json, read_otlp_json, to_request, traces_endpoint
    from agent_core.otel.live import LiveExporter, LiveStats
    from agent_core.otel.spans import (
        COST_ATTRIBUTE,
        SEMCONV_SCHEMA_URL,
        TOTAL_COST_ATTRIBUTE,
        root_span_id,
        run_spans,
        trace_id_for,
    )


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'agent_core.otel' has no attribute {name!r}")
    return getattr(importlib.import_module(_EXPORTS[name]), name)
