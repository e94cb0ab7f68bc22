"""OTLP/JSON files round-trip through opentelemetry-proto's JSON mapping; the CLI exports files and OTLP/HTTP."""

from __future__ import annotations

import io
import json
import re
import subprocess
import sys
from pathlib import Path

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from agent_core.cli import main
from agent_core.orchestrator import RunRequest
from agent_core.otel import SEMCONV_SCHEMA_URL, otlp_json, read_otlp_json, run_spans, to_request, trace_id_for
from agent_core.workbench import Workbench
from tests.otel.conftest import SAVE_GOAL, FakeCollector

ROOT = Path(__file__).resolve().parents[2]


def _cli(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), out=out, err=err)
    return code, out.getvalue(), err.getvalue()


def test_an_otlp_json_file_reads_back_into_the_request_the_exporter_would_send(offline_bench: Workbench) -> None:
    run_id = offline_bench.run(RunRequest(SAVE_GOAL)).run_id
    spans = run_spans(offline_bench.run_events(run_id), include_content=True)
    text = otlp_json(spans)

    request = read_otlp_json(text)
    assert request == to_request(spans)
    assert request.SerializeToString(deterministic=True) == to_request(spans).SerializeToString(deterministic=True)
    assert otlp_json(spans) == text and "\n" not in text

    # OTLP/JSON, not plain protobuf JSON: hex ids, integer enums, camelCase keys, the schema URL named
    document = json.loads(text)
    [resource_spans] = document["resourceSpans"]
    assert resource_spans["schemaUrl"] == SEMCONV_SCHEMA_URL == resource_spans["scopeSpans"][0]["schemaUrl"]
    spans_json = resource_spans["scopeSpans"][0]["spans"]
    assert {s["traceId"] for s in spans_json} == {f"{trace_id_for(run_id):032x}"}
    assert all(re.fullmatch(r"[0-9a-f]{16}", s["spanId"]) for s in spans_json)
    assert all(re.fullmatch(r"[0-9a-f]{16}", s["parentSpanId"]) for s in spans_json[1:])
    assert all(isinstance(s["kind"], int) for s in spans_json) and "startTimeUnixNano" in spans_json[0]


def test_export_all_and_filters_write_one_line_per_run_oldest_first(offline_bench: Workbench, sqlite_url: str) -> None:
    runs = [offline_bench.run(RunRequest(goal)).run_id for goal in (SAVE_GOAL, SAVE_GOAL, "Summarize notes.txt")]

    code, out, _ = _cli("export", "--all", "--format", "otlp-json", "--db", sqlite_url)
    assert code == 0
    lines = out.splitlines()
    assert len(lines) == 3
    conversations = []
    for line in lines:
        request = read_otlp_json(line)
        root = request.resource_spans[0].scope_spans[0].spans[0]
        conversations.append(next(a.value.string_value for a in root.attributes if a.key == "gen_ai.conversation.id"))
    assert conversations == runs

    code, out, _ = _cli("export", "--status", "waiting_approval", "--format", "otlp-json", "--db", sqlite_url)
    assert code == 0 and len(out.splitlines()) == 1 and runs[1] in out
    code, out, _ = _cli("export", "--match", "notes.txt", "--limit", "1", "--format", "otlp-json", "--db", sqlite_url)
    assert code == 0 and len(out.splitlines()) == 1 and runs[2] in out
    code, out, _ = _cli("export", "--since", "2999-01-01", "--format", "otlp-json", "--db", sqlite_url)
    assert code == 0 and out == ""


def test_export_usage_errors_exit_2_with_one_line(offline_bench: Workbench, sqlite_url: str) -> None:
    run_id = offline_bench.run(RunRequest(SAVE_GOAL)).run_id
    for argv in (
        ["export", "--all", "--db", sqlite_url],  # many runs as events: import reads one run per file
        ["export", run_id, "--all", "--format", "otlp-json", "--db", sqlite_url],
        ["export", "--format", "otlp-json", "--db", sqlite_url],
        ["export", "--all", "--since", "yesterday", "--format", "otlp-json", "--db", sqlite_url],
        ["export", run_id, "--include-content", "--db", sqlite_url],
    ):
        code, out, err = _cli(*argv)
        assert code == 2 and out == "" and err.startswith("error: ") and err.count("\n") == 1, (argv, err)
    code, out, _ = _cli("export", run_id, "--db", sqlite_url)  # the JSON-lines export is unchanged
    assert code == 0 and json.loads(out.splitlines()[0])["type"] == "RunStarted"


def test_export_otlp_sends_what_the_file_holds(
    offline_bench: Workbench, sqlite_url: str, collector: FakeCollector
) -> None:
    run_id = offline_bench.run(RunRequest(SAVE_GOAL)).run_id
    code, out, err = _cli("export", run_id, "--otlp", collector.url, "--db", sqlite_url)
    assert code == 0 and out == "" and f"to {collector.url}" in err
    [received] = collector.requests
    assert received == read_otlp_json(_cli("export", run_id, "--format", "otlp-json", "--db", sqlite_url)[1])
    assert isinstance(received, ExportTraceServiceRequest)


def test_export_otlp_to_nothing_fails_with_one_line(offline_bench: Workbench, sqlite_url: str, dead_port: int) -> None:
    run_id = offline_bench.run(RunRequest(SAVE_GOAL)).run_id
    code, out, err = _cli("export", run_id, "--otlp", f"http://127.0.0.1:{dead_port}", "--db", sqlite_url)
    assert code == 1 and out == ""
    assert err == (
        f"error: could not send traces to http://127.0.0.1:{dead_port}/v1/traces (is the collector "
        "running?); 0 of 1 runs were sent\n"
    )


def test_the_cli_loads_the_opentelemetry_sdk_only_for_the_commands_that_use_it() -> None:
    check = "import sys, agent_core.cli; print(sorted(m for m in sys.modules if m.startswith('opentelemetry.sdk')))"
    done = subprocess.run([sys.executable, "-c", check], capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
