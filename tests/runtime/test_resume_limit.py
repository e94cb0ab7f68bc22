"""Resume has a limit: a step whose process died inside its tool N times fails the run with a reason. Both engines.

A process death is simulated by a tool that raises a ``BaseException`` the orchestrator does not
catch: the log keeps the intent without its observation, exactly as after SIGKILL.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from agent_core import events as ev
from agent_core.config import load_settings
from agent_core.errors import ConfigError
from agent_core.orchestrator import LiveTools, RunRequest
from agent_core.workbench import Workbench
from tests.runtime.conftest import make_settings


class Died(BaseException):
    """What a killed process looks like to the log: the tool never returns, nothing after the intent."""


class DyingTools(LiveTools):
    def run(self, tool: str, resolved_input: dict[str, Any], prior_results: Any) -> dict[str, Any]:
        raise Died


def crash_repeatedly(bench: Workbench, run_id: str, times: int) -> None:
    for _ in range(times):
        with pytest.raises(Died):
            bench.orchestrator.advance(run_id, tool_runner=DyingTools(bench.orchestrator.workspace))


@pytest.mark.parametrize("limit", [None, 1, 5])
def test_a_step_interrupted_too_often_fails_the_run_with_a_reason(
    database_url: str, workspace: Path, limit: int | None
) -> None:
    extra = {"AGENT_MAX_INTERRUPTIONS": str(limit)} if limit else {}
    bench = Workbench.open(make_settings(database_url, workspace, **extra))
    expected = limit or 3
    run_id = bench.start_run(RunRequest("Summarize notes.txt"))
    crash_repeatedly(bench, run_id, expected)  # the first attempt, then expected - 1 resumes that die again
    assert bench.run_state(run_id).status == "running"

    state = bench.advance(run_id)  # the next resume finds the step interrupted for the limit-th time
    assert state.status == "failed"
    interrupted = [e.event for e in bench.run_events(run_id) if isinstance(e.event, ev.StepInterrupted)]
    assert len(interrupted) == expected
    assert interrupted[-1].next_action == f"fail the run (interrupted {expected} times)"
    assert all(i.step_id == "step_1" for i in interrupted)
    assert f"step_1 (read_file) was interrupted {expected} times" in state.failure_reason
    assert f"AGENT_MAX_INTERRUPTIONS={expected}" in state.failure_reason
    assert bench.advance(run_id).last_seq == state.last_seq  # ended: a further resume does nothing
    bench.close()


def test_a_step_interrupted_fewer_times_than_the_limit_is_retried(bench: Workbench) -> None:
    run_id = bench.start_run(RunRequest("Summarize notes.txt"))
    crash_repeatedly(bench, run_id, 2)
    state = bench.advance(run_id)
    assert state.status == "completed" and state.step("step_1").interrupted == 2  # type: ignore[union-attr]


@pytest.mark.parametrize("value", ["0", "-1", "many"])
def test_the_interruption_limit_must_be_a_positive_number(value: str) -> None:
    with pytest.raises(ConfigError, match="AGENT_MAX_INTERRUPTIONS"):
        load_settings(AGENT_MAX_INTERRUPTIONS=value)
