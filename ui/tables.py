"""Runs, events, plan steps and observations as pandas DataFrames (cells are text: safe for untrusted data)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import pandas as pd

from agent_core import RecordedEvent, RunState, RunSummary, summarize_event
from ui.format import colour, exact_time, human_duration, relative_time, short_id, status_label


def _clip(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _compact(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(", ", ": "), default=str)


def summarize(recorded: RecordedEvent) -> str:
    """One line a person can scan (the CLI prints the same line)."""
    return summarize_event(recorded)


def payload_of(recorded: RecordedEvent) -> dict[str, Any]:
    """The event's payload as stored (for an unreadable event: what could be recovered, and why)."""
    return recorded.event.to_payload()


def events_frame(events: Sequence[RecordedEvent], start: datetime | None = None) -> pd.DataFrame:
    """seq, time since the run started (``start``, else the first event's), actor, event, summary."""
    start = start or (events[0].at if events else None)
    rows = [
        {
            "seq": e.seq,
            "time": f"+{(e.at - start).total_seconds():.2f} s" if start else "",
            "at": exact_time(e.at),
            "actor": e.actor,
            "event": e.type + (" ⚠" if e.problem else ""),
            "summary": summarize(e),
        }
        for e in events
    ]
    return pd.DataFrame(rows, columns=["seq", "time", "at", "actor", "event", "summary"])


def coloured(frame: pd.DataFrame, column: str, statuses: Sequence[str]) -> Any:
    """The frame as a Styler whose ``column`` is written in each row's outcome colour."""
    css = [f"color: {colour(s)}; font-weight: 600" for s in statuses]
    return frame.style.apply(lambda _: css, subset=[column])


def plan_frame(state: RunState) -> pd.DataFrame:
    """Plan steps beside what became of them: tool, input, objective, decision, outcome."""
    rows = [
        {
            "step": s.step_id,
            "tool": s.tool,
            "input": _compact(s.input),
            "objective": s.objective,
            "decision": s.decision or "",
            "rule": s.rule,
            "outcome": status_label(s.outcome),
            "duration": human_duration(s.duration_ms / 1000) if s.result is not None else "",
        }
        for s in state.steps
    ]
    return pd.DataFrame(rows, columns=["step", "tool", "input", "objective", "decision", "rule", "outcome", "duration"])


def runs_frame(summaries: Sequence[RunSummary], now: datetime) -> pd.DataFrame:
    """The Runs table: newest first as given; ids shortened, times relative with the exact one beside."""
    rows = [
        {
            "run": short_id(s.run_id),
            "status": status_label(s.status),
            "goal": _clip(s.goal, 120),
            "started": relative_time(s.started_at, now),
            "duration": human_duration(s.duration_s),
            "steps": f"{s.steps_ok}/{s.steps_planned}"
            + (f" · {s.steps_rejected} rej" if s.steps_rejected else "")
            + (f" · {s.steps_failed} fail" if s.steps_failed else ""),
            "cost": s.cost_usd,
            "planner": f"{s.provider}/{s.model}" if s.model else s.provider,
            "replay of": short_id(s.replay_of),
            "started at": exact_time(s.started_at),
        }
        for s in summaries
    ]
    return pd.DataFrame(
        rows,
        columns=["run", "status", "goal", "started", "duration", "steps", "cost", "planner", "replay of", "started at"],
    )
