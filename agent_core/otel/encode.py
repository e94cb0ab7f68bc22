"""Spans on the wire: OTLP/JSON text (for files) and OTLP over HTTP (for collectors and backends).

Both go through the official encoder (``opentelemetry-exporter-otlp-proto-common``) into an
``ExportTraceServiceRequest`` of ``opentelemetry-proto``; nothing here builds protobuf by hand.
OTLP/JSON is protobuf's JSON mapping with the two changes the OTLP specification makes: trace and
span ids are hex, not base64, and enums are integers.
"""

from __future__ import annotations

import base64
import json
import logging
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from google.protobuf import json_format
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExportResult

TRACES_PATH = "/v1/traces"
SDK_LOGGERS = ("opentelemetry.exporter.otlp.proto.http.trace_exporter", "opentelemetry.exporter.otlp.common.http")
"""Where the OTLP exporter logs every failed attempt; we report failures ourselves, once."""

_ID_FIELDS = ("traceId", "spanId", "parentSpanId")


def traces_endpoint(base_or_full: str) -> str:
    """``OTEL_EXPORTER_OTLP_ENDPOINT`` is a base URL the signal path is added to (the OTLP spec);
    a URL that already ends in ``/v1/traces`` is kept as it is."""
    url = base_or_full.strip()
    return url if url.rstrip("/").endswith(TRACES_PATH) else url.rstrip("/") + TRACES_PATH


def to_request(spans: Sequence[ReadableSpan]) -> ExportTraceServiceRequest:
    """The OTLP request the SDK's exporters would send for ``spans``."""
    return encode_spans(spans)


def otlp_json(spans: Sequence[ReadableSpan]) -> str:
    """``spans`` as one line of OTLP/JSON (an ``ExportTraceServiceRequest``), the same bytes every time.

    One line per request is what the OpenTelemetry Collector's ``otlpjsonfile`` receiver reads.
    """
    document = json_format.MessageToDict(to_request(spans), use_integers_for_enums=True)
    _convert_ids(document, _base64_to_hex)
    return json.dumps(document, ensure_ascii=False, separators=(",", ":"))


def read_otlp_json(text: str) -> ExportTraceServiceRequest:
    """One OTLP/JSON request (as ``otlp_json`` writes it) back into the protobuf message."""
    document = json.loads(text)
    _convert_ids(document, _hex_to_base64)
    request = ExportTraceServiceRequest()
    json_format.ParseDict(document, request)
    return request


def _base64_to_hex(value: str) -> str:
    return base64.b64decode(value).hex()


def _hex_to_base64(value: str) -> str:
    return base64.b64encode(bytes.fromhex(value)).decode("ascii")


def _convert_ids(document: dict[str, Any], convert: Any) -> None:
    for resource_spans in document.get("resourceSpans", ()):
        for scope_spans in resource_spans.get("scopeSpans", ()):
            for span in scope_spans.get("spans", ()):
                for owner in (span, *span.get("links", ())):
                    for name in _ID_FIELDS:
                        if owner.get(name):
                            owner[name] = convert(owner[name])


class _OnlyOtherThreads(logging.Filter):
    """Drops the exporter's own log records made on the threads given; others pass."""

    def __init__(self) -> None:
        super().__init__()
        self.quiet: set[int] = set()

    def filter(self, record: logging.LogRecord) -> bool:
        return record.thread not in self.quiet


_QUIET = _OnlyOtherThreads()
for _name in SDK_LOGGERS:
    logging.getLogger(_name).addFilter(_QUIET)


@contextmanager
def quiet_sdk_logs() -> Iterator[None]:
    """Silence the OTLP exporter's per-attempt log lines on this thread (the caller reports failures)."""
    ident = threading.get_ident()
    _QUIET.quiet.add(ident)
    try:
        yield
    finally:
        _QUIET.quiet.discard(ident)


class OtlpSender:
    """Sends spans to one OTLP/HTTP traces endpoint with the official exporter.

    Headers (``OTEL_EXPORTER_OTLP_HEADERS``), certificates and compression come from the
    exporter's own environment variables. ``send`` returns False on failure (after the
    exporter's own short retries within ``timeout_s``) and never raises for a network problem.
    """

    def __init__(self, endpoint: str, *, timeout_s: float = 5.0) -> None:
        self.endpoint = traces_endpoint(endpoint)
        self._exporter = OTLPSpanExporter(endpoint=self.endpoint, timeout=timeout_s)

    def send(self, spans: Sequence[ReadableSpan]) -> bool:
        """Export the spans over OTLP/HTTP; False when the collector did not take them."""
        if not spans:
            return True
        with quiet_sdk_logs():
            return self._exporter.export(spans) is SpanExportResult.SUCCESS

    def close(self) -> None:
        """Shut the exporter down."""
        with quiet_sdk_logs():
            self._exporter.shutdown()
