"""One declaration per tool: everything that names tools is derived from ``tools.TOOLS``; ``list_files``
proves the seam (one module plus one registry line); prompt versions keep recorded runs replayable."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from agent_core import tools
from agent_core.config import Settings
from agent_core.orchestrator import RunRequest
from agent_core.plan import PlanStep
from agent_core.planning import (
    CURRENT_PROMPT,
    LEGACY_PROMPT,
    PROMPT_VERSIONS,
    PlanLimits,
    build_user_message,
    parse_plan,
    plan_json_schema,
    prompt_version_for,
)
from agent_core.policy import Policy, PolicyContext
from agent_core.providers import OfflinePlanner
from agent_core.tools import ToolContext, execute
from agent_core.workbench import Workbench
from tests.runtime.conftest import DEFAULT_POLICY, STRICT_POLICY

PINNED_SHAS = {
    "plan-prompt-v1": "11efdd54bd2f9547ee8c16537fbf6b71459b4161580f97222a3be1305d1b7d18",  # the prompt before versions
    "plan-prompt-v2": "13962da3636516fcea71f7ddabc187d8a9525e9cf1744899b68f32b7da54fd19",
    "plan-prompt-v3": "627ecbf19e6ac528715bf9c781072f3dd072b825a233f984414e466de0ee71ef",
}
MINIMAL_INPUTS: dict[str, dict[str, Any]] = {
    "web_search": {"query": "event sourcing"},
    "read_file": {"path": "docs/a.md"},
    "summarize": {"text": "Some text to summarize."},
    "write_file": {"path": "reports/out.md", "content": "hello"},
    "list_files": {"pattern": "*.md"},
}


def test_every_prompt_version_is_pinned_so_recorded_runs_keep_replaying() -> None:
    assert {v.id: v.sha for v in PROMPT_VERSIONS.values()} == PINNED_SHAS, (
        "a prompt version's text changed: never edit one, add a new version in planning/prompt.py"
    )
    assert LEGACY_PROMPT.offered == ("web_search", "read_file", "write_file", "summarize")


def test_the_current_prompt_offers_every_registered_tool() -> None:
    assert set(CURRENT_PROMPT.offered) == set(tools.TOOLS) == set(CURRENT_PROMPT.listed)
    assert set(MINIMAL_INPUTS) == set(tools.TOOLS), "add a minimal input for the new tool to this table"


@pytest.mark.parametrize("name", sorted(tools.TOOLS))
def test_each_tool_is_known_everywhere_from_its_one_declaration(name: str, tmp_path: Path) -> None:
    spec = tools.TOOLS[name]
    assert f"- {name}: {spec.prompt}" in CURRENT_PROMPT.text
    assert name in plan_json_schema()["properties"]["steps"]["items"]["properties"]["tool"]["enum"]
    limits = PlanLimits(max_steps=3)
    assert name in build_user_message("goal", limits, [])
    plan = parse_plan(
        f'{{"steps": [{{"id": "step_1", "objective": "o", "tool": "{name}", "input": {_json(MINIMAL_INPUTS[name])},'
        ' "success_criteria": "c"}]}',
        limits,
    )
    assert not hasattr(plan, "error"), plan
    (tmp_path / "docs").mkdir()
    step = PlanStep(id="step_1", objective="o", tool=name, input=MINIMAL_INPUTS[name], success_criteria="c")
    context = PolicyContext(tmp_path, None, 0, 0.0, 1.0)
    decision = Policy.load(DEFAULT_POLICY).evaluate(step, context)
    assert decision.outcome == "approve", decision
    assert spec.input_model.model_validate(MINIMAL_INPUTS[name])


def test_the_guard_scopes_path_and_write_rules_from_the_declarations() -> None:
    rules = {r.name: r.applies_to for r in Policy.load(DEFAULT_POLICY).rules}
    assert rules["workspace_paths"] == "read_file, write_file"
    assert rules["no_overwrite"] == "write_file"
    assert rules["known_tools"] == "all tools"
    assert {r.name: r.applies_to for r in Policy.load(STRICT_POLICY).rules}["writes_need_approval"] == "write_file"


def test_a_step_with_a_missing_required_field_is_rejected_by_the_derived_required_fields_rule(tmp_path: Path) -> None:
    step = PlanStep(
        id="s", objective="o", tool="write_file", input={"path": "a.md", "content": " "}, success_criteria="c"
    )
    decision = Policy.load(DEFAULT_POLICY).evaluate(step, PolicyContext(tmp_path, None, 0, 0.0, 1.0))
    assert (decision.outcome, decision.rule) == ("reject", "required_fields")
    assert decision.reason == "write_file needs non-empty 'content' in its input"


def test_a_run_recorded_under_the_old_prompt_is_planned_with_the_old_prompt_and_tools() -> None:
    assert prompt_version_for(PINNED_SHAS["plan-prompt-v1"]) is LEGACY_PROMPT
    assert prompt_version_for(PINNED_SHAS["plan-prompt-v2"]) is PROMPT_VERSIONS["plan-prompt-v2"]
    assert prompt_version_for(PINNED_SHAS["plan-prompt-v3"]) is CURRENT_PROMPT
    assert prompt_version_for("custom-sha", None) is LEGACY_PROMPT  # recorded before versions were recorded
    assert prompt_version_for("custom-sha", "plan-prompt-v3") is CURRENT_PROMPT
    old = parse_plan(
        '{"steps": [{"id": "step_1", "objective": "o", "tool": "list_files", "input": {}, "success_criteria": "c"}]}',
        PlanLimits(max_steps=2, tools=LEGACY_PROMPT.offered),
    )
    assert getattr(old, "error", "").endswith("expected one of web_search, read_file, write_file, summarize")


# --- list_files --------------------------------------------------------------------------------


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    ws = tmp_path / "ws"
    (ws / "docs" / "deep").mkdir(parents=True)
    (ws / "docs" / "a.md").write_text("alpha")
    (ws / "docs" / "deep" / "b.md").write_text("bravo!")
    (ws / "notes.txt").write_text("n")
    (ws / ".hidden").mkdir()
    (ws / ".hidden" / "c.md").write_text("hidden")
    (ws / ".env").write_text("SECRET=1")
    (ws / "id_rsa").write_text("key")
    (ws / "events.db").write_text("db")
    (tmp_path / "outside.md").write_text("outside")
    os.symlink(tmp_path / "outside.md", ws / "link.md")
    return ws


def test_list_files_lists_what_read_file_could_open_with_sizes(tree: Path) -> None:
    result = execute("list_files", {}, ToolContext(tree, {}, database_path=tree / "events.db"))
    assert result["success"] is True
    assert result["files"] == [  # a folder's own files first, then its subfolders, each sorted
        {"path": "notes.txt", "bytes": 1},
        {"path": "docs/a.md", "bytes": 5},
        {"path": "docs/deep/b.md", "bytes": 6},
    ]
    assert result["output"] == "notes.txt (1 bytes)\ndocs/a.md (5 bytes)\ndocs/deep/b.md (6 bytes)"


def test_list_files_filters_by_glob_and_bounds_the_count(tree: Path) -> None:
    result = execute("list_files", {"pattern": "*.md", "max_files": 1}, ToolContext(tree, {}))
    assert [f["path"] for f in result["files"]] == ["docs/a.md"]
    assert result["matched"] == 2 and result["truncated"] is True
    assert result["output"].endswith("... 1 more matching files not listed")
    none = execute("list_files", {"pattern": "*.pdf"}, ToolContext(tree, {}))
    assert none["files"] == [] and none["output"] == "no files match '*.pdf'"


def test_list_files_refuses_bad_bounds_and_a_missing_workspace(tmp_path: Path) -> None:
    assert execute("list_files", {"max_files": 0}, ToolContext(tmp_path, {}))["success"] is False
    missing = execute("list_files", {}, ToolContext(tmp_path / "nope", {}))
    assert missing["success"] is False and "not a folder" in missing["error"]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(pattern=st.text(max_size=80), max_files=st.integers(min_value=-5, max_value=600))
def test_list_files_never_raises_for_any_input(tree: Path, pattern: str, max_files: int) -> None:
    result = execute("list_files", {"pattern": pattern, "max_files": max_files}, ToolContext(tree, {}))
    assert isinstance(result["success"], bool)
    if result["success"]:
        assert all(not f["path"].startswith((".", "/")) and ".env" not in f["path"] for f in result["files"])
    else:
        assert result["error"]


def test_the_offline_planner_lists_files_only_when_the_prompt_offers_the_tool(tmp_path: Path) -> None:
    planner = OfflinePlanner(tmp_path)
    goal = "List the markdown files *.md in the workspace"
    current = planner.plan("", build_user_message(goal, PlanLimits(3), ["a.md"]), PlanLimits(3))
    legacy_limits = PlanLimits(3, tools=LEGACY_PROMPT.offered)
    legacy = planner.plan("", build_user_message(goal, legacy_limits, ["a.md"]), legacy_limits)
    assert '"tool": "list_files"' in current.text and '"pattern": "*.md"' in current.text
    assert "list_files" not in legacy.text


def test_an_offline_run_lists_files_end_to_end(settings: Settings, workspace: Path) -> None:
    bench = Workbench.open(settings)
    try:
        state = bench.run(_request("What files are in the workspace? Write the list to reports/files.md"))
    finally:
        bench.close()
    assert state.status == "completed", state
    assert [s.tool for s in state.steps] == ["list_files", "write_file"]
    assert "notes.txt" in (workspace / "reports" / "files.md").read_text()


def _request(goal: str) -> RunRequest:
    return RunRequest(goal, max_steps=3, planner="offline")


def _json(value: Any) -> str:
    return json.dumps(value)
