"""Replay benchmark: ``replay --all`` (verify) throughput over recorded runs, beside running the same runs live.

Every contender handles the same ``--runs`` recorded offline runs with the current orchestrator, in turns:
  verify        ``replay_all`` as CI calls it: recorded planner text and tool results, shadow workspaces,
                stream compare, re-executions into the in-memory ``MemoryStore``; in one process and with
                each ``--workers N`` (the parallel lines are checked against the serial ones)
  sqlite        the same serial verify into a SQLite scratch file (synchronous=OFF): the scratch store
                verify used before the memory store
  read only     reading and decoding each recording, nothing re-executed: the most any verify that reads its
                runs can reach against a live run
  live          ``Orchestrator.run`` of the same goals with the offline planner and the real tools, in a
                copy of the workspace (plan, search, file reads, extractive summaries), stored in the same
                in-memory store, and as the product stores a live run (SQLite, WAL + synchronous=FULL)
Replay v2 figures, on a durable SQLite store and a copy of the workspace:
  fork    ``replay.fork`` of a read-only run (read, read, summarize) at its last step, against a fresh
          run of the same goal: the fork inherits the plan and two steps, so it should be faster by them
  arms    ``replay.compare_arms`` with three arms (offline, offline with another prompt, offline again) and
          recorded tools: arms per second
Figures are runs/s, medians of ``--repeats`` rounds, and CPU ms per verified run (this process and its
workers: what a loaded machine does not change). The recorded runs are created once and cached in
bench/results/ (``--fresh`` rebuilds them).

    python bench/replay_bench.py [--runs N] [--repeats N] [--workers N ...] [--quick] [--fresh] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run as a script from any folder

from agent_core.config import Settings
from agent_core.orchestrator import Orchestrator, RunRequest
from agent_core.projections import open_store
from agent_core.replay import (
    ReplayAllReport,
    Scratch,
    compare_arms,
    fork,
    originals,
    parse_arm,
    replay_all,
    scratch_space,
    scratch_store,
    verify,
)
from agent_core.replay.recording import load_recording
from agent_core.workspace import SAMPLE_WORKSPACE
from bench import _common as c

GOALS = (
    "Summarize notes.txt",
    "Summarize event-sourcing.md",
    "Read agent-evaluation.md and llm-cost-control.md and summarize them",
    "Research tool safety for AI agents",
    "Research the latest developments in AI agent frameworks",
)
"""Read-only goals: the workspace does not grow while the fixture is built, so every run sees the same files."""
POLICY = c.ROOT / "policies" / "default.yaml"


def settings_for(database_url: str, workspace: Path) -> Settings:
    return Settings(
        DATABASE_URL=database_url, AGENT_WORKSPACE=str(workspace), AGENT_POLICY=str(POLICY), AGENT_PLANNER="offline"
    )


def build_fixture(runs: int, fresh: bool) -> tuple[str, Path]:
    """The cached store of ``runs`` recorded offline runs and the workspace they ran in."""
    c.RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    db = c.RESULTS_DIR / f"replay-{runs}r.db"
    workspace = c.RESULTS_DIR / f"replay-{runs}r-workspace"
    url = f"sqlite:///{db}"
    if fresh or not db.exists():
        for path in (db, Path(f"{db}-wal"), Path(f"{db}-shm")):
            path.unlink(missing_ok=True)
        shutil.rmtree(workspace, ignore_errors=True)
        shutil.copytree(SAMPLE_WORKSPACE, workspace)
        store = open_store(url, sqlite_synchronous="OFF")
        orchestrator = Orchestrator(store, settings_for(url, workspace))
        for i in range(runs):
            if i % 200 == 0:
                c.progress(f"recording run {i + 1}/{runs}")
            state = orchestrator.run(RunRequest(GOALS[i % len(GOALS)]))
            assert state.status == "completed", state.failure_reason
        store.close()
    return url, workspace


def measure(url: str, workspace: Path, repeats: int, workers: list[int]) -> dict[str, object]:
    store = open_store(url)
    settings = settings_for(url, workspace)
    ids = originals(store)
    goals = [store.get_run(run_id).title for run_id in ids]  # type: ignore[union-attr]
    c.progress(f"{len(ids)} recorded runs; {repeats} rounds, each side in turn")
    problems: list[str] = []
    serial_lines: list[tuple[str, ...]] = []

    def gate(i: int, n: int) -> float:
        """``replay --all`` as CI calls it (listing, scratch space, pool start included), in ``n`` processes."""
        before = _cpu_seconds()
        elapsed = c.seconds(lambda: reports.append(replay_all(store, settings, workers=n)))
        cpu_ms[n].append((_cpu_seconds() - before) / len(ids) * 1000)
        report = reports.pop()
        if report.counts.get("identical") != len(ids):
            problems.extend(line for line in report.lines if "  identical (" not in line)
        if n == 1:
            serial_lines.append(report.lines)
        elif serial_lines and report.lines != serial_lines[-1]:
            problems.append(f"--workers {n} answered other lines than the serial verify")
        c.progress(f"verify pass {i}, {n} process{'es' if n > 1 else ''}: {len(ids) / elapsed:,.0f} runs/s")
        return elapsed

    reports: list[ReplayAllReport] = []
    cpu_ms: dict[int, list[float]] = {n: [] for n in (1, *workers)}

    def sqlite_scratch(i: int) -> float:
        """The same serial verify into a SQLite scratch file (what verify wrote to before the memory store)."""
        folder = Path(tempfile.mkdtemp(prefix="bench-verify-sqlite-"))
        target = open_store(f"sqlite:///{folder / 'verify.db'}", sqlite_synchronous="OFF")
        try:
            with scratch_space() as shared:
                scratch = Scratch(target, shared.shadows)
                return c.seconds(lambda: [verify(store, settings, run_id, scratch=scratch) for run_id in ids])
        finally:
            target.close()
            shutil.rmtree(folder, ignore_errors=True)

    def read_only(i: int) -> float:
        """Only what every verify must do before re-executing: read and decode each recording (the ceiling)."""
        return c.seconds(lambda: [load_recording(store, run_id) for run_id in ids])

    def live_pass(i: int, durable: bool) -> float:
        folder = Path(tempfile.mkdtemp(prefix="bench-live-"))
        copy = folder / "workspace"
        shutil.copytree(workspace, copy)
        try:
            if durable:  # as the product runs live: a SQLite file with WAL + synchronous=FULL
                target = open_store(f"sqlite:///{folder / 'live.db'}")
                elapsed = _live_runs(target, copy)
                target.close()
            else:  # the store verify writes to: the in-memory scratch store
                with scratch_store() as scratch:
                    elapsed = _live_runs(scratch, copy)
        finally:
            shutil.rmtree(folder, ignore_errors=True)
        c.progress(f"live pass {i} ({'durable' if durable else 'scratch'} store): {len(goals) / elapsed:,.0f} runs/s")
        return elapsed

    def _live_runs(target: object, copy: Path) -> float:
        orchestrator = Orchestrator(target, settings_for(url, copy))  # type: ignore[arg-type]
        return c.seconds(lambda: [orchestrator.run(RunRequest(g)) for g in goals])

    contenders = {
        "verify": lambda i: gate(i, 1),
        **{f"workers{n}": (lambda i, n=n: gate(i, n)) for n in workers},
        "verify_sqlite_scratch": sqlite_scratch,
        "read_only": read_only,
        "live_scratch": lambda i: live_pass(i, durable=False),
        "live_durable": lambda i: live_pass(i, durable=True),
    }
    samples = c.interleaved(contenders, repeats, warmup=0)
    store.close()
    rate = {name: c.per_second(len(ids), sample.median) for name, sample in samples.items()}
    return {
        "runs": len(ids),
        "repeats": repeats,
        "verify_runs_per_s": rate["verify"],
        "verify_sqlite_scratch_runs_per_s": rate["verify_sqlite_scratch"],
        "memory_vs_sqlite_scratch": c.ratio(rate["verify"], rate["verify_sqlite_scratch"], higher_is_better=True),
        "live_scratch_runs_per_s": rate["live_scratch"],
        "ratio_same_store": c.ratio(rate["verify"], rate["live_scratch"], higher_is_better=True),
        "read_only_runs_per_s": rate["read_only"],
        "ceiling_same_store": c.ratio(rate["read_only"], rate["live_scratch"], higher_is_better=True),
        "live_runs_per_s": rate["live_durable"],
        "ratio": c.ratio(rate["verify"], rate["live_durable"], higher_is_better=True),
        "verify_cpu_ms_per_run": statistics.median(cpu_ms[1]),
        "workers": {
            str(n): {
                "runs_per_s": rate[f"workers{n}"],
                "vs_serial": c.ratio(rate[f"workers{n}"], rate["verify"], higher_is_better=True),
                "cpu_ms_per_run": statistics.median(cpu_ms[n]),
            }
            for n in workers
        },
        "not_identical": problems[:5],
        "not_identical_count": len(problems),
        "load_average": os.getloadavg()[0],
        "machine": c.machine_line(),
    }


def _cpu_seconds() -> float:
    """CPU time of this process and of its finished children (the --workers processes): load-independent."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


FORK_GOAL = "Read agent-evaluation.md and llm-cost-control.md and summarize them"


def measure_v2(workspace: Path, repeats: int, count: int) -> dict[str, object]:
    """Fork-from-step latency against a fresh run of the same goal; arms per second with recorded tools."""
    folder = Path(tempfile.mkdtemp(prefix="bench-v2-"))
    copy = folder / "workspace"
    shutil.copytree(workspace, copy)
    prompt = folder / "v2.txt"
    prompt.write_text("You plan tersely.", encoding="utf-8")
    url = f"sqlite:///{folder / 'v2.db'}"
    store = open_store(url)
    settings = settings_for(url, copy)
    try:
        orchestrator = Orchestrator(store, settings)
        original = orchestrator.run(RunRequest(FORK_GOAL))
        assert original.status == "completed" and original.plan is not None, original.failure_reason
        last = original.plan.steps[-1].id
        c.progress(f"fork at {last} of a {len(original.plan.steps)}-step run vs a fresh run; {count} of each per pass")

        def fresh(i: int) -> float:
            return sum(c.seconds(lambda: orchestrator.run(RunRequest(FORK_GOAL))) for _ in range(count))

        def forked(i: int) -> float:
            return sum(c.seconds(lambda: fork(store, settings, original.run_id, last)) for _ in range(count))

        samples = c.interleaved({"fresh": fresh, "fork": forked}, repeats)
        fresh_ms = samples["fresh"].median / count * 1000
        fork_ms = samples["fork"].median / count * 1000
        arms = [parse_arm("offline"), parse_arm(f"prompt={prompt}"), parse_arm("offline:offline-rules-v1")]

        def arms_pass(i: int) -> float:
            return sum(c.seconds(lambda: compare_arms(store, settings, original.run_id, arms)) for _ in range(count))

        arms_s = c.repeat(arms_pass, repeats, warmup=0)
    finally:
        store.close()
        shutil.rmtree(folder, ignore_errors=True)
    return {
        "fork_ms": round(fork_ms, 2),
        "fresh_run_ms": round(fresh_ms, 2),
        "fork_ratio": c.ratio(fork_ms, fresh_ms, higher_is_better=False),
        "fork_faster": fork_ms < fresh_ms,
        "arms_per_s": c.per_second(count * len(arms), arms_s.median),
    }


TARGET_SAME_STORE = 10.0
TARGET_WORKERS_RUNS_PER_S = 1000.0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--workers", type=int, action="append", help="process counts to measure (default: 2)")
    parser.add_argument("--quick", action="store_true", help="20 runs, 1 repeat: a smoke run")
    parser.add_argument("--fresh", action="store_true", help="rebuild the cached recorded runs")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    runs, repeats = (20, 1) if args.quick else (args.runs, args.repeats)
    url, workspace = build_fixture(runs, args.fresh)
    figures = measure(url, workspace, repeats, sorted(set(args.workers or [2])))
    figures.update(measure_v2(workspace, repeats, 5 if args.quick else 20))
    if args.json:
        print(json.dumps(figures, indent=2))
        return 0
    table = c.Table(
        ["verify (serial) against", "runs", "verify runs/s", "baseline runs/s", "ratio", "target", "result"]
    )
    verify_rate = c.fmt_number(figures["verify_runs_per_s"])  # type: ignore[arg-type]
    same = figures["ratio_same_store"]
    table.add(
        "a live run on the same store (memory)",
        figures["runs"],
        verify_rate,
        c.fmt_number(figures["live_scratch_runs_per_s"]),  # type: ignore[arg-type]
        c.fmt_ratio(same),  # type: ignore[arg-type]
        f">= {TARGET_SAME_STORE:g}x",
        c.verdict(bool(same and same >= TARGET_SAME_STORE)),  # type: ignore[operator]
    )
    table.add(
        "  ceiling: only reading + decoding the recordings",
        figures["runs"],
        c.fmt_number(figures["read_only_runs_per_s"]),  # type: ignore[arg-type]
        c.fmt_number(figures["live_scratch_runs_per_s"]),  # type: ignore[arg-type]
        c.fmt_ratio(figures["ceiling_same_store"]),  # type: ignore[arg-type]
        "-",
        "-",
    )
    table.add(
        "a live run, durable SQLite (as the product runs)",
        figures["runs"],
        verify_rate,
        c.fmt_number(figures["live_runs_per_s"]),  # type: ignore[arg-type]
        c.fmt_ratio(figures["ratio"]),  # type: ignore[arg-type]
        "-",
        "-",
    )
    table.add(
        "verify into a SQLite scratch file (before)",
        figures["runs"],
        verify_rate,
        c.fmt_number(figures["verify_sqlite_scratch_runs_per_s"]),  # type: ignore[arg-type]
        c.fmt_ratio(figures["memory_vs_sqlite_scratch"]),  # type: ignore[arg-type]
        "-",
        "-",
    )
    print(table.render())
    parallel = c.Table(["replay --all", "runs/s", "vs serial", "CPU ms/run", "target", "result"])
    parallel.add(
        "one process",
        verify_rate,
        "-",
        c.fmt_number(figures["verify_cpu_ms_per_run"]),  # type: ignore[arg-type]
        "-",
        "-",
    )
    for n, figure in figures["workers"].items():  # type: ignore[attr-defined]
        parallel.add(
            f"--workers {n}",
            c.fmt_number(figure["runs_per_s"]),
            c.fmt_ratio(figure["vs_serial"]),
            c.fmt_number(figure["cpu_ms_per_run"]),
            f">= {TARGET_WORKERS_RUNS_PER_S:,.0f} runs/s",
            c.verdict(figure["runs_per_s"] >= TARGET_WORKERS_RUNS_PER_S),
        )
    print()
    print(parallel.render())
    v2 = c.Table(["replay v2", "ours", "baseline", "ratio", "target", "result"])
    v2.add(
        "fork at the last step (ms)",
        c.fmt_number(figures["fork_ms"]),  # type: ignore[arg-type]
        f"fresh run {c.fmt_number(figures['fresh_run_ms'])}",  # type: ignore[arg-type]
        c.fmt_ratio(figures["fork_ratio"]),  # type: ignore[arg-type]
        "fork faster by the inherited prefix",
        c.verdict(bool(figures["fork_faster"])),
    )
    v2.add("arms/s, recorded tools", c.fmt_number(figures["arms_per_s"]), "-", "-", "-", "-")  # type: ignore[arg-type]
    print()
    print(v2.render())
    print(f"\nmedians of {repeats} rounds; load average {figures['load_average']:.1f} at the end; {c.machine_line()}")
    if figures["not_identical_count"]:
        print(f"{figures['not_identical_count']} answers were not identical, e.g.: {figures['not_identical']}")
    ok = figures["fork_faster"] and not figures["not_identical_count"]
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
