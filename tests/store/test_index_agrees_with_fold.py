"""The runs index and the fold tell the same story: status, counters, cost and times of every run.

The index is kept incrementally, one append at a time, inside the append's transaction; the fold
reads the whole run. Generated runs (hypothesis: plausible sequences of what the orchestrator,
the guard and people write, crashes and unreadable events included) are appended in random
chunks to a real SQLite store, then each run's index row is compared with the fold of its
events. Recorded runs and the dashboard's seeded runs are compared the same way.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from agent_core import events as ev
from agent_core.plan import Plan
from agent_core.projections import RunState, RunSummary, fold, load_events, open_store
from agent_core.store import EventStore, NewEvent, RunIndex
from agent_core.transfer import RawEvent
from tests.dashboard.seed import seed
from tests.store.catalogue import MINIMAL_PAYLOADS
from tests.store.helpers import new_run_id, run_started

ROOT = Path(__file__).resolve().parents[2]
RECORDINGS = sorted((ROOT / "tests" / "fixtures" / "recordings").glob("*.jsonl"))
TOOLS = ("read_file", "web_search", "summarize", "write_file")


def what_the_fold_says(state: RunState) -> dict[str, Any]:
    """The runs row's fields, in the fold's own terms (the meaning the index must match)."""
    pending = state.pending_approval
    return {
        "status": state.status,
        "goal": state.goal,
        "replay_of": state.replay_of,
        "replay_mode": state.replay_mode,
        "provider": state.planner.provider if state.planner else "",
        "model": state.planner.model if state.planner else "",
        "steps_planned": len(state.plan.steps) if state.plan else 0,
        "steps_ok": state.count("succeeded"),
        "steps_failed": state.count("failed"),
        "steps_rejected": state.count("rejected") + state.count("denied"),
        "cost_usd": state.cost_usd,
        "input_tokens": state.input_tokens,
        "output_tokens": state.output_tokens,
        "pending_step": pending.step_id if pending else None,
        "reason": state.failure_reason,
        "verdict": state.verdict,
        "started_at": state.started_at,
        "updated_at": state.updated_at,
        "ended_at": state.ended_at,
        "event_count": state.event_count,
    }


def what_the_index_says(summary: RunSummary) -> dict[str, Any]:
    return {key: getattr(summary, key) for key in what_the_fold_says(RunState(run_id=""))}


def assert_index_agrees_with_fold(store: EventStore, run_id: str) -> None:
    row = store.get_run(run_id)
    assert row is not None
    assert what_the_index_says(RunSummary.from_row(row)) == what_the_fold_says(fold(load_events(store, run_id)))


# --- a generator of plausible runs --------------------------------------------------------------


@dataclass
class _Log:
    """A run being written, as the orchestrator would write it (``stop`` once nothing more may follow)."""

    draw: Any
    events: list[NewEvent] = field(default_factory=list)
    spent: float = 0.0
    stop: bool = False

    def add(self, *events: NewEvent) -> None:
        self.events.extend(events)

    def chance(self, one_in: int) -> bool:
        return self.draw(st.integers(0, one_in - 1)) == 0

    def maybe_unreadable(self) -> None:
        """Now and then an event this code cannot read: a newer writer's type, version or payload."""
        if self.chance(12):
            self.add(
                self.draw(
                    st.sampled_from(
                        [
                            RawEvent("MysteryHappened", 1, "orchestrator", {"what": "a type from a newer writer"}),
                            RawEvent("ToolApproved", 1, "policy_guard", {"step_id": "step_1"}),  # fields missing
                            RawEvent("RunCompleted", 9, "orchestrator", {"status": "completed"}),  # newer version
                        ]
                    )
                )
            )

    def cost(self, source: str) -> None:
        if self.chance(2):
            usd = self.draw(st.sampled_from([0.0, 0.0004, 0.0125, 0.2]))
            self.spent = round(self.spent + usd, 6)
            tokens = self.draw(st.tuples(st.integers(0, 5000), st.integers(0, 2000)))
            self.add(
                ev.CostRecorded(
                    source=source,
                    input_tokens=tokens[0],
                    output_tokens=tokens[1],
                    usd=usd,
                    total_usd=self.spent,
                    priced=self.chance(4) is False,
                )
            )

    def end(self, event: ev.DomainEvent) -> None:
        self.add(event)
        self.stop = True

    def interrupted_here(self) -> bool:
        """The writer died here: the log simply ends (a resume may continue it later)."""
        if self.chance(15):
            self.stop = True
        return self.stop

    def cancelled_here(self) -> bool:
        if self.chance(15):
            self.end(ev.RunCancelled(by=self.draw(st.sampled_from(["human", "alice"])), reason=""))
        return self.stop


def _plan(steps: int) -> Plan:
    return Plan.model_validate(
        {
            "steps": [
                {
                    "id": f"step_{i}",
                    "objective": f"do {i}",
                    "tool": TOOLS[i % len(TOOLS)],
                    "input": {"path": f"f{i}.txt"},
                    "success_criteria": "done",
                }
                for i in range(1, steps + 1)
            ]
        }
    )


def _observe(log: _Log, sid: str, tool: str) -> None:
    """Intent, then (unless the writer dies mid-tool) the observation and maybe a cost."""
    log.add(ev.ToolExecuted(step_id=sid, tool=tool, input={"path": "x"}, target_sha256=None))
    if log.chance(8):  # killed inside the tool; a resume finds the intent without its outcome
        if log.chance(3):
            log.stop = True
            return
        if log.chance(2):
            log.add(ev.StepInterrupted(step_id=sid, tool=tool, next_action="re-run (read-only tool)"))
            _observe(log, sid, tool)
            return
        log.add(
            ev.StepInterrupted(step_id=sid, tool=tool, next_action="hold (target changed since the intent)"),
            ev.ApprovalRequested(step_id=sid, tool=tool, input={}, rule="resume_target_changed", reason="changed"),
        )
        _human(log, sid, tool)
        return
    log.add(ev.ObservationCaptured(step_id=sid, tool=tool, result={"success": not log.chance(4)}, duration_ms=1))
    if tool == "summarize":
        log.cost("summarize")


def _human(log: _Log, sid: str, tool: str) -> None:
    """A held step: a person grants or denies it, or it stays held (maybe cancelled while waiting)."""
    answer = log.draw(st.sampled_from(["grant", "deny", "wait", "cancel"]))
    if answer == "wait":
        log.stop = True
    elif answer == "cancel":
        log.end(ev.RunCancelled(by="alice", reason="not now"))
    elif answer == "deny":
        log.add(ev.ApprovalDenied(step_id=sid, by="alice", comment="no"))
    else:
        log.add(ev.ApprovalGranted(step_id=sid, by="alice"))
        if not log.interrupted_here():
            _observe(log, sid, tool)


def _step(log: _Log, sid: str, tool: str, budget: float) -> None:
    if log.spent > budget:
        log.add(ev.BudgetExceeded(spent_usd=log.spent, budget_usd=budget))
        log.end(ev.RunFailed(reason="budget exceeded"))
        return
    decision = log.draw(st.sampled_from(["approve", "approve", "reject", "hold"]))
    if decision == "reject":
        log.add(ev.ToolRejected(step_id=sid, tool=tool, rule="workspace_only", reason="outside"))
    elif decision == "hold":
        log.add(ev.ApprovalRequested(step_id=sid, tool=tool, input={}, rule="no_overwrite", reason="exists"))
        _human(log, sid, tool)
    else:
        log.add(ev.ToolApproved(step_id=sid, tool=tool, rule="allowed", reason="ok"))
        _observe(log, sid, tool)


@st.composite
def run_logs(draw: Any) -> list[NewEvent]:
    """One run's events as the product writes them, from RunStarted to wherever the run got."""
    log = _Log(draw)
    replay_of = draw(st.sampled_from([None, "a" * 32]))
    budget = draw(st.sampled_from([0.05, 0.5]))
    if draw(st.booleans()):
        planner = ev.PlannerInfo(provider="offline", model="offline", prompt_sha="p" * 64)
        log.add(
            ev.RunStarted(
                goal=draw(st.sampled_from(["Summarize notes.txt", "Research agents"])),
                max_steps=5,
                budget_usd=budget,
                planner=planner,
                policy_sha="s" * 64,
                replay_of=replay_of,
                replay_mode="whatif" if replay_of else None,
            )
        )
    else:  # a v1 RunStarted from an older writer, upcast on read
        log.add(
            RawEvent(
                "RunStarted",
                1,
                "orchestrator",
                {
                    "goal": "old goal",
                    "max_steps": 3,
                    "budget_usd": budget,
                    "planner": "openai",
                    "model": "gpt-4o-mini",
                    "policy_sha": "abc",
                },
            )
        )
    attempts, planned = draw(st.integers(1, 3)), draw(st.booleans()) or draw(st.booleans())
    for attempt in range(1, attempts + 1):
        log.add(
            ev.PlanRequested(provider="offline", model="offline", system_prompt="p", user_message="g", attempt=attempt)
        )
        if log.interrupted_here():
            return log.events
        log.cost("planner")
        if attempt < attempts or not planned:
            log.add(ev.PlanRejected(error="not one JSON object", attempt=attempt, retryable=attempt < attempts))
    if not planned:
        log.end(ev.RunFailed(reason="no valid plan after 3 attempts"))
    else:
        steps = draw(st.integers(1, 5))
        log.add(ev.PlanGenerated(plan=_plan(steps), raw_text="{}"))
        for i in range(1, steps + 1):
            log.maybe_unreadable()
            if log.stop or log.interrupted_here() or log.cancelled_here():
                break
            _step(log, f"step_{i}", TOOLS[i % len(TOOLS)], budget)
        if not log.stop:
            log.add(ev.ResponseFinalized(summary="done", step_count=steps))
            log.end(ev.RunCompleted())
    if replay_of and log.events and isinstance(log.events[-1], ev.RunCompleted | ev.RunFailed | ev.RunCancelled):
        for _ in range(draw(st.integers(0, 2))):  # a what-if replay's verdicts, appended after it ends
            verdict = draw(st.sampled_from(["regression", "improvement", "unchanged"]))
            log.add(ev.ReplayDiffed(original_run_id=replay_of, verdict=verdict, reasons=[f"{verdict} because"]))
    log.maybe_unreadable()
    return log.events


def chunked(events: list[NewEvent], cuts: list[int]) -> Iterator[list[NewEvent]]:
    """The run's appends: one transaction per chunk, as the orchestrator and the humans make them."""
    bounds = sorted({c % len(events) for c in cuts} - {0})
    for start, stop in zip([0, *bounds], [*bounds, len(events)], strict=True):
        yield events[start:stop]


@pytest.fixture(scope="module")
def generated_store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EventStore]:
    store = open_store(f"sqlite:///{tmp_path_factory.mktemp('generated') / 'runs.db'}", sqlite_synchronous="OFF")
    yield store
    store.close()


@settings(max_examples=200, deadline=None, database=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(events=run_logs(), cuts=st.lists(st.integers(1, 200), max_size=12))
def test_the_runs_index_agrees_with_the_fold_on_every_generated_run(
    generated_store: EventStore, events: list[NewEvent], cuts: list[int]
) -> None:
    run_id, seq = new_run_id(), 0
    for chunk in chunked(events, cuts):
        seq = generated_store.append(run_id, chunk, seq)
        assert_index_agrees_with_fold(generated_store, run_id)  # after every append, not only at the end


@pytest.mark.parametrize("recording", RECORDINGS, ids=[r.stem for r in RECORDINGS])
def test_the_runs_index_agrees_with_the_fold_on_every_recorded_run_appended_one_event_at_a_time(
    recording: Path, sqlite_url: str
) -> None:
    store = open_store(sqlite_url)
    records = [json.loads(line) for line in recording.read_text(encoding="utf-8").splitlines() if line.strip()]
    run_id, seq = new_run_id(), 0
    for r in records:
        raw = RawEvent(r["type"], r["version"], r["actor"], r["payload"])
        seq = store.append(run_id, [raw], seq, times=[datetime.fromisoformat(r["at"])])
        assert_index_agrees_with_fold(store, run_id)
    store.close()


def test_the_runs_index_agrees_with_the_fold_on_every_seeded_dashboard_run(sqlite_url: str) -> None:
    seed(sqlite_url)
    store = open_store(sqlite_url)
    rows = store.list_runs(limit=1000)
    assert len(rows) >= 5
    for row in rows:
        assert_index_agrees_with_fold(store, row.run_id)
    store.close()


@st.composite
def any_events(draw: Any) -> ev.DomainEvent:
    """Any catalogue event about one of three steps, in any order: more than the product ever writes."""
    cls = draw(st.sampled_from(ev.EVENT_CLASSES))
    payload = dict(MINIMAL_PAYLOADS[cls])
    if "step_id" in payload:
        payload["step_id"] = draw(st.sampled_from(["step_1", "step_2", "step_3"]))
    if cls is ev.ObservationCaptured:
        payload["result"] = {"success": draw(st.booleans())}
    if cls is ev.CostRecorded:
        payload.update(input_tokens=draw(st.integers(0, 100)), total_usd=draw(st.sampled_from([0.0, 0.01, 0.5])))
    if cls is ev.PlanGenerated:
        payload["plan"] = _plan(draw(st.integers(1, 3)))
    return cls.model_validate(payload)


@settings(max_examples=300, deadline=None, database=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(events=st.lists(any_events(), min_size=1, max_size=25), cuts=st.lists(st.integers(1, 200), max_size=12))
def test_the_runs_index_agrees_with_the_fold_on_any_sequence_of_catalogue_events(
    generated_store: EventStore, events: list[NewEvent], cuts: list[int]
) -> None:
    run_id, seq = new_run_id(), 0
    for chunk in chunked(events, cuts):
        seq = generated_store.append(run_id, chunk, seq)
        assert_index_agrees_with_fold(generated_store, run_id)


def test_a_runs_row_written_before_the_index_kept_its_steps_goes_on_from_its_counters(sqlite_url: str) -> None:
    run = new_run_id()
    held = [
        run_started(),
        ev.PlanGenerated(plan=_plan(3), raw_text="{}"),
        ev.ToolApproved(step_id="step_1", tool="web_search", rule="allowed", reason="ok"),
        ev.ToolExecuted(step_id="step_1", tool="web_search", input={}),
        ev.ObservationCaptured(step_id="step_1", tool="web_search", result={"success": True}),
        ev.ToolRejected(step_id="step_2", tool="summarize", rule="no_untrusted_input", reason="web text"),
        ev.ApprovalRequested(step_id="step_3", tool="write_file", input={}, rule="no_overwrite", reason="exists"),
    ]
    older_row = {
        "provider": "offline",
        "model": "offline",
        "replay_mode": None,
        "steps_planned": 3,
        "steps_ok": 1,
        "steps_rejected": 1,
        "pending_step": "step_3",
    }  # what the indexer of before wrote for ``held``
    older = EventStore(
        sqlite_url,
        indexer=lambda _previous, _events: RunIndex("waiting_approval", "Summarize notes.txt", None, older_row),
    )
    older.append(run, held, 0)
    older.close()

    store = open_store(sqlite_url)
    seq = store.append(run, [ev.ApprovalGranted(step_id="step_3", by="alice")], len(held))
    assert RunSummary.from_row(store.get_run(run)).status == "running"  # type: ignore[arg-type]
    store.append(
        run,
        [
            ev.ToolExecuted(step_id="step_3", tool="write_file", input={}),
            ev.ObservationCaptured(step_id="step_3", tool="write_file", result={"success": True}),
            ev.ResponseFinalized(summary="done", step_count=3),
            ev.RunCompleted(),
        ],
        seq,
    )
    assert_index_agrees_with_fold(store, run)
    store.close()


@settings(max_examples=150, deadline=None, database=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(events=run_logs(), cuts=st.lists(st.integers(1, 200), max_size=12))
def test_the_fold_an_append_hands_back_is_the_fold_of_the_log(
    generated_store: EventStore, events: list[NewEvent], cuts: list[int]
) -> None:
    """What the orchestrator keeps instead of reading back its appends: equal to folding the stored run."""
    run_id, seq, state = new_run_id(), 0, None
    for chunk in chunked(events, cuts):
        appended = generated_store.append_indexed(run_id, chunk, seq, state=state)
        seq, state = appended.last_seq, appended.index.state
        assert state == fold(load_events(generated_store, run_id))
        assert_index_agrees_with_fold(generated_store, run_id)


def test_a_fold_that_is_not_at_the_expected_seq_is_not_used_nor_handed_back(sqlite_url: str) -> None:
    store = open_store(sqlite_url)
    run = new_run_id()
    first = store.append_indexed(run, [run_started(), ev.PlanGenerated(plan=_plan(2), raw_text="{}")], 0)
    assert isinstance(first.index.state, RunState) and first.index.state.last_seq == 2
    stale = fold(load_events(store, run)[:1])  # a fold one event behind the log
    approved = ev.ToolApproved(step_id="step_1", tool="web_search", rule="allowed", reason="ok")
    second = store.append_indexed(run, [approved], 2, state=stale)
    assert second.index.state is None  # the runs row's summary was the starting point instead
    assert_index_agrees_with_fold(store, run)
    store.close()


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=20,
)


@settings(max_examples=100, deadline=None, database=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(events=run_logs(), extra=st.lists(st.dictionaries(st.text(max_size=6), json_values, max_size=4), max_size=3))
def test_the_memory_store_reads_back_what_the_durable_store_reads_back(
    generated_store: EventStore, events: list[NewEvent], extra: list[dict[str, Any]]
) -> None:
    """A verify's scratch store keeps the payload its text was written from: equal, type for type, to a file's read."""
    from agent_core.replay.memory import MemoryStore

    run_id = new_run_id()
    batch = [*events, *(RawEvent("AnyKind", 1, "orchestrator", payload) for payload in extra)]
    memory = MemoryStore()
    generated_store.append(run_id, batch, 0)
    memory.append(run_id, batch, 0)
    durable, kept = generated_store.read_run(run_id), memory.read_run(run_id)
    assert [row.payload for row in kept] == [row.payload for row in durable]
    assert [json.dumps(row.payload, sort_keys=True) for row in kept] == [
        json.dumps(row.payload, sort_keys=True) for row in durable
    ]  # the same types too: 1 and 1.0 or true and 1 are equal in Python, not in JSON
