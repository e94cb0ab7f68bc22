"""Process entry points for the multi-process store tests (importable under the spawn start method)."""

from __future__ import annotations

import sys
from typing import Any

from agent_core.errors import ConcurrencyError, StoreError
from agent_core.projections import open_store
from tests.store.helpers import observation, run_started


def race_on_one_run(url: str, run_id: str, worker: int, appends: int, barrier: Any, results: Any) -> None:
    """Append ``appends`` events to a shared run, re-reading and retrying after each lost race."""
    store = open_store(url)
    acked, lost, errors = [], 0, []
    barrier.wait()
    while len(acked) < appends:
        current = store.get_run(run_id)
        expected = current.last_seq if current else 0
        event = run_started(f"worker {worker}") if expected == 0 else observation(f"w{worker}-{len(acked)}")
        try:
            store.append(run_id, [event], expected)
            acked.append(expected + 1)
        except ConcurrencyError:
            lost += 1
        except StoreError as error:  # "database is locked" would land here
            errors.append(str(error))
            break
    results.put({"worker": worker, "acked": acked, "lost": lost, "errors": errors})
    store.close()


def own_run(url: str, run_id: str, appends: int, barrier: Any, results: Any) -> None:
    """Append to a run nobody else writes: must never lose a race."""
    store = open_store(url)
    barrier.wait()
    errors = []
    try:
        store.append(run_id, [run_started(run_id)], 0)
        for seq in range(1, appends):
            store.append(run_id, [observation(f"step_{seq}")], seq)
    except StoreError as error:
        errors.append(str(error))
    results.put({"run": run_id, "errors": errors})
    store.close()


def append_forever(url: str, run_id: str) -> None:
    """Append one event at a time and print each acknowledged seq; the test SIGKILLs us."""
    store = open_store(url)
    seq = store.append(run_id, [run_started()], 0)
    print(seq, flush=True)
    while True:
        seq = store.append(run_id, [observation(f"step_{seq}", "x" * 200)], seq)
        print(seq, flush=True)


if __name__ == "__main__":
    append_forever(sys.argv[1], sys.argv[2])
