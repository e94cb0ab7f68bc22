"""Run diffs: align an original run and its replay step by step and judge the change.

A diff reads two event logs and nothing else. Steps are aligned by step id (same tool), then by
tool and input, then by step id alone; each row says what changed in the plan, the policy
decision, the approval and the observation. The verdict is a regression when any regression
reason holds (even if something also improved), an improvement when only improvements hold,
else unchanged; ``reasons`` says why in sentences a reviewer can act on.
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from agent_core import events as ev
from agent_core.outcome import unanswered
from agent_core.projections import COMPLETED, FAILED, StepState, fold

Verdict = Literal["regression", "improvement", "unchanged"]
Actions = Literal["same", "same_actions_different_words", "different_actions"]
"""How the replay behaved against the original, apart from the verdict: ``same`` (same tool calls, same
words), ``same_actions_different_words`` (the same tools with the same inputs, other text: outputs,
objectives, the final response), ``different_actions`` (the tool sequence or an input changed)."""
DEFAULT_COST_SHARE = 0.20
"""A replay whose cost rose by more than this share of the original's is a regression."""
UNCHANGED_REASON = "same outcome, same steps succeeded, no new policy decisions, cost within the allowed share"
LONG_OUTPUT_CHARS = 200
MAX_DIFF_LINES = 40
_COST_EPSILON = 1e-6
Names = tuple[str, str]
REPLAY_NAMES: Names = ("original", "replay")
"""How a replay's diff names its two runs (the words ``ReplayDiffed`` reasons were recorded with)."""
COMPARE_NAMES: Names = ("baseline", "compared run")
"""How a comparison of any two runs names them: the first is the baseline."""


@dataclass(frozen=True, slots=True)
class StepDiff:
    """One aligned row: the original's and the replay's view of a step (either may be missing)."""

    key: str
    tool: str
    original: StepState | None
    replay: StepState | None
    plan_change: str  # same | added | removed | changed: ...
    decision_change: str  # "" when the decision and rule are the same
    approval_change: str
    observation_change: str
    output_diff: str = ""  # a unified text diff, for long outputs that changed

    @property
    def changed(self) -> bool:
        """True when anything about the step differs between the two runs."""
        return bool(
            self.plan_change != "same" or self.decision_change or self.approval_change or self.observation_change
        )


@dataclass(frozen=True, slots=True)
class RunDiff:
    """Everything a reviewer needs to accept or refuse a replay's behaviour."""

    original_id: str
    replay_id: str
    original_status: str
    replay_status: str
    rows: tuple[StepDiff, ...]
    plan_diff: str
    verdict: Verdict
    reasons: tuple[str, ...]
    notes: tuple[str, ...] = ()
    steps_ok: tuple[int, int] = (0, 0)
    cost_usd: tuple[float, float] = (0.0, 0.0)
    tokens: tuple[int, int] = (0, 0)
    events: tuple[int, int] = (0, 0)
    failure_reasons: tuple[str, str] = ("", "")
    actions: Actions = "same"

    @property
    def cost_delta_usd(self) -> float:
        """The replay's cost minus the original's."""
        return round(self.cost_usd[1] - self.cost_usd[0], 6)

    @property
    def token_delta(self) -> int:
        """The replay's tokens minus the original's."""
        return self.tokens[1] - self.tokens[0]

    def summary_lines(self) -> list[str]:
        """A short plain-text summary (the CLI's and the demo's)."""
        lines = [
            f"verdict: {self.verdict.upper()} ({self.actions.replace('_', ' ')})",
            *(f"  - {r}" for r in self.reasons),
            f"outcome: {self.original_status} -> {self.replay_status}; steps ok {self.steps_ok[0]} -> "
            f"{self.steps_ok[1]}; cost ${self.cost_usd[0]:.4f} -> ${self.cost_usd[1]:.4f} "
            f"({self.cost_delta_usd:+.4f}); tokens {self.tokens[0]} -> {self.tokens[1]} ({self.token_delta:+d})",
        ]
        for row in self.rows:
            if not row.changed:
                lines.append(f"  {row.key:<10} {row.tool:<11} unchanged")
                continue
            parts = [
                p
                for p in (
                    "" if row.plan_change == "same" else f"plan {row.plan_change}",
                    row.decision_change,
                    row.approval_change,
                    row.observation_change,
                )
                if p
            ]
            lines.append(f"  {row.key:<10} {row.tool:<11} " + "; ".join(parts))
        lines.extend(f"note: {n}" for n in self.notes)
        return lines

    def to_document(self) -> dict[str, Any]:
        """Plain JSON-able data (``--json`` output)."""
        return {
            "original_id": self.original_id,
            "replay_id": self.replay_id,
            "verdict": self.verdict,
            "actions": self.actions,
            "reasons": list(self.reasons),
            "notes": list(self.notes),
            "outcome": {"original": self.original_status, "replay": self.replay_status},
            "steps_ok": list(self.steps_ok),
            "cost_usd": list(self.cost_usd),
            "cost_delta_usd": self.cost_delta_usd,
            "tokens": list(self.tokens),
            "token_delta": self.token_delta,
            "plan_diff": self.plan_diff,
            "rows": [
                {
                    "key": r.key,
                    "tool": r.tool,
                    "plan_change": r.plan_change,
                    "decision_change": r.decision_change,
                    "approval_change": r.approval_change,
                    "observation_change": r.observation_change,
                    "output_diff": r.output_diff,
                    "original": _step_document(r.original),
                    "replay": _step_document(r.replay),
                }
                for r in self.rows
            ],
        }


def _step_document(step: StepState | None) -> dict[str, Any] | None:
    if step is None:
        return None
    return {
        "step_id": step.step_id,
        "tool": step.tool,
        "input": step.input,
        "outcome": step.outcome,
        "decision": step.decision,
        "rule": step.rule,
        "decided_by": step.decided_by,
    }


# --- alignment ---------------------------------------------------------------------------------


def align(
    original: Sequence[StepState], replay: Sequence[StepState]
) -> list[tuple[StepState | None, StepState | None]]:
    """Pairs in the original's order: same id and tool, then same tool and input, then same id; leftovers alone."""
    pairs: dict[int, int] = {}
    free = set(range(len(replay)))

    def match(same: Any) -> None:
        for i, o in enumerate(original):
            if i in pairs:
                continue
            j = next((j for j in sorted(free) if same(o, replay[j])), None)
            if j is not None:
                pairs[i] = j
                free.discard(j)

    match(lambda o, r: o.step_id == r.step_id and o.tool == r.tool)
    match(lambda o, r: o.tool == r.tool and o.input == r.input)
    match(lambda o, r: o.step_id == r.step_id)
    rows: list[tuple[StepState | None, StepState | None]] = [
        (o, replay[pairs[i]] if i in pairs else None) for i, o in enumerate(original)
    ]
    rows.extend((None, replay[j]) for j in sorted(free))
    return rows


# --- one row -------------------------------------------------------------------------------------


def _decision_label(step: StepState | None) -> str:
    if step is None or step.decision is None:
        return "undecided"
    return f"{step.decision} (rule {step.rule})" if step.rule else step.decision


def _plan_change(o: StepState | None, r: StepState | None) -> str:
    if o is None:
        return "added"
    if r is None:
        return "removed"
    changed = [
        name
        for name, a, b in (
            ("id", o.step_id, r.step_id),
            ("tool", o.tool, r.tool),
            ("input", o.input, r.input),
            ("objective", o.objective, r.objective),
        )
        if a != b
    ]
    return f"changed: {', '.join(changed)}" if changed else "same"


def _approval_change(o: StepState | None, r: StepState | None) -> str:
    human = ("granted", "denied")
    a = o.decision if o and o.decision in human else None
    b = r.decision if r and r.decision in human else None
    if a == b:
        return ""
    return f"approval {a or 'none'} -> {b or 'none'}" + (f" by {r.decided_by}" if r and b else "")


def _output(step: StepState | None) -> str:
    if step is None or step.result is None:
        return ""
    value = step.result.get("output") if step.result.get("success") else step.result.get("error")
    return str(value or "")


def _observation_change(o: StepState | None, r: StepState | None, names: Names) -> tuple[str, str]:
    a, b = (o.outcome if o else "absent"), (r.outcome if r else "absent")
    if a != b:
        return f"outcome {a} -> {b}", ""
    out_a, out_b = _output(o), _output(r)
    if out_a == out_b:
        return "", ""
    if max(len(out_a), len(out_b)) <= LONG_OUTPUT_CHARS and "\n" not in out_a + out_b:
        return f"output {out_a!r} -> {out_b!r}", ""
    lines = list(difflib.unified_diff(out_a.splitlines(), out_b.splitlines(), *names, lineterm="", n=1))
    shown = lines[:MAX_DIFF_LINES] + (
        [f"... {len(lines) - MAX_DIFF_LINES} more lines"] if len(lines) > MAX_DIFF_LINES else []
    )
    return f"output changed ({len(out_a)} -> {len(out_b)} chars)", "\n".join(shown)


def _row(o: StepState | None, r: StepState | None, names: Names) -> StepDiff:
    a, b = _decision_label(o), _decision_label(r)
    observation, text_diff = _observation_change(o, r, names)
    first, last = o or r, r or o
    return StepDiff(
        key=first.step_id if first else "?",
        tool=last.tool if last else "",
        original=o,
        replay=r,
        plan_change=_plan_change(o, r),
        decision_change="" if a == b else f"policy {a} -> {b}",
        approval_change=_approval_change(o, r),
        observation_change=observation,
        output_diff=text_diff,
    )


# --- the verdict ---------------------------------------------------------------------------------


def _plan_lines(steps: Sequence[StepState]) -> list[str]:
    return [f"{s.step_id} {s.tool} {json.dumps(s.input, sort_keys=True, ensure_ascii=False)[:300]}" for s in steps]


_HELD_DECISIONS = ("held", "granted", "denied")


def _judge(
    orig: Any, rep: Any, rows: Sequence[StepDiff], cost_share: float, orig_status: str, names: Names
) -> tuple[list[str], list[str]]:
    first, second = names
    worse: list[str] = []
    better: list[str] = []
    if orig_status == COMPLETED and rep.status != COMPLETED:
        detail = f": {rep.failure_reason}" if rep.failure_reason else ""
        worse.append(
            f"the {second} {'failed' if rep.status == FAILED else 'is ' + rep.status} where the {first} "
            f"completed{detail}"
        )
    elif rep.status == COMPLETED and orig_status != COMPLETED:
        better.append(f"the {second} completed where the {first} {orig_status}")
    ok_a, ok_b = orig.count("succeeded"), rep.count("succeeded")
    if ok_b < ok_a:
        worse.append(f"fewer steps succeeded ({ok_a} -> {ok_b})")
    elif ok_b > ok_a:
        better.append(f"more steps succeeded ({ok_a} -> {ok_b})")
    for row in rows:
        o, r = row.original, row.replay
        was = o.decision if o else None
        now = r.decision if r else None
        if r is not None and now == "rejected" and was != "rejected":
            worse.append(f"{row.key} ({row.tool}) is newly rejected by policy rule {r.rule!r}: {r.reason}")
        elif o is not None and was == "rejected" and now not in ("rejected", None):
            better.append(f"{row.key} ({row.tool}) is no longer rejected (was rule {o.rule!r})")
        # A what-if's hold counts whatever a person then decided: its verdict describes the replay as run
        # (a policy that stops for a person where the original did not); the decision is its own event.
        # A fork runs on the workspace its original left behind, so only its open hold counts.
        newly = _HELD_DECISIONS if rep.replay_mode == "whatif" else ("held",)
        if r is not None and now in newly and was not in _HELD_DECISIONS:
            worse.append(f"{row.key} ({row.tool}) is newly held for approval by policy rule {r.rule!r}: {r.reason}")
    if rep.budget_exceeded and not orig.budget_exceeded:
        worse.append(f"the {second} exceeded its budget (${rep.cost_usd:.4f} of ${rep.budget_usd:.2f})")
    elif orig.budget_exceeded and not rep.budget_exceeded:
        better.append(f"the {second} stayed within the budget the {first} exceeded")
    rise = rep.cost_usd - orig.cost_usd
    if rise > _COST_EPSILON and rise > cost_share * orig.cost_usd:
        worse.append(
            f"cost rose by ${rise:.4f} ({_share(rise, orig.cost_usd)}), more than the allowed {cost_share:.0%}"
        )
    elif -rise > _COST_EPSILON and -rise > cost_share * orig.cost_usd:
        better.append(f"cost fell by ${-rise:.4f} ({_share(rise, orig.cost_usd)})")
    return worse, better


def _share(delta: float, base: float) -> str:
    return f"{delta / base:+.0%}" if base > 0 else "from $0"


def _actions(orig: Any, rep: Any, rows: Sequence[StepDiff]) -> Actions:
    def calls(state: Any) -> list[tuple[str, str]]:
        return [(s.tool, json.dumps(s.input, sort_keys=True)) for s in state.steps if s.result is not None]

    if calls(orig) != calls(rep):
        return "different_actions"
    if any(r.changed for r in rows) or orig.final_summary != rep.final_summary:
        return "same_actions_different_words"
    return "same"


def _inherited_steps(orig: Any, rep: Any) -> frozenset[str]:
    """The ids of the steps a fork of ``orig`` inherited (empty when ``rep`` is not a fork of it)."""
    fork = rep.forked_from
    if fork is None or fork.run_id != orig.run_id or orig.plan is None:
        return frozenset()
    ids = [s.id for s in orig.plan.steps]
    return frozenset(ids[: ids.index(fork.step_id)]) if fork.step_id in ids else frozenset()


def diff_runs(
    original: Sequence[ev.RecordedEvent],
    replay: Sequence[ev.RecordedEvent],
    *,
    cost_share: float = DEFAULT_COST_SHARE,
    names: Names = REPLAY_NAMES,
) -> RunDiff:
    """Align and judge two runs from their events (the original, or any baseline, first).

    ``names`` are the words the reasons use for the two runs: ``("original", "replay")`` for a
    replay (what ``ReplayDiffed`` records), ``COMPARE_NAMES`` for any two runs. The rules are the same.
    """
    orig, rep = fold(original), fold(replay)
    rows = tuple(_row(o, r, names) for o, r in align(orig.steps, rep.steps))
    inherited = _inherited_steps(orig, rep)
    if inherited:  # a fork is compared from its fork point on: the steps before it are the original's own
        rows = tuple(r for r in rows if not (r.key in inherited and not r.changed))
    plan_diff = "\n".join(
        difflib.unified_diff(
            _plan_lines(orig.steps), _plan_lines(rep.steps), f"{names[0]} plan", f"{names[1]} plan", lineterm="", n=0
        )
    )
    notes = []
    orig_status = orig.status
    no_answer = unanswered(orig, rep.outcome_rules) if orig.outcome_rules < rep.outcome_rules else None
    if orig_status == COMPLETED and no_answer:
        # Judge both runs by the same rules: the original's "completed" came from older outcome rules.
        orig_status = FAILED
        notes.append(
            f"the {names[0]} ended completed under outcome rules {orig.outcome_rules}; under the {names[1]}'s "
            f"rules {rep.outcome_rules} it failed ({no_answer}), and is compared as failed"
        )
    worse, better = _judge(orig, rep, rows, cost_share, orig_status, names)
    verdict: Verdict = "regression" if worse else "improvement" if better else "unchanged"
    if any(r.changed for r in rows) and not worse and not better:
        notes.append("steps changed (see the rows) but no change counts as better or worse")
    if inherited and rep.forked_from is not None:
        notes.append(
            f"a fork at {rep.forked_from.step_id}: compared from the fork point on "
            f"({len(inherited)} inherited step(s) left out)"
        )
    elif not rows:
        notes.append("neither run has a plan")
    return RunDiff(
        original_id=orig.run_id,
        replay_id=rep.run_id,
        original_status=orig.status,
        replay_status=rep.status,
        rows=rows,
        plan_diff=plan_diff,
        verdict=verdict,
        reasons=tuple(worse + better) or (UNCHANGED_REASON,),
        notes=tuple(notes),
        steps_ok=(orig.count("succeeded"), rep.count("succeeded")),
        cost_usd=(orig.cost_usd, rep.cost_usd),
        tokens=(orig.input_tokens + orig.output_tokens, rep.input_tokens + rep.output_tokens),
        events=(orig.event_count, rep.event_count),
        failure_reasons=(orig.failure_reason, rep.failure_reason),
        actions=_actions(orig, rep, rows),
    )
