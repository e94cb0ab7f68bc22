"""HTTP API bench: what HTTP adds to a read, and how soon the event stream delivers a new event.

The API runs as shipped, ``python -m agent_core api`` in its own process (SQLite store, offline
planner, the strict policy so that runs wait for an approval); the client is httpx with keep-alive.

(a) Reads: ``GET /runs/{id}/events`` (a 15-event run) and ``GET /runs?limit=50``, median ms per
    request, against the same reads through the Workbench in this process, serialised to the same
    JSON (the baseline: everything but HTTP). Contenders take turns, many short rounds.
(b) Stream delivery: a client follows ``/runs/{id}/stream`` of a run held for approval; the bench
    POSTs the approval and times until ``ApprovalGranted`` arrives on the stream. p50/p95 over
    ``--rounds`` runs, beside the approval POST's own round trip (the write, measured in the same
    round). The stream polls the store every 0.25 s, so about 0.125 s of waiting is expected.

    python bench/api_bench.py [--reads 200] [--rounds 15] [--quick] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import httpx
from pydantic import TypeAdapter

from agent_core.api_schema import EventOut, RunSummary
from agent_core.config import Settings
from agent_core.orchestrator import RunRequest
from agent_core.workbench import Workbench
from agent_core.workspace import seed_workspace
from bench._common import Table, fmt_number, fmt_ratio, interleaved, machine_line, progress

ROOT = Path(__file__).resolve().parent.parent
GOAL = "Summarize notes.txt and save the summary to summary.md"  # strict policy: its write waits
RUNS = 50
RUN_SUMMARY = TypeAdapter(RunSummary)


def start_server(env: dict[str, str]) -> tuple[subprocess.Popen[bytes], str]:
    """``python -m agent_core api`` on a free port; its base URL once ``/healthz`` answers."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = subprocess.Popen(
        [sys.executable, "-m", "agent_core", "api", "--port", str(port)],
        env=env,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                return server, url
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline or server.poll() is not None:
            raise SystemExit("the API did not start")
        time.sleep(0.1)


def measure_reads(client: httpx.Client, bench: Workbench, run_id: str, reads: int) -> dict[str, Any]:
    """(a): ms per read over HTTP against the same read and JSON in this process."""

    def per_read(fn: Any) -> Any:
        def measure(_: int) -> float:
            start = time.perf_counter()
            for _ in range(reads):
                fn()
            return (time.perf_counter() - start) / reads * 1000

        return measure

    def events_in_process() -> str:
        return json.dumps([EventOut.of(e).model_dump(mode="json") for e in bench.run_events(run_id)])

    def runs_in_process() -> str:
        runs = bench.list_runs(limit=50)
        return json.dumps([RUN_SUMMARY.dump_python(r, mode="json") for r in runs])

    samples = interleaved(
        {
            "events http": per_read(lambda: client.get(f"/runs/{run_id}/events").raise_for_status()),
            "events in-process": per_read(events_in_process),
            "runs http": per_read(lambda: client.get("/runs", params={"limit": 50}).raise_for_status()),
            "runs in-process": per_read(runs_in_process),
        },
        repeats=5,
    )
    return {name: s.median for name, s in samples.items()}


def measure_stream(url: str, rounds: int) -> dict[str, list[float]]:
    """(b): seconds from the approval POST to ``ApprovalGranted`` on the stream, and the POST alone."""
    delivery: list[float] = []
    post: list[float] = []
    with httpx.Client(base_url=url, timeout=60) as client:
        for i in range(rounds):
            run_id = client.post("/runs", json={"goal": GOAL}).json()["run_id"]
            while (view := client.get(f"/runs/{run_id}").json())["pending_step"] is None:
                time.sleep(0.05)
            step = view["pending_step"]["step_id"]
            subscribed = threading.Event()
            arrived: list[float] = []

            last = view["run"]["last_seq"]
            reader = threading.Thread(target=_follow, args=(url, run_id, last, subscribed, arrived))
            reader.start()
            subscribed.wait(30)
            time.sleep(random.uniform(0.3, 0.55))  # the stream settles into its polling; approve at a random phase
            start = time.perf_counter()
            client.post(f"/runs/{run_id}/approvals/{step}", json={"decision": "approve"}).raise_for_status()
            post.append(time.perf_counter() - start)
            reader.join(60)
            delivery.append(arrived[0] - start)
            progress(f"stream round {i + 1}/{rounds}: {delivery[-1] * 1000:.0f} ms")
    return {"delivery": delivery, "post": post}


def _follow(url: str, run_id: str, after: int, subscribed: threading.Event, arrived: list[float]) -> None:
    """Follow the run's stream from seq ``after``; note when ``ApprovalGranted`` arrives."""
    with (
        httpx.Client(base_url=url, timeout=60) as reader,
        reader.stream("GET", f"/runs/{run_id}/stream", params={"after": after}) as response,
    ):
        subscribed.set()
        for line in response.iter_lines():
            if line == "event: ApprovalGranted":
                arrived.append(time.perf_counter())
                return


def p95(values: list[float]) -> float:
    return statistics.quantiles(values, n=20)[-1] if len(values) >= 2 else values[0]


def main(argv: list[str] | None = None) -> int:
    """Run both measures and print the table (or ``--json``)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--reads", type=int, default=200, help="reads per contender per round")
    parser.add_argument("--rounds", type=int, default=15, help="stream rounds (one run each)")
    parser.add_argument("--quick", action="store_true", help="a smoke run: few reads and rounds")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    runs = RUNS
    if args.quick:
        args.reads, args.rounds, runs = 10, 3, 5
    with tempfile.TemporaryDirectory(prefix="api-bench-") as tmp:
        folder = Path(tmp)
        workspace = folder / "workspace"
        seed_workspace(workspace)
        values = {
            "DATABASE_URL": f"sqlite:///{folder / 'events.db'}",
            "AGENT_WORKSPACE": str(workspace),
            "AGENT_POLICY": str(ROOT / "policies" / "strict.yaml"),
            "AGENT_PLANNER": "offline",
        }
        bench = Workbench.open(Settings(**values))
        progress(f"recording {runs} runs")
        run_id = ""
        for _ in range(runs):
            run_id = bench.run(RunRequest("Research agent frameworks and summarize the key findings")).run_id
        env = {k: v for k, v in os.environ.items() if k != "AGENT_API_TOKEN"} | values
        server, url = start_server(env)
        try:
            with httpx.Client(base_url=url, timeout=30) as client:
                progress("reads")
                reads = measure_reads(client, bench, run_id, args.reads)
            stream = measure_stream(url, args.rounds)
        finally:
            os.killpg(server.pid, signal.SIGTERM)
            server.wait(30)
            bench.close()
    result = {
        "reads_ms": reads,
        "events_http_overhead": reads["events http"] / reads["events in-process"],
        "runs_http_overhead": reads["runs http"] / reads["runs in-process"],
        "stream_delivery_s": {"p50": statistics.median(stream["delivery"]), "p95": p95(stream["delivery"])},
        "approval_post_s": {"p50": statistics.median(stream["post"]), "p95": p95(stream["post"])},
        "rounds": args.rounds,
    }
    if args.json:
        print(json.dumps(result, indent=2))
        return 0
    print(f"API bench: {machine_line()}")
    table = Table(["measure", "contender", "median", "cost vs in-process"])
    for kind, route in (("events", "/runs/{id}/events"), ("runs", "/runs?limit=50")):
        table.add(f"(a) GET {route}", "in-process", f"{fmt_number(reads[f'{kind} in-process'])} ms", "1.00x")
        table.add("", "HTTP", f"{fmt_number(reads[f'{kind} http'])} ms", fmt_ratio(result[f"{kind}_http_overhead"]))
    table.add("(b) approval -> stream", "p50 / p95", f"{stream_ms(result['stream_delivery_s'])}", "")
    table.add("    approval POST alone", "p50 / p95", f"{stream_ms(result['approval_post_s'])}", "")
    print(table.render())
    return 0


def stream_ms(figures: dict[str, float]) -> str:
    return f"{figures['p50'] * 1000:.0f} / {figures['p95'] * 1000:.0f} ms"


if __name__ == "__main__":
    raise SystemExit(main())
