"""The naive event store the benchmark compares against: what a first ORM draft would do.

One ORM session opened, committed, refreshed and closed for every append; no composite
``(run_id, seq)`` index; no runs index, so listing runs groups the whole events table. SQLite
runs with the driver's defaults (rollback journal, synchronous=FULL): no tuning either.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from sqlalchemy import BigInteger, DateTime, Engine, Integer, String, Text, create_engine, func, select
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

from agent_core.events import DomainEvent


class NaiveBase(DeclarativeBase):
    pass


class NaiveEvent(NaiveBase):
    __tablename__ = "naive_events"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    run_id: Mapped[str] = mapped_column(String(64))
    seq: Mapped[int] = mapped_column(Integer)
    type: Mapped[str] = mapped_column(String(64))
    payload: Mapped[str] = mapped_column(Text)
    event_time: Mapped[datetime] = mapped_column(DateTime(timezone=True))


def naive_engine(url: str) -> Engine:
    """An engine with default settings and the naive table created."""
    engine = create_engine(url)
    NaiveBase.metadata.create_all(engine)
    return engine


def naive_append(engine: Engine, run_id: str, events: Sequence[DomainEvent], first_seq: int) -> None:
    """One session per call: add, commit, refresh every row, close (the naive design's append)."""
    with Session(engine) as session:
        rows = [
            NaiveEvent(
                run_id=run_id,
                seq=first_seq + i,
                type=e.type,
                payload=e.model_dump_json(exclude={"type"}),
                event_time=datetime.now(UTC),
            )
            for i, e in enumerate(events)
        ]
        session.add_all(rows)
        session.commit()
        for row in rows:
            session.refresh(row)


def naive_read_run(engine: Engine, run_id: str) -> list[NaiveEvent]:
    with Session(engine) as session:
        return list(session.scalars(select(NaiveEvent).where(NaiveEvent.run_id == run_id).order_by(NaiveEvent.seq)))


def naive_list_runs(engine: Engine, limit: int = 50) -> list[str]:
    """``SELECT DISTINCT run_id ... ORDER BY event_time``, spelled portably as a GROUP BY."""
    newest = func.max(NaiveEvent.event_time)
    query = select(NaiveEvent.run_id).group_by(NaiveEvent.run_id).order_by(newest.desc()).limit(limit)
    with Session(engine) as session:
        return list(session.scalars(query))
