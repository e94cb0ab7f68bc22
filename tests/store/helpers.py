"""Small builders of real catalogue events for store tests."""

from __future__ import annotations

import uuid

from agent_core import events as ev


def new_run_id() -> str:
    return uuid.uuid4().hex


def run_started(goal: str = "Summarize notes.txt", replay_of: str | None = None) -> ev.RunStarted:
    return ev.RunStarted(
        goal=goal,
        max_steps=4,
        budget_usd=0.5,
        planner=ev.PlannerInfo(provider="offline", model="offline", prompt_sha="p" * 64),
        policy_sha="s" * 64,
        replay_of=replay_of,
        replay_mode="whatif" if replay_of else None,
    )


def observation(step: str = "step_1", text: str = "ok", success: bool = True) -> ev.ObservationCaptured:
    return ev.ObservationCaptured(step_id=step, tool="read_file", result={"success": success, "output": text})
