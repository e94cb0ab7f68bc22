"""A real OpenTelemetry backend: Arize Phoenix receives exported runs; its client reads the spans back.

Phoenix pins ``anthropic<2`` (this project does not), so ``.ci/run`` installs it in a virtualenv of
its own and sets ``PHOENIX_BIN``; here the test finds ``phoenix`` there, on PATH, or in the default
venv, and skips with the reason when it is nowhere. The client (``arize-phoenix-client``, light) is
in requirements-dev.txt.
"""

from __future__ import annotations

import io
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from agent_core.cli import main
from agent_core.otel import root_span_id, run_spans, trace_id_for
from agent_core.replay import Overrides
from tests.fake_llm import FakeLLMServer, free_port
from tests.otel.conftest import STRICT_POLICY, llm_workbench, run_llm_goal

DEFAULT_VENV = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "agent-workbench" / "phoenix-venv"
START_TIMEOUT_S = 180


def _phoenix_binary() -> str | None:
    for candidate in (os.environ.get("PHOENIX_BIN"), shutil.which("phoenix"), str(DEFAULT_VENV / "bin" / "phoenix")):
        if candidate and Path(candidate).is_file() and os.access(candidate, os.X_OK):
            return candidate
    return None


@pytest.fixture(scope="module")
def phoenix(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``phoenix serve`` on free loopback ports with a temporary working directory; yields its base URL."""
    pytest.importorskip(
        "phoenix.client", reason="arize-phoenix-client is not installed (pip install -r requirements-dev.txt)"
    )
    binary = _phoenix_binary()
    if binary is None:
        pytest.skip("Arize Phoenix is not installed: .ci/run installs it in its own venv (or set PHOENIX_BIN)")
    workdir = tmp_path_factory.mktemp("phoenix")
    port, grpc_port = free_port(), free_port()
    env = {
        **os.environ,
        "PHOENIX_WORKING_DIR": str(workdir),
        "PHOENIX_PORT": str(port),
        "PHOENIX_HOST": "127.0.0.1",
        "PHOENIX_GRPC_PORT": str(grpc_port),
        "PHOENIX_TELEMETRY_ENABLED": "false",
    }
    log = (workdir / "serve.log").open("wb")
    process = subprocess.Popen([binary, "serve"], env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    base_url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            try:
                if httpx.get(f"{base_url}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                tail = (workdir / "serve.log").read_text(errors="replace")[-3000:]
                pytest.fail(f"phoenix serve did not start (exit {process.poll()}):\n{tail}")
            time.sleep(0.5)
        yield base_url
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        log.close()


def _spans_of(client: Any, run_id: str, expected: int) -> list[dict[str, Any]]:
    """The run's spans as Phoenix stores them, once all have arrived (ingestion is asynchronous)."""
    deadline = time.monotonic() + 30
    while True:
        spans = client.spans.get_spans(
            project_identifier="default", trace_ids=[f"{trace_id_for(run_id):032x}"], limit=1000
        )
        if len(spans) >= expected or time.monotonic() > deadline:
            return spans
        time.sleep(0.3)


def test_phoenix_receives_a_run_and_reads_back_names_parents_tokens_and_times(
    phoenix: str, fake_llm: FakeLLMServer, sqlite_url: str, workspace: Path
) -> None:
    from phoenix.client import Client

    bench = llm_workbench(fake_llm, sqlite_url, workspace)
    run_id = run_llm_goal(bench)
    replay_id = bench.whatif(run_id, Overrides(policy_path=STRICT_POLICY, tools="recorded")).replay_id
    ours = {f"{s.context.span_id:016x}": s for s in run_spans(bench.run_events(run_id))}
    replay_spans = run_spans(bench.run_events(replay_id))
    err = io.StringIO()
    code = main(["export", "--all", "--otlp", f"{phoenix}/v1/traces", "--db", sqlite_url], out=io.StringIO(), err=err)
    assert code == 0, err.getvalue()

    client = Client(base_url=phoenix)
    theirs = {s["context"]["span_id"]: s for s in _spans_of(client, run_id, len(ours))}
    assert theirs.keys() == ours.keys()
    assert sorted(s["name"] for s in theirs.values()) == sorted(s.name for s in ours.values())
    for span_id, span in theirs.items():
        mine = ours[span_id]
        assert span["context"]["trace_id"] == f"{trace_id_for(run_id):032x}"
        assert span.get("parent_id") == (f"{mine.parent.span_id:016x}" if mine.parent else None)
        assert datetime.fromisoformat(span["start_time"]).timestamp() * 1e9 == pytest.approx(mine.start_time, abs=1e3)
        assert datetime.fromisoformat(span["end_time"]).timestamp() * 1e9 == pytest.approx(mine.end_time, abs=1e3)
    root = theirs[f"{root_span_id(run_id):016x}"]
    assert root["name"] == "invoke_agent agent-workbench" and root.get("parent_id") is None
    assert root["attributes"]["gen_ai.conversation.id"] == run_id
    chats = sorted((s for s in theirs.values() if s["name"] == "chat claude-sonnet-4-6"), key=lambda s: s["start_time"])
    assert [
        (c["attributes"]["gen_ai.usage.input_tokens"], c["attributes"]["gen_ai.usage.output_tokens"]) for c in chats
    ] == [(1000, 500), (2000, 100)]
    assert chats[1]["parent_id"] == next(k for k, s in theirs.items() if s["name"] == "execute_tool summarize")
    assert [c["attributes"]["agent_workbench.cost.usd"] for c in chats] == [0.0105, 0.0075]

    replay_root = next(s for s in _spans_of(client, replay_id, len(replay_spans)) if s.get("parent_id") is None)
    assert replay_root["attributes"]["agent_workbench.replay.of"] == run_id
    bench.close()
