"""PostgreSQL single-writer append against a plain SQLAlchemy Core insert of the same row.

One process appends single events, one durable commit each (synchronous_commit on), to
PostgreSQL at 127.0.0.1:5432 in a database made for the run and dropped after it. Contenders
take turns in short rounds (the disk's latency on a shared machine drifts over seconds), each
appending ``--appends`` events to a run of its own per round:

- **ours**: ``open_store(url).append(run, [event], seq)``, the product path: the global advisory
  lock, the runs row read, the expected-seq check, redaction, the hash chain, the runs index
  (fold) and the event row, in one transaction;
- **ours, no advisory lock** (a measurement, not a mode of the store): the same with the lock
  statement swapped for a no-op one in the same round trip, to show what the lock costs;
- **Core insert**: ``engine.begin()`` + ``conn.execute(events.insert(), row)`` with the same row
  (JSON text and hash computed beforehand): what any SQLAlchemy application pays to store a row.

Reports the median over rounds of the mean ms per append and the ratio of throughputs
(ours / Core) per round, then its median. Target (issue 16): ours at least 0.8x Core. Also the
client's CPU ms per append (``process_time``): when the disk is shared and slow, wall time
measures its queue, and the CPU this process spends is the part the code controls.

    python bench/pg_append_bench.py [--rounds N] [--appends N] [--json]
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import statistics
import sys
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run as a script from any folder

from sqlalchemy import Engine, create_engine

from agent_core import events as ev
from agent_core.projections import open_store
from agent_core.store import EventStore, _PgPrepared, events_table
from bench import _common as c
from bench.store_bench import drop_pg_database, pg_reachable, recreate_pg_database, workload

DATABASE = "bench_pg_append"
TARGET = 0.8


def _payload_text(event: ev.DomainEvent) -> str:
    return json.dumps(event.to_payload(), sort_keys=True, separators=(",", ":"), ensure_ascii=False)


class Contender:
    """Appends one event per transaction to a run of its own; ``round`` returns mean ms per append."""

    def __init__(self, append: Callable[[str, int, ev.DomainEvent], None]) -> None:
        self._append = append
        self.cpu_ms = []

    cpu_ms: list[float]

    def round(self, events: list[ev.DomainEvent]) -> float:
        run_id = uuid.uuid4().hex
        start, cpu = time.perf_counter(), time.process_time()
        for seq, event in enumerate(events, 1):
            self._append(run_id, seq, event)
        self.cpu_ms.append((time.process_time() - cpu) * 1000 / len(events))
        return (time.perf_counter() - start) * 1000 / len(events)


def ours(store: EventStore) -> Contender:
    return Contender(lambda run_id, seq, event: store.append(run_id, [event], seq - 1) and None)


def core_insert(engine: Engine) -> Contender:
    insert = events_table.insert()

    def append(run_id: str, seq: int, event: ev.DomainEvent) -> None:
        text = _payload_text(event)
        row: dict[str, Any] = {
            "run_id": run_id,
            "seq": seq,
            "type": event.type,
            "version": event.schema_version,
            "actor": event.actor,
            "at": datetime.now(UTC),
            "payload": text,
            "hash": hashlib.sha256(text.encode()).hexdigest(),
        }
        with engine.begin() as conn:
            conn.execute(insert, row)

    return Contender(append)


def measure(rounds: int, appends: int) -> dict[str, Any]:
    url = recreate_pg_database(DATABASE)
    try:
        shipped = open_store(url)
        unlocked = open_store(url)
        # Measurement only: the lock statement becomes a no-op in the same place of the pipeline.
        unlocked._sql = dataclasses.replace(unlocked._sql, lock="SELECT CAST(%s AS BIGINT)")
        unlocked._pg = _PgPrepared.of(unlocked._sql)  # its prepared statements follow
        engine = create_engine(url)
        contenders = {"ours": ours(shipped), "ours_no_lock": ours(unlocked), "core": core_insert(engine)}
        events = workload(appends)
        for contender in contenders.values():  # warm-up: connections, prepared caches
            contender.round(events[:20])
            contender.cpu_ms.clear()
        ms: dict[str, list[float]] = {name: [] for name in contenders}
        order = list(contenders)
        for i in range(rounds):
            for name in order[i % len(order) :] + order[: i % len(order)]:  # rotate who goes first
                ms[name].append(contenders[name].round(events))
            if (i + 1) % 5 == 0:
                c.progress(f"{i + 1}/{rounds} rounds")
        shipped.close()
        unlocked.close()
        engine.dispose()
    finally:
        drop_pg_database(DATABASE)
    per_round = {name: [core / mine for core, mine in zip(ms["core"], ms[name], strict=True)] for name in ms}
    return {
        "rounds": rounds,
        "appends_per_round": appends,
        "ms_per_append": {name: statistics.median(values) for name, values in ms.items()},
        "cpu_ms_per_append": {name: statistics.median(contenders[name].cpu_ms) for name in ms},
        "vs_core": {name: statistics.median(values) for name, values in per_round.items() if name != "core"},
        "vs_core_quartiles": {
            name: statistics.quantiles(values, n=4)[::2] for name, values in per_round.items() if name != "core"
        },
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--appends", type=int, default=100)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    if not pg_reachable():
        print("pg_append_bench: nothing listens on 127.0.0.1:5432; skipped")
        return 0
    result = measure(args.rounds, args.appends)
    result["target_met"] = result["vs_core"]["ours"] >= TARGET
    if args.json:
        print(json.dumps(result, indent=2))
        return 0
    print(f"pg append bench: {args.rounds} rounds x {args.appends} single-event commits each; {c.machine_line()}")
    table = c.Table(["contender", "ms/append (median of rounds)", "x Core insert (median, quartiles)", "CPU ms/append"])
    labels = {"ours": "ours (as shipped)", "ours_no_lock": "ours, no advisory lock", "core": "SQLAlchemy Core insert"}
    for name, label in labels.items():
        ratio = result["vs_core"].get(name)
        spread = result["vs_core_quartiles"].get(name)
        cell = f"{c.fmt_ratio(ratio)} ({spread[0]:.2f}-{spread[1]:.2f})" if ratio and spread else "1.00x (ref)"
        table.add(label, c.fmt_number(result["ms_per_append"][name]), cell, f"{result['cpu_ms_per_append'][name]:.3f}")
    print(table.render())
    print(
        f"\nours / Core insert = {c.fmt_ratio(result['vs_core']['ours'])} (target >= {TARGET}x): "
        f"{c.verdict(result['target_met'])}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
