"""The search benchmark runs end to end at smoke size. No timing assertions: figures vary by machine."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_quick_run_measures_every_contender() -> None:
    done = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "search_bench.py"), "--quick", "--json"],
        capture_output=True,
        text=True,
        timeout=240,
        cwd=ROOT,
    )
    assert done.returncode == 0, done.stderr
    [result] = json.loads(done.stdout)
    assert set(result["seconds"]) == {"cold", "warm", "edited", "rebuild", "shipped", "bm25s"}
    assert set(result["peak_mb"]) == {"cold", "warm", "edited", "rebuild", "shipped"}
    assert result["documents"] == 60 and result["index_bytes"] > 0 and result["text_bytes"] > 0
