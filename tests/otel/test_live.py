"""Live export: a thread on the live feed exports each run as it ends; a dead collector never fails a run."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from agent_core.cli import main
from agent_core.orchestrator import RunRequest
from agent_core.otel import LiveExporter
from agent_core.replay import Overrides
from agent_core.workbench import Workbench
from tests.otel.conftest import DEFAULT_POLICY, SAVE_GOAL, FakeCollector, make_settings

FAST = {"poll_s": 0.05, "settle_s": 0.2, "timeout_s": 0.5, "backoff_s": 0.1, "max_backoff_s": 0.3}


def wait_for(condition: Callable[[], bool], timeout_s: float = 20.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def conversations(collector: FakeCollector) -> list[str]:
    return [
        next(a.value.string_value for a in s.attributes if a.key == "gen_ai.conversation.id")
        for s in collector.spans()
        if s.name.startswith("invoke_agent")
    ]


def test_an_unreachable_collector_is_logged_once_never_fails_a_run_and_gets_the_runs_later(
    database_url: str, workspace: Path, dead_port: int, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    bench = Workbench.open(make_settings(database_url, workspace))
    exporter = LiveExporter(bench.store, f"http://127.0.0.1:{dead_port}", **FAST).start()
    try:
        runs = [bench.run(RunRequest("Summarize notes.txt")) for _ in range(3)]
        assert [r.status for r in runs] == ["completed"] * 3
        wait_for(lambda: exporter.stats().failed_attempts >= 3)
        assert exporter.stats().pending_runs == 3 and not exporter.stats().reachable

        collector = FakeCollector(dead_port).start()  # the collector comes up: the kept runs go out
        try:
            wait_for(lambda: exporter.stats().exported_runs == 3, 5)
            assert sorted(conversations(collector)) == sorted(r.run_id for r in runs)
            bench.run(RunRequest("Summarize notes.txt"))  # and later runs follow as they end
            wait_for(lambda: exporter.stats().exported_runs == 4)
        finally:
            collector.stop()
    finally:
        exporter.stop()
        bench.close()
    warnings = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert [r.getMessage().split(";")[0] for r in warnings] == [
        f"OpenTelemetry export to http://127.0.0.1:{dead_port}/v1/traces failed",
        f"OpenTelemetry export to http://127.0.0.1:{dead_port}/v1/traces works again",
    ]
    assert not [r for r in caplog.records if r.name.startswith("opentelemetry")]  # the SDK's per-attempt lines


def test_a_run_waiting_for_a_person_is_exported_when_it_ends_with_its_replay_verdict(
    sqlite_url: str, workspace: Path, collector: FakeCollector, tmp_path: Path
) -> None:
    no_writes = tmp_path / "no-writes.yaml"  # the replay's write is rejected, so the replay ends
    no_writes.write_text(
        DEFAULT_POLICY.read_text(encoding="utf-8").replace(
            "    kind: tool_allowlist\n", "    kind: tool_allowlist\n    params:\n      tools: [read_file, summarize]\n"
        )
    )
    bench = Workbench.open(make_settings(sqlite_url, workspace))
    with LiveExporter(bench.store, collector.url, **FAST) as exporter:
        first = bench.run(RunRequest(SAVE_GOAL))
        held = bench.run(RunRequest(SAVE_GOAL))
        assert held.status == "waiting_approval"
        wait_for(lambda: exporter.stats().exported_runs == 1)
        time.sleep(0.5)
        assert conversations(collector) == [first.run_id]

        bench.approve(held.run_id, "step_3", by="ana")
        bench.advance(held.run_id)
        replay = bench.whatif(first.run_id, Overrides(policy_path=no_writes, tools="recorded"))
        assert replay.state.status == "completed"
        wait_for(lambda: exporter.stats().exported_runs == 3)
    assert conversations(collector) == [first.run_id, held.run_id, replay.replay_id]
    replay_root = next(s for s in collector.spans() if s.name.startswith("invoke_agent") and s.links)
    assert any(a.key == "agent_workbench.replay.verdict" for a in replay_root.attributes)
    bench.close()


def test_stopping_sends_the_runs_that_ended_and_appends_never_wait_for_the_exporter(
    sqlite_url: str, workspace: Path, dead_port: int
) -> None:
    bench = Workbench.open(make_settings(sqlite_url, workspace))
    gate = threading.Event()
    sent: list[int] = []

    def slow_send(spans: object) -> bool:
        gate.wait(10)  # a collector that hangs
        sent.append(len(spans))  # type: ignore[arg-type]
        return True

    exporter = LiveExporter(bench.store, send=slow_send, poll_s=0.05, settle_s=60.0).start()
    started = time.monotonic()
    state = bench.run(RunRequest("Summarize notes.txt"))
    assert state.status == "completed" and time.monotonic() - started < 10
    gate.set()
    exporter.stop()  # settle_s is long: only the final flush sends it
    assert exporter.stats().exported_runs == 1 and sent and sent[0] > 1
    bench.close()


def test_otel_follow_needs_an_endpoint_and_exports_what_ends_meanwhile(
    sqlite_url: str, workspace: Path, collector: FakeCollector, monkeypatch: pytest.MonkeyPatch
) -> None:
    code = main(["otel-follow", "--duration", "0.1", "--db", sqlite_url])
    assert code == 2
    bench = Workbench.open(make_settings(sqlite_url, workspace))
    done = bench.run(RunRequest("Summarize notes.txt")).run_id
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", collector.url.removesuffix("/v1/traces"))
    assert main(["otel-follow", "--from-start", "--poll", "0.05", "--duration", "1.5", "--db", sqlite_url]) == 0
    assert conversations(collector) == [done]
    bench.close()
