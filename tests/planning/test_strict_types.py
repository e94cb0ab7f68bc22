"""Types are strict where they matter (issue 10, item 9).

A JSON boolean is not an integer, and ``"5"`` or ``5.0`` is not ``max_results``: a plan saying
so is rejected at plan validation with a message naming the field, the type expected and the
value given (the repair hint); a step that reaches the guard or the executor some other way (an
old log, an import) is refused by the ``input_schema`` rule and by the tool. Valid recorded
plans stay valid.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from agent_core import tools
from agent_core.errors import PolicyError
from agent_core.orchestrator import RunRequest
from agent_core.plan import PlanStep
from agent_core.planning.parse import PlanLimits, PlanRejection, parse_plan
from agent_core.policy import Policy, PolicyContext
from agent_core.tools import TOOLS
from agent_core.workbench import Workbench
from agent_core.workspace import seed_workspace
from tests.fake_llm import OPENAI_PATH, FakeLLMServer, openai_reply
from tests.runtime.conftest import DEFAULT_POLICY, make_settings

ROOT = Path(__file__).resolve().parents[2]
RECORDINGS = ROOT / "tests" / "fixtures" / "recordings"

# (tool, integer field, the rest of a valid input, the field's valid range)
INTEGER_FIELDS = [
    ("web_search", "max_results", {"query": "agents"}, (1, 20)),
    ("summarize", "max_words", {"text": "Some text to summarize."}, (10, 1000)),
    ("list_files", "max_files", {"pattern": "*.md"}, (1, 500)),
]
# Strings the answer-level checks accept (no NUL, no lone surrogate): they are refused earlier, with their own reason.
PLAN_TEXT = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=20)
PLAN_INTEGERS = st.integers(min_value=-(10**17), max_value=10**17)  # longer ones (and Infinity) are refused first
SCALARS = st.none() | st.booleans() | PLAN_INTEGERS | st.floats(allow_nan=False, allow_infinity=False) | PLAN_TEXT
NOT_AN_INTEGER = st.one_of(
    st.none(),
    st.booleans(),
    st.floats(allow_nan=False, allow_infinity=False),
    PLAN_INTEGERS.map(float),
    PLAN_INTEGERS.map(str),
    PLAN_TEXT,
    st.lists(SCALARS, max_size=3),
    st.dictionaries(PLAN_TEXT, SCALARS, max_size=3),
)
"""JSON values that are not integers, including the near misses: 5.0, "5", true."""


def plan_with(tool: str, tool_input: dict[str, Any]) -> str:
    step = {"id": "s1", "objective": "o", "tool": tool, "input": tool_input, "success_criteria": "c"}
    return json.dumps({"steps": [step]})


LIMITS = PlanLimits(max_steps=4, tools=tuple(TOOLS))


@pytest.mark.parametrize(("tool", "field", "base", "bounds"), INTEGER_FIELDS, ids=[f[1] for f in INTEGER_FIELDS])
@settings(suppress_health_check=[HealthCheck.too_slow])
@given(value=NOT_AN_INTEGER)
def test_a_non_integer_is_rejected_at_plan_validation_naming_the_field(
    tool: str, field: str, base: dict[str, Any], bounds: tuple[int, int], value: Any
) -> None:
    result = parse_plan(plan_with(tool, {**base, field: value}), LIMITS)
    assert isinstance(result, PlanRejection)
    assert f"{field!r} must be an integer" in result.error and "\n" not in result.error


@pytest.mark.parametrize(("tool", "field", "base", "bounds"), INTEGER_FIELDS, ids=[f[1] for f in INTEGER_FIELDS])
@given(data=st.data())
def test_an_integer_in_range_passes_plan_validation_and_the_guard(
    tool: str, field: str, base: dict[str, Any], bounds: tuple[int, int], data: st.DataObject
) -> None:
    value = data.draw(st.integers(*bounds))
    result = parse_plan(plan_with(tool, {**base, field: value}), LIMITS)
    assert not isinstance(result, PlanRejection), result
    assert TOOLS[tool].input_model.model_validate({**base, field: value})


@pytest.mark.parametrize(
    ("value", "shown"),
    [("5", "the string '5'"), (5.0, "the number 5.0"), (True, "the boolean true"), (False, "the boolean false")],
)
def test_the_rejection_says_what_was_given(value: Any, shown: str) -> None:
    result = parse_plan(plan_with("web_search", {"query": "q", "max_results": value}), LIMITS)
    assert isinstance(result, PlanRejection)
    assert result.error == (
        f"step 1 ('s1'), field 'input': web_search: 'max_results' must be an integer (like 5), not {shown}"
    )


def test_a_wrongly_typed_list_item_is_named_by_position() -> None:
    result = parse_plan(plan_with("summarize", {"from_steps": ["s0", 3]}), LIMITS)
    assert isinstance(result, PlanRejection) and "'from_steps' item 2 must be a string, not an integer" in result.error


def test_a_string_field_never_takes_a_number() -> None:
    result = parse_plan(plan_with("web_search", {"query": "q", "max_results": 3, "extra": True}), LIMITS)
    assert not isinstance(result, PlanRejection)  # unknown extra fields are still ignored
    result = parse_plan(plan_with("summarize", {"text": 42}), LIMITS)
    assert isinstance(result, PlanRejection) and "'text' must be a string, not an integer" in result.error


# --- a step that reaches the guard or the tool without plan validation ------------------------------


@pytest.mark.parametrize("value", ["5", 5.0, True, None, [5]])
def test_the_guard_and_the_tool_refuse_a_non_integer(value: Any, tmp_path: Path) -> None:
    step = PlanStep(
        id="s1", objective="o", tool="web_search", input={"query": "q", "max_results": value}, success_criteria="c"
    )
    context = PolicyContext(tmp_path, None, 0, 0.0, 1.0)
    decision = Policy.load(DEFAULT_POLICY).evaluate(step, context)
    assert decision.outcome == "reject" and decision.rule == "input_schema"
    assert "'max_results' must be an integer (like 5)" in decision.reason
    result = tools.execute("web_search", dict(step.input), tools.ToolContext(workspace=tmp_path, prior_results={}))
    assert result["success"] is False and "'max_results' must be an integer" in result["error"]


def test_range_limits_are_still_the_guards(tmp_path: Path) -> None:
    step = PlanStep(
        id="s1", objective="o", tool="web_search", input={"query": "q", "max_results": 99}, success_criteria="c"
    )
    assert not isinstance(parse_plan(plan_with("web_search", dict(step.input)), LIMITS), PlanRejection)
    decision = Policy.load(DEFAULT_POLICY).evaluate(step, PolicyContext(tmp_path, None, 0, 0.0, 1.0))
    assert (
        decision.rule == "input_schema" and "'max_results': Input should be less than or equal to 20" in decision.reason
    )


@pytest.mark.parametrize(
    ("param", "value"), [("limit", "true"), ("limit", '"5"'), ("limit", "5.0"), ("max_bytes", "yes")]
)
def test_a_policy_param_must_have_its_type(tmp_path: Path, param: str, value: str) -> None:
    kind = "max_tool_calls" if param == "limit" else "write_size_cap"
    path = tmp_path / "p.yaml"
    path.write_text(f"rules:\n  - name: r\n    kind: {kind}\n    description: d\n    params:\n      {param}: {value}\n")
    with pytest.raises(PolicyError, match=f"params: {param}: Input should be a valid integer"):
        Policy.load(path)


# --- valid plans stay valid ------------------------------------------------------------------------


def test_every_recorded_plan_is_still_valid() -> None:
    plans = []
    for recording in sorted(RECORDINGS.glob("*.jsonl")):
        for line in recording.read_text(encoding="utf-8").splitlines():
            record = json.loads(line)
            if record["type"] == "PlanGenerated":
                plans.append(record["payload"]["plan"])
    assert plans
    for plan in plans:
        for number, step in enumerate(plan["steps"]):
            earlier = [s["id"] for s in plan["steps"][:number]]
            assert TOOLS[step["tool"]].plan_problem(step["input"], earlier) is None, step


def test_a_plan_with_a_string_count_is_repaired_not_run(
    fake_llm: FakeLLMServer, sqlite_url: str, tmp_path: Path
) -> None:
    workspace = tmp_path / "workspace"
    seed_workspace(workspace)
    wrong = {
        "steps": [
            {
                "id": "step_1",
                "objective": "search",
                "tool": "web_search",
                "input": {"query": "agents", "max_results": "5"},
                "success_criteria": "results",
            }
        ]
    }
    right = json.loads(json.dumps(wrong))
    right["steps"][0]["input"]["max_results"] = 5
    fake_llm.script(OPENAI_PATH, openai_reply(json.dumps(wrong)), openai_reply(json.dumps(right)))
    settings = make_settings(sqlite_url, workspace, AGENT_PLANNER="openai", OPENAI_BASE_URL=fake_llm.openai_base_url)
    bench = Workbench.open(settings)
    state = bench.run(RunRequest("Search for agents"))
    bench.close()
    assert state.status == "completed", state.failure_reason
    assert state.plan_errors == (
        "step 1 ('step_1'), field 'input': web_search: 'max_results' must be an integer (like 5), not the string '5'",
    )
    assert state.steps[0].input == {"query": "agents", "max_results": 5}
