"""Runs say when they failed: a finished plan whose steps all failed or were refused, or whose lookups found
nothing, ends ``failed`` with exit code 1 (outcome rules 2); runs recorded under rules 1 keep replaying as
they were recorded, and a what-if judges both runs by the same rules."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from agent_core import events as ev
from agent_core.cli import main
from agent_core.orchestrator import Orchestrator, RunRequest
from agent_core.outcome import CURRENT_RULES, LEGACY_RULES
from agent_core.projections import open_store
from agent_core.replay import Overrides
from agent_core.workbench import Workbench
from tests.runtime.conftest import DEFAULT_POLICY


@pytest.fixture
def cli_env(monkeypatch: pytest.MonkeyPatch, workspace: Path, sqlite_url: str) -> str:
    monkeypatch.setenv("AGENT_WORKSPACE", str(workspace))
    monkeypatch.setenv("AGENT_POLICY", str(DEFAULT_POLICY))
    monkeypatch.setenv("AGENT_PLANNER", "offline")
    return sqlite_url


def cli(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), out, err)
    return code, out.getvalue(), err.getvalue()


@pytest.mark.parametrize(
    ("goal", "code", "status", "reason"),
    [
        ("Summarize notes.txt", 0, "completed", ""),
        ("Summarize missing/nowhere.md", 1, "failed", "no step succeeded: step_1 read_file failed ("),
        ("Research qqzzyyxx", 1, "failed", "nothing was found: step_1 web_search found nothing (no results for"),
        ("Summarize notes.txt and save it to ../escape.md", 0, "completed", ""),  # the write is refused, rest ok
    ],
)
def test_the_exit_code_and_status_say_whether_the_run_answered(
    cli_env: str, goal: str, code: int, status: str, reason: str
) -> None:
    got, out, _ = cli("run", goal, "--db", cli_env, "--json")
    document = json.loads(out)
    assert (got, document["status"]) == (code, status), document["failure_reason"]
    assert document["failure_reason"].startswith(reason) if reason else document["failure_reason"] == ""
    if status == "failed":
        assert document["final_summary"]  # the answer is still recorded (ResponseFinalized)
    _, listed, _ = cli("runs", "--db", cli_env, "--json")
    assert json.loads(listed)[0]["status"] == status and json.loads(listed)[0]["reason"] == document["failure_reason"]


def test_every_step_refused_fails_the_run(cli_env: str, tmp_path: Path) -> None:
    got, out, _ = cli("run", 'Write "x" to ../outside.md', "--db", cli_env, "--json")
    document = json.loads(out)
    assert (got, document["status"]) == (1, "failed")
    assert "step_1 write_file was rejected by rule 'workspace_paths'" in document["failure_reason"]


def test_replay_all_shows_how_each_recorded_run_ended(cli_env: str) -> None:
    cli("run", "Summarize notes.txt", "--db", cli_env)
    cli("run", "Research qqzzyyxx", "--db", cli_env)
    code, out, _ = cli("replay", "--all", "--db", cli_env)
    assert code == 0, out  # verify gates on divergence, not on how the runs ended
    assert "identical (" in out and "; the run failed: nothing was found" in out and "; the run completed)" in out
    assert out.splitlines()[-1].endswith("2 identical; recorded runs: 1 completed, 1 failed")
    code, out, _ = cli("replay", "--all", "--db", cli_env, "--json")
    assert json.loads(out)["runs"] == {"completed": 1, "failed": 1}


def test_a_run_recorded_under_rules_1_replays_as_recorded(bench: Workbench) -> None:
    orchestrator = bench.orchestrator
    run_id = orchestrator.start(RunRequest("Summarize missing/nowhere.md"), outcome_rules=LEGACY_RULES)
    old = orchestrator.advance(run_id)
    assert (old.status, old.outcome_rules) == ("completed", LEGACY_RULES)  # what rules 1 said
    assert bench.verify(run_id).identical

    whatif = bench.whatif(run_id, Overrides())
    assert (whatif.state.status, whatif.state.outcome_rules) == ("failed", CURRENT_RULES)
    assert whatif.diff.verdict == "unchanged", whatif.diff.reasons  # both judged by rules 2: no regression
    assert any("under outcome rules 1" in note for note in whatif.diff.notes)


def test_run_started_before_outcome_rules_were_recorded_reads_as_rules_1(sqlite_url: str) -> None:
    store = open_store(sqlite_url)
    payload = ev.RunStarted(
        goal="g",
        max_steps=3,
        budget_usd=0.5,
        planner=ev.PlannerInfo(provider="offline", model="m", prompt_sha="p"),
        policy_sha="s",
    ).to_payload()
    payload.pop("outcome_rules")
    assert ev.decode_payload("RunStarted", 2, payload).outcome_rules == 1  # type: ignore[attr-defined]
    assert ev.decode_payload("RunStarted", 3, {**payload, "outcome_rules": 2}).outcome_rules == 2  # type: ignore[attr-defined]
    assert ev.RunStarted.VERSION == 3 and ev.RunStarted.model_fields["outcome_rules"].default == CURRENT_RULES
    store.close()


def test_orchestrator_writes_the_current_rules(bench: Workbench) -> None:
    assert isinstance(bench.orchestrator, Orchestrator)
    state = bench.run(RunRequest("Summarize notes.txt"))
    started = bench.run_events(state.run_id)[0]
    assert (started.version, started.event.outcome_rules) == (3, CURRENT_RULES)  # type: ignore[attr-defined]
