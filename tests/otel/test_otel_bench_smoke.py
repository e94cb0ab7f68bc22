"""The OpenTelemetry benchmark runs end to end at smoke size. No timing assertions: figures vary by machine."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_quick_run_prints_throughput_and_the_live_exporters_cost_per_append() -> None:
    done = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "otel_bench.py"), "--quick"],
        capture_output=True,
        text=True,
        timeout=240,
        cwd=ROOT,
    )
    assert done.returncode == 0, done.stderr
    for label in (
        "(a) export to an OTLP/JSON file",
        "baseline: the runs' JSON-lines event export",
        "mapping only",
        "OTLP/HTTP to a sink process",
        "(b) append, 1 event per commit",
        "the noise floor",
        "otel-follow running (its own process)",
        "LiveExporter thread in-process",
        "live, otel-follow (as shipped): ",
    ):
        assert label in done.stdout, label
    assert "runs exported" in done.stdout
