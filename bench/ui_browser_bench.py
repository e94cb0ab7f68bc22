"""Dashboard pages as a person waits for them: headless Chromium against ``streamlit run app.py``.

    python bench/ui_browser_bench.py [--runs 100000] [--events 1000] [--held 1000] [--steps 100] [--repeats 5]

For each page: the median of ``--repeats`` loads (a new tab each, after one warm-up) of the time
from navigation to the page's main content being visible, for a returning visitor (one browser
profile whose cache holds the dashboard's scripts: what a person who uses it every day waits for;
the target applies to it) and for a first visit (a fresh profile each time), printed beside the AppTest
script time of the same page in a fresh session (what ui_bench.py measures: the script alone,
without websocket, rendering or the browser). The ratio browser / AppTest says how much of the
wait the script explains. Target: at most 1 s per page.

Pages: Runs over ``--runs`` runs; Timeline of an ``--events``-event run; Policy with ``--held`` held
steps; Compare of two ``--steps``-step runs; and an approval: click Approve on the Policy page
until its confirmation shows.

The store is a SQLite file written once per run of the bench (runs index bulk-inserted, the
rest through the real store). Needs Chromium at /usr/bin/chromium and playwright.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import _in_page as in_page
from _common import ROOT, ensure_import_path, progress, repeat, seconds

ensure_import_path()

from playwright.sync_api import Page, ViewportSize, sync_playwright  # noqa: E402
from streamlit.testing.v1 import AppTest  # noqa: E402
from ui_bench import bulk_runs  # noqa: E402

from agent_core import events as ev  # noqa: E402
from agent_core.policy import Policy  # noqa: E402
from agent_core.projections import open_store  # noqa: E402
from agent_core.store import EventStore  # noqa: E402
from tests.dashboard.conftest import CHROMIUM, CHROMIUM_ARGS, IDLE, streamlit_server  # noqa: E402
from tests.dashboard.seed import PLANNER, RunBuilder, big_run, plan_of  # noqa: E402

TARGET_S = 1.0
TIMELINE_RUN = "bench-timeline"
COMPARE_A, COMPARE_B = "bench-compare-a", "bench-compare-b"


def held_runs(store: EventStore, count: int, policy_sha: str) -> None:
    """``count`` runs each waiting for a person to approve its write_file step (real events, real store)."""
    plan = plan_of(["write_file"])
    start_at = datetime.now(UTC) - timedelta(days=2)
    for i in range(count):
        b = RunBuilder(store, f"bench-held-{i:05d}", start_at + timedelta(seconds=i))
        b.add(
            ev.RunStarted(
                goal=f"Write report {i}",
                max_steps=4,
                budget_usd=0.5,
                planner=PLANNER,
                policy_sha=policy_sha,
                policy_path="policies/default.yaml",
            ),
            after_s=0,
        )
        b.add(ev.PlanGenerated(plan=plan, raw_text=plan.model_dump_json()))
        step = plan.steps[0]
        b.add(
            ev.ApprovalRequested(
                step_id=step.id, tool=step.tool, input=dict(step.input), rule="confirm_overwrite", reason="bench"
            )
        )
        b.flush()


def build_store(folder: Path, args: argparse.Namespace) -> str:
    url = f"sqlite:///{folder / 'bench.db'}"
    store = open_store(url)
    try:
        progress(f"a {args.events:,}-event run, two {args.steps}-step runs, {args.held:,} held steps")
        big_run(store, TIMELINE_RUN, args.events)
        for run_id in (COMPARE_A, COMPARE_B):
            big_run(store, run_id, 6 + 4 * args.steps)
        held_runs(store, args.held, Policy.load(ROOT / "policies" / "default.yaml").sha)
    finally:
        store.close()
    progress(f"{args.runs:,} runs in the runs index")
    # Index rows without events: none of them may claim to wait for approval (the Policy page reads those runs).
    bulk_runs(url, args.runs, statuses=("completed", "completed", "completed", "failed", "cancelled"))
    return url


@dataclass(frozen=True, slots=True)
class Target:
    """A page to load and what on it means 'the main content is visible' (a condition for ``_in_page``)."""

    name: str
    path: str
    shown: str
    apptest_page: str
    query: dict[str, str]


RUNS_SHOWN = "text('Runs in view') && sel('[data-testid=stDataFrame]')"
TIMELINE_SHOWN = "sel('[data-testid=stHtml] .wf-span') && sel('[data-testid=stDataFrame]')"
POLICY_SHOWN = "text('Approval queue') && button('Approve')"
COMPARE_SHOWN = "text('Verdict') && sel('[data-testid=stDataFrame]')"
APPROVED_SHOWN = "text('the run continues.')"

FLOOR_APP = 'import streamlit as st\n\nst.set_page_config(layout="wide")\nst.title("An empty page")\n'
"""The baseline in the same run: what Streamlit itself costs a browser here, with nothing of ours."""
FLOOR = Target("Empty Streamlit page (the floor)", "", "text('An empty page')", "", {})


def targets(args: argparse.Namespace) -> list[Target]:
    return [
        Target(f"Runs, {args.runs:,} runs", "runs", RUNS_SHOWN, "runs", {}),
        Target(
            f"Timeline, {args.events:,}-event run",
            f"timeline?run_id={TIMELINE_RUN}",
            TIMELINE_SHOWN,
            "timeline",
            {"run_id": TIMELINE_RUN},
        ),
        Target(f"Policy, {args.held:,} held steps", "policy", POLICY_SHOWN, "policy", {}),
        Target(
            f"Compare, two {args.steps}-step runs",
            f"compare?a={COMPARE_A}&b={COMPARE_B}",
            COMPARE_SHOWN,
            "compare",
            {"a": COMPARE_A, "b": COMPARE_B},
        ),
    ]


VIEWPORT: ViewportSize = {"width": 1440, "height": 1000}


@dataclass(frozen=True, slots=True)
class Timing:
    """One measurement: in the page (what the bench reports) and as Playwright's polling noticed it."""

    shown_s: float
    playwright_s: float


def browser_load(new_tab: Callable[[], Page], base: str, target: Target) -> Timing:
    """A load in a tab from ``new_tab``: ``browser.new_page`` is a first visit (a fresh profile, nothing
    cached), a shared context's ``new_page`` a returning visitor (its cache holds the dashboard's scripts)."""
    page = new_tab()
    try:
        in_page.watch_load(page, target.shown)
        start = time.perf_counter()
        page.goto(f"{base}/{target.path}", wait_until="commit")
        shown = in_page.shown_after_load(page)
        return Timing(shown, time.perf_counter() - start)
    finally:
        page.close()


def _open_idle(page: Page, url: str, condition: str) -> None:
    in_page.watch_load(page, condition)
    page.goto(url)
    in_page.shown_after_load(page)
    page.wait_for_selector(IDLE, timeout=in_page.TIMEOUT_MS)


def sidebar_click(new_tab: Callable[[], Page], base: str, target: Target, link: str) -> Timing:
    """Open Launch (untimed), then time a click on the sidebar's ``link`` until ``target``'s content shows:
    moving between pages inside the app, as a person does all day (no new shell, no script re-parse)."""
    page = new_tab()
    try:
        _open_idle(page, f"{base}/launch", "text('Launch a run')")
        start = time.perf_counter()
        shown = in_page.click_until(
            page, page.get_by_test_id("stSidebarNavLink").filter(has_text=link).first, target.shown
        )
        return Timing(shown, time.perf_counter() - start)
    finally:
        page.close()


def approval_click(new_tab: Callable[[], Page], base: str) -> Timing:
    """Open the Policy page (untimed), then time Approve on the first card until its confirmation shows."""
    page = new_tab()
    try:
        _open_idle(page, f"{base}/policy", POLICY_SHOWN)
        start = time.perf_counter()
        # one card's button, not "Approve N"
        shown = in_page.click_until(page, page.get_by_role("button", name="Approve", exact=True).first, APPROVED_SHOWN)
        return Timing(shown, time.perf_counter() - start)
    finally:
        page.close()


def apptest_time(target: Target) -> float:
    """A fresh AppTest session of app.py opened on the page (the script alone, no browser)."""

    def render() -> None:
        at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
        at.query_params.update(target.query)
        at.switch_page(f"pages/{target.apptest_page}.py").run()
        if at.exception:
            raise SystemExit(f"{target.name}: the page raised {[e.value for e in at.exception]}")

    return seconds(render)


def timings(measure: Callable[[], Timing], repeats: int) -> list[Timing]:
    """One unrecorded warm-up, then ``repeats`` measurements."""
    measure()
    return [measure() for _ in range(repeats)]


def row(name: str, browser: list[Timing], apptest_s: float | None, first_visit: list[Timing] | None = None) -> bool:
    """One page's line: the returning visitor's median (the target's), the first visit's, the script's, and
    the median Playwright's polling reported for the same loads (what earlier runs of this bench printed)."""
    ordered = sorted(t.shown_s for t in browser)
    median = statistics.median(ordered)
    verdict = "PASS" if median <= TARGET_S else "MISS"
    script = f"{apptest_s * 1000:7.0f} ms" if apptest_s is not None else "      —   "
    ratio = f"{median / apptest_s:5.1f}x" if apptest_s else "   — "
    first = f"  first visit {statistics.median(t.shown_s for t in first_visit) * 1000:6.0f} ms" if first_visit else ""
    polled = statistics.median(t.playwright_s for t in browser)
    print(
        f"{name:<34} browser median {median * 1000:6.0f} ms (min {ordered[0] * 1000:.0f}, max {ordered[-1] * 1000:.0f})"
        f"{first}  AppTest {script}  browser/AppTest {ratio}  target <= {TARGET_S * 1000:.0f} ms  {verdict}"
        f"  (Playwright polling: {polled * 1000:.0f} ms)"
    )
    return median <= TARGET_S


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=100_000)
    parser.add_argument("--events", type=int, default=1_000)
    parser.add_argument("--held", type=int, default=1_000)
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    if not CHROMIUM.exists():
        raise SystemExit(f"needs Chromium at {CHROMIUM} (apt-get install chromium)")

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        url = build_store(folder, args)
        os.environ["DATABASE_URL"] = url
        os.environ["AGENT_WORKSPACE"] = str(folder / "workspace")
        os.chdir(ROOT)
        passed = []
        print(
            f"store: SQLite, {args.runs:,} runs in the index; {args.repeats} browser loads per page after a warm-up; "
            f"machine: {os.cpu_count()} cores, shared (figures are medians; compare ratios, not absolutes)"
        )
        floor_app = folder / "empty_page.py"
        floor_app.write_text(FLOOR_APP)
        server = streamlit_server(folder, DATABASE_URL=url, AGENT_WORKSPACE=str(folder / "workspace"))
        with server as base, streamlit_server(folder, floor_app) as floor_base, sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
            returning = browser.new_context(viewport=VIEWPORT)  # one profile: its cache keeps the scripts

            def first_visit() -> Page:
                return browser.new_page(viewport=VIEWPORT)

            try:
                progress("loading an empty Streamlit page (the floor)")
                floor = timings(lambda: browser_load(returning.new_page, floor_base, FLOOR), args.repeats)
                row(FLOOR.name, floor, None)
                for target in targets(args):
                    progress(f"loading {target.name}")
                    first = timings(lambda t=target: browser_load(first_visit, base, t), args.repeats)
                    again = timings(lambda t=target: browser_load(returning.new_page, base, t), args.repeats)
                    apptest = repeat(lambda _, t=target: apptest_time(t), 3).median
                    passed.append(row(target.name, again, apptest, first))
                in_sidebar = {t.apptest_page: t for t in targets(args)}  # the pages a sidebar link opens as they are
                for link, target in (("Runs", in_sidebar["runs"]), ("Policy", in_sidebar["policy"])):
                    progress(f"{link} from the sidebar")
                    clicks = timings(
                        lambda t=target, n=link: sidebar_click(returning.new_page, base, t, n), args.repeats
                    )
                    passed.append(row(f"{link}: sidebar click from Launch", clicks, None))
                progress("approving held steps")
                approvals = timings(lambda: approval_click(returning.new_page, base), args.repeats)
                passed.append(row("Approve click -> confirmation", approvals, None))
            finally:
                browser.close()
    sys.exit(0 if all(passed) else 1)


if __name__ == "__main__":
    main()
