"""Crash resume: SIGKILL between ToolExecuted and ObservationCaptured, then resume; racing resumes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest

from agent_core.errors import ConcurrencyError
from agent_core.orchestrator import LiveTools
from agent_core.workbench import Workbench
from tests.runtime.conftest import DEFAULT_POLICY, DEMO_GOAL, ROOT


def crash_inside(tool: str, database_url: str, workspace: Path) -> str:
    """Start the demo run in a child process and SIGKILL it while ``tool`` runs; return the run id."""
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "AGENT_WORKSPACE": str(workspace),
        "AGENT_POLICY": str(DEFAULT_POLICY),
        "AGENT_PLANNER": "offline",
    }
    child = subprocess.Popen(
        [sys.executable, "-m", "tests.runtime.crash_worker", DEMO_GOAL, tool],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert child.stdout is not None
    run_id = child.stdout.readline().split()[1]
    assert child.stdout.readline().strip() == f"IN_TOOL {tool}"
    child.send_signal(signal.SIGKILL)
    child.wait(timeout=30)
    return run_id


@pytest.mark.parametrize("tool", ["web_search", "write_file"])
def test_sigkill_inside_a_tool_then_resume_completes_without_losing_events(
    bench: Workbench, database_url: str, workspace: Path, tool: str
) -> None:
    run_id = crash_inside(tool, database_url, workspace)
    before = bench.run_events(run_id)
    assert before[-1].type == "ToolExecuted" and before[-1].event.tool == tool
    assert bench.run_state(run_id).status == "running"

    state = bench.advance(run_id)
    after = bench.run_events(run_id)
    assert state.status == "completed" and state.count("succeeded") == 3
    assert [e.hash for e in after[: len(before)]] == [e.hash for e in before]  # nothing lost or rewritten
    assert [e.seq for e in after] == list(range(1, len(after) + 1))
    interrupted = [e.event for e in after if e.type == "StepInterrupted"]
    assert len(interrupted) == 1 and interrupted[0].tool == tool and "re-run" in interrupted[0].next_action
    observed = [e.event.step_id for e in after if e.type == "ObservationCaptured"]
    assert observed == ["step_1", "step_2", "step_3"]  # one observation per step, no duplicate
    assert bench.store.verify_chain(run_id) is None


def test_resume_holds_a_write_whose_target_changed_since_the_intent(
    bench: Workbench, database_url: str, workspace: Path
) -> None:
    run_id = crash_inside("write_file", database_url, workspace)
    intent = bench.run_events(run_id)[-1].event
    (workspace / intent.input["path"]).parent.mkdir(parents=True, exist_ok=True)
    (workspace / intent.input["path"]).write_text("someone else wrote this meanwhile")

    state = bench.advance(run_id)
    assert state.status == "waiting_approval"
    assert state.pending_approval.rule == "resume_target_changed"
    assert (workspace / intent.input["path"]).read_text() == "someone else wrote this meanwhile"
    bench.approve(run_id, intent.step_id, comment="overwrite it")
    assert bench.advance(run_id).status == "completed"
    assert (workspace / intent.input["path"]).read_text() == intent.input["content"]


def test_two_resumes_at_once_one_proceeds_the_other_stops_cleanly(
    bench: Workbench, database_url: str, workspace: Path, settings: Any
) -> None:
    run_id = crash_inside("web_search", database_url, workspace)
    in_tool, release = threading.Event(), threading.Event()

    class Blocking(LiveTools):
        def run(self, tool: str, resolved_input: dict[str, Any], prior_results: Any) -> dict[str, Any]:
            in_tool.set()
            release.wait(timeout=60)
            return super().run(tool, resolved_input, prior_results)

    first = Workbench.open(settings)
    outcome: dict[str, Any] = {}

    def slow_resume() -> None:
        try:
            first.orchestrator.advance(run_id, tool_runner=Blocking(first.orchestrator.workspace))
            outcome["first"] = "finished"
        except ConcurrencyError as error:
            outcome["first"] = error

    thread = threading.Thread(target=slow_resume)
    thread.start()
    assert in_tool.wait(timeout=60)
    assert bench.advance(run_id).status == "completed"  # the second resume drives the run to the end
    release.set()
    thread.join(timeout=60)
    first.close()

    assert isinstance(outcome["first"], ConcurrencyError) and run_id in str(outcome["first"])
    events = bench.run_events(run_id)
    assert [e.seq for e in events] == list(range(1, len(events) + 1))
    assert [e.event.step_id for e in events if e.type == "ObservationCaptured"] == ["step_1", "step_2", "step_3"]
