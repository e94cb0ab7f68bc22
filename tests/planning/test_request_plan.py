"""The request/repair loop, redaction, cost, replay from a real store, and choosing a planner."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest

from agent_core.config import Settings
from agent_core.errors import ConfigError, ProviderError
from agent_core.events import CostRecorded, DomainEvent, PlanGenerated, PlanRejected, PlanRequested, RunStarted, Usage
from agent_core.planning import SYSTEM_PROMPT, PlanLimits, build_user_message, parse_goal, prompt_sha, request_plan
from agent_core.pricing import ModelPrice, PriceTable, default_prices
from agent_core.projections import decode
from agent_core.providers import (
    DEFAULT_MODELS,
    AnthropicPlanner,
    OfflinePlanner,
    OpenAIPlanner,
    RecordedPlanner,
    Reply,
    make_planner,
)
from agent_core.redaction import Redactor
from agent_core.store import EventStore
from agent_core.workspace import SAMPLE_WORKSPACE, list_workspace
from tests.fake_llm import ANTHROPIC_PATH, FakeLLMServer, anthropic_text_reply, anthropic_tool_reply

DEMO_GOAL = "Research the latest developments in AI agent frameworks and summarize the key findings"
LIMITS = PlanLimits(max_steps=5)
PRICES = PriceTable({"scripted-model": ModelPrice(1.0, 2.0)})
SCRIPTED_USAGE = Usage(input_tokens=1000, output_tokens=100)


class ScriptedPlanner:
    """A planner answering from a list: str -> a reply, Exception -> raised."""

    provider = "scripted"
    model = "scripted-model"

    def __init__(self, *answers: str | Exception, usage: Usage = SCRIPTED_USAGE) -> None:
        self.answers = list(answers)
        self.usage = usage
        self.messages: list[str] = []

    def plan(self, system_prompt: str, user_message: str, limits: PlanLimits) -> Reply:
        self.messages.append(user_message)
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return Reply(answer, self.usage, self.model, 12.5)

    def summarize(self, text: str, instruction: str) -> Reply | None:
        return None


def offline_text(goal: str = DEMO_GOAL) -> str:
    message = build_user_message(goal, LIMITS, list_workspace(SAMPLE_WORKSPACE))
    return OfflinePlanner(SAMPLE_WORKSPACE).plan(SYSTEM_PROMPT, message, LIMITS).text


def collect(planner: object, goal: str = DEMO_GOAL, **options: object) -> tuple[object, list[DomainEvent]]:
    events: list[DomainEvent] = []
    outcome = request_plan(
        planner,  # type: ignore[arg-type]
        goal,
        LIMITS,
        workspace_files=list_workspace(SAMPLE_WORKSPACE),
        emit=lambda *batch: events.extend(batch),
        prices=options.pop("prices", PRICES),  # type: ignore[arg-type]
        **options,  # type: ignore[arg-type]
    )
    return outcome, events


def test_events_come_in_order_with_a_running_cost_total() -> None:
    planner = ScriptedPlanner("nope", offline_text())
    outcome, events = collect(planner, spent_usd=0.5)
    assert [type(e).__name__ for e in events] == [
        "PlanRequested",
        "PlanRejected",
        "CostRecorded",
        "PlanRequested",
        "PlanGenerated",
        "CostRecorded",
    ]
    costs = [e for e in events if isinstance(e, CostRecorded)]
    each = (1000 * 1.0 + 100 * 2.0) / 1e6
    assert [c.usd for c in costs] == [pytest.approx(each)] * 2
    assert [c.total_usd for c in costs] == [pytest.approx(0.5 + each), pytest.approx(0.5 + 2 * each)]
    assert outcome.spent_usd == pytest.approx(0.5 + 2 * each)  # type: ignore[attr-defined]
    requested = [e for e in events if isinstance(e, PlanRequested)]
    assert [r.attempt for r in requested] == [1, 2]
    assert all(r.system_prompt == SYSTEM_PROMPT and r.provider == "scripted" for r in requested)


def test_a_provider_error_ends_the_loop_at_once() -> None:
    planner = ScriptedPlanner(ProviderError("Anthropic rejected the API key (401 Unauthorized)"), offline_text())
    outcome, events = collect(planner)
    assert [type(e).__name__ for e in events] == ["PlanRequested", "PlanRejected"]
    rejected = events[1]
    assert isinstance(rejected, PlanRejected) and not rejected.retryable
    assert outcome.reason == (  # type: ignore[attr-defined]
        "the scripted planner (scripted-model) could not answer: Anthropic rejected the API key (401 Unauthorized)"
    )
    assert len(planner.answers) == 1


def test_the_goal_is_redacted_before_it_is_sent_or_recorded() -> None:
    secret = "sk-ant-api03-" + "x7Kq" * 23 + "AA"
    planner = ScriptedPlanner(offline_text())
    _, events = collect(planner, goal=f"Summarize notes.txt, my key is {secret}", redactor=Redactor(secrets=()))
    assert secret not in planner.messages[0] and "[REDACTED:anthropic-key]" in planner.messages[0]
    assert secret not in json.dumps([e.to_payload() for e in events])


def test_unpriced_models_are_recorded_as_such() -> None:
    planner = ScriptedPlanner(offline_text())
    _, events = collect(planner, prices=PriceTable({}))
    cost = events[-1]
    assert isinstance(cost, CostRecorded) and (cost.usd, cost.priced, cost.input_tokens) == (0.0, False, 1000)


def test_the_offline_planner_costs_nothing_and_says_so() -> None:
    outcome, events = collect(OfflinePlanner(SAMPLE_WORKSPACE), prices=default_prices())
    requested, generated, cost = events
    assert isinstance(requested, PlanRequested) and (requested.provider, requested.model) == (
        "offline",
        "offline-rules-v2",
    )
    assert isinstance(generated, PlanGenerated) and "no LLM was called" in generated.raw_text
    assert isinstance(cost, CostRecorded) and (cost.usd, cost.total_usd, cost.priced) == (0.0, 0.0, True)
    assert outcome.plan is not None  # type: ignore[attr-defined]


def test_the_user_message_round_trips_goal_and_files() -> None:
    message = build_user_message("Line one\nline two", LIMITS, ["b.md", "a.txt"])
    assert parse_goal(message) == ("Line one\nline two", ["a.txt", "b.md"])
    assert parse_goal(build_user_message("x", LIMITS, [])) == ("x", [])
    assert parse_goal("just a goal") == ("just a goal", None)
    assert "at most 5 steps" in message
    assert prompt_sha(SYSTEM_PROMPT) == prompt_sha(SYSTEM_PROMPT) != prompt_sha(SYSTEM_PROMPT + " ")
    assert len(prompt_sha(SYSTEM_PROMPT)) == 64


def normalized(events: list[DomainEvent]) -> list[dict[str, object]]:
    return [{**e.to_payload(), "type": e.type} for e in events]


def test_a_recorded_run_replays_the_same_planner_events(fake_llm: FakeLLMServer, store: EventStore) -> None:
    broken = {"steps": [{"id": "step_1", "objective": "x", "tool": "shell", "input": {}, "success_criteria": "y"}]}
    fake_llm.script(ANTHROPIC_PATH, anthropic_tool_reply(broken), anthropic_text_reply(offline_text()))
    live = AnthropicPlanner("claude-sonnet-4-6", "k", fake_llm.anthropic_base_url, timeout_s=5)
    _, original = collect(live, prices=default_prices())

    run_id = f"run-{uuid.uuid4().hex[:8]}"
    started = RunStarted(
        goal=DEMO_GOAL,
        max_steps=5,
        budget_usd=1.0,
        planner={"provider": "anthropic", "model": "claude-sonnet-4-6", "prompt_sha": prompt_sha(SYSTEM_PROMPT)},
        policy_sha="x",
    )
    store.append(run_id, [started, *original], expected_seq=0)
    recorded = [decode(row) for row in store.read_run(run_id)]

    replayer = RecordedPlanner(recorded)
    assert (replayer.provider, replayer.model, replayer.remaining) == ("anthropic", "claude-sonnet-4-6", 2)
    _, replayed = collect(replayer, prices=default_prices())
    assert normalized(replayed) == normalized(original)
    assert replayer.remaining == 0
    with pytest.raises(ProviderError, match="holds only 2 planner answer"):
        replayer.plan(SYSTEM_PROMPT, "more?", LIMITS)


def test_a_recorded_provider_failure_and_truncation_replay_the_same() -> None:
    planner = ScriptedPlanner(ProviderError("OpenAI is rate limiting (429)"))
    _, failed = collect(planner)
    truncated_reply = Reply('{"steps": [', Usage(input_tokens=5, output_tokens=9), "scripted-model", 1.0, "length")

    class Truncating(ScriptedPlanner):
        def plan(self, system_prompt: str, user_message: str, limits: PlanLimits) -> Reply:
            return truncated_reply if not self.answers else super().plan(system_prompt, user_message, limits)

    _, cut = collect(Truncating())
    for original in (failed, cut):
        as_recorded = [_recorded(e) for e in original]
        _, replayed = collect(RecordedPlanner(as_recorded))
        assert normalized(replayed) == normalized(original)


def _recorded(event: DomainEvent):  # type: ignore[no-untyped-def]
    from datetime import UTC, datetime

    from agent_core.events import RecordedEvent

    return RecordedEvent(0, "r", 0, event.type, 1, event.actor, datetime.now(UTC), "", event)


# --- choosing a planner ----------------------------------------------------------------------


def settings(**env: str) -> Settings:
    return Settings(_env_file=None, **env)  # type: ignore[call-arg]


def test_auto_picks_anthropic_then_openai_then_offline(tmp_path: Path) -> None:
    assert isinstance(make_planner(settings(ANTHROPIC_API_KEY="k", OPENAI_API_KEY="o")), AnthropicPlanner)
    openai_by_url = make_planner(settings(OPENAI_BASE_URL="http://127.0.0.1:11434/v1"))
    assert isinstance(openai_by_url, OpenAIPlanner) and openai_by_url.model == DEFAULT_MODELS["openai"]
    offline = make_planner(settings(AGENT_WORKSPACE=str(tmp_path), AGENT_MODEL="gpt-x"))
    assert isinstance(offline, OfflinePlanner) and offline.workspace == tmp_path and offline.model == "offline-rules-v2"


def test_model_comes_from_the_argument_then_agent_model_then_the_default() -> None:
    assert make_planner(settings(ANTHROPIC_API_KEY="k")).model == DEFAULT_MODELS["anthropic"]
    assert make_planner(settings(ANTHROPIC_API_KEY="k", AGENT_MODEL="claude-haiku-4-5")).model == "claude-haiku-4-5"
    assert make_planner(settings(ANTHROPIC_API_KEY="k", AGENT_MODEL="a"), model="b").model == "b"
    assert make_planner(settings(ANTHROPIC_API_KEY="k"), provider="offline").provider == "offline"


@pytest.mark.parametrize(("provider", "needed"), [("anthropic", "ANTHROPIC_API_KEY"), ("openai", "OPENAI_BASE_URL")])
def test_an_explicit_provider_without_credentials_is_a_config_error(provider: str, needed: str) -> None:
    with pytest.raises(ConfigError, match=needed):
        make_planner(settings(), provider=provider)
