"""The offline planner: a table of goals -> plans, determinism, and that every plan it makes is valid."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from agent_core.plan import Plan
from agent_core.planning import SYSTEM_PROMPT, PlanLimits, build_user_message, parse_plan
from agent_core.policy import Policy, PolicyContext
from agent_core.providers import OfflinePlanner, offline_plan
from agent_core.tools import resolve_input
from agent_core.workspace import SAMPLE_WORKSPACE, list_workspace, seed_workspace

REPO = Path(__file__).resolve().parents[2]
DEMO_GOAL = "Research the latest developments in AI agent frameworks and summarize the key findings"
SAMPLE_FILES = list_workspace(SAMPLE_WORKSPACE)

GOALS = [
    DEMO_GOAL,
    "Summarize notes.txt",
    "Summarize my notes",
    "Summarize notes.txt and save it to summary.md",
    "Read event-sourcing.md and tool-safety.md, summarize them and write a report",
    "Summarize the workspace and write a report to reports/all.md",
    "Search for event sourcing",
    "What is new in LLM cost control? Search and summarize.",
    'Write "hello from the agent" to hello.txt',
    "Summarize: agents choose actions, tools run them, and every decision is recorded as an event.",
    "Hello",
    "Summarize the tool safety document",
    "Research sandboxing; report to findings.md",
]


def tools_of(goal: str, files: list[str] = SAMPLE_FILES, max_steps: int = 8) -> list[tuple[str, dict[str, Any]]]:
    return [(s["tool"], s["input"]) for s in offline_plan(goal, files, max_steps)["steps"]]


def test_the_demo_goal_searches_summarizes_and_writes_a_new_report() -> None:
    assert tools_of(DEMO_GOAL) == [
        ("web_search", {"query": "latest developments in AI agent frameworks", "max_results": 5}),
        ("summarize", {"from_steps": ["step_1"], "max_words": 250}),
        ("write_file", {"path": "reports/latest-developments-ai-agent-frameworks.md", "from_step": "step_2"}),
    ]


@pytest.mark.parametrize(
    ("goal", "expected"),
    [
        ("Summarize notes.txt", [("read_file", {"path": "notes.txt"}), ("summarize", {"from_steps": ["step_1"]})]),
        ("Summarize my notes", [("read_file", {"path": "notes.txt"}), ("summarize", {"from_steps": ["step_1"]})]),
        (
            "Summarize notes.txt and save it to summary.md",
            [
                ("read_file", {"path": "notes.txt"}),
                ("summarize", {"from_steps": ["step_1"]}),
                ("write_file", {"path": "summary.md", "from_step": "step_2"}),
            ],
        ),
        (
            "Read event-sourcing.md and tool-safety.md, summarize them and write a report",
            [
                ("read_file", {"path": "event-sourcing.md"}),
                ("read_file", {"path": "tool-safety.md"}),
                ("summarize", {"from_steps": ["step_1", "step_2"]}),
                ("write_file", {"path": "reports/event-sourcing-tool-safety.md", "from_step": "step_3"}),
            ],
        ),
        ("Search for event sourcing", [("web_search", {"query": "event sourcing", "max_results": 5})]),
        (
            'Write "hello from the agent" to hello.txt',
            [("write_file", {"path": "hello.txt", "content": "hello from the agent"})],
        ),
        (
            "Summarize: agents choose actions, tools run them, and every decision is recorded as an event.",
            [
                (
                    "summarize",
                    {"text": "agents choose actions, tools run them, and every decision is recorded as an event."},
                )
            ],
        ),
        (
            "Summarize the tool safety document",
            [("read_file", {"path": "tool-safety.md"}), ("summarize", {"from_steps": ["step_1"]})],
        ),
        (
            "Research sandboxing; report to findings.md",
            [
                ("web_search", {"query": "sandboxing", "max_results": 5}),
                ("write_file", {"path": "findings.md", "from_step": "step_1"}),
            ],
        ),
    ],
)
def test_goals_map_to_plans(goal: str, expected: list[tuple[str, dict[str, Any]]]) -> None:
    got = [(tool, {k: v for k, v in data.items() if k != "max_words"}) for tool, data in tools_of(goal)]
    assert got == expected


def test_a_file_the_goal_names_is_read_even_if_the_workspace_lacks_it() -> None:
    assert tools_of("Summarize data/missing.csv")[0] == ("read_file", {"path": "data/missing.csv"})


def test_a_basename_resolves_to_the_workspace_path() -> None:
    assert tools_of("Summarize todo.md", ["docs/todo.md", "notes.txt"])[0] == ("read_file", {"path": "docs/todo.md"})


def test_the_report_name_avoids_files_that_exist() -> None:
    taken = [*SAMPLE_FILES, "reports/latest-developments-ai-agent-frameworks.md"]
    assert tools_of(DEMO_GOAL, taken)[-1][1]["path"] == "reports/latest-developments-ai-agent-frameworks-2.md"


@pytest.mark.parametrize("max_steps", [1, 2, 3])
def test_plans_are_truncated_to_max_steps_keeping_the_write_last(max_steps: int) -> None:
    goal = "Read event-sourcing.md and tool-safety.md, summarize them and write a report to out.md"
    tools = [tool for tool, _ in tools_of(goal, max_steps=max_steps)]
    assert len(tools) == max_steps
    assert (
        tools
        == {1: ["read_file"], 2: ["read_file", "write_file"], 3: ["read_file", "summarize", "write_file"]}[max_steps]
    )
    raw = json.dumps(offline_plan(goal, SAMPLE_FILES, max_steps))
    assert isinstance(parse_plan(raw, PlanLimits(max_steps=max_steps)), Plan)


def test_the_same_goal_and_workspace_give_the_same_answer(tmp_path: Path) -> None:
    seed_workspace(tmp_path / "ws")
    limits = PlanLimits(max_steps=5)
    message = build_user_message(DEMO_GOAL, limits, list_workspace(tmp_path / "ws"))
    first = OfflinePlanner(tmp_path / "ws").plan(SYSTEM_PROMPT, message, limits)
    second = OfflinePlanner(tmp_path / "elsewhere").plan(SYSTEM_PROMPT, message, limits)
    assert first == second
    assert first.usage.input_tokens == first.usage.output_tokens == 0
    assert "offline rule-based planner: no LLM was called" in first.text


def test_without_a_file_list_in_the_message_it_lists_the_workspace(tmp_path: Path) -> None:
    (tmp_path / "plan.txt").write_text("x")
    reply = OfflinePlanner(tmp_path).plan(SYSTEM_PROMPT, "Summarize my plan", PlanLimits(max_steps=3))
    assert json.loads(reply.text)["steps"][0]["input"] == {"path": "plan.txt"}


@pytest.mark.parametrize("goal", GOALS)
@pytest.mark.parametrize("max_steps", [1, 3, 8])
def test_every_offline_plan_passes_the_validator_and_the_default_policy(
    goal: str, max_steps: int, tmp_path: Path
) -> None:
    workspace = tmp_path / "ws"
    seed_workspace(workspace)
    limits = PlanLimits(max_steps=max_steps)
    reply = OfflinePlanner(workspace).plan(
        SYSTEM_PROMPT, build_user_message(goal, limits, list_workspace(workspace)), limits
    )
    plan = parse_plan(reply.text, limits)
    assert isinstance(plan, Plan), plan
    assert parse_plan(json.dumps(plan.model_dump()), limits) == plan

    policy = Policy.load(REPO / "policies" / "default.yaml")
    context = PolicyContext(workspace, None, tool_calls_so_far=0, spent_usd=0.0, budget_usd=1.0)
    prior = {s.id: {"success": True, "output": f"output of {s.id}"} for s in plan.steps}
    for step in plan.steps:
        if step.tool == "read_file" and not (workspace / step.input["path"]).exists():
            continue  # a named file that is absent fails when read; the guard has no rule about it
        decision = policy.evaluate(step.model_copy(update={"input": resolve_input(step, prior)}), context)
        assert decision.outcome == "approve", (step, decision)
