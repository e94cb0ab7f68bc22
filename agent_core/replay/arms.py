"""Arms: several what-ifs of one recording side by side (models, providers, prompts), and over many runs.

An arm is written ``PROVIDER:MODEL`` (``openai:gpt-4.1-mini``), ``PROVIDER`` (its default model)
or ``prompt=FILE`` (the recorded planner's provider and model with another system prompt). Each
arm is one what-if replay (``replay_of`` set, ``ReplayDiffed`` recorded); with a judge, its
``ResponseJudged`` is appended to the arm's replay too. ``compare_arms_all`` runs the arms over
many originals and counts each arm's wins (improvement), ties (unchanged) and losses (regression).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agent_core.config import Settings
from agent_core.errors import AgentError
from agent_core.projections import load_state
from agent_core.providers import planner_choices
from agent_core.replay.batch import originals
from agent_core.replay.diff import DEFAULT_COST_SHARE, RunDiff
from agent_core.replay.driver import Overrides, ReplayError, ToolsMode
from agent_core.replay.judge import JudgeKind, judge
from agent_core.replay.whatif import whatif
from agent_core.store import EventStore


@dataclass(frozen=True, slots=True)
class Arm:
    """One variant to replay a recording with: a provider and model, or a system prompt."""

    label: str
    provider: str | None = None
    model: str | None = None
    system_prompt: str | None = None

    def overrides(self, tools: ToolsMode) -> Overrides:
        """The what-if overrides this arm stands for."""
        return Overrides(self.provider, self.model, self.system_prompt, None, tools)


def parse_arm(text: str) -> Arm:
    """``PROVIDER:MODEL``, ``PROVIDER`` or ``prompt=FILE``; ``ReplayError`` says what is wrong."""
    spec = text.strip()
    if spec.startswith("prompt="):
        path = Path(spec.removeprefix("prompt="))
        if not path.is_file():
            raise ReplayError(f"arm {text!r}: no prompt file {str(path)!r}")
        return Arm(spec, system_prompt=path.read_text(encoding="utf-8"))
    provider, _, model = spec.partition(":")
    choices = planner_choices(auto=False)
    if provider not in choices:
        raise ReplayError(
            f"arm {text!r}: unknown provider {provider!r}; write PROVIDER:MODEL with one of {choices} or prompt=FILE"
        )
    return Arm(spec, provider, model or None)


@dataclass(frozen=True, slots=True)
class ArmResult:
    """One arm's what-if of one run: the matrix row."""

    arm: str
    replay_id: str
    status: str
    diff: RunDiff
    latency_ms: float
    score: float | None = None
    judged_by: str = ""

    @property
    def plan_changes(self) -> int:
        """How many steps were added, removed or changed in the plan."""
        return sum(1 for r in self.diff.rows if r.plan_change != "same")

    def to_document(self) -> dict[str, Any]:
        """The row as JSON (``replay --arm ... --json``: one object per arm)."""
        d = self.diff
        return {
            "arm": self.arm,
            "replay_id": self.replay_id,
            "status": self.status,
            "verdict": d.verdict,
            "actions": d.actions,
            "reasons": list(d.reasons),
            "steps_ok": d.steps_ok[1],
            "steps_ok_original": d.steps_ok[0],
            "cost_usd": d.cost_usd[1],
            "tokens": d.tokens[1],
            "latency_ms": self.latency_ms,
            "plan_changes": self.plan_changes,
            "score": self.score,
            "judge": self.judged_by or None,
        }


@dataclass(frozen=True, slots=True)
class ArmsReport:
    """The arms of one run, in the order given."""

    run_id: str
    results: tuple[ArmResult, ...]

    def table(self) -> list[str]:
        """The matrix as text lines."""
        head = (
            f"{'arm':<32} {'verdict':<12} {'actions':<28} {'steps ok':>8} {'cost':>9} {'tokens':>7} "
            f"{'latency':>9} {'plan Δ':>6} {'score':>6}"
        )
        rows = [head]
        for r in self.results:
            d = r.diff
            score = "-" if r.score is None else f"{r.score:.2f}"
            rows.append(
                f"{r.arm[:32]:<32} {d.verdict:<12} {d.actions.replace('_', ' ')[:28]:<28} "
                f"{d.steps_ok[1]:>3}/{d.steps_ok[0]:<4} ${d.cost_usd[1]:>8.4f} {d.tokens[1]:>7} "
                f"{r.latency_ms:>7.0f}ms {r.plan_changes:>6} {score:>6}"
            )
        return rows


def compare_arms(
    store: EventStore,
    settings: Settings,
    run_id: str,
    arms: Sequence[Arm],
    *,
    tools: ToolsMode = "recorded",
    judge_with: JudgeKind | None = None,
    cost_share: float = DEFAULT_COST_SHARE,
) -> ArmsReport:
    """One what-if of ``run_id`` per arm (and, with ``judge_with``, a ``ResponseJudged`` on each)."""
    if not arms:
        raise ReplayError("name at least one arm (--arm PROVIDER:MODEL or --arm prompt=FILE)")
    results = []
    for arm in arms:
        outcome = whatif(store, settings, run_id, arm.overrides(tools), cost_share=cost_share)
        state = outcome.state
        score, by = None, ""
        if judge_with is not None:
            verdict = judge(state, judge_with, settings)
            store.append(outcome.replay_id, [verdict], state.last_seq)
            state = load_state(store, outcome.replay_id)
            score, by = state.judge_score, state.judged_by
        latency = round((state.duration_s or 0.0) * 1000, 1)
        results.append(ArmResult(arm.label, outcome.replay_id, state.status, outcome.diff, latency, score, by))
    return ArmsReport(run_id, tuple(results))


@dataclass
class ArmTally:
    """One arm over many runs: wins (improvement), ties (unchanged), losses (regression), errors."""

    arm: str
    wins: int = 0
    ties: int = 0
    losses: int = 0
    errors: list[str] = field(default_factory=list)

    @property
    def regressed(self) -> bool:
        """True when the arm lost a run or failed to replay one: what ``--all`` exits 1 on."""
        return bool(self.losses or self.errors)


def compare_arms_all(
    store: EventStore,
    settings: Settings,
    arms: Sequence[Arm],
    *,
    tools: ToolsMode = "recorded",
    limit: int | None = None,
    on_result: Callable[[str], None] | None = None,
) -> list[ArmTally]:
    """Every arm over every original run (newest first): the per-arm win/tie/loss summary."""
    tallies = [ArmTally(arm.label) for arm in arms]
    for run_id in originals(store, limit):
        try:
            report = compare_arms(store, settings, run_id, arms, tools=tools)
        except AgentError as error:
            for tally in tallies:
                tally.errors.append(f"{run_id}: {error}")
            continue
        for tally, result in zip(tallies, report.results, strict=True):
            verdict = result.diff.verdict
            if verdict == "improvement":
                tally.wins += 1
            elif verdict == "regression":
                tally.losses += 1
            else:
                tally.ties += 1
            if on_result:
                on_result(f"{run_id}  {result.arm}: {verdict}")
    return tallies
