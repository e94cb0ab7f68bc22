"""The Runs page's overview: runs per day by status, cost per day, p50/p95 duration, decisions by rule.

Read from the two projections the append keeps in its own transaction (the ``runs`` row of each
run and the ``decisions`` rows), aggregated by the database: never by reading a run's events, so
it costs the same for 100 runs as for 100,000. Days are UTC days of a run's start.
"""

from __future__ import annotations

import statistics
import threading
import time
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import Float, cast, func, literal_column, select

from agent_core.store import EventStore, decisions_table, runs_table

DEFAULT_DAYS = 30


@dataclass(frozen=True, slots=True)
class DayFigures:
    """One UTC day of runs started: how many ended how, what they cost, how long the ended ones took."""

    day: date
    by_status: dict[str, int]
    cost_usd: float
    p50_s: float | None
    p95_s: float | None

    @property
    def runs(self) -> int:
        """Runs started that day."""
        return sum(self.by_status.values())


@dataclass(frozen=True, slots=True)
class RunOverview:
    """The figures of the last ``days`` days (empty days left out), oldest first, and their totals."""

    since: datetime
    days: tuple[DayFigures, ...]
    p50_s: float | None
    p95_s: float | None
    decisions_by_rule: dict[tuple[str, str], int]
    """(rule, outcome) -> decisions made in the window."""

    @property
    def runs(self) -> int:
        """Runs started in the window."""
        return sum(d.runs for d in self.days)

    @property
    def cost_usd(self) -> float:
        """What the window's runs cost."""
        return sum(d.cost_usd for d in self.days)


def percentile(values: list[float], share: float) -> float | None:
    """The ``share`` quantile (0.5 = median) by linear interpolation; None for no values."""
    if not values:
        return None
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[round(share * 100) - 1]


def _expressions(dialect: str) -> tuple[Any, Any, Any]:
    """(start day as 'YYYY-MM-DD', cost, seconds from start to end or NULL) for this engine."""
    if dialect == "sqlite":
        day = func.substr(runs_table.c.started_at, 1, 10)
        cost = cast(func.json_extract(runs_table.c.summary, "$.cost_usd"), Float)
        ended = func.json_extract(runs_table.c.summary, "$.ended_at")
        seconds = (func.julianday(ended) - func.julianday(runs_table.c.started_at)) * 86400.0
        return day, cost, seconds
    day = func.to_char(runs_table.c.started_at, "YYYY-MM-DD")
    pg_cost: Any = literal_column("CAST(CAST(runs.summary AS jsonb) ->> 'cost_usd' AS DOUBLE PRECISION)")
    pg_seconds: Any = literal_column(
        "EXTRACT(EPOCH FROM (CAST(CAST(runs.summary AS jsonb) ->> 'ended_at' AS TIMESTAMPTZ) - runs.started_at))"
    )
    return day, pg_cost, pg_seconds


def run_overview(store: EventStore, days: int = DEFAULT_DAYS, now: datetime | None = None) -> RunOverview:
    """The overview of runs started in the last ``days`` days (UTC, today included)."""
    today = (now or datetime.now(UTC)).astimezone(UTC).date()
    since = datetime.combine(today - timedelta(days=days - 1), datetime.min.time(), tzinfo=UTC)
    day, cost, seconds = _expressions(store.dialect)
    started = runs_table.c.started_at >= since
    counts = store.query_index(
        select(day, runs_table.c.status, func.count(), func.sum(cost)).where(started).group_by(day, runs_table.c.status)
    )
    durations = store.query_index(select(day, seconds).where(started, seconds.is_not(None)))
    by_status: dict[str, dict[str, int]] = defaultdict(dict)
    spent: dict[str, float] = defaultdict(float)
    for d, status, n, usd in counts:
        by_status[d][status] = int(n)
        spent[d] += float(usd or 0.0)
    took: dict[str, list[float]] = defaultdict(list)
    for d, s in durations:
        took[d].append(max(0.0, float(s)))
    figures = tuple(
        DayFigures(
            date.fromisoformat(d),
            dict(sorted(by_status[d].items())),
            spent[d],
            percentile(sorted(took[d]), 0.5),
            percentile(sorted(took[d]), 0.95),
        )
        for d in sorted(by_status)
    )
    every = sorted(s for values in took.values() for s in values)
    rules = store.query_index(
        select(decisions_table.c.rule, decisions_table.c.outcome, func.count())
        .where(decisions_table.c.at >= since)
        .group_by(decisions_table.c.rule, decisions_table.c.outcome)
    )
    return RunOverview(
        since,
        figures,
        percentile(every, 0.5),
        percentile(every, 0.95),
        {(r, o): int(n) for r, o, n in rules},
    )


class OverviewCache:
    """The last overview, reused while the store has no new event, the UTC day is the same and it is
    younger than ``max_age_s``.

    The Runs page draws the overview on every rerun (a row selected, a filter changed, a new tab),
    and over 100,000 runs its two aggregations cost about 150 ms; the store's last position is one
    index lookup. The age bound is for PostgreSQL: a write that commits after a later position
    is already visible leaves the last position as it was.
    """

    def __init__(self, max_age_s: float = 30.0) -> None:
        """An empty cache; figures older than ``max_age_s`` are recomputed whatever the store says."""
        self.max_age_s = max_age_s
        self._lock = threading.Lock()
        self._last: tuple[tuple[int, int, date], float, RunOverview] | None = None

    def get(self, store: EventStore, days: int = DEFAULT_DAYS) -> RunOverview:
        """``run_overview(store, days)``, or the same figures again when nothing they count changed."""
        key = (store.last_position(), days, datetime.now(UTC).date())
        with self._lock:
            last = self._last
        if last is not None and last[0] == key and time.monotonic() - last[1] < self.max_age_s:
            return last[2]
        figures = run_overview(store, days)
        with self._lock:
            self._last = (key, time.monotonic(), figures)
        return figures
