"""Any LLM answer ends in a plan or a rejection a person can read, never an exception; both can be stored.

Named cases for each class the issue found (an integer of thousands of digits, nesting deep
enough for ``RecursionError``, an unpaired surrogate, ``NaN``, NUL), then property-based tests:
generated answers through ``parse_plan`` and the request/repair loop, and generated steps
through the policy guard.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from agent_core.events import REJECTED_EXCERPT_CHARS, DomainEvent, PlanGenerated, PlanRejected, Usage, answer_sha256
from agent_core.jsontext import MAX_DEPTH, too_deep
from agent_core.plan import Plan, PlanStep
from agent_core.planning import PlanLimits, PlanRejection, parse_plan, request_plan
from agent_core.planning.parse import MAX_ERROR_CHARS
from agent_core.policy import Decision, Policy, PolicyContext
from agent_core.pricing import default_prices
from agent_core.providers import Reply
from agent_core.store import MAX_PAYLOAD_BYTES
from tests.hostile import ANSWERS, PLANS, PLAUSIBLE_PLANS, TEXT, TOOL_NAMES, VALUES

ROOT = Path(__file__).resolve().parents[2]
LIMITS = PlanLimits(max_steps=4)
STEP = '{{"id": "step_1", "objective": "o", "tool": "web_search", "input": {input}, "success_criteria": "c"}}'


def plan_text(tool_input: str) -> str:
    return '{"steps": [' + STEP.format(input=tool_input) + "]}"


def storable(event: DomainEvent) -> bool:
    """What the store demands of a payload: strict JSON, UTF-8 text, bounded nesting and size."""
    payload = event.to_payload()
    text = json.dumps(payload, ensure_ascii=False, allow_nan=False)
    return not too_deep(payload, MAX_DEPTH) and len(text.encode("utf-8")) <= MAX_PAYLOAD_BYTES


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        (plan_text('{"query": "q", "max_results": ' + "9" * 5000 + "}"), "5,000-digit integer"),
        (plan_text('{"query": "q", "max_results": ' + "9" * 19 + "}"), "19-digit integer"),
        ("[" * 5000 + "]" * 5000, "more than 16 levels deep"),
        ('{"steps": ' + "[" * 900 + "]" * 900 + "}", "more than 16 levels deep"),
        (plan_text('{"path": "a\\ud800"}'), "unpaired surrogate U+D800"),
        (plan_text('{"path": "a\ud800"}'), "unpaired surrogate U+D800 at character"),
        (plan_text('{"path": "notes\\u0000.txt"}'), "NUL character"),
        (plan_text('{"query": "q", "max_results": NaN}'), "holds NaN, which is not JSON"),
        (plan_text('{"query": "q", "max_results": -Infinity}'), "holds -Infinity"),
        (plan_text('{"query": "q", "max_results": 1e999}'), "the number 1e999"),
    ],
    ids=[
        "5000-digits",
        "19-digits",
        "deep-array",
        "deep-steps",
        "escaped-surrogate",
        "raw-surrogate",
        "nul",
        "nan",
        "infinity",
        "overflow",
    ],
)
def test_each_class_of_hostile_answer_is_a_rejection_with_a_reason(answer: str, expected: str) -> None:
    rejection = parse_plan(answer, LIMITS)
    assert isinstance(rejection, PlanRejection) and expected in rejection.error, rejection


def test_a_rejection_quotes_the_answer_briefly() -> None:
    huge_id = json.dumps(
        {"steps": [{"id": "x" * 90_000, "objective": "o", "tool": "shell", "input": {}, "success_criteria": "c"}]}
    )
    rejection = parse_plan(huge_id, LIMITS)
    assert isinstance(rejection, PlanRejection) and "unknown tool 'shell'" in rejection.error
    assert len(rejection.error) < 400


@settings(max_examples=400, deadline=None)
@given(ANSWERS)
def test_parse_plan_never_raises_and_what_it_returns_can_be_stored(answer: str) -> None:
    result = parse_plan(answer, LIMITS)
    assert isinstance(result, Plan | PlanRejection)
    if isinstance(result, PlanRejection):
        assert 0 < len(result.error) <= MAX_ERROR_CHARS
        result.error.encode("utf-8")  # a message a person reads: valid text
        assert storable(PlanRejected(error=result.error))
    else:
        assert storable(PlanGenerated(plan=result, raw_text=answer))


POLICIES = [Policy.load(ROOT / "policies" / name) for name in ("default.yaml", "strict.yaml")]


@pytest.fixture(scope="module")
def guard_context(tmp_path_factory: pytest.TempPathFactory) -> PolicyContext:
    workspace = tmp_path_factory.mktemp("ws")
    (workspace / "notes.txt").write_text("notes")
    return PolicyContext(workspace, workspace.parent / "events.db", 0, 0.0, 0.5)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.one_of(PLANS, PLAUSIBLE_PLANS))
def test_every_plan_parsed_from_a_hostile_answer_gets_a_guard_decision(
    guard_context: PolicyContext, answer: str
) -> None:
    plan = parse_plan(answer, LIMITS)
    for step in plan.steps if isinstance(plan, Plan) else ():
        for policy in POLICIES:
            assert isinstance(policy.evaluate(step, guard_context), Decision)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(TOOL_NAMES, st.dictionaries(TEXT, VALUES, max_size=4) | st.fixed_dictionaries({"path": TEXT}))
def test_the_guard_decides_any_resolved_input(
    guard_context: PolicyContext, tool: str, tool_input: dict[str, Any]
) -> None:
    # Resolved input reaches the guard without the plan's checks (earlier output is filled in): anything goes.
    step = PlanStep.model_construct(id="step_1", objective="o", tool=tool, input=tool_input, success_criteria="c")
    for policy in POLICIES:
        decision = policy.evaluate(step, guard_context)
        assert decision.outcome in ("approve", "reject", "hold") and decision.rule and decision.reason


class Scripted:
    """A planner answering the given texts in turn (the request loop's contract, no network)."""

    provider, model = "scripted", "scripted-1"

    def __init__(self, *answers: str, usage: Usage | None = None) -> None:
        self.answers = list(answers)
        self.usage = usage or Usage(input_tokens=10, output_tokens=10)
        self.calls = 0

    def plan(self, system_prompt: str, user_message: str, limits: PlanLimits) -> Reply:
        self.calls += 1
        return Reply(self.answers.pop(0), self.usage, self.model, 1.0)

    def summarize(self, text: str, instruction: str) -> Reply | None:
        return None


def ask(planner: Any, **options: Any) -> tuple[Any, list[DomainEvent]]:
    events: list[DomainEvent] = []
    outcome = request_plan(
        planner,
        "Summarize notes.txt",
        LIMITS,
        workspace_files=["notes.txt"],
        emit=lambda *e: events.extend(e),
        prices=default_prices(),
        **options,
    )
    return outcome, events


@settings(max_examples=100, deadline=None)
@given(st.lists(ANSWERS, min_size=3, max_size=3))
def test_the_request_loop_ends_every_answer_in_storable_events(answers: list[str]) -> None:
    outcome, events = ask(Scripted(*answers))
    kinds = [e.type for e in events]
    assert kinds[-1] in ("PlanGenerated", "PlanRejected", "CostRecorded")
    assert (outcome.plan is None) == ("PlanGenerated" not in kinds)
    assert all(storable(e) for e in events)
    for rejected in (e for e in events if isinstance(e, PlanRejected)):
        assert len(rejected.raw_excerpt) <= REJECTED_EXCERPT_CHARS


def test_a_5_mb_answer_is_kept_as_its_length_hash_and_an_excerpt() -> None:
    answer = "x" * 5_000_000
    outcome, events = ask(Scripted(answer, answer, answer))
    rejections = [e for e in events if isinstance(e, PlanRejected)]
    assert outcome.plan is None and len(rejections) == 3
    for rejected in rejections:
        assert rejected.raw_chars == 5_000_000 and rejected.raw_sha256 == answer_sha256(answer)
        assert rejected.raw_excerpt == answer[:REJECTED_EXCERPT_CHARS] and not rejected.replays_whole_answer
        assert len(json.dumps(rejected.to_payload())) < 3000


def test_a_provider_that_raises_anything_ends_the_loop_in_a_rejection() -> None:
    class Broken(Scripted):
        def plan(self, system_prompt: str, user_message: str, limits: PlanLimits) -> Reply:
            raise RecursionError("maximum recursion depth exceeded while decoding a JSON object")

    outcome, events = ask(Broken())
    assert [e.type for e in events] == ["PlanRequested", "PlanRejected"]
    assert "could not answer: RecursionError" in outcome.reason and not events[-1].retryable
