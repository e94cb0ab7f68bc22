"""Several processes appending at once, and a writer killed mid-append, on both engines."""

from __future__ import annotations

import multiprocessing
import signal
import subprocess
import sys
from pathlib import Path

from agent_core.projections import open_store
from tests.store.helpers import new_run_id
from tests.store.workers import own_run, race_on_one_run

ROOT = Path(__file__).resolve().parents[2]
WORKERS = 4


def test_racing_processes_on_one_run_lose_cleanly_and_keep_seqs_gap_free(database_url: str) -> None:
    ctx = multiprocessing.get_context("spawn")
    open_store(database_url).close()  # schema first, so workers race on appends only
    run_id, appends = new_run_id(), 15
    barrier, results = ctx.Barrier(WORKERS), ctx.Queue()
    procs = [
        ctx.Process(target=race_on_one_run, args=(database_url, run_id, w, appends, barrier, results))
        for w in range(WORKERS)
    ]
    for p in procs:
        p.start()
    reports = [results.get(timeout=120) for _ in procs]
    for p in procs:
        p.join(timeout=30)

    assert all(not r["errors"] for r in reports), [r["errors"] for r in reports]
    acked = sorted(seq for r in reports for seq in r["acked"])
    assert acked == list(range(1, WORKERS * appends + 1))  # every ack distinct, none lost
    store = open_store(database_url)
    events = store.read_run(run_id)
    assert [e.seq for e in events] == acked  # gap-free, nothing duplicated
    assert sum(r["lost"] for r in reports) > 0  # the barrier makes the first round a real race
    assert store.verify_chain(run_id) is None
    assert store.get_run(run_id).last_seq == len(acked)
    store.close()


def test_processes_on_different_runs_never_conflict(database_url: str) -> None:
    ctx = multiprocessing.get_context("spawn")
    open_store(database_url).close()
    runs, appends = [new_run_id() for _ in range(WORKERS)], 20
    barrier, results = ctx.Barrier(WORKERS), ctx.Queue()
    procs = [ctx.Process(target=own_run, args=(database_url, r, appends, barrier, results)) for r in runs]
    for p in procs:
        p.start()
    reports = [results.get(timeout=120) for _ in procs]
    for p in procs:
        p.join(timeout=30)
    assert all(not r["errors"] for r in reports), [r["errors"] for r in reports]
    store = open_store(database_url)
    for run in runs:
        assert [e.seq for e in store.read_run(run)] == list(range(1, appends + 1))
    store.close()


def test_sigkill_mid_append_loses_no_acknowledged_event(database_url: str) -> None:
    run_id = new_run_id()
    open_store(database_url).close()
    writer = subprocess.Popen(
        [sys.executable, "-m", "tests.store.workers", database_url, run_id],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    acked = []
    assert writer.stdout is not None
    while len(acked) < 60:
        line = writer.stdout.readline()
        assert line, "the writer died before it was killed"
        acked.append(int(line))
    writer.send_signal(signal.SIGKILL)
    writer.wait(timeout=30)

    store = open_store(database_url)
    seqs = [e.seq for e in store.read_run(run_id)]
    assert seqs[: len(acked)] == acked  # every acknowledged event survived
    assert seqs == list(range(1, len(seqs) + 1))  # at most the in-flight batch more, no gap
    assert store.verify_chain(run_id) is None
    assert store.get_run(run_id).last_seq == len(seqs)
    store.close()
