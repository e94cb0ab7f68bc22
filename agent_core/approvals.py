"""The approval queue and the decision history, read from the decisions index (never from run logs).

The ``decisions`` table gets one row per decision event in the append's own transaction
(``projections.decision_row``), so a held step is pending exactly while its row is the step's
latest decision and its run still waits: a cancelled run's hold leaves the queue with the run.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import and_, exists, func, select
from sqlalchemy.orm import aliased

from agent_core.store import APPROVED, LOCAL, UNUSUAL_DECISION, EventStore, decisions_table, runs_table

WAITING = "waiting_approval"  # projections.WAITING; the runs index stores the fold's status word


@dataclass(frozen=True, slots=True)
class PendingApproval:
    """A held step waiting for a human: what the approval queue shows.

    ``input`` is the tool input as the orchestrator resolved it (what earlier steps fed in
    included); ``replay_of`` names the original run when the hold belongs to a what-if replay.
    """

    run_id: str
    goal: str
    step_id: str
    tool: str
    objective: str
    input: dict[str, Any]
    rule: str
    reason: str
    requested_at: datetime | None
    replay_of: str | None = None

    @property
    def in_replay(self) -> bool:
        """True for a what-if replay's hold: deciding it never touches the real workspace."""
        return self.replay_of is not None


@dataclass(frozen=True, slots=True)
class ApprovalFilter:
    """Which held steps a queue page shows: any of ``tools``/``rules`` (empty: all), a run id prefix,
    and replays only (True), real runs only (False) or both (None)."""

    tools: Sequence[str] = ()
    rules: Sequence[str] = ()
    run_prefix: str = ""
    replays: bool | None = None


@dataclass(frozen=True, slots=True)
class PolicyDecision:
    """One recorded decision on a step: by the guard (approved/rejected/held) or a person (granted/denied).

    A person's decision carries the tool and rule of the hold it answers; ``reason`` is their comment.
    """

    run_id: str
    seq: int
    at: datetime
    step_id: str
    tool: str
    outcome: str
    rule: str
    reason: str
    by: str
    replay_of: str | None = field(default=None)


def _pending_query(columns: Sequence[Any], wanted: ApprovalFilter) -> Any:
    d, later = decisions_table, aliased(decisions_table)
    answered = exists().where(and_(later.c.run_id == d.c.run_id, later.c.step_id == d.c.step_id, later.c.seq > d.c.seq))
    query = (
        select(*columns)
        .select_from(d.join(runs_table, runs_table.c.run_id == d.c.run_id))
        .where(d.c.outcome == "held", UNUSUAL_DECISION, runs_table.c.status == WAITING, runs_table.c.origin == LOCAL)
        .where(~answered)
    )
    if wanted.tools:
        query = query.where(d.c.tool.in_(list(wanted.tools)))
    if wanted.rules:
        query = query.where(d.c.rule.in_(list(wanted.rules)))
    if wanted.run_prefix:
        query = query.where(d.c.run_id.startswith(wanted.run_prefix, autoescape=True))
    if wanted.replays is True:
        query = query.where(d.c.replay_of.is_not(None))
    elif wanted.replays is False:
        query = query.where(d.c.replay_of.is_(None))
    return query


def pending_approvals(
    store: EventStore, wanted: ApprovalFilter | None = None, *, limit: int = 20, offset: int = 0
) -> list[PendingApproval]:
    """Held steps waiting for a person, oldest request first, one page; imported runs' holds never show."""
    d = decisions_table
    columns = (d.c.run_id, runs_table.c.title, d.c.step_id, d.c.tool, d.c.objective, d.c.input, d.c.rule, d.c.reason)
    query = _pending_query([*columns, d.c.at, d.c.replay_of], wanted or ApprovalFilter())
    query = query.order_by(d.c.at, d.c.run_id, d.c.seq).limit(limit).offset(offset)
    return [
        PendingApproval(r[0], r[1], r[2], r[3], r[4], _object(r[5]), r[6], r[7], _utc(r[8]), r[9])
        for r in store.query_index(query)
    ]


def count_pending(store: EventStore, wanted: ApprovalFilter | None = None) -> int:
    """How many held steps ``pending_approvals`` pages through with the same filter: the one true count."""
    rows = store.query_index(_pending_query([func.count()], wanted or ApprovalFilter()))
    return int(rows[0][0]) if rows else 0


def pending_choices(store: EventStore) -> tuple[list[str], list[str]]:
    """The tools and the rules of everything pending: the queue's filter options."""
    d = decisions_table
    rows = store.query_index(_pending_query([d.c.tool, d.c.rule], ApprovalFilter()).distinct())
    return sorted({r[0] for r in rows}), sorted({r[1] for r in rows})


def recorded_decisions(
    store: EventStore,
    *,
    rules: Sequence[str] = (),
    tools: Sequence[str] = (),
    outcomes: Sequence[str] = (),
    run_prefix: str = "",
    limit: int = 2000,
) -> list[PolicyDecision]:
    """Recorded decisions across all runs, newest first, at most ``limit``."""
    d = decisions_table
    query = select(d)
    if rules:
        query = query.where(d.c.rule.in_(list(rules)))
    if tools:
        query = query.where(d.c.tool.in_(list(tools)))
    if outcomes:
        query = query.where(d.c.outcome.in_(list(outcomes)))
        if APPROVED not in outcomes:  # the term that lets SQLite read the partial index
            query = query.where(UNUSUAL_DECISION)
    if run_prefix:
        query = query.where(d.c.run_id.startswith(run_prefix, autoescape=True))
    query = query.order_by(d.c.at.desc(), d.c.run_id.desc(), d.c.seq.desc()).limit(limit)
    return [
        PolicyDecision(
            r.run_id, r.seq, _utc(r.at), r.step_id, r.tool, r.outcome, r.rule, r.reason, r.decided_by, r.replay_of
        )
        for r in store.query_index(query)
    ]


def decision_counts(store: EventStore) -> dict[tuple[str, str], int]:
    """(rule, outcome) -> how many decisions, over every run: the decisions-by-rule chart."""
    d = decisions_table
    rows = store.query_index(select(d.c.rule, d.c.outcome, func.count()).group_by(d.c.rule, d.c.outcome))
    return {(r[0], r[1]): int(r[2]) for r in rows}


def decision_tools(store: EventStore) -> list[str]:
    """Every tool that has a recorded decision."""
    return sorted(r[0] for r in store.query_index(select(decisions_table.c.tool).distinct()))


def _object(text: str) -> dict[str, Any]:
    try:
        value = json.loads(text)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
