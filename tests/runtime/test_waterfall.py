"""The step waterfall: rows per plan step (plus planning and the answer) derived from a run's events."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from agent_core import events as ev
from agent_core.plan import Plan, PlanStep
from agent_core.waterfall import ANSWER, PLANNING, step_waterfall

T0 = datetime(2026, 1, 1, tzinfo=UTC)
PLANNER = ev.PlannerInfo(provider="offline", model="offline-v1", prompt_sha="a" * 64)
PLAN = Plan(
    steps=[
        PlanStep(id=f"step_{i}", objective="o", tool=tool, input={"path": "x"}, success_criteria="c")
        for i, tool in enumerate(["read_file", "write_file"], start=1)
    ],
    stop_conditions=[],
)


def recorded(timed: Sequence[tuple[float, ev.DomainEvent]]) -> list[ev.RecordedEvent]:
    return [
        ev.RecordedEvent(i, "r", i, e.type, e.VERSION, e.actor, T0 + timedelta(seconds=s), "", e)
        for i, (s, e) in enumerate(timed, 1)
    ]


def started() -> list[tuple[float, ev.DomainEvent]]:
    return [
        (0.0, ev.RunStarted(goal="g", max_steps=4, budget_usd=0.5, planner=PLANNER, policy_sha="s")),
        (0.1, ev.PlanRequested(provider="openai", model="m", system_prompt="p", user_message="g")),
        (0.6, ev.PlanRejected(error="not JSON", raw_chars=3, raw_excerpt="no", attempt=1, retryable=True)),
        (0.7, ev.PlanRequested(provider="openai", model="m", system_prompt="p", user_message="g", attempt=2)),
        (1.0, ev.PlanGenerated(plan=PLAN, raw_text="{}", attempt=2)),
    ]


def test_a_held_step_gets_its_own_waiting_span_and_a_retried_tool_two_spans() -> None:
    events = recorded(
        [
            *started(),
            (1.1, ev.ToolApproved(step_id="step_1", tool="read_file", rule="allowed", reason="ok")),
            (1.2, ev.ToolExecuted(step_id="step_1", tool="read_file", input={"path": "x"})),
            (2.0, ev.StepInterrupted(step_id="step_1", tool="read_file", next_action="retry")),
            (2.5, ev.ToolExecuted(step_id="step_1", tool="read_file", input={"path": "x"})),
            (
                2.9,
                ev.ObservationCaptured(step_id="step_1", tool="read_file", result={"success": True}, duration_ms=400),
            ),
            (
                3.0,
                ev.ApprovalRequested(step_id="step_2", tool="write_file", input={"path": "x"}, rule="r", reason="why"),
            ),
            (8.0, ev.ApprovalGranted(step_id="step_2", by="alice", comment="fine")),
            (8.1, ev.ToolExecuted(step_id="step_2", tool="write_file", input={"path": "x"})),
            (8.3, ev.ObservationCaptured(step_id="step_2", tool="write_file", result={"success": False, "error": "e"})),
            (8.4, ev.ResponseFinalized(summary="done", step_count=2)),
            (8.5, ev.RunFailed(reason="step_2 failed")),
        ]
    )
    w = step_waterfall(events)
    assert [r.key for r in w.rows] == [PLANNING, "step_1", "step_2", ANSWER]
    planning, step_1, step_2, answer = w.rows
    assert [(s.outcome, s.start_s, s.end_s) for s in planning.spans] == [
        ("rejected", 0.1, 0.6),
        ("succeeded", 0.7, 1.0),
    ]
    assert planning.label == "planning · succeeded · 2 attempts"
    tools = [s for s in step_1.spans if s.kind == "tool"]
    assert [(s.outcome, s.start_s, s.end_s) for s in tools] == [("interrupted", 1.2, 2.0), ("succeeded", 2.5, 2.9)]
    assert step_1.label == "step_1 · read_file · succeeded · 2 attempts"
    waiting = next(s for s in step_2.spans if s.kind == "waiting")
    assert (waiting.start_s, waiting.end_s, waiting.outcome) == (3.0, 8.0, "granted")
    assert "rule r: why" in waiting.detail and "granted by alice: fine" in waiting.detail
    assert step_2.outcome == "failed" and step_2.tool == "write_file"
    assert answer.outcome == "failed" and not w.live and w.waiting_on == ""


def test_a_live_run_draws_the_step_in_progress_up_to_now_and_says_what_it_waits_on() -> None:
    events = recorded(
        [
            *started(),
            (1.1, ev.ToolApproved(step_id="step_1", tool="read_file", rule="allowed", reason="ok")),
            (1.2, ev.ToolExecuted(step_id="step_1", tool="read_file", input={"path": "x"})),
        ]
    )
    w = step_waterfall(events, now=T0 + timedelta(seconds=5))
    assert w.live and w.current == "step_1" and w.waiting_on == "a tool"
    running = w.rows[1].spans[-1]
    assert running.open and (running.start_s, running.end_s) == (1.2, 5.0)
    assert w.rows[2].key == "step_2" and w.rows[2].outcome == "pending" and not w.rows[2].spans
    # a tick later the same span is longer: the duration keeps counting
    assert step_waterfall(events, now=T0 + timedelta(seconds=6)).rows[1].spans[-1].duration_s == 4.8

    held = recorded(
        [*started(), (3.0, ev.ApprovalRequested(step_id="step_1", tool="read_file", input={}, rule="r", reason="w"))]
    )
    assert step_waterfall(held, now=T0 + timedelta(seconds=60)).waiting_on == "a person"
    asking = recorded(started()[:4])
    assert step_waterfall(asking, now=T0 + timedelta(seconds=2)).waiting_on == "the LLM"


def test_an_ended_run_leaves_nothing_open_a_cut_off_step_shows_interrupted() -> None:
    events = recorded(
        [
            *started(),
            (3.0, ev.ApprovalRequested(step_id="step_1", tool="read_file", input={}, rule="r", reason="w")),
            (9.0, ev.RunCancelled(by="bob")),
        ]
    )
    w = step_waterfall(events, now=T0 + timedelta(hours=1))
    assert not w.live and w.end_s == 9.0 and w.waiting_on == ""
    step_1 = w.rows[1]
    assert step_1.outcome == "interrupted" and not step_1.open
    assert step_1.spans[-1].kind == "waiting" and step_1.spans[-1].end_s == 9.0


def test_long_runs_page_their_rows() -> None:
    events = recorded(started())
    w = step_waterfall(events)
    assert w.page(1, 2) == w.rows[:2] and w.page(2, 2) == w.rows[2:4] and w.page(9, 2) == ()


# --- any sequence of events: never an exception, spans well formed -----------------------------

STEP_IDS = st.sampled_from(["step_1", "step_2", "step_3", "", "x" * 300, "\u202e<b>"])
TOOLS = st.sampled_from(["read_file", "write_file", "web_search", ""])


def _event() -> st.SearchStrategy[ev.DomainEvent]:
    step = {"step_id": STEP_IDS, "tool": TOOLS}
    decided = {**step, "rule": st.text(max_size=5), "reason": st.text(max_size=5)}
    return st.one_of(
        st.builds(
            ev.PlanRequested,
            provider=st.just("p"),
            model=st.just("m"),
            system_prompt=st.just(""),
            user_message=st.just(""),
        ),
        st.builds(ev.PlanGenerated, plan=st.just(PLAN), raw_text=st.just("{}"), latency_ms=st.floats(0, 1e4)),
        st.builds(ev.PlanRejected, error=st.text(max_size=5), raw_chars=st.just(0), raw_excerpt=st.just("")),
        st.builds(ev.ToolApproved, **decided),
        st.builds(ev.ToolRejected, **decided),
        st.builds(ev.ApprovalRequested, input=st.dictionaries(st.text(max_size=3), st.integers()), **decided),
        st.builds(ev.ApprovalGranted, step_id=STEP_IDS, by=st.just("a")),
        st.builds(ev.ApprovalDenied, step_id=STEP_IDS, by=st.just("a")),
        st.builds(ev.ToolExecuted, input=st.just({}), **step),
        st.builds(
            ev.ObservationCaptured,
            result=st.fixed_dictionaries({"success": st.booleans()}),
            duration_ms=st.floats(0, 1e7),
            **step,
        ),
        st.builds(ev.StepInterrupted, step_id=STEP_IDS, tool=TOOLS),
        st.builds(ev.BudgetExceeded, spent_usd=st.floats(0, 9), budget_usd=st.floats(0, 9)),
        st.builds(ev.ResponseFinalized, summary=st.text(max_size=20), step_count=st.integers(0, 9)),
        st.builds(ev.RunCompleted),
        st.builds(ev.RunFailed, reason=st.text(max_size=10)),
        st.builds(ev.RunCancelled),
    )


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(st.tuples(st.floats(0, 5), _event()), max_size=40),
    st.floats(0, 100),
)
def test_any_event_sequence_gives_well_formed_rows(gaps: list[tuple[float, ev.DomainEvent]], now_s: float) -> None:
    elapsed, timed = 0.0, []
    for gap, event in gaps:
        elapsed += gap
        timed.append((elapsed, event))
    events = recorded(timed)
    now = T0 + timedelta(seconds=now_s)
    w = step_waterfall(events, now=now)
    keys = [r.key for r in w.rows]
    assert len(keys) == len(set(keys))
    mentioned = {getattr(r.event, "step_id", None) for r in events} - {None}
    assert mentioned <= set(keys)
    ended = any(isinstance(r.event, ev.RunCompleted | ev.RunFailed | ev.RunCancelled) for r in events)
    assert w.live == (not ended) or not events
    for row in w.rows:
        for span in row.spans:
            assert 0 <= span.start_s <= span.end_s <= w.end_s + 1e-5
            assert not (span.open and ended)
    if w.live and events:
        assert w.end_s >= (now - events[0].at).total_seconds() - 1e-5  # microsecond resolution
