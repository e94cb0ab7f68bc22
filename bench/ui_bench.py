"""Dashboard render times with Streamlit's AppTest: the Timeline page of a 1,000-event run and the
Runs page over a store of 100,000 runs. Target: at most 1 s each (median of fresh sessions).

    python bench/ui_bench.py [--runs 100000] [--events 1000] [--repeats 5]

Each measurement is a new session (empty session state) in a warm process (the Workbench is
already in st.cache_resource), which is what a person opening the page meets.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

from _common import ROOT, ensure_import_path, progress, repeat, seconds

ensure_import_path()

from sqlalchemy import create_engine, insert  # noqa: E402
from streamlit.testing.v1 import AppTest  # noqa: E402

from agent_core.projections import open_store  # noqa: E402
from agent_core.store import runs_table  # noqa: E402
from tests.dashboard.seed import big_run  # noqa: E402

TARGET_S = 1.0
STATUSES = ("completed", "completed", "completed", "failed", "cancelled", "waiting_approval", "running")
BIG_RUN = "bench-timeline-1000"


def bulk_runs(url: str, count: int, statuses: tuple[str, ...] = STATUSES) -> None:
    """Write ``count`` rows straight into the runs index (the Runs page reads nothing else)."""
    now = datetime.now(UTC)
    engine = create_engine(url)
    with engine.begin() as conn:
        for first in range(0, count, 10_000):
            rows = []
            for i in range(first, min(first + 10_000, count)):
                started = now - timedelta(minutes=i)
                summary = {"provider": "offline", "model": "offline-v1", "steps_planned": 3, "steps_ok": 3}
                summary |= {"cost_usd": 0.0012, "ended_at": (started + timedelta(seconds=4)).isoformat()}
                rows.append(
                    {
                        "run_id": f"bulk{i:08d}",
                        "status": statuses[i % len(statuses)],
                        "title": f"bulk goal number {i}: research and write a report",
                        "parent_id": f"bulk{i - 1:08d}" if i % 10 == 0 and i else None,
                        "started_at": started,
                        "updated_at": started + timedelta(seconds=4),
                        "last_seq": 12,
                        "last_hash": "0" * 64,
                        "summary": json.dumps(summary),
                    }
                )
            conn.execute(insert(runs_table), rows)
    engine.dispose()


def checked(at: AppTest) -> AppTest:
    if at.exception:
        raise SystemExit(f"the page raised: {[e.value for e in at.exception]}")
    return at


def render_runs() -> AppTest:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    return checked(at.switch_page("pages/runs.py").run())


def render_timeline() -> AppTest:
    # Through app.py, as the server runs every page (a page file run alone hands over to app.py).
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    at.query_params["run_id"] = BIG_RUN
    return checked(at.switch_page("pages/timeline.py").run())


def measure(name: str, render, repeats: int) -> float:  # type: ignore[no-untyped-def]
    # The warm-up run opens the store into st.cache_resource and imports plotly.
    sample = repeat(lambda _: seconds(render), repeats, warmup=1)
    verdict = "PASS" if sample.median <= TARGET_S else "MISS"
    low, high = min(sample.values) * 1000, max(sample.values) * 1000
    print(
        f"{name:<36} median {sample.median * 1000:6.0f} ms  (min {low:.0f}, max {high:.0f})  "
        f"target <= {TARGET_S * 1000:.0f} ms  {verdict}"
    )
    return sample.median


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=100_000)
    parser.add_argument("--events", type=int, default=1_000)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as folder:
        url = f"sqlite:///{Path(folder) / 'bench.db'}"
        progress(f"writing a {args.events:,}-event run and {args.runs:,} runs to {url}")
        store = open_store(url)
        events = big_run(store, BIG_RUN, args.events)
        store.close()
        bulk_runs(url, args.runs)
        os.environ["DATABASE_URL"] = url
        os.chdir(ROOT)
        print(f"store: SQLite, {args.runs + 1:,} runs; timeline run: {events:,} events; {args.repeats} samples each")
        results = [
            measure(f"Timeline page, {events:,}-event run", render_timeline, args.repeats),
            measure(f"Runs page, {args.runs + 1:,} runs", render_runs, args.repeats),
        ]
    sys.exit(0 if all(r <= TARGET_S for r in results) else 1)


if __name__ == "__main__":
    main()
