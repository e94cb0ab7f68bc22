"""Projections: fold a run's events into a frozen ``RunState``, and index runs for listing.

``fold`` is the only way code learns what happened in a run: the orchestrator, resume, replay
and the dashboard all call it. One small handler per event type; events this code cannot
read are kept as problems, never a crash. The runs index is the same fold, carried from one
append to the next in the runs row (``index_run``), so the run list says what the fold says.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from typing import Any

from agent_core import events as ev
from agent_core.errors import RunNotFound
from agent_core.evolve import evolve
from agent_core.plan import Plan
from agent_core.store import DecisionRow, EventStore, RunIndex, RunRow, StoredEvent

RUNNING, WAITING, COMPLETED, FAILED, CANCELLED = "running", "waiting_approval", "completed", "failed", "cancelled"
TERMINAL_STATUSES = frozenset({COMPLETED, FAILED, CANCELLED})


@dataclass(frozen=True, slots=True)
class StepState:
    """One plan step as the log tells it: decision, approval, intent and observation."""

    step_id: str
    tool: str
    objective: str = ""
    input: dict[str, Any] = field(default_factory=dict)
    success_criteria: str = ""
    decision: str | None = None  # approved | rejected | held | granted | denied
    rule: str = ""
    reason: str = ""
    decided_by: str = ""
    comment: str = ""
    executed: bool = False
    target_sha256: str | None = None
    result: dict[str, Any] | None = None
    duration_ms: float = 0.0
    interrupted: int = 0

    @property
    def outcome(self) -> str:
        """succeeded | failed | rejected | denied | held | interrupted | running | pending."""
        if self.result is not None:
            return "succeeded" if self.result.get("success") else "failed"
        if self.decision is not None and ev.DECISION_EFFECTS.get(self.decision) != "run":
            return self.decision
        if self.executed:
            return "running"
        return "interrupted" if self.interrupted else "pending"


@dataclass(frozen=True, slots=True)
class RunState:
    """Everything known about a run, derived from its events alone."""

    run_id: str
    status: str = "new"
    goal: str = ""
    max_steps: int = 0
    budget_usd: float = 0.0
    planner: ev.PlannerInfo | None = None
    policy_sha: str = ""
    policy_path: str = ""
    replay_of: str | None = None
    replay_mode: str | None = None
    overrides: dict[str, Any] = field(default_factory=dict)
    outcome_rules: int = 1  # see agent_core/outcome.py; RunStarted says which
    plan: Plan | None = None
    steps_planned: int = 0  # len(plan.steps), kept apart so that the runs index carries it without the plan
    plan_attempts: int = 0
    plan_errors: tuple[str, ...] = ()
    steps: tuple[StepState, ...] = ()
    cost_usd: float = 0.0
    input_tokens: int = 0
    output_tokens: int = 0
    started_at: datetime | None = None
    updated_at: datetime | None = None
    ended_at: datetime | None = None
    last_seq: int = 0
    event_count: int = 0
    failure_reason: str = ""
    final_summary: str = ""
    budget_exceeded: bool = False
    problems: tuple[str, ...] = ()
    verdict: str | None = None  # a what-if replay's (or a fork's) latest ReplayDiffed verdict
    verdict_reasons: tuple[str, ...] = ()
    forked_from: ev.ForkPoint | None = None
    judge_score: float | None = None  # the latest ResponseJudged score
    judged_by: str = ""

    @property
    def parent_id(self) -> str | None:
        """The run this one derives from: the original of a replay, or the run a fork branched off."""
        return self.replay_of or (self.forked_from.run_id if self.forked_from else None)

    @property
    def is_terminal(self) -> bool:
        """True once the run completed, failed or was cancelled."""
        return self.status in TERMINAL_STATUSES

    @property
    def duration_s(self) -> float | None:
        """Seconds from the first to the last event."""
        if self.started_at is None:
            return None
        end = self.ended_at or self.updated_at or self.started_at
        return (end - self.started_at).total_seconds()

    def step(self, step_id: str) -> StepState | None:
        """The step with that id, or None before it has any event."""
        return next((s for s in self.steps if s.step_id == step_id), None)

    @property
    def pending_approval(self) -> StepState | None:
        """The held step waiting for a person, if any: never once the run ended (a cancelled hold waits for nobody)."""
        if self.is_terminal:
            return None
        return next((s for s in self.steps if s.decision is not None and _waits(s.decision)), None)

    def count(self, outcome: str) -> int:
        """How many steps ended with that outcome (succeeded, failed, rejected, denied)."""
        return sum(1 for s in self.steps if s.outcome == outcome)


# --- handlers: one per event type ---------------------------------------------------------
# A handler returns the fields its event changes; ``apply`` makes one copy with them and the
# envelope's fields (one copy of ``RunState`` per event, not two).

Changes = dict[str, Any]


def _waits(decision: str) -> bool:
    return ev.DECISION_EFFECTS.get(decision) == "wait"


def _step_changes(state: RunState, step_id: str, **changes: Any) -> Changes:
    """``steps`` with ``step_id`` changed (appended when it has no event yet)."""
    if state.step(step_id) is None:
        fields = {k: v for k, v in changes.items() if k != "tool"}
        return {"steps": (*state.steps, StepState(step_id=step_id, tool=changes.get("tool", ""), **fields))}
    return {"steps": tuple(evolve(s, **changes) if s.step_id == step_id else s for s in state.steps)}


def _run_started(state: RunState, e: ev.RunStarted) -> Changes:
    return {
        "status": RUNNING,
        "goal": e.goal,
        "max_steps": e.max_steps,
        "budget_usd": e.budget_usd,
        "planner": e.planner,
        "policy_sha": e.policy_sha,
        "policy_path": e.policy_path,
        "replay_of": e.replay_of,
        "replay_mode": e.replay_mode,
        "overrides": dict(e.overrides),
        "forked_from": e.forked_from,
        "outcome_rules": e.outcome_rules,
    }


def _plan_requested(state: RunState, e: ev.PlanRequested) -> Changes:
    return {"plan_attempts": max(state.plan_attempts, e.attempt)}


def _plan_generated(state: RunState, e: ev.PlanGenerated) -> Changes:
    plan = _with_fork_input(e.plan, state.forked_from)
    # A later plan (a fork's replan) keeps what earlier steps already did; a first plan has nothing to keep.
    done = {s.step_id: s for s in state.steps if s.decision is not None or s.executed or s.result is not None}
    planned = tuple(
        done.pop(s.id)
        if s.id in done
        else StepState(
            step_id=s.id, tool=s.tool, objective=s.objective, input=dict(s.input), success_criteria=s.success_criteria
        )
        for s in plan.steps
    )
    return {"plan": plan, "steps_planned": len(plan.steps), "steps": (*done.values(), *planned)}


def _with_fork_input(plan: Plan, fork: ev.ForkPoint | None) -> Plan:
    """The plan with a fork's edited inputs put into their steps (the recorded plan event stays as it was)."""
    if fork is None or not fork.inputs or not any(s.id in fork.inputs for s in plan.steps):
        return plan
    steps = [s.model_copy(update={"input": dict(fork.inputs[s.id])}) if s.id in fork.inputs else s for s in plan.steps]
    return plan.model_copy(update={"steps": steps})


def _plan_rejected(state: RunState, e: ev.PlanRejected) -> Changes:
    return {"plan_errors": (*state.plan_errors, e.error)}


def _cost_recorded(state: RunState, e: ev.CostRecorded) -> Changes:
    return {
        "cost_usd": e.total_usd,
        "input_tokens": state.input_tokens + e.input_tokens,
        "output_tokens": state.output_tokens + e.output_tokens,
    }


def _guard_decided(state: RunState, e: ev.ToolApproved | ev.ToolRejected | ev.ApprovalRequested) -> Changes:
    decides = e.DECIDES
    changes = _step_changes(state, e.step_id, tool=e.tool, decision=decides.word, rule=e.rule, reason=e.reason)
    return {**changes, "status": WAITING} if decides.effect == "wait" else changes


def _human_decided(state: RunState, e: ev.ApprovalGranted | ev.ApprovalDenied) -> Changes:
    decides = e.DECIDES
    changes = _step_changes(state, e.step_id, decision=decides.word, decided_by=e.by, comment=e.comment)
    # Still waiting while another step waits for a person (a run that ended waits for nobody).
    waiting = not state.is_terminal and any(s.decision is not None and _waits(s.decision) for s in changes["steps"])
    return {**changes, "status": WAITING if waiting else RUNNING}


def _tool_executed(state: RunState, e: ev.ToolExecuted) -> Changes:
    return _step_changes(state, e.step_id, tool=e.tool, executed=True, target_sha256=e.target_sha256, result=None)


def _observation(state: RunState, e: ev.ObservationCaptured) -> Changes:
    return _step_changes(state, e.step_id, result=dict(e.result), duration_ms=e.duration_ms)


def _interrupted(state: RunState, e: ev.StepInterrupted) -> Changes:
    step = state.step(e.step_id)
    return _step_changes(state, e.step_id, executed=False, interrupted=(step.interrupted if step else 0) + 1)


def _budget(state: RunState, e: ev.BudgetExceeded) -> Changes:
    return {"budget_exceeded": True}


def _finalized(state: RunState, e: ev.ResponseFinalized) -> Changes:
    return {"final_summary": e.summary}


def _completed(state: RunState, e: ev.RunCompleted) -> Changes:
    return {"status": COMPLETED}


def _failed(state: RunState, e: ev.RunFailed) -> Changes:
    return {"status": FAILED, "failure_reason": e.reason}


def _cancelled(state: RunState, e: ev.RunCancelled) -> Changes:
    return {"status": CANCELLED, "failure_reason": e.reason or f"cancelled by {e.by}"}


def _replay_diffed(state: RunState, e: ev.ReplayDiffed) -> Changes:
    return {"verdict": e.verdict, "verdict_reasons": tuple(e.reasons)}


def _response_judged(state: RunState, e: ev.ResponseJudged) -> Changes:
    return {"judge_score": e.score, "judged_by": e.judge + (f"/{e.model}" if e.model else "")}


Handler = Callable[[RunState, Any], Changes]
HANDLERS: dict[type[ev.DomainEvent], Handler] = {
    ev.RunStarted: _run_started,
    ev.PlanRequested: _plan_requested,
    ev.PlanGenerated: _plan_generated,
    ev.PlanRejected: _plan_rejected,
    ev.CostRecorded: _cost_recorded,
    ev.ToolApproved: _guard_decided,
    ev.ToolRejected: _guard_decided,
    ev.ApprovalRequested: _guard_decided,
    ev.ApprovalGranted: _human_decided,
    ev.ApprovalDenied: _human_decided,
    ev.ToolExecuted: _tool_executed,
    ev.ObservationCaptured: _observation,
    ev.StepInterrupted: _interrupted,
    ev.BudgetExceeded: _budget,
    ev.ResponseFinalized: _finalized,
    ev.RunCompleted: _completed,
    ev.RunFailed: _failed,
    ev.RunCancelled: _cancelled,
    ev.ReplayDiffed: _replay_diffed,
    ev.ResponseJudged: _response_judged,
}
"""One handler per catalogue class (a test checks the table covers ``events.EVENT_CLASSES``)."""


def apply(state: RunState, recorded: ev.RecordedEvent) -> RunState:
    """Fold one more event into ``state``: the envelope's fields and the handler's changes, in one copy."""
    if recorded.problem:
        changes: Changes = {"problems": (*state.problems, f"seq {recorded.seq}: {recorded.problem}")}
    else:
        handler = HANDLERS.get(type(recorded.event))
        changes = handler(state, recorded.event) if handler else {}
    return evolve(
        state,
        last_seq=recorded.seq,
        event_count=state.event_count + 1,
        started_at=state.started_at or recorded.at,
        updated_at=recorded.at,
        ended_at=recorded.at if recorded.type in ev.TERMINAL_TYPES else state.ended_at,
        **changes,
    )


def fold(events: Iterable[ev.RecordedEvent], run_id: str = "", initial: RunState | None = None) -> RunState:
    """The run's state after ``events`` (in seq order)."""
    state = initial
    for recorded in events:
        state = apply(state or RunState(run_id=recorded.run_id), recorded)
    return state or RunState(run_id=run_id)


# --- reading from a store ----------------------------------------------------------------


def decode(stored: StoredEvent) -> ev.RecordedEvent:
    """The store's row -> the envelope with its catalogue model (upcast, or ``UnknownEvent``)."""
    if stored.problem:
        event: ev.DomainEvent = ev.UnknownEvent(type=stored.type, problem=stored.problem)
    else:
        event = ev.decode_payload(stored.type, stored.version, stored.payload)
    return ev.RecordedEvent(
        stored.position,
        stored.run_id,
        stored.seq,
        stored.type,
        stored.version,
        stored.actor,
        stored.at,
        stored.hash,
        event,
    )


def load_events(store: EventStore, run_id: str, after_seq: int = 0) -> list[ev.RecordedEvent]:
    """The run's events after ``after_seq``, decoded; ``RunNotFound`` for an unknown id."""
    return [decode(s) for s in store.read_run(run_id, after_seq)]


def load_state(store: EventStore, run_id: str) -> RunState:
    """Fold the run from the store; ``RunNotFound`` if it has no events."""
    events = load_events(store, run_id)
    if not events:
        raise RunNotFound(run_id)
    return fold(events)


# --- the runs index ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RunSummary:
    """One line of the run list, read from the runs index (no event scan)."""

    run_id: str
    status: str
    goal: str
    replay_of: str | None
    started_at: datetime
    updated_at: datetime
    event_count: int
    replay_mode: str | None = None
    provider: str = ""
    model: str = ""
    steps_planned: int = 0
    steps_ok: int = 0
    steps_failed: int = 0
    steps_rejected: int = 0
    cost_usd: float = 0.0
    input_tokens: int = 0
    output_tokens: int = 0
    pending_step: str | None = None
    reason: str = ""
    ended_at: datetime | None = None
    verdict: str | None = None
    forked_from: str | None = None
    fork_step: str | None = None
    judge_score: float | None = None
    origin: str = "local"
    """``imported`` for a run read from an export: history, never advanced, approved or resumed."""

    @property
    def imported(self) -> bool:
        """True for a run read in by ``import``: history, never advanced here."""
        return self.origin == "imported"

    @property
    def parent_id(self) -> str | None:
        """The run this one derives from (``RunState.parent_id``, from the index row)."""
        return self.replay_of or self.forked_from

    @classmethod
    def from_row(cls, row: RunRow) -> RunSummary:
        """The summary of one runs-index row."""
        s = row.summary
        ended = s.get("ended_at")
        return cls(
            run_id=row.run_id,
            status=row.status,
            goal=row.title,
            replay_of=None if s.get("forked_from") else row.parent_id,
            started_at=row.started_at,
            updated_at=row.updated_at,
            event_count=row.last_seq,
            replay_mode=s.get("replay_mode"),
            provider=s.get("provider", ""),
            model=s.get("model", ""),
            steps_planned=s.get("steps_planned", 0),
            steps_ok=s.get("steps_ok", 0),
            steps_failed=s.get("steps_failed", 0),
            steps_rejected=s.get("steps_rejected", 0),
            cost_usd=s.get("cost_usd", 0.0),
            input_tokens=s.get("input_tokens", 0),
            output_tokens=s.get("output_tokens", 0),
            pending_step=s.get("pending_step"),
            reason=s.get("reason", ""),
            ended_at=datetime.fromisoformat(ended) if ended else None,
            verdict=s.get("verdict"),
            origin=row.origin,
            forked_from=s.get("forked_from"),
            fork_step=s.get("fork_step"),
            judge_score=s.get("judge_score"),
        )

    @property
    def duration_s(self) -> float:
        """Seconds from start to the last event."""
        return ((self.ended_at or self.updated_at) - self.started_at).total_seconds()


def index_run(previous: RunIndex | None, stored: Sequence[StoredEvent]) -> RunIndex:
    """The store's indexer: the runs row is the fold's own state, carried from one append to the next.

    Incremental (only the appended events are folded, inside the append's transaction) and
    computed by the fold's handlers, so the run list and a full fold cannot disagree. When the
    appender hands its own fold in (``previous.state``, a ``RunState``), the events are folded into
    it and the new full state goes back in the result's ``state``: the orchestrator then has the
    run's state without reading back and folding again what it just appended. That fold may
    already hold the first appended events (``already_folded``): they are not folded twice.
    Otherwise the runs row's summary is the starting point (only a run's first append comes back full).
    """
    run_id = stored[0].run_id if stored else ""
    known = previous.state if previous is not None else None
    folded = already_folded(known, stored)
    full = previous is None or folded is not None
    state = known if folded is not None and isinstance(known, RunState) else _indexed_state(previous, run_id)
    decisions: list[DecisionRow] = []
    for row in stored[folded or 0 :]:
        recorded = decode(row)
        state = apply(state, recorded)
        decision = decision_row(state, recorded)
        if decision is not None:
            decisions.append(decision)
    return evolve(_index_row(state, state if full else None), decisions=tuple(decisions))


def already_folded(known: object, stored: Sequence[StoredEvent]) -> int | None:
    """How many of the appended ``stored`` rows the caller's fold ``known`` already holds, or None when it is no
    fold of this run at or inside the batch.

    A writer folds the events it holds for its next append when it holds them (``RunWriter.hold``), so
    its fold arrives a few events into the batch. Those events decide nothing (a decision's index row
    needs the state just after it): a fold past a deciding event is not used.
    """
    if not isinstance(known, RunState) or (stored and known.run_id != stored[0].run_id):
        return None
    ahead = known.last_seq - (stored[0].seq - 1 if stored else 0)
    if not 0 <= ahead <= len(stored):
        return None
    if any(_decides(row.type) for row in stored[:ahead]):
        return None
    return ahead


def _decides(event_type: str) -> bool:
    cls = ev.EVENT_TYPES.get(event_type)
    return cls is None or cls.DECIDES is not None


OBJECTIVE_CHARS = 500
"""The most of a step's objective the indexes keep (the plan event keeps all of it)."""


def decision_row(state: RunState, recorded: ev.RecordedEvent) -> DecisionRow | None:
    """The decisions-index row of one event, read from the fold's state just after it (None if it decides nothing).

    A person's decision carries the tool, rule and objective of the hold it answers; the guard's
    hold carries the resolved input the person judges. Held steps of what-if replays name the
    original run, so the queue can show them apart.
    """
    e = recorded.event
    if e.DECIDES is None or recorded.problem:
        return None
    step = state.step(e.step_id)  # type: ignore[attr-defined]  # every deciding event names its step
    objective = (step.objective if step else "")[:OBJECTIVE_CHARS]
    replay_of = state.replay_of if state.replay_mode == "whatif" else None
    if isinstance(e, ev.ApprovalGranted | ev.ApprovalDenied):
        tool, rule = (step.tool, step.rule) if step else ("", "")
        return DecisionRow(
            recorded.seq, recorded.at, e.step_id, tool, e.DECIDES.word, rule, e.comment, e.by, objective, {}, replay_of
        )
    assert isinstance(e, ev.ToolApproved | ev.ToolRejected | ev.ApprovalRequested)
    held_input = dict(e.input) if isinstance(e, ev.ApprovalRequested) else {}
    return DecisionRow(
        recorded.seq,
        recorded.at,
        e.step_id,
        e.tool,
        e.DECIDES.word,
        e.rule,
        e.reason,
        "guard",
        objective,
        held_input,
        replay_of,
    )


# A step in the index: [step_id, decision, executed, ok (None until observed), interrupted]. Only
# what the counters, the pending approval and the handlers that change them read.
_IndexedStep = list[Any]


def _index_row(state: RunState, full: RunState | None = None) -> RunIndex:
    pending = state.pending_approval
    outcomes = Counter(step.outcome for step in state.steps)
    return RunIndex(
        status=state.status,
        title=state.goal,
        parent_id=state.parent_id,
        summary={
            "provider": state.planner.provider if state.planner else "",
            "model": state.planner.model if state.planner else "",
            "replay_mode": state.replay_mode,
            "steps_planned": state.steps_planned,
            "steps_ok": outcomes["succeeded"],
            "steps_failed": outcomes["failed"],
            "steps_rejected": outcomes["rejected"] + outcomes["denied"],
            "cost_usd": state.cost_usd,
            "input_tokens": state.input_tokens,
            "output_tokens": state.output_tokens,
            "pending_step": pending.step_id if pending else None,
            "reason": state.failure_reason,
            "ended_at": state.ended_at.isoformat() if state.ended_at else None,
            "verdict": state.verdict,
            **(
                {"forked_from": state.forked_from.run_id, "fork_step": state.forked_from.step_id}
                if state.forked_from
                else {}
            ),
            **({"judge_score": state.judge_score} if state.judge_score is not None else {}),
            "steps": [_indexed_step(step) for step in state.steps],
            **_open_step_details(state),
        },
        state=full,
    )


def _open_step_details(state: RunState) -> dict[str, Any]:
    """What the decisions index needs of a live run's steps between appends: objectives, and the hold's tool and rule.

    Kept only while the run can still decide something; an ended run's row drops them.
    """
    if state.is_terminal:
        return {}
    details: dict[str, Any] = {
        "objectives": {s.step_id: s.objective[:OBJECTIVE_CHARS] for s in state.steps if s.objective}
    }
    pending = state.pending_approval
    if pending is not None:
        details["hold"] = [pending.tool, pending.rule]
    return details


def _indexed_step(step: StepState) -> _IndexedStep:
    ok = None if step.result is None else bool(step.result.get("success"))
    return [step.step_id, step.decision, step.executed, ok, step.interrupted]


def _indexed_state(previous: RunIndex | None, run_id: str) -> RunState:
    """The part of the fold's state that the runs row keeps: enough for the handlers to go on."""
    if previous is None:
        return RunState(run_id=run_id)
    s = previous.summary
    steps = s["steps"] if "steps" in s else _steps_of_an_older_row(s)
    ended = s.get("ended_at")
    return RunState(
        run_id=run_id,
        status=previous.status,
        goal=previous.title,
        replay_of=None if s.get("forked_from") else previous.parent_id,
        replay_mode=s.get("replay_mode"),
        forked_from=ev.ForkPoint(run_id=s["forked_from"], step_id=s.get("fork_step", ""))
        if s.get("forked_from")
        else None,
        judge_score=s.get("judge_score"),
        planner=ev.PlannerInfo(provider=s["provider"], model=s.get("model", ""), prompt_sha="")
        if "provider" in s
        else None,
        steps_planned=s.get("steps_planned", 0),
        steps=_restored_steps(s, steps),
        cost_usd=s.get("cost_usd", 0.0),
        input_tokens=s.get("input_tokens", 0),
        output_tokens=s.get("output_tokens", 0),
        ended_at=datetime.fromisoformat(ended) if ended else None,
        failure_reason=s.get("reason", ""),
        verdict=s.get("verdict"),
    )


def _restored_steps(s: dict[str, Any], steps: list[_IndexedStep]) -> tuple[StepState, ...]:
    restored = tuple(_step_of_index(*step) for step in steps)
    objectives: dict[str, str] = s.get("objectives") or {}
    hold = s.get("hold")
    if not objectives and not hold:
        return restored
    pending = s.get("pending_step")
    return tuple(
        evolve(
            step,
            objective=objectives.get(step.step_id, ""),
            **({"tool": hold[0], "rule": hold[1]} if hold and step.step_id == pending else {}),
        )
        for step in restored
    )


@lru_cache(maxsize=4096)
def _step_of_index(step_id: str, decision: str | None, executed: bool, ok: bool | None, interrupted: int) -> StepState:
    # Cached: every append of a run restores the same steps, and building them was most of the indexer's time.
    # Sharing is safe: a StepState is frozen and the handlers replace its result, never mutate it.
    result = None if ok is None else {"success": ok}
    return StepState(step_id, "", decision=decision, executed=executed, result=result, interrupted=interrupted)


def _steps_of_an_older_row(s: dict[str, Any]) -> list[_IndexedStep]:
    """A row written before the index kept its steps: steps that reproduce its counters and its hold."""
    pending = s.get("pending_step")
    return [
        *([f"(indexed) ok {i}", "approved", True, True, 0] for i in range(s.get("steps_ok", 0))),
        *([f"(indexed) failed {i}", "approved", True, False, 0] for i in range(s.get("steps_failed", 0))),
        *([f"(indexed) rejected {i}", "rejected", False, None, 0] for i in range(s.get("steps_rejected", 0))),
        *([[pending, "held", False, None, 0]] if pending else []),
    ]


def list_summaries(store: EventStore, **filters: Any) -> list[RunSummary]:
    """Runs newest first, filtered and paged, from the runs index alone."""
    return [RunSummary.from_row(row) for row in store.list_runs(**filters)]


def open_store(url: str, **options: Any) -> EventStore:
    """An ``EventStore`` whose runs index is kept by this module's ``index_run``."""
    return EventStore(url, indexer=index_run, **options)
