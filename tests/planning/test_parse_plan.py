"""The validator: every provider's answer goes through ``parse_plan``; rejections say what to fix."""

from __future__ import annotations

import json
from typing import Any

import pytest

from agent_core.plan import Plan
from agent_core.planning import PlanLimits, PlanRejection, parse_plan

LIMITS = PlanLimits(max_steps=4)


def step(n: int, tool: str = "web_search", **overrides: Any) -> dict[str, Any]:
    inputs = {
        "web_search": {"query": "agent frameworks"},
        "read_file": {"path": "notes.txt"},
        "summarize": {"from_steps": ["step_1"]},
        "write_file": {"path": "reports/x.md", "from_step": "step_1"},
    }
    base = {
        "id": f"step_{n}",
        "objective": "do the thing",
        "tool": tool,
        "input": inputs.get(tool, {}),
        "success_criteria": "it is done",
    }
    return {**base, **overrides}


def plan_json(*steps: dict[str, Any], **extra: Any) -> str:
    return json.dumps({"steps": list(steps), "stop_conditions": ["a step fails"], **extra})


VALID = plan_json(step(1), step(2, "summarize"), step(3, "write_file", input={"path": "r.md", "from_step": "step_2"}))


def rejected(raw: str, limits: PlanLimits = LIMITS) -> str:
    result = parse_plan(raw, limits)
    assert isinstance(result, PlanRejection), f"expected a rejection, got {result!r}"
    return result.error


def test_a_valid_plan_parses_into_steps() -> None:
    plan = parse_plan(VALID, LIMITS)
    assert isinstance(plan, Plan)
    assert plan.tools() == ["web_search", "summarize", "write_file"]
    assert plan.stop_conditions == ["a step fails"]


@pytest.mark.parametrize("fence", ["```json\n{}\n```", "```\n{}\n```", "  ```JSON\n{}```  \n"])
def test_one_markdown_fence_is_stripped(fence: str) -> None:
    plan = parse_plan(fence.replace("{}", VALID), LIMITS)
    assert isinstance(plan, Plan)
    assert len(plan.steps) == 3


def test_unknown_extra_fields_are_ignored() -> None:
    raw = plan_json(step(1, extra="x"), planner="someone")
    plan = parse_plan(raw, LIMITS)
    assert isinstance(plan, Plan)
    assert plan.steps[0].id == "step_1"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("", "empty"),
        ("   \n", "empty"),
        ("Here is my plan: do a search", "not JSON"),
        ("{'steps': []}", "not JSON"),
        (VALID + "\n" + VALID, "more than one JSON value"),
        (VALID + "\nHope this helps!", "text after the JSON object"),
        ("Sure!\n```json\n" + VALID + "\n```", "not JSON"),
        ("[1, 2]", "JSON array, expected one JSON object"),
        ('"steps"', "JSON string"),
        ("{}", "field 'steps' is missing"),
        ('{"steps": {}}', "field 'steps' is a number"),
        ('{"steps": []}', "field 'steps' is empty"),
    ],
)
def test_text_that_is_not_one_plan_object_is_rejected(raw: str, expected: str) -> None:
    error = rejected(raw)
    if expected == "field 'steps' is a number":
        assert "field 'steps'" in error and "expected a list" in error
    else:
        assert expected in error


def test_more_steps_than_max_steps_names_both_numbers() -> None:
    error = rejected(plan_json(*(step(n) for n in range(1, 6))))
    assert "5 steps" in error and "at most 4" in error


def test_an_unknown_tool_names_the_step_and_the_known_tools() -> None:
    error = rejected(plan_json(step(1), step(2, "browse")))
    assert error.startswith("step 2 ('step_2'), field 'tool': unknown tool 'browse'")
    assert "expected one of web_search, read_file, summarize, write_file, list_files" in error


@pytest.mark.parametrize(
    ("broken", "expected"),
    [
        ({"objective": ""}, "step 1 ('step_1'), field 'objective': empty; expected a non-empty string"),
        ({"success_criteria": None}, "field 'success_criteria': missing"),
        ({"id": ""}, "step 1, field 'id': empty"),
        ({"tool": 3}, "field 'tool': a number"),
        ({"input": "notes.txt"}, "field 'input': a string; expected an object"),
        ({"input": {}}, "web_search needs a non-empty 'query'"),
    ],
)
def test_a_broken_field_is_named_with_its_step(broken: dict[str, Any], expected: str) -> None:
    raw = json.dumps({"steps": [{**step(1), **broken}]})
    if broken.get("success_criteria", "") is None:
        raw = json.dumps({"steps": [{k: v for k, v in step(1).items() if k != "success_criteria"}]})
    assert expected in rejected(raw)


def test_duplicate_step_ids_are_rejected() -> None:
    error = rejected(plan_json(step(1), step(1, "read_file")))
    assert "step 2 ('step_1'), field 'id'" in error and "unique" in error


@pytest.mark.parametrize(
    ("tool", "tool_input", "expected"),
    [
        ("read_file", {}, "read_file needs a non-empty 'path'"),
        ("summarize", {}, "summarize needs 'from_steps'"),
        ("summarize", {"from_steps": ["step_9"]}, "'step_9', which is not an earlier step"),
        ("summarize", {"from_steps": []}, "non-empty list"),
        ("write_file", {"content": "x"}, "write_file needs a non-empty 'path'"),
        ("write_file", {"path": "a.md"}, "'content' (a string) or 'from_step'"),
        ("write_file", {"path": "a.md", "from_step": "step_2"}, "'step_2', which is not an earlier step"),
    ],
)
def test_tool_inputs_are_checked_against_the_tool_contract(
    tool: str, tool_input: dict[str, Any], expected: str
) -> None:
    error = rejected(plan_json(step(1), step(2, tool, input=tool_input)))
    assert error.startswith("step 2 ('step_2'), field 'input': ")
    assert expected in error


def test_summarize_of_inline_text_and_write_of_content_are_valid() -> None:
    raw = plan_json(
        step(1, "summarize", input={"text": "long text"}), step(2, "write_file", input={"path": "a.md", "content": ""})
    )
    assert isinstance(parse_plan(raw, LIMITS), Plan)


def test_a_huge_answer_is_rejected_without_parsing_it() -> None:
    huge = plan_json(step(1, objective="x" * 200_000))
    error = rejected(huge)
    assert "characters, more than the 100,000" in error


def test_only_tools_in_the_limits_are_allowed() -> None:
    error = rejected(VALID, PlanLimits(max_steps=4, tools=("web_search", "summarize")))
    assert "unknown tool 'write_file'" in error


def test_stop_conditions_must_be_strings() -> None:
    assert "stop_conditions" in rejected(json.dumps({"steps": [step(1)], "stop_conditions": [1]}))
