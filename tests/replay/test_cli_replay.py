"""replay and demo on the command line: a line per run, a summary, exit 1 on any regression or divergence."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from agent_core.cli import main
from tests.replay.conftest import DEFAULT_POLICY, DEMO_GOAL, READ_GOAL


@pytest.fixture
def db(monkeypatch: pytest.MonkeyPatch, workspace: Path, sqlite_url: str) -> str:
    monkeypatch.setenv("AGENT_WORKSPACE", str(workspace))
    monkeypatch.setenv("AGENT_POLICY", str(DEFAULT_POLICY))
    monkeypatch.setenv("AGENT_PLANNER", "offline")
    monkeypatch.setenv("DATABASE_URL", sqlite_url)
    return sqlite_url


def cli(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), out, err)
    return code, out.getvalue(), err.getvalue()


def test_replay_all_exits_1_when_one_run_of_several_regresses(db: str, no_writes_policy: Path) -> None:
    for goal in (READ_GOAL, DEMO_GOAL, "Summarize event-sourcing.md"):
        assert cli("run", goal, "--db", db)[0] == 0

    code, out, _ = cli("replay", "--all", "--db", db)
    assert code == 0 and out.count("  identical (") == 3 and "3 identical" in out

    code, out, _ = cli("replay", "--all", "--mode", "whatif", "--policy", str(DEFAULT_POLICY), "--db", db)
    assert code == 0 and "3 unchanged" in out

    code, out, _ = cli("replay", "--all", "--policy", str(no_writes_policy), "--db", db, "--json")
    report = json.loads(out)
    assert code == 1 and report["failed"] and report["counts"] == {"regression": 1, "unchanged": 2}
    assert sum("known_tools" in line for line in report["lines"]) == 1


def test_replay_one_run_verify_whatif_and_lineage(db: str, no_writes_policy: Path) -> None:
    cli("run", DEMO_GOAL, "--db", db)
    run_id = json.loads(cli("runs", "--json", "--db", db)[1])[0]["run_id"]

    code, out, _ = cli("replay", run_id[:8], "--db", db)
    assert code == 0 and "identical (15 events; the run completed)" in out

    code, out, _ = cli("replay", run_id[:8], "--policy", str(no_writes_policy), "--mode", "verify", "--db", db)
    assert code == 1 and "DIVERGED at event 10" in out and "ToolRejected" in out

    code, out, _ = cli("replay", run_id[:8], "--policy", str(no_writes_policy), "--db", db)
    assert code == 1 and "verdict: REGRESSION" in out and "known_tools" in out

    code, out, _ = cli("replay", run_id[:8], "--list", "--db", db)
    assert code == 0 and "whatif" in out and "regression" in out
    code, out, _ = cli("runs", "--db", db)
    assert f"replay of {run_id[:8]} (regression)" in out

    code, out, _ = cli("replay", "--counterfactual", "5", "--policy", str(no_writes_policy), "--db", db)
    assert code == 0 and "approve (allowed) -> reject (known_tools)" in out


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["replay"], "RUN_ID or --all"),
        (["replay", "nosuchrun"], "no run"),
        (["replay", "--all", "--policy", "missing.yaml"], "no policy file"),
        (["replay", "--counterfactual", "3"], "needs --policy"),
    ],
)
def test_bad_replay_usage_exits_2_with_a_reason(db: str, argv: list[str], needle: str) -> None:
    code, _, err = cli(*argv)
    assert code == 2 and needle in err


def test_demo_runs_shows_the_log_replays_and_prints_the_verdict(db: str) -> None:
    code, out, _ = cli("demo")
    assert code == 0
    assert "== 2. the run's event log" in out and out.count("RunCompleted") >= 2
    assert "identical (15 events; the run completed)" in out
    assert "verdict: REGRESSION" in out and "writes_need_approval" in out
