"""Compare any two runs: the replay diff (same alignment, same verdict rules) plus the figures a
reviewer weighs beside it: per-step and total cost, tokens and latency, and the final answers' text diff.

The diff itself is ``diff_runs`` with the comparison's names for the two runs; this module only
adds figures read from the same events, so a comparison and a replay's verdict never disagree.
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from dataclasses import dataclass, field

from agent_core import events as ev
from agent_core.projections import fold
from agent_core.replay.diff import COMPARE_NAMES, DEFAULT_COST_SHARE, RunDiff, StepDiff, diff_runs

PLANNING = "planning"
MAX_ANSWER_DIFF_LINES = 200


@dataclass(frozen=True, slots=True)
class StepFigures:
    """What one step (or planning) cost: USD, tokens, and time in the LLM or the tool."""

    cost_usd: float = 0.0
    tokens: int = 0
    latency_ms: float = 0.0

    def __add__(self, other: StepFigures) -> StepFigures:
        return StepFigures(
            self.cost_usd + other.cost_usd, self.tokens + other.tokens, self.latency_ms + other.latency_ms
        )


def step_figures(events: Sequence[ev.RecordedEvent]) -> dict[str, StepFigures]:
    """Figures per step id, and under ``planning`` the planner's calls.

    A cost event names its source, not its step: an LLM call a tool makes is charged to the step
    whose tool was running (the last intent without its observation), the planner's to planning.
    """
    figures: dict[str, StepFigures] = {}
    running: str | None = None

    def add(key: str, more: StepFigures) -> None:
        figures[key] = figures.get(key, StepFigures()) + more

    for recorded in events:
        e = recorded.event
        if isinstance(e, ev.ToolExecuted):
            running = e.step_id
        elif isinstance(e, ev.ObservationCaptured):
            add(e.step_id, StepFigures(latency_ms=e.duration_ms))
            running = None
        elif isinstance(e, ev.StepInterrupted):
            running = None
        elif isinstance(e, ev.PlanGenerated | ev.PlanRejected):
            add(PLANNING, StepFigures(latency_ms=e.latency_ms))
        elif isinstance(e, ev.CostRecorded):
            key = PLANNING if e.source == "planner" or running is None else running
            add(key, StepFigures(cost_usd=e.usd, tokens=e.input_tokens + e.output_tokens))
    return figures


@dataclass(frozen=True, slots=True)
class RunComparison:
    """Two runs side by side: the diff and verdict, and the figures of each (baseline first)."""

    diff: RunDiff
    figures: tuple[dict[str, StepFigures], dict[str, StepFigures]]
    duration_s: tuple[float | None, float | None]
    answers: tuple[str, str]
    answer_diff: str = ""
    totals: tuple[StepFigures, StepFigures] = field(default=(StepFigures(), StepFigures()))

    def row_figures(self, row: StepDiff) -> tuple[StepFigures | None, StepFigures | None]:
        """The figures of an aligned row's step in each run (None where the run lacks the step)."""
        a = self.figures[0].get(row.original.step_id, StepFigures()) if row.original else None
        b = self.figures[1].get(row.replay.step_id, StepFigures()) if row.replay else None
        return a, b

    @property
    def planning(self) -> tuple[StepFigures, StepFigures]:
        """The planner's figures in each run."""
        return self.figures[0].get(PLANNING, StepFigures()), self.figures[1].get(PLANNING, StepFigures())


def compare_runs(
    baseline: Sequence[ev.RecordedEvent], other: Sequence[ev.RecordedEvent], *, cost_share: float = DEFAULT_COST_SHARE
) -> RunComparison:
    """Compare ``other`` with ``baseline`` by the replay diff's rules, plus cost, token and latency figures."""
    diff = diff_runs(baseline, other, cost_share=cost_share, names=COMPARE_NAMES)
    a, b = fold(baseline), fold(other)
    figures = (step_figures(baseline), step_figures(other))
    answers = (a.final_summary or "", b.final_summary or "")
    lines = list(
        difflib.unified_diff(answers[0].splitlines(), answers[1].splitlines(), *COMPARE_NAMES, lineterm="", n=2)
    )
    if len(lines) > MAX_ANSWER_DIFF_LINES:
        lines = [*lines[:MAX_ANSWER_DIFF_LINES], f"... {len(lines) - MAX_ANSWER_DIFF_LINES} more lines"]
    totals = tuple(sum(f.values(), StepFigures()) for f in figures)
    return RunComparison(
        diff=diff,
        figures=figures,
        duration_s=(a.duration_s, b.duration_s),
        answers=answers,
        answer_diff="\n".join(lines),
        totals=(totals[0], totals[1]),
    )
