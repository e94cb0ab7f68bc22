"""A change's effect on what a person waits for: two checkouts' dashboards on one store, loads alternating.

    python bench/ui_ab_bench.py --before CHECKOUT [--pages runs,timeline,policy,compare] [--loads 15]
                                [--runs 2000] [--events 1000] [--held 100] [--steps 100]

This checkout's ``app.py`` (after) and ``CHECKOUT``'s (before, e.g. ``git worktree add /tmp/before HEAD~1``)
serve copies of the same store (``ui_browser_bench.build_store``); one browser profile loads each
page from both in turn, who goes first alternating, each timed in the page (``_in_page``: navigation
to the first frame the page's main content is drawn). On a shared 2-core machine a page's time drifts
by ±0.1 s over a minute; alternating keeps that drift out of the comparison. Prints per page the
medians, their ratio and the median of the paired differences (after - before).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import tempfile
from contextlib import ExitStack
from pathlib import Path

from _common import ROOT, ensure_import_path, progress

ensure_import_path()

from playwright.sync_api import sync_playwright  # noqa: E402
from ui_browser_bench import VIEWPORT, browser_load, build_store, targets  # noqa: E402

from tests.dashboard.conftest import CHROMIUM, CHROMIUM_ARGS, streamlit_server  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", type=Path, required=True, help="the other checkout (its app.py is 'before')")
    parser.add_argument("--pages", default="runs,timeline,policy,compare")
    parser.add_argument("--loads", type=int, default=15, help="loads per page and side, after two warm-ups")
    parser.add_argument("--runs", type=int, default=2_000)
    parser.add_argument("--events", type=int, default=1_000)
    parser.add_argument("--held", type=int, default=100)
    parser.add_argument("--steps", type=int, default=100)
    args = parser.parse_args()
    if not (args.before / "app.py").exists():
        raise SystemExit(f"{args.before} has no app.py: pass a checkout of this project")
    wanted = args.pages.split(",")
    pages = [t for t in targets(args) if t.apptest_page in wanted]
    with tempfile.TemporaryDirectory() as tmp, ExitStack() as stack, sync_playwright() as pw:
        sides = {}
        for side, checkout in (("before", args.before.resolve()), ("after", ROOT)):
            folder = Path(tmp) / side
            folder.mkdir()
            if side == "before":
                url = build_store(folder, args)
            else:  # the same store, copied: approvals on one side must not change the other's
                shutil.copy(Path(tmp) / "before" / "bench.db", folder / "bench.db")
                url = f"sqlite:///{folder / 'bench.db'}"
            env = {"DATABASE_URL": url, "AGENT_WORKSPACE": str(folder / "workspace")}
            sides[side] = stack.enter_context(streamlit_server(folder, checkout / "app.py", **env))
        os.chdir(ROOT)
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        returning = browser.new_context(viewport=VIEWPORT)  # one profile: its cache keeps both sides' scripts
        print(f"{'page':<34} {'before':>8} {'after':>8}  after/before  median(after - before)")
        for target in pages:
            progress(f"loading {target.name}")
            ms: dict[str, list[float]] = {"before": [], "after": []}
            for i in range(args.loads + 2):
                for side in ("before", "after") if i % 2 else ("after", "before"):
                    shown = browser_load(returning.new_page, sides[side], target).shown_s * 1000
                    if i >= 2:
                        ms[side].append(shown)
            before, after = statistics.median(ms["before"]), statistics.median(ms["after"])
            paired = statistics.median(a - b for a, b in zip(ms["after"], ms["before"], strict=True))
            print(f"{target.name:<34} {before:6.0f} ms {after:6.0f} ms  {after / before:10.2f}x  {paired:+8.0f} ms")
        browser.close()


if __name__ == "__main__":
    main()
