"""The API benchmark runs end to end at smoke size. No timing assertions: figures vary by machine."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_quick_run_reports_every_measure() -> None:
    done = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "api_bench.py"), "--quick", "--json"],
        capture_output=True,
        text=True,
        timeout=240,
        cwd=ROOT,
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert set(result["reads_ms"]) == {"events http", "events in-process", "runs http", "runs in-process"}
    assert all(value > 0 for value in result["reads_ms"].values())
    assert result["rounds"] == 3
    assert result["approval_post_s"]["p50"] > 0 and result["stream_delivery_s"]["p50"] > 0
