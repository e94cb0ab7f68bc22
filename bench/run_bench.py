"""Run benchmark: an offline 4-step run (plan, three tool steps, finalize) end to end on SQLite.

Prints, as medians over many runs: wall ms per run, events per second, and the framework's own
time (wall minus time inside tools), beside a baseline measured in the same process: the same
events appended with raw ``sqlite3`` at equal durability (WAL + synchronous=FULL, one commit
per event). Target: framework time at most 1.5x the baseline (issue 16).

Also the bytes each run writes to the WAL (every page a commit dirties is one frame of the file's
page size), ours against the baseline's, both read from the WAL file's size after a truncating
checkpoint before the run. Target: at most 2x the baseline's. And which B-tree each of our frames
belongs to (the frame's page number, looked up in ``dbstat``): where a commit's pages go.

    python bench/run_bench.py [--runs N] [--json]
"""

from __future__ import annotations

import argparse
import json
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from agent_core.config import Settings
from agent_core.orchestrator import LiveTools, RunRequest
from agent_core.workbench import Workbench
from agent_core.workspace import seed_workspace
from bench._common import Table, fmt_number, fmt_ratio, machine_line, progress, verdict

ROOT = Path(__file__).resolve().parent.parent
GOAL = "Research the latest developments in AI agent frameworks and summarize the key findings"
TARGET_RATIO = 1.5
TARGET_WAL_RATIO = 2.0


class TimedTools(LiveTools):
    """The live tools, with the time spent inside them summed (to separate framework time)."""

    inside_s: float = 0.0

    def run(self, tool: str, resolved_input: dict[str, Any], prior_results: Any) -> dict[str, Any]:
        start = time.perf_counter()
        try:
            return super().run(tool, resolved_input, prior_results)
        finally:
            self.inside_s += time.perf_counter() - start


def wal_bytes(path: Path, checkpoint: bool = False) -> int:
    """The size of ``path``'s WAL, after truncating it to nothing first when ``checkpoint``."""
    if checkpoint:
        conn = sqlite3.connect(path, isolation_level=None)
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        conn.close()
    wal = path.with_name(path.name + "-wal")
    return wal.stat().st_size if wal.exists() else 0


def wal_frames_by_tree(path: Path) -> Counter[str]:
    """How many frames of ``path``'s WAL belong to each table or index (``sqlite_schema``: page 1, whose
    header holds the file's page count); empty when this SQLite has no ``dbstat``."""
    wal = path.with_name(path.name + "-wal")
    data = wal.read_bytes() if wal.exists() else b""
    if len(data) < 32:
        return Counter()
    page = int.from_bytes(data[8:12], "big")
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        owner = dict(conn.execute("SELECT pageno, name FROM dbstat"))
    except sqlite3.OperationalError:  # built without the dbstat table
        return Counter()
    finally:
        conn.close()
    numbers = (int.from_bytes(data[at : at + 4], "big") for at in range(32, len(data) - 23 - page, 24 + page))
    return Counter(owner.get(number, "free list") for number in numbers)


def raw_sqlite_append(path: Path, rows: list[tuple[str, int, str, str]]) -> tuple[float, int]:
    """Append the same events with sqlite3, WAL + synchronous=FULL, one commit per event; seconds and WAL bytes."""
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    conn.execute(
        "CREATE TABLE IF NOT EXISTS events (position INTEGER PRIMARY KEY, run_id TEXT, seq INTEGER, type TEXT,"
        " payload TEXT, UNIQUE (run_id, seq))"
    )
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    start = time.perf_counter()
    for run_id, seq, kind, payload in rows:
        conn.execute("BEGIN IMMEDIATE")
        conn.execute(
            "INSERT INTO events (run_id, seq, type, payload) VALUES (?, ?, ?, ?)", (run_id, seq, kind, payload)
        )
        conn.execute("COMMIT")
    elapsed = time.perf_counter() - start
    written = wal_bytes(path)
    conn.close()
    return elapsed, written


def measure(runs: int, folder: Path) -> dict[str, Any]:
    workspace = folder / "workspace"
    seed_workspace(workspace)
    settings = Settings(
        DATABASE_URL=f"sqlite:///{folder / 'events.db'}",
        AGENT_WORKSPACE=str(workspace),
        AGENT_POLICY=str(ROOT / "policies" / "default.yaml"),
        AGENT_PLANNER="offline",
    )
    bench = Workbench.open(settings)
    orchestrator = bench.orchestrator
    database = folder / "events.db"
    wall, framework, baseline, event_counts, wal, raw_wal = [], [], [], [], [], []
    frames: Counter[str] = Counter()
    for i in range(runs + 1):  # the first run warms caches and is not counted
        tools = TimedTools(orchestrator.workspace, orchestrator.database_path)
        wal_bytes(database, checkpoint=True)
        start = time.perf_counter()
        run_id = orchestrator.start(RunRequest(GOAL))
        state = orchestrator.advance(run_id, tool_runner=tools)
        elapsed = time.perf_counter() - start
        written = wal_bytes(database)
        run_frames = wal_frames_by_tree(database)
        assert state.status == "completed", state.failure_reason
        events = bench.store.read_run(run_id)
        rows = [(e.run_id, e.seq, e.type, json.dumps(e.payload, sort_keys=True)) for e in events]
        raw, raw_written = raw_sqlite_append(folder / "raw.db", rows)
        for step in state.steps:  # keep the workspace as it was: each run writes a new report
            if step.tool == "write_file":
                (workspace / step.input["path"]).unlink(missing_ok=True)
        if i == 0:
            continue
        wall.append(elapsed)
        framework.append(elapsed - tools.inside_s)
        baseline.append(raw)
        event_counts.append(len(events))
        wal.append(written)
        raw_wal.append(raw_written)
        frames.update(run_frames)
        if i % 20 == 0:
            progress(f"{i}/{runs} runs")
    bench.close()
    events_per_run = statistics.median(event_counts)
    return {
        "runs": runs,
        "events_per_run": events_per_run,
        "wall_ms": statistics.median(wall) * 1000,
        "framework_ms": statistics.median(framework) * 1000,
        "tools_ms": statistics.median(w - f for w, f in zip(wall, framework, strict=True)) * 1000,
        "baseline_ms": statistics.median(baseline) * 1000,
        "events_per_s": events_per_run / statistics.median(wall),
        "baseline_events_per_s": events_per_run / statistics.median(baseline),
        "wal_bytes_per_run": statistics.median(wal),
        "baseline_wal_bytes_per_run": statistics.median(raw_wal),
        "wal_frames_per_run": {name: count / runs for name, count in frames.most_common()},
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=100)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="run-bench-"))
    try:
        result = measure(args.runs, folder)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    result["framework_vs_baseline"] = result["framework_ms"] / result["baseline_ms"]
    result["target_met"] = result["framework_vs_baseline"] <= TARGET_RATIO
    result["wal_vs_baseline"] = result["wal_bytes_per_run"] / result["baseline_wal_bytes_per_run"]
    result["wal_target_met"] = result["wal_vs_baseline"] <= TARGET_WAL_RATIO
    if args.json:
        print(json.dumps(result, indent=2))
        return 0
    print(
        f"run bench: offline demo goal, {result['runs']} runs, {result['events_per_run']:.0f} events each; "
        f"{machine_line()}"
    )
    table = Table(["measure", "unit", "median"])
    table.add("wall time per run", "ms", fmt_number(result["wall_ms"]))
    table.add("  inside tools", "ms", fmt_number(result["tools_ms"]))
    table.add("  framework (wall - tools)", "ms", fmt_number(result["framework_ms"]))
    table.add("baseline: raw sqlite3, 1 commit/event", "ms", fmt_number(result["baseline_ms"]))
    table.add("events per second (ours, wall)", "ev/s", fmt_number(result["events_per_s"]))
    table.add("events per second (baseline)", "ev/s", fmt_number(result["baseline_events_per_s"]))
    table.add("WAL bytes written per run (ours)", "KiB", fmt_number(result["wal_bytes_per_run"] / 1024))
    table.add("WAL bytes written per run (baseline)", "KiB", fmt_number(result["baseline_wal_bytes_per_run"] / 1024))
    print(table.render())
    if result["wal_frames_per_run"]:
        trees = Table(["B-tree (ours)", "WAL frames per run (mean)"])
        for name, count in result["wal_frames_per_run"].items():
            trees.add(name, f"{count:.1f}")
        trees.add("all", f"{sum(result['wal_frames_per_run'].values()):.1f}")
        print()
        print(trees.render())
    print(
        f"\nframework time / baseline = {fmt_ratio(result['framework_vs_baseline'])} "
        f"(target <= {TARGET_RATIO:.1f}x): {verdict(result['target_met'])}"
    )
    print(
        f"WAL bytes / baseline = {fmt_ratio(result['wal_vs_baseline'])} "
        f"(target <= {TARGET_WAL_RATIO:.1f}x): {verdict(result['wal_target_met'])}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
