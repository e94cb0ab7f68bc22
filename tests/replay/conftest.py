"""Replay fixtures: the runtime fixtures (workspace, settings, bench), a fake LLM server, run helpers."""

from __future__ import annotations

from pathlib import Path

import pytest

from agent_core.orchestrator import RunRequest
from agent_core.workbench import Workbench
from tests.fake_llm import fake_llm  # noqa: F401
from tests.runtime.conftest import (  # noqa: F401
    DEFAULT_POLICY,
    DEMO_GOAL,
    ROOT,
    STRICT_POLICY,
    bench,
    make_settings,
    settings,
    workspace,
)

READ_GOAL = "Summarize notes.txt"  # read_file + summarize: no write, so a no-writes policy leaves it alone


def run_goal(workbench: Workbench, goal: str = DEMO_GOAL) -> str:
    state = workbench.run(RunRequest(goal))
    assert state.status == "completed", state.failure_reason
    return state.run_id


@pytest.fixture
def no_writes_policy(tmp_path: Path) -> Path:
    """The default policy with write_file taken off the allowlist: a write is rejected by rule known_tools."""
    allowlist = "    kind: tool_allowlist\n"
    narrowed = allowlist + "    params:\n      tools: [web_search, read_file, summarize]\n"
    text = DEFAULT_POLICY.read_text(encoding="utf-8").replace(allowlist, narrowed)
    assert "summarize]" in text
    path = tmp_path / "no-writes.yaml"
    path.write_text(text, encoding="utf-8")
    return path
