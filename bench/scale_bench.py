"""Scale-out on PostgreSQL: runs/s with 1, 2 and 4 worker processes, queue-to-start, concurrent appends.

    python bench/scale_bench.py                 # ~2-3 min
    python bench/scale_bench.py --quick         # smoke size, seconds
    python bench/scale_bench.py --runs-per-worker N --llm-delay S --appends N --repeats N [--json]

(1) Workers: N ``python -m agent_core worker`` processes (concurrency 1 each) drain N x
``--runs-per-worker`` runs enqueued at once; every LLM answer (plan and summarize) comes from
the local fake OpenAI server (tests/fake_llm.py) after ``--llm-delay`` seconds, so runs wait on
the network like real ones. Scaling efficiency = runs/s(N) / (N x runs/s(1)); target >= 0.8.
Queue-to-start: with 4 idle workers, runs submitted one at a time below capacity; the time from
``RunStarted`` (written by the enqueuing client, same transaction as the job) to the first event a
worker writes. Target p95 < 0.5 s.

(2) Appends: W writer processes each append ``--appends`` single-event transactions to their own
run through ``EventStore.append``; 8 writers vs 1 (target >= 3x aggregate appends/s). Beside it,
the same shape through SQLAlchemy Core's plain ``insert`` (one row, one commit) into a bare table
shaped like ``events``: the rate of the driver and the server without a store's work.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import signal
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from tempfile import TemporaryDirectory
from typing import Any

from _common import ROOT, Table, ensure_import_path, fmt_number, fmt_ratio, machine_line, progress, verdict

ensure_import_path()

from sqlalchemy import create_engine, text  # noqa: E402

PG_ADMIN_URL = os.environ.get("BENCH_PG_ADMIN_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
PLAN = {
    "steps": [
        {
            "id": "step_1",
            "objective": "Read the notes",
            "tool": "read_file",
            "input": {"path": "notes.txt"},
            "success_criteria": "read",
        },
        {
            "id": "step_2",
            "objective": "Summarize",
            "tool": "summarize",
            "input": {"from_steps": ["step_1"]},
            "success_criteria": "a summary",
        },
    ],
    "stop_conditions": ["a step fails"],
}


@contextmanager
def scratch_database(tag: str) -> Iterator[str]:
    name = f"bench_scale_{tag}_{os.getpid()}"
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


# --- (1) workers ---------------------------------------------------------------------------


def _env(url: str, workspace: Path, llm_url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AGENT_", "OPENAI_", "ANTHROPIC_"))}
    env.update(
        DATABASE_URL=url,
        AGENT_QUEUE="procrastinate",
        AGENT_WORKSPACE=str(workspace),
        AGENT_PLANNER="openai",
        AGENT_MODEL="gpt-4.1-mini",
        OPENAI_BASE_URL=llm_url,
        PYTHONPATH=str(ROOT),
    )
    return env


def _client(env: dict[str, str]) -> Any:
    from agent_core.config import Settings
    from agent_core.dispatch import QueueDispatcher
    from agent_core.workbench import Workbench

    settings = Settings(**{k: v for k, v in env.items() if k.startswith(("AGENT_", "DATABASE_", "OPENAI_"))})
    bench = Workbench(settings)
    return bench, QueueDispatcher(bench)


def _start_workers(n: int, env: dict[str, str], folder: Path) -> list[subprocess.Popen[bytes]]:
    procs = []
    for i in range(n):
        log = open(folder / f"worker-{i}.log", "wb")  # noqa: SIM115  # lives as long as the worker
        procs.append(
            subprocess.Popen(
                [sys.executable, "-m", "agent_core", "worker"],
                env=env,
                cwd=folder,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        )
    return procs


def _stop(procs: list[subprocess.Popen[bytes]]) -> None:
    for p in procs:
        if p.poll() is None:
            os.killpg(p.pid, signal.SIGKILL)
            p.wait(10)


def _wait(check: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise SystemExit(f"scale_bench: timed out waiting for {what}")
        time.sleep(0.05)


def _queue_to_start(bench: Any, run_id: str) -> float:
    events = bench.store.read_run(run_id)
    return (events[1].at - events[0].at).total_seconds()


def measure_workers(n: int, runs: int, llm_url: str, folder: Path) -> dict[str, Any]:
    """Drain ``runs`` runs enqueued at once with ``n`` worker processes; runs/s and queue-to-start."""
    from agent_core.orchestrator import RunRequest
    from agent_core.queue import queue_health

    with scratch_database(f"w{n}") as url:
        env = _env(url, folder / f"ws{n}", llm_url)
        bench, queue = _client(env)
        procs = _start_workers(n, env, folder)
        try:
            _wait(lambda: queue_health(bench.settings).workers_alive == n, 60, f"{n} workers to register")
            started = time.perf_counter()
            ids = [queue.submit(RunRequest("Summarize notes.txt", planner="openai")) for _ in range(runs)]
            _wait(lambda: bench.count_runs(status=["running"]) == 0, 600, "the runs to end")
            elapsed = time.perf_counter() - started
            done = bench.count_runs(status=["completed"])
            waits = sorted(_queue_to_start(bench, r) for r in ids)
            return {
                "workers": n,
                "runs": runs,
                "completed": done,
                "runs_per_s": runs / elapsed,
                "queue_to_start_p50_s": statistics.median(waits),
            }
        finally:
            _stop(procs)
            bench.close()


def measure_queue_to_start(samples: int, llm_url: str, folder: Path, gap_s: float) -> list[float]:
    """4 idle workers; runs submitted one every ``gap_s`` (below capacity): RunStarted -> first worker event."""
    from agent_core.orchestrator import RunRequest
    from agent_core.queue import queue_health

    with scratch_database("latency") as url:
        env = _env(url, folder / "ws-latency", llm_url)
        bench, queue = _client(env)
        procs = _start_workers(4, env, folder)
        try:
            _wait(lambda: queue_health(bench.settings).workers_alive == 4, 60, "4 workers to register")
            ids = []
            for _ in range(samples):
                ids.append(queue.submit(RunRequest("Summarize notes.txt", planner="openai")))
                time.sleep(gap_s)
            _wait(lambda: bench.count_runs(status=["running"]) == 0, 600, "the runs to end")
            return sorted(_queue_to_start(bench, r) for r in ids)
        finally:
            _stop(procs)
            bench.close()


# --- (2) appends ---------------------------------------------------------------------------


def _store_writer(url: str, appends: int, barrier: Any, out: Any) -> None:
    sys.path.insert(0, str(ROOT))
    from agent_core import events as ev
    from agent_core.projections import open_store

    store = open_store(url)
    run_id = uuid.uuid4().hex
    first = ev.RunStarted(
        goal="bench",
        max_steps=4,
        budget_usd=0.5,
        planner=ev.PlannerInfo(provider="offline", model="offline", prompt_sha="p" * 64),
        policy_sha="s" * 64,
    )
    store.append(run_id, [first], 0)
    barrier.wait()
    start = time.perf_counter()
    for seq in range(1, appends + 1):
        note = ev.ObservationCaptured(step_id=f"s{seq}", tool="read_file", result={"success": True, "output": "ok"})
        store.append(run_id, [note], seq)
    out.put(time.perf_counter() - start)
    store.close()


def _core_writer(url: str, appends: int, barrier: Any, out: Any, locked: bool = False) -> None:
    from sqlalchemy import insert

    sys.path.insert(0, str(ROOT))
    from agent_core.store import events_table

    engine = create_engine(url)
    run_id = uuid.uuid4().hex
    barrier.wait()
    start = time.perf_counter()
    with engine.connect() as conn:
        for seq in range(1, appends + 1):
            row = {
                "run_id": run_id,
                "seq": seq,
                "type": "ObservationCaptured",
                "version": 1,
                "actor": "tool_executor",
                "at": "2026-01-01T00:00:00+00:00",
                "payload": '{"result":{"output":"ok","success":true},"step_id":"s","tool":"read_file"}',
                "hash": "0" * 64,
            }
            if locked:  # the old rule: one advisory lock orders every append until its commit
                conn.execute(text("SELECT pg_advisory_xact_lock(727274)"))
            conn.execute(insert(events_table).values(**row))
            conn.commit()
    out.put(time.perf_counter() - start)
    engine.dispose()


def _core_locked_writer(url: str, appends: int, barrier: Any, out: Any) -> None:
    _core_writer(url, appends, barrier, out, locked=True)


def measure_appends(writers: int, appends: int, kind: str) -> float:
    """Aggregate appends/s of ``writers`` processes on their own runs (``store``, ``core`` or ``core_locked``)."""
    ctx = multiprocessing.get_context("spawn")
    with scratch_database(f"a{kind}{writers}") as url:
        if kind == "store":
            from agent_core.projections import open_store

            open_store(url).close()  # the schema first: writers race on appends only
        else:
            from agent_core.store import metadata

            engine = create_engine(url)
            metadata.create_all(engine)  # the bare tables: no triggers, no runs row, no txid column
            engine.dispose()
        barrier, out = ctx.Barrier(writers + 1), ctx.Queue()
        target = {"store": _store_writer, "core": _core_writer, "core_locked": _core_locked_writer}[kind]
        procs = [ctx.Process(target=target, args=(url, appends, barrier, out)) for _ in range(writers)]
        for p in procs:
            p.start()
        barrier.wait()
        started = time.perf_counter()
        for _ in procs:
            out.get(timeout=600)
        elapsed = time.perf_counter() - started
        for p in procs:
            p.join(30)
        return writers * appends / elapsed


KINDS = {
    "store": "EventStore.append",
    "core": "SQLAlchemy Core insert",
    "core_locked": "Core insert, global lock",
}


# --- report --------------------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--runs-per-worker", type=int, default=12)
    parser.add_argument("--llm-delay", type=float, default=0.2)
    parser.add_argument("--appends", type=int, default=300)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--latency-samples", type=int, default=30)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    if args.quick:
        args.runs_per_worker, args.appends, args.repeats, args.latency_samples = 3, 40, 1, 6

    sys.path.insert(0, str(ROOT))
    from tests.fake_llm import OPENAI_PATH, FakeLLMServer, Scripted, openai_reply

    report: dict[str, Any] = {"machine": machine_line(), "workers": [], "appends": {}}
    with FakeLLMServer() as server, TemporaryDirectory() as tmp:
        server.default(OPENAI_PATH, Scripted(openai_reply(json.dumps(PLAN)), delay_s=args.llm_delay))
        folder = Path(tmp)
        for n in (1, 2, 4):
            progress(f"{n} worker(s), {n * args.runs_per_worker} runs")
            report["workers"].append(measure_workers(n, n * args.runs_per_worker, server.openai_base_url, folder))
        progress(f"queue-to-start: {args.latency_samples} runs, 4 idle workers")
        waits = measure_queue_to_start(args.latency_samples, server.openai_base_url, folder, gap_s=0.5)
    report["queue_to_start"] = {
        "p50_s": statistics.median(waits),
        "p95_s": waits[max(0, round(0.95 * len(waits)) - 1)],
        "samples": len(waits),
    }
    rates: dict[str, list[float]] = {}
    for r in range(args.repeats):  # contenders take turns each repeat: load drift hits them alike
        for kind in KINDS:
            for writers in (1, 8):
                progress(f"appends: {kind}, {writers} writer(s), repeat {r + 1}/{args.repeats}")
                rates.setdefault(f"{kind}_{writers}", []).append(measure_appends(writers, args.appends, kind))
    report["appends"] = {key: statistics.median(values) for key, values in rates.items()}

    if args.json:
        print(json.dumps(report, indent=2))
        return 0
    print(report["machine"] + f"; LLM answers after {args.llm_delay:g} s; the machine was shared and loaded")
    base = report["workers"][0]["runs_per_s"]
    table = Table(["workers", "runs", "completed", "runs/s", "efficiency", "target >= 0.8"])
    for row in report["workers"]:
        eff = row["runs_per_s"] / (row["workers"] * base) if base else None
        table.add(
            row["workers"],
            row["runs"],
            row["completed"],
            fmt_number(row["runs_per_s"]),
            fmt_ratio(eff),
            verdict(None if row["workers"] == 1 else eff is not None and eff >= 0.8),
        )
    print(table.render())
    q = report["queue_to_start"]
    print(
        f"\nqueue-to-start (4 idle workers, {q['samples']} runs): p50 {q['p50_s'] * 1000:.0f} ms, "
        f"p95 {q['p95_s'] * 1000:.0f} ms  target p95 < 500 ms: {verdict(q['p95_s'] < 0.5)}"
    )
    a = report["appends"]
    appends = Table(["appends (1 event, 1 commit)", "1 writer/s", "8 writers/s", "8 vs 1", "target >= 3x"])
    for kind, label in KINDS.items():
        gain = a[f"{kind}_8"] / a[f"{kind}_1"]
        target = verdict(gain >= 3) if kind == "store" else "-"
        appends.add(label, fmt_number(a[f"{kind}_1"]), fmt_number(a[f"{kind}_8"]), fmt_ratio(gain), target)
    print("\n" + appends.render())
    print(
        f"8 writers: EventStore {fmt_ratio(a['store_8'] / a['core_8'])} of Core's plain insert rate, "
        f"{fmt_ratio(a['store_8'] / a['core_locked_8'])} of Core's insert under one global lock"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
