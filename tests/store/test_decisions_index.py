"""The decisions index and the approval queue tell what the events tell, on SQLite and PostgreSQL.

The index gets its rows inside each append's transaction; these tests append generated runs in
random chunks and compare the index with an independent reading of the events (every decision
event, a person's decision carrying the hold's tool and rule), and the queue with the fold's
``pending_approval``. A store from before the index is backfilled once, at open.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import create_engine, text

from agent_core import events as ev
from agent_core.approvals import ApprovalFilter, count_pending, decision_counts, pending_approvals, recorded_decisions
from agent_core.projections import fold, load_events, open_store
from agent_core.store import EventStore, NewEvent
from tests.store.helpers import new_run_id, run_started
from tests.store.test_index_agrees_with_fold import _plan, chunked, run_logs


def decisions_in_the_log(store: EventStore, run_id: str) -> list[tuple[Any, ...]]:
    """Every decision event of the run, read straight from its events (the oracle)."""
    held: dict[str, tuple[str, str]] = {}
    found = []
    for recorded in load_events(store, run_id):
        e = recorded.event
        if e.DECIDES is None or recorded.problem:
            continue
        if isinstance(e, ev.ApprovalGranted | ev.ApprovalDenied):
            tool, rule = held.get(e.step_id, ("", ""))
            found.append((run_id, recorded.seq, e.step_id, tool, e.DECIDES.word, rule, e.comment, e.by))
        else:
            assert isinstance(e, ev.ToolApproved | ev.ToolRejected | ev.ApprovalRequested)
            if isinstance(e, ev.ApprovalRequested):
                held[e.step_id] = (e.tool, e.rule)
            found.append((run_id, recorded.seq, e.step_id, e.tool, e.DECIDES.word, e.rule, e.reason, "guard"))
    return found


def decisions_in_the_index(store: EventStore, run_id: str) -> list[tuple[Any, ...]]:
    rows = recorded_decisions(store, run_prefix=run_id, limit=10_000)
    return sorted((d.run_id, d.seq, d.step_id, d.tool, d.outcome, d.rule, d.reason, d.by) for d in rows)


def assert_index_agrees(store: EventStore, run_id: str) -> None:
    assert decisions_in_the_index(store, run_id) == decisions_in_the_log(store, run_id)
    state = fold(load_events(store, run_id))
    queued = pending_approvals(store, ApprovalFilter(run_prefix=run_id))
    expected = [state.pending_approval.step_id] if state.pending_approval else []
    assert [p.step_id for p in queued] == expected
    assert count_pending(store, ApprovalFilter(run_prefix=run_id)) == len(expected)
    if queued:
        assert queued[0].in_replay == (state.replay_mode == "whatif")
        assert queued[0].goal == state.goal


@pytest.fixture
def indexed(database_url: str) -> Any:
    store = open_store(database_url, sqlite_synchronous="OFF") if "sqlite" in database_url else open_store(database_url)
    yield store
    store.close()


@settings(max_examples=60, deadline=None, database=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(events=run_logs(), cuts=st.lists(st.integers(1, 200), max_size=8))
def test_the_decisions_index_and_the_queue_agree_with_the_events_of_every_generated_run(
    indexed: EventStore, events: list[NewEvent], cuts: list[int]
) -> None:
    run_id, seq = new_run_id(), 0
    for chunk in chunked(events, cuts):
        seq = indexed.append(run_id, chunk, seq)
        assert_index_agrees(indexed, run_id)  # after every append, not only at the end


def held_run(store: EventStore, tool: str = "write_file", rule: str = "no_overwrite", **started: Any) -> str:
    run_id = new_run_id()
    store.append(
        run_id,
        [
            run_started(**started),
            ev.PlanGenerated(plan=_plan(1), raw_text="{}"),
            ev.ApprovalRequested(step_id="step_1", tool=tool, input={"path": "a.md"}, rule=rule, reason="exists"),
        ],
        0,
    )
    return run_id


def test_a_cancelled_hold_leaves_the_queue_and_the_count(indexed: EventStore) -> None:
    keep, cancel = held_run(indexed), held_run(indexed)
    assert count_pending(indexed) == 2
    indexed.append(cancel, [ev.RunCancelled(by="alice", reason="not now")], 3)
    assert [p.run_id for p in pending_approvals(indexed)] == [keep]
    assert count_pending(indexed) == 1
    assert fold(load_events(indexed, cancel)).pending_approval is None


def test_the_queue_filters_by_tool_rule_run_and_replay_and_pages(indexed: EventStore) -> None:
    writes = [held_run(indexed) for _ in range(3)]
    search = held_run(indexed, tool="web_search", rule="network_needs_approval")
    replay = held_run(indexed, replay_of="o" * 32)
    assert count_pending(indexed) == 5
    assert {p.run_id for p in pending_approvals(indexed, ApprovalFilter(tools=["web_search"]))} == {search}
    assert count_pending(indexed, ApprovalFilter(rules=["no_overwrite"])) == 4
    assert [p.run_id for p in pending_approvals(indexed, ApprovalFilter(replays=True))] == [replay]
    assert count_pending(indexed, ApprovalFilter(replays=False)) == 4
    assert [p.run_id for p in pending_approvals(indexed, ApprovalFilter(run_prefix=writes[1][:12]))] == [writes[1]]
    pages = [pending_approvals(indexed, limit=2, offset=o) for o in (0, 2, 4)]
    assert [len(p) for p in pages] == [2, 2, 1]
    assert len({p.run_id for page in pages for p in page}) == 5
    first = pending_approvals(indexed, limit=1)[0]
    assert first.objective == "do 1" and first.input == {"path": "a.md"} and first.rule == "no_overwrite"
    assert decision_counts(indexed)[("no_overwrite", "held")] == 4


def test_a_store_from_before_the_index_is_backfilled_once_at_open(database_url: str) -> None:
    store = open_store(database_url)
    held = held_run(store)
    done = held_run(store)
    store.append(done, [ev.ApprovalDenied(step_id="step_1", by="alice", comment="no")], 3)
    store.close()
    engine = create_engine(database_url)
    with engine.begin() as conn:
        conn.execute(text("DROP TABLE decisions"))  # as a store written before the index looks
    engine.dispose()

    reopened = open_store(database_url)
    for run_id in (held, done):
        assert_index_agrees(reopened, run_id)
    assert [p.run_id for p in pending_approvals(reopened)] == [held]
    reopened.close()
    again = open_store(database_url)  # idempotent: a second open neither fails nor duplicates
    assert len(recorded_decisions(again)) == 3
    again.close()


def test_a_comment_with_a_nul_is_indexed_visibly_and_kept_exact_in_the_event(indexed: EventStore) -> None:
    run_id = held_run(indexed)
    indexed.append(run_id, [ev.ApprovalGranted(step_id="step_1", by="alice", comment="ok\x00then")], 3)
    assert recorded_decisions(indexed, outcomes=["granted"])[0].reason == "ok\ufffdthen"
    assert load_events(indexed, run_id)[-1].event.comment == "ok\x00then"  # type: ignore[attr-defined]
