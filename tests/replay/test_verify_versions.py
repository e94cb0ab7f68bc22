"""Verify across the v2 schemas of PlanRejected (length, sha256, excerpt) and ObservationCaptured (text once).

A run recorded by the old code (v1 rows: rejected answers whole, read text twice) and a run
recorded by the new code both verify identical. A rejected answer whose excerpt is the whole
answer is parsed again by the current validator; a longer one (or one that was not valid text)
cannot be, so its recorded rejection is replayed.
"""

from __future__ import annotations

import json
from typing import Any

from agent_core import events as ev
from agent_core.config import Settings
from agent_core.orchestrator import Orchestrator, RunRequest
from agent_core.projections import load_events
from agent_core.replay import verify
from agent_core.store import EventStore
from agent_core.workbench import Workbench
from tests.hostile import READ_AND_SUMMARIZE, ScriptedPlanner

PLAN = READ_AND_SUMMARIZE
SHORT = '{"steps": []}'
LONG = json.dumps({"steps": [{"id": "step_1", "tool": "shell", "objective": "x" * 900}] * 5})  # > 2,000 chars
NOT_TEXT = '{"steps": "\ud800"}'


def run_with(bench: Workbench, settings: Settings, *answers: str) -> str:
    planner = ScriptedPlanner(*answers, summaries=("A short summary.",))
    orchestrator = Orchestrator(bench.store, settings, planner_factory=lambda *_a, **_k: planner)
    return orchestrator.run(RunRequest("Summarize notes.txt", planner="openai")).run_id


class V1:
    """An event as the code before v2 wrote it."""

    schema_version = 1

    def __init__(self, event: ev.DomainEvent, payload: dict[str, Any]) -> None:
        self.type, self.actor, self.payload = event.type, event.actor, payload

    def to_payload(self) -> dict[str, Any]:
        return self.payload


def as_v1(event: ev.DomainEvent, answers: dict[int, str]) -> Any:
    """The event as the old code stored it: a rejected answer whole, a read's text twice."""
    payload = event.to_payload()
    if isinstance(event, ev.PlanRejected):
        for key in ("raw_chars", "raw_sha256", "raw_excerpt"):
            payload.pop(key)
        return V1(event, {**payload, "raw_text": answers[event.attempt]})
    if isinstance(event, ev.ObservationCaptured) and event.success:
        twice = {"read_file": "content", "summarize": "summary"}[event.tool]
        return V1(event, {**payload, "result": {**event.result, twice: event.result["output"]}})
    return event


def copy_as_v1(store: EventStore, run_id: str, answers: list[str]) -> str:
    events = load_events(store, run_id)
    copy_id = "v1-" + run_id[:20]
    by_attempt = dict(enumerate(answers, start=1))
    store.append(copy_id, [as_v1(e.event, by_attempt) for e in events], 0, times=[e.at for e in events])
    return copy_id


def test_a_new_run_with_short_long_and_invalid_rejected_answers_verifies_identical(
    bench: Workbench, settings: Settings
) -> None:
    for answers in ([SHORT, LONG, PLAN], [LONG, NOT_TEXT, PLAN], [LONG, LONG, LONG]):
        run_id = run_with(bench, settings, *answers)
        rejected = [e.event for e in load_events(bench.store, run_id) if isinstance(e.event, ev.PlanRejected)]
        assert rejected and all(len(r.raw_excerpt) <= ev.REJECTED_EXCERPT_CHARS for r in rejected)
        assert [r.replays_whole_answer for r in rejected] == [a == SHORT for a in answers[: len(rejected)]]
        result = bench.verify(run_id)
        assert result.identical, result.why


def test_a_run_recorded_by_the_old_code_verifies_identical(bench: Workbench, settings: Settings) -> None:
    answers = [SHORT, LONG, PLAN]
    run_id = run_with(bench, settings, *answers)
    old = copy_as_v1(bench.store, run_id, answers)
    stored = bench.store.read_run(old)
    assert {(e.type, e.version) for e in stored} >= {("PlanRejected", 1), ("ObservationCaptured", 1)}
    assert any(e.payload.get("raw_text") == LONG for e in stored)  # the old row holds the whole answer
    result = verify(bench.store, bench.settings, old)
    assert result.identical, result.why
    assert result.compared == len(stored)
