"""OpenTelemetry bench: export throughput for 1,000 runs, and the live exporter's cost per append.

(a) Export to a file: every run of a store of ``--runs`` recorded runs read, mapped to spans and
    written as OTLP/JSON lines (what ``export --all --format otlp-json`` does), in spans/s; beside
    it, in the same process, the store's own JSON-lines export of the same runs (the baseline),
    the mapping alone (events already in memory), and OTLP/HTTP to a sink in another process.
(b) Live export: single-event appends (one durable commit each: the product path; a run ends
    every 15 events, so the follower exports while they are timed) alone, with ``otel-follow``
    running in its own process on the same store (as shipped), and with a LiveExporter thread in
    the appending process (the worst case, for code that embeds it). Many short rounds, each
    contender appending ``--appends`` events per round, the order rotating (disk latency here
    drifts over seconds); the figure is the median over rounds of the ratio of mean ms per
    append, beside the ratio of median latencies. Target: under 5% added.

    python bench/otel_bench.py [--runs 1000] [--repeats 5] [--appends 150] [--rounds 30] [--quick] [--json]
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from agent_core.config import Settings
from agent_core.orchestrator import RunRequest
from agent_core.otel import LiveExporter, OtlpSender, otlp_json, run_spans
from agent_core.projections import load_events, open_store
from agent_core.store import EventStore
from agent_core.transfer import RawEvent, export_lines
from agent_core.workbench import Workbench
from agent_core.workspace import seed_workspace
from bench._common import Table, fmt_number, fmt_ratio, interleaved, machine_line, progress, verdict

ROOT = Path(__file__).resolve().parent.parent
GOAL = "Summarize notes.txt and save the summary to summary.md"
TARGET_OVERHEAD = 0.05
SEND_BATCH_RUNS = 50


def record_template(folder: Path) -> list[RawEvent]:
    """One real offline run (plan, three guarded tool steps, finalize), as the events to copy."""
    workspace = folder / "workspace"
    seed_workspace(workspace)
    settings = Settings(
        DATABASE_URL=f"sqlite:///{folder / 'template.db'}",
        AGENT_WORKSPACE=str(workspace),
        AGENT_POLICY=str(ROOT / "policies" / "default.yaml"),
        AGENT_PLANNER="offline",
    )
    bench = Workbench.open(settings)
    state = bench.run(RunRequest(GOAL))
    assert state.status == "completed", state.failure_reason
    stored = bench.store.read_run(state.run_id)
    bench.close()
    return [RawEvent(e.type, e.version, e.actor, e.payload) for e in stored]


def fill(store: EventStore, template: list[RawEvent], runs: int) -> list[str]:
    """``runs`` copies of the template run, each in one transaction, a second apart."""
    start = store.last_position()  # any time will do: ids and times only need to differ per run
    from agent_core.clock import SystemClock

    base = SystemClock().now()
    ids = []
    for i in range(runs):
        run_id = f"bench-{start}-{i:06d}"
        at = base + timedelta(seconds=i)
        store.append(run_id, template, 0, times=[at + timedelta(milliseconds=5 * k) for k in range(len(template))])
        ids.append(run_id)
    return ids


class Sink:
    """The OTLP/HTTP sink in its own process."""

    def __init__(self) -> None:
        self.process = subprocess.Popen(
            [sys.executable, str(ROOT / "bench" / "_otlp_sink.py")], stdout=subprocess.PIPE, text=True
        )
        assert self.process.stdout is not None
        self.url = f"http://127.0.0.1:{int(self.process.stdout.readline())}/v1/traces"

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(10)


def measure_export(folder: Path, template: list[RawEvent], runs: int, repeats: int, sink: Sink) -> dict[str, Any]:
    store = open_store(f"sqlite:///{folder / 'export.db'}")
    progress(f"filling a store with {runs} runs of {len(template)} events")
    ids = fill(store, template, runs)
    spans_per_run = len(run_spans(load_events(store, ids[0])))
    total_spans = spans_per_run * runs
    in_memory = [load_events(store, run_id) for run_id in ids]
    sender = OtlpSender(sink.url)

    def to_file(_: int) -> float:
        start = time.perf_counter()
        with (folder / "runs.otlp.jsonl").open("w", encoding="utf-8") as out:
            for run_id in ids:
                out.write(otlp_json(run_spans(load_events(store, run_id))) + "\n")
        return time.perf_counter() - start

    def events_baseline(_: int) -> float:
        start = time.perf_counter()
        with (folder / "runs.events.jsonl").open("w", encoding="utf-8") as out:
            for run_id in ids:
                out.writelines(line + "\n" for line in export_lines(store, run_id))
        return time.perf_counter() - start

    def mapping_only(_: int) -> float:
        start = time.perf_counter()
        for events in in_memory:
            run_spans(events)
        return time.perf_counter() - start

    def over_http(_: int) -> float:
        start = time.perf_counter()
        for first in range(0, len(ids), SEND_BATCH_RUNS):
            batch = [
                s for run_id in ids[first : first + SEND_BATCH_RUNS] for s in run_spans(load_events(store, run_id))
            ]
            assert sender.send(batch), "the sink refused a batch"
        return time.perf_counter() - start

    progress(f"export: {repeats} repeats of 4 contenders")
    samples = interleaved(
        {"file": to_file, "events": events_baseline, "mapping": mapping_only, "http": over_http}, repeats
    )
    sender.close()
    store.close()
    file_bytes = (folder / "runs.otlp.jsonl").stat().st_size
    return {
        "runs": runs,
        "spans_per_run": spans_per_run,
        "events_per_run": len(template),
        "file_s": samples["file"].median,
        "file_spans_per_s": total_spans / samples["file"].median,
        "file_mb": file_bytes / 1e6,
        "events_baseline_s": samples["events"].median,
        "mapping_spans_per_s": total_spans / samples["mapping"].median,
        "http_spans_per_s": total_spans / samples["http"].median,
        "file_vs_events_baseline": samples["file"].median / samples["events"].median,
        "spread": max(s.spread for s in samples.values()),
    }


class Follower:
    """``python -m agent_core otel-follow`` on the live store, as shipped: its own process. It
    follows from now, polls often and exports each run as soon as it ends, so the export work
    of a round's runs happens during that round."""

    def __init__(self, url: str, sink: Sink) -> None:
        # --duration: a follower left behind by a killed bench ends by itself
        command = [
            sys.executable,
            "-m",
            "agent_core",
            "otel-follow",
            "--db",
            url,
            "--endpoint",
            sink.url,
            "--poll",
            "0.02",
            "--settle",
            "0",
            "--duration",
            "600",
        ]
        self.process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True, cwd=ROOT)
        assert self.process.stdout is not None
        ready = self.process.stdout.readline()  # "following ...": it reads the feed from now on
        assert ready.startswith("following"), ready

    def stop(self) -> int:
        """Interrupt it (it sends what has ended) and return how many runs it exported."""
        self.process.send_signal(signal.SIGINT)
        out, _ = self.process.communicate(timeout=60)
        exported = re.search(r"exported (\d+) run", out)
        return int(exported.group(1)) if exported else 0


def measure_live(folder: Path, template: list[RawEvent], appends: int, rounds: int, sink: Sink) -> dict[str, Any]:
    """Per round each contender appends ``appends`` events, the order rotating; the figure is the
    median over rounds of (mean ms per append with a follower) / (mean ms per append alone)."""
    url = f"sqlite:///{folder / 'live.db'}"
    store = open_store(url)
    counter = {"runs": 0}
    exported = {"process": 0, "thread": 0}

    def append_all() -> list[float]:
        """``appends`` single-event appends over whole runs; the seconds of each ``append`` call."""
        spent: list[float] = []
        while len(spent) < appends:
            run_id = f"live-{counter['runs']:07d}"
            counter["runs"] += 1
            for seq, event in enumerate(template[: appends - len(spent)]):
                start = time.perf_counter()
                store.append(run_id, [event], seq)
                spent.append(time.perf_counter() - start)
        return spent

    def with_process() -> list[float]:
        follower = Follower(url, sink)  # its start-up is outside the timed appends
        try:
            return append_all()
        finally:
            exported["process"] += follower.stop()

    def with_thread() -> list[float]:
        # settle 0 and a short poll: the thread exports each run during the round it ended in
        exporter = LiveExporter(store, sink.url, settle_s=0.0, poll_s=0.02).start()
        try:
            return append_all()
        finally:
            exporter.stop()  # the last run's export is outside the timed appends
            exported["thread"] += exporter.stats().exported_runs

    contenders = {"alone": append_all, "again": append_all, "process": with_process, "thread": with_thread}
    means: dict[str, list[float]] = {name: [] for name in contenders}
    every: dict[str, list[float]] = {name: [] for name in contenders}
    progress(f"live: {rounds} rounds of {appends} appends per contender")
    try:
        append_all()  # warm-up
        for round_ in range(rounds):
            names = list(contenders)
            names = names[round_ % len(names) :] + names[: round_ % len(names)]
            for name in names:
                spent = contenders[name]()
                means[name].append(statistics.fmean(spent))
                every[name].extend(spent)
    finally:
        store.close()

    def ratios(name: str) -> list[float]:
        return [w / o for w, o in zip(means[name], means["alone"], strict=True)]

    result: dict[str, Any] = {
        "appends_per_round": appends,
        "rounds": rounds,
        "alone_ms": statistics.median(means["alone"]) * 1000,
        "alone_p50_ms": statistics.median(every["alone"]) * 1000,
    }
    for name in ("again", "process", "thread"):
        row = {
            "ms": statistics.median(means[name]) * 1000,
            "p50_ms": statistics.median(every[name]) * 1000,
            "ratio": statistics.median(ratios(name)),
            "p50_ratio": statistics.median(every[name]) / statistics.median(every["alone"]),
            "per_round_ratios": ratios(name),
            "quartiles": statistics.quantiles(ratios(name), n=4) if rounds > 1 else [ratios(name)[0]] * 3,
            "exported_runs": exported.get(name, 0),
        }
        row["target_met"] = row["ratio"] - 1 < TARGET_OVERHEAD
        result[name] = row
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=5, help="repeats of the export measures")
    parser.add_argument("--appends", type=int, default=150, help="appends per contender per round")
    parser.add_argument("--rounds", type=int, default=30, help="rounds of the live measure")
    parser.add_argument("--quick", action="store_true", help="smoke sizes: 50 runs, 2 repeats, 3 rounds")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    if args.quick:
        args.runs, args.repeats, args.rounds = 50, 2, 3
    folder = Path(tempfile.mkdtemp(prefix="otel-bench-"))
    sink = Sink()
    try:
        template = record_template(folder)
        export = measure_export(folder, template, args.runs, args.repeats, sink)
        live = measure_live(folder, template, args.appends, args.rounds, sink)
    finally:
        sink.stop()
        shutil.rmtree(folder, ignore_errors=True)
    if args.json:
        print(json.dumps({"machine": machine_line(), "export": export, "live": live}, indent=2))
        return 0
    print(
        f"otel bench: {export['runs']} runs of {export['events_per_run']} events -> {export['spans_per_run']} spans "
        f"each; medians of {args.repeats} repeats; {machine_line()}"
    )
    table = Table(["measure", "unit", "median"])
    table.add(
        "(a) export to an OTLP/JSON file (read, map, encode, write)", "spans/s", fmt_number(export["file_spans_per_s"])
    )
    table.add(f"    the same {export['runs']} runs", "s", fmt_number(export["file_s"]))
    table.add("    baseline: the runs' JSON-lines event export", "s", fmt_number(export["events_baseline_s"]))
    table.add("    OTLP/JSON export / event export", "x", fmt_ratio(export["file_vs_events_baseline"]))
    table.add("    mapping only (events in memory -> spans)", "spans/s", fmt_number(export["mapping_spans_per_s"]))
    table.add("    OTLP/HTTP to a sink process, 50 runs per request", "spans/s", fmt_number(export["http_spans_per_s"]))
    table.add("    file size", "MB", fmt_number(export["file_mb"]))
    table.add("(b) append, 1 event per commit, alone (mean)", "ms", f"{live['alone_ms']:.3f}")
    labels = {
        "again": "alone again (the noise floor: an A/A comparison)",
        "process": "otel-follow running (its own process)",
        "thread": "LiveExporter thread in-process",
    }
    for name, label in labels.items():
        table.add(f"    {label}", "ms", f"{live[name]['ms']:.3f}")
        table.add("      ratio of means, median over rounds", "x", fmt_ratio(live[name]["ratio"]))
        table.add("      ratio of median append latencies", "x", fmt_ratio(live[name]["p50_ratio"]))
    print(table.render())
    print(f"\nexport: spread of the repeats {export['spread'] * 100:.0f}%")
    for name, label in (("again", "A/A noise floor"), ("process", "otel-follow (as shipped)"), ("thread", "thread")):
        row = live[name]
        q1, _, q3 = row["quartiles"]
        met = "" if name == "again" else f" (target < {TARGET_OVERHEAD * 100:.0f}%): {verdict(row['target_met'])}"
        print(
            f"live, {label}: {(row['ratio'] - 1) * 100:+.1f}% per append{met}; per-round ratios "
            f"q1 {q1:.2f} / q3 {q3:.2f} over {live['rounds']} rounds; {row['exported_runs']} runs exported"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
