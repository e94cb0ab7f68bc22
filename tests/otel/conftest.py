"""OpenTelemetry fixtures: the runtime fixtures, a fake LLM, runs to export, and a small OTLP/HTTP collector."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)

from agent_core.orchestrator import RunRequest
from agent_core.workbench import Workbench
from tests.fake_llm import (
    ANTHROPIC_PATH,
    READ_SUMMARIZE_WRITE_PLAN,
    FakeLLMServer,
    anthropic_text_reply,
    anthropic_tool_reply,
    fake_llm,  # noqa: F401  (the fixture)
    free_port,
)
from tests.runtime.conftest import DEFAULT_POLICY, SAVE_GOAL, STRICT_POLICY, make_settings, workspace  # noqa: F401

LLM_PLAN = READ_SUMMARIZE_WRITE_PLAN
LLM_SUMMARY = "The notes say: keep every decision as an event."
LLM_GOAL = "Summarize notes.txt with the LLM"


def llm_workbench(fake_llm: FakeLLMServer, database_url: str, workspace: Path) -> Workbench:  # noqa: F811
    """A Workbench planning with Anthropic's SDK against the fake server (plan 1000/500 tokens, summary 2000/100)."""
    fake_llm.script(
        ANTHROPIC_PATH,
        anthropic_tool_reply(LLM_PLAN, usage=(1000, 500)),
        anthropic_text_reply(LLM_SUMMARY, usage=(2000, 100)),
    )
    settings = make_settings(
        database_url,
        workspace,
        AGENT_PLANNER="anthropic",
        ANTHROPIC_API_KEY="test-key-0123456789",
        ANTHROPIC_BASE_URL=fake_llm.anthropic_base_url,
        AGENT_MODEL="claude-sonnet-4-6",
    )
    return Workbench.open(settings)


def run_llm_goal(workbench: Workbench) -> str:
    state = workbench.run(RunRequest(LLM_GOAL))
    assert state.status == "completed", state.failure_reason
    return state.run_id


class FakeCollector:
    """An OTLP/HTTP traces receiver on 127.0.0.1:``port``: keeps every ``ExportTraceServiceRequest``."""

    def __init__(self, port: int | None = None) -> None:
        self.requests: list[ExportTraceServiceRequest] = []
        self._lock = threading.Lock()
        collector = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                request = ExportTraceServiceRequest()
                request.ParseFromString(body)
                with collector._lock:
                    collector.requests.append(request)
                answer = ExportTraceServiceResponse().SerializeToString()
                self.send_response(200)
                self.send_header("Content-Type", "application/x-protobuf")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, *_: object) -> None:
                pass

        self._httpd = ThreadingHTTPServer(("127.0.0.1", port or 0), Handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._httpd.server_address[1]}/v1/traces"

    def start(self) -> FakeCollector:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    def spans(self) -> list:
        with self._lock:
            return [s for r in self.requests for rs in r.resource_spans for ss in rs.scope_spans for s in ss.spans]


@pytest.fixture
def offline_bench(sqlite_url: str, workspace: Path) -> Iterator[Workbench]:  # noqa: F811
    """A Workbench on a SQLite file with the offline planner."""
    workbench = Workbench.open(make_settings(sqlite_url, workspace))
    yield workbench
    workbench.close()


@pytest.fixture
def collector() -> Iterator[FakeCollector]:
    server = FakeCollector().start()
    yield server
    server.stop()


@pytest.fixture
def dead_port() -> int:
    """A loopback port nothing listens on (connection refused)."""
    return free_port()
