"""The Runs overview (per day: runs by status, cost, p50/p95 duration; decisions by rule) agrees with a
fold of every run's events, on SQLite and PostgreSQL.

The overview is aggregated by the database from the runs and decisions indexes; here generated runs
(hypothesis), spread over several days, are folded one by one and the same figures computed in Python.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from agent_core import events as ev
from agent_core.overview import OverviewCache, percentile, run_overview
from agent_core.projections import RunState, fold, load_events, open_store
from agent_core.store import EventStore, NewEvent
from tests.store.catalogue import example
from tests.store.helpers import new_run_id
from tests.store.test_decisions_index import decisions_in_the_log
from tests.store.test_index_agrees_with_fold import run_logs

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)


def expected(states: list[RunState], decisions: list[tuple[Any, ...]], since: datetime) -> dict[str, Any]:
    by_day: dict[Any, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    cost: dict[Any, float] = defaultdict(float)
    took: dict[Any, list[float]] = defaultdict(list)
    for s in states:
        assert s.started_at is not None
        if s.started_at < since:
            continue
        day = s.started_at.date()
        by_day[day][s.status] += 1
        cost[day] += s.cost_usd
        if s.ended_at is not None:
            took[day].append((s.ended_at - s.started_at).total_seconds())
    every = sorted(x for v in took.values() for x in v)
    rules: dict[tuple[str, str], int] = defaultdict(int)
    for d in decisions:
        rules[(d[5], d[4])] += 1
    return {
        "days": {d: dict(v) for d, v in by_day.items()},
        "cost": dict(cost),
        "p": {d: (percentile(sorted(v), 0.5), percentile(sorted(v), 0.95)) for d, v in took.items()},
        "all": (percentile(every, 0.5), percentile(every, 0.95)),
        "rules": dict(rules),
    }


def close(a: float | None, b: float | None) -> bool:
    return (a is None and b is None) or (a is not None and b is not None and abs(a - b) < 0.01)


@pytest.fixture
def indexed(database_url: str) -> Any:
    store = open_store(database_url)
    yield store
    store.close()


runs = st.lists(
    st.tuples(run_logs(), st.integers(0, 3), st.lists(st.floats(0.0, 400.0), min_size=1, max_size=3)),
    min_size=1,
    max_size=4,
)


@settings(max_examples=25, deadline=None, database=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(generated=runs)
def test_the_overview_agrees_with_a_fold_of_every_run(indexed: EventStore, generated: list[Any]) -> None:
    # every example adds runs to the same store: compare over all runs it holds, folded from their events
    for events, days_ago, gaps in generated:
        start = NOW - timedelta(days=days_ago, hours=1)
        times = [start + timedelta(seconds=sum(gaps[: i % len(gaps) + 1]) * i / 10) for i in range(len(events))]
        indexed.append(new_run_id(), list[NewEvent](events), 0, times=times)
    ids = [row.run_id for row in indexed.list_runs(limit=10_000)]
    states = [fold(load_events(indexed, run_id)) for run_id in ids]
    overview = run_overview(indexed, days=3, now=NOW)
    in_window = [s.run_id for s in states if s.started_at is not None and s.started_at >= overview.since]
    decisions = [d for run_id in in_window for d in decisions_in_the_log(indexed, run_id)]
    want = expected(states, decisions, overview.since)
    assert overview.decisions_by_rule == want["rules"]  # a run's decisions fall on the days it ran
    assert {d.day: d.by_status for d in overview.days} == want["days"]
    for d in overview.days:
        assert abs(d.cost_usd - want["cost"][d.day]) < 1e-6
        assert close(d.p50_s, want["p"].get(d.day, (None, None))[0])
        assert close(d.p95_s, want["p"].get(d.day, (None, None))[1])
    assert close(overview.p50_s, want["all"][0]) and close(overview.p95_s, want["all"][1])


def test_decisions_by_rule_count_only_the_window(indexed: EventStore) -> None:
    from agent_core import events as ev
    from tests.store.helpers import run_started

    for days_ago in (0, 10):
        at = NOW - timedelta(days=days_ago)
        indexed.append(
            new_run_id(),
            [run_started(), ev.ToolRejected(step_id="step_1", tool="web_search", rule="workspace_only", reason="x")],
            0,
            times=[at, at],
        )
    overview = run_overview(indexed, days=7, now=NOW)
    assert overview.decisions_by_rule == {("workspace_only", "rejected"): 1}
    assert overview.runs == 1 and overview.days[0].by_status == {"running": 1}


def test_the_cached_overview_is_reused_until_the_store_changes(indexed: EventStore) -> None:
    def one_run() -> None:
        indexed.append(new_run_id(), [example(ev.RunStarted)], 0)

    cache = OverviewCache()
    one_run()
    first = cache.get(indexed)
    assert first.runs == 1
    assert cache.get(indexed) is first  # nothing appended: the same figures, not recomputed
    one_run()
    assert cache.get(indexed).runs == 2  # an append moves the last position: recomputed
    aged = OverviewCache(max_age_s=0.0)
    figures = aged.get(indexed)
    assert aged.get(indexed) is not figures and aged.get(indexed).runs == 2  # past its age: recomputed anyway
