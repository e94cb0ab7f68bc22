"""The Policy page with 1,000 held steps in headless Chromium: how long a person waits.

    python bench/_policy_browser.py [--held 1000] [--repeats 5] [--before /work/main]

Two figures, medians of ``--repeats`` fresh browser sessions on the same server:
- load: from navigating to ``/policy`` to the whole page drawn (first Approve button and the last
  section visible, the script done);
- approve: from clicking Approve on the first card to the confirmation visible and the script done.
With ``--before CHECKOUT`` a copy of the same store is served by that checkout's ``app.py`` too and
the sessions alternate between the two, so the before/after ratio comes from one run on one
(shared, loaded) machine.

``measure_policy(base_url, repeats)`` is the function bench/ui_browser_bench.py can fold in: it
needs only a running dashboard whose store holds held steps.
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from _common import ROOT, ensure_import_path, progress

ensure_import_path()

from agent_core import events as ev  # noqa: E402
from agent_core.plan import Plan  # noqa: E402
from agent_core.projections import open_store  # noqa: E402
from tests.dashboard.conftest import CHROMIUM, CHROMIUM_ARGS  # noqa: E402

QUEUE_HEADING = "Approval queue"  # pages/policy.py QUEUE_HEADING: stable across versions
TIMEOUT_MS = 120_000


def seed_held(url: str, held: int) -> None:
    """``held`` runs each waiting on one write_file step, appended through the real store (indexes included)."""
    store = open_store(url, sqlite_synchronous="OFF")
    start = datetime.now(UTC) - timedelta(hours=2)
    planner = ev.PlannerInfo(provider="offline", model="offline", prompt_sha="p" * 64)
    for i in range(held):
        step = {"id": "step_1", "objective": f"write report {i}", "tool": "write_file"}
        step |= {"input": {"path": f"reports/r{i}.md", "content": f"# Report {i}\n"}, "success_criteria": "written"}
        at = start + timedelta(seconds=i)
        store.append(
            uuid.uuid4().hex,
            [
                ev.RunStarted(goal=f"Report {i}", max_steps=3, budget_usd=0.5, planner=planner, policy_sha="s" * 64),
                ev.PlanGenerated(plan=Plan.model_validate({"steps": [step]}), raw_text="{}"),
                ev.ApprovalRequested(
                    step_id="step_1", tool="write_file", input=step["input"], rule="no_overwrite", reason="exists"
                ),
            ],
            0,
            times=[at, at, at],
        )
    store.close()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def dashboard(app_root: Path, database_url: str, workspace: Path) -> Iterator[str]:
    """``streamlit run app.py`` of ``app_root`` on a free loopback port; yields its base URL."""
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.endswith(("_API_KEY", "_BASE_URL"))}
    env |= {"DATABASE_URL": database_url, "AGENT_WORKSPACE": str(workspace), "AGENT_PLANNER": "offline"}
    env.pop("AGENT_POLICY", None)
    command = [sys.executable, "-m", "streamlit", "run", "app.py", "--server.headless", "true"]
    command += ["--server.address", "127.0.0.1", "--server.port", str(port), "--browser.gatherUsageStats", "false"]
    process = subprocess.Popen(command, cwd=app_root, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"{base}/_stcore/health", timeout=1) as answer:
                    if answer.read().decode().strip() == "ok":
                        break
            except OSError:
                time.sleep(0.2)
        yield base
    finally:
        process.terminate()
        process.wait(timeout=20)


def _idle(page: Any) -> None:
    page.wait_for_selector("[data-testid='stApp'][data-test-script-state='notRunning']", timeout=TIMEOUT_MS)


def measure_policy(base_url: str, repeats: int = 5, browser: Any = None) -> dict[str, list[float]]:
    """Seconds per fresh session: ``load`` (navigate to /policy -> the first card's Approve button visible and
    the script done, i.e. the whole page drawn) and ``approve`` (click Approve on the first card -> the
    confirmation visible and the script done). Each repeat decides a different step."""
    if browser is None:
        from playwright.sync_api import sync_playwright

        with sync_playwright() as p:
            launched = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
            try:
                return measure_policy(base_url, repeats, launched)
            finally:
                launched.close()
    found: dict[str, list[float]] = {"load": [], "approve": []}
    for _ in range(repeats):
        load, approve = _one_session(browser, base_url)
        found["load"].append(load)
        found["approve"].append(approve)
    return found


def _one_session(browser: Any, base_url: str) -> tuple[float, float]:
    from playwright.sync_api import expect

    context = browser.new_context(viewport={"width": 1440, "height": 1800})
    try:
        page = context.new_page()
        page.goto(base_url)  # enter through app.py once: a deep link before that is another issue
        expect(page.get_by_role("heading", name="Launch a run")).to_be_visible(timeout=TIMEOUT_MS)
        _idle(page)
        began = time.perf_counter()
        page.goto(f"{base_url}/policy")
        approve = page.get_by_role("button", name="Approve", exact=True).first
        expect(approve).to_be_visible(timeout=TIMEOUT_MS)
        expect(page.get_by_role("heading", name="Rules in force")).to_be_visible(timeout=TIMEOUT_MS)
        _idle(page)
        load = time.perf_counter() - began
        expect(page.get_by_role("heading", name=QUEUE_HEADING).first).to_be_visible()
        began = time.perf_counter()
        approve.click()
        expect(page.get_by_text("the run continues.", exact=False).first).to_be_visible(timeout=TIMEOUT_MS)
        _idle(page)
        return load, time.perf_counter() - began
    finally:
        context.close()


def _line(label: str, values: list[float]) -> str:
    shown = " ".join(f"{v:.2f}" for v in values)
    return f"{label:<28} median {statistics.median(values):6.2f} s   ({shown})"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--held", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--before", type=Path, help="another checkout (e.g. /work/main) to measure the same way")
    args = parser.parse_args()
    if not CHROMIUM.exists():
        print(f"needs Chromium at {CHROMIUM} (apt-get install chromium)", file=sys.stderr)
        return 2
    folder = Path(tempfile.mkdtemp(prefix="policy-browser-"))
    try:
        store = folder / "after.db"
        progress(f"seeding {args.held} held steps")
        seed_held(f"sqlite:///{store}", args.held)
        checkouts = [("after", ROOT)] + ([("before", args.before.resolve())] if args.before else [])
        results: dict[str, dict[str, list[float]]] = {name: {"load": [], "approve": []} for name, _ in checkouts}
        with ExitStack() as stack:
            bases = {}
            for name, root in checkouts:
                copy = folder / f"{name}.db"
                if copy != store:
                    shutil.copy(store, copy)
                bases[name] = stack.enter_context(dashboard(root, f"sqlite:///{copy}", folder / "workspace"))
            from playwright.sync_api import sync_playwright

            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
                for i in range(args.repeats):  # interleaved, so a burst of load elsewhere hits both alike
                    for name, _ in checkouts:
                        progress(f"session {i + 1}/{args.repeats}: {name}")
                        load, approve = _one_session(browser, bases[name])
                        results[name]["load"].append(load)
                        results[name]["approve"].append(approve)
                browser.close()
        print(f"Policy page, {args.held} held steps, headless Chromium, {args.repeats} fresh sessions each")
        print("(the machine is shared and loaded: compare the ratios, not the absolute seconds)")
        for name, found in results.items():
            print(_line(f"{name}: load", found["load"]))
            print(_line(f"{name}: approval click", found["approve"]))
        if "before" in results:
            for what in ("load", "approve"):
                ratio = statistics.median(results["before"][what]) / statistics.median(results["after"][what])
                print(f"{what:<28} before / after = {ratio:.1f}x")
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
