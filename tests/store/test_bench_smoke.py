"""The store benchmark runs end to end at smoke size. No timing assertions: figures vary by machine."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BENCH = ROOT / "bench" / "store_bench.py"
HEADINGS = ("engine", "measure", "store", "raw sqlite3", "naive", "vs raw", "vs naive", "target", "result")


def _run(*flags: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(BENCH), "--quick", *flags], capture_output=True, text=True, timeout=240, cwd=ROOT
    )


def test_quick_run_prints_the_table_with_every_measure() -> None:
    done = _run()
    assert done.returncode == 0, done.stderr
    header = done.stdout.splitlines()[0]
    assert all(heading in header for heading in HEADINGS)
    for label in ("(a) appends/s", "(b) appends/s", "(c) ms to read", "(d) ms to list"):
        assert label in done.stdout
    assert "bulk-loaded" in done.stdout


def test_json_output_is_one_document_with_a_verdict_per_targeted_measure() -> None:
    done = _run("--json", "--sqlite-only")
    assert done.returncode == 0, done.stderr
    rows = json.loads(done.stdout)["results"]
    assert [(r["engine"], r["metric"]) for r in rows] == [("sqlite", m) for m in "abcd"]
    assert all(r["store"] > 0 and r["naive"] > 0 for r in rows)
    assert [r["passed"] is None for r in rows] == [False, True, False, False]
