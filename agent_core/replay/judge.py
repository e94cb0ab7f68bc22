"""Judges: score a run's final response against its goal and its steps' success criteria.

Two judges with one output (``ResponseJudged``): ``offline``, a deterministic scorer (a step's
criterion is met when the step succeeded with output; the goal when the run completed with a
final response that names the goal's key words), and ``llm``, the configured provider asked
for a JSON verdict. The score is the share of criteria met, from 0 to 1.
"""

from __future__ import annotations

import json
import re
from typing import Any, Literal

from agent_core import events as ev
from agent_core.config import Settings
from agent_core.errors import AgentError
from agent_core.projections import COMPLETED, RunState
from agent_core.providers import Planner, make_planner

JudgeKind = Literal["offline", "llm"]
JUDGE_INSTRUCTION = (
    "You are a strict evaluator. Judge whether the agent's FINAL RESPONSE below meets each CRITERION. "
    'Answer with one JSON object only: {"criteria": [{"criterion": str, "met": bool, "note": str}], '
    '"reasons": [str]}, one entry per criterion, in the order given.'
)
_WORD = re.compile(r"[a-z0-9][a-z0-9\-]{3,}")
_STOP = frozenset({"with", "that", "this", "from", "into", "about", "their", "them", "then", "save", "write"})


def criteria_of(state: RunState) -> list[str]:
    """The goal, then each planned step's success criteria."""
    return [f"goal: {state.goal}", *(f"{s.step_id}: {s.success_criteria}" for s in state.steps if s.success_criteria)]


def judge_offline(state: RunState) -> ev.ResponseJudged:
    """The deterministic scorer: the same run always gets the same score."""
    words = {w for w in _WORD.findall(state.goal.lower()) if w not in _STOP}
    named = {w for w in words if w in state.final_summary.lower()}
    goal_met = (
        state.status == COMPLETED and bool(state.final_summary.strip()) and (not words or len(named) * 3 >= len(words))
    )
    scores = [
        ev.CriterionScore(
            criterion=f"goal: {state.goal}",
            met=goal_met,
            note=f"run {state.status}; the response names {len(named)} of {len(words)} key words of the goal",
        )
    ]
    for step in state.steps:
        if not step.success_criteria:
            continue
        ok = bool(step.result and step.result.get("success") and str(step.result.get("output", "")).strip())
        scores.append(
            ev.CriterionScore(
                criterion=f"{step.step_id}: {step.success_criteria}", met=ok, note=f"{step.tool} {step.outcome}"
            )
        )
    met = sum(s.met for s in scores)
    return ev.ResponseJudged(
        judge="offline",
        score=round(met / len(scores), 4),
        criteria=scores,
        reasons=[f"{met} of {len(scores)} criteria met"],
    )


def judge_llm(state: RunState, planner: Planner) -> ev.ResponseJudged:
    """Ask ``planner``'s model for a verdict per criterion; an answer that is not the JSON asked for scores 0."""
    criteria = criteria_of(state)
    text = "CRITERIA:\n" + "\n".join(f"- {c}" for c in criteria) + f"\n\nFINAL RESPONSE:\n{state.final_summary}"
    reply = planner.summarize(text, JUDGE_INSTRUCTION)
    if reply is None:
        raise AgentError(f"the {planner.provider} planner has no LLM to judge with; use the offline judge")
    parsed = _parse(reply.text)
    scores = [
        ev.CriterionScore(criterion=criteria[i], met=bool(item.get("met")), note=str(item.get("note", ""))[:300])
        for i, item in enumerate(parsed.get("criteria", [])[: len(criteria)])
        if isinstance(item, dict)
    ]
    reasons = [str(r)[:300] for r in parsed.get("reasons", []) if isinstance(r, str)] or (
        [] if scores else [f"the judge's answer was not the JSON asked for: {reply.text[:120]!r}"]
    )
    return ev.ResponseJudged(
        judge=planner.provider,
        model=reply.model or planner.model,
        score=round(sum(s.met for s in scores) / len(criteria), 4) if criteria else 0.0,
        criteria=scores,
        reasons=reasons,
        input_tokens=reply.usage.input_tokens,
        output_tokens=reply.usage.output_tokens,
    )


def _parse(text: str) -> dict[str, Any]:
    body = text.strip()
    fenced = re.match(r"\A```[A-Za-z]*\n(.*?)\n?```\Z", body, re.DOTALL)
    try:
        data = json.loads(fenced.group(1) if fenced else body)
    except json.JSONDecodeError:
        return {}
    return data if isinstance(data, dict) else {}


def judge(state: RunState, kind: JudgeKind, settings: Settings) -> ev.ResponseJudged:
    """Score ``state`` with the offline scorer or an LLM judge through the configured provider (``AGENT_PLANNER``)."""
    if kind == "offline":
        return judge_offline(state)
    return judge_llm(state, make_planner(settings))
