"""The CLI contract: commands, --json, exit codes 0/1/2, one-line errors, nothing written on bad input."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import text

from agent_core.cli import main
from agent_core.projections import open_store
from tests.runtime.conftest import DEFAULT_POLICY, DEMO_GOAL, ROOT, SAVE_GOAL


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


def test_run_prints_progress_then_the_outcome(cli_env: str) -> None:
    code, out, _ = cli("run", DEMO_GOAL, "--db", cli_env)
    assert code == 0
    lines = out.splitlines()
    assert "RunStarted" in lines[0] and "PlanGenerated" in out and "3 steps: web_search, summarize, write_file" in out
    assert lines[-1].endswith(": completed")


def test_run_json_is_one_document_on_stdout(cli_env: str) -> None:
    code, out, err = cli("run", "Summarize notes.txt", "--db", cli_env, "--json")
    assert code == 0 and "RunStarted" in err  # progress goes to stderr with --json
    document = json.loads(out)
    assert document["status"] == "completed" and [s["outcome"] for s in document["steps"]] == ["succeeded"] * 2
    code, out, _ = cli("runs", "--db", cli_env, "--json")
    assert code == 0 and json.loads(out)[0]["run_id"] == document["run_id"]
    code, out, _ = cli("events", document["run_id"][:8], "--db", cli_env, "--json")
    assert code == 0 and [e["seq"] for e in json.loads(out)] == list(range(1, document["events"] + 1))


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["run", ""], "goal is empty"),
        (["run", "x" * 4001], "4000"),
        (["run", "ok", "--max-steps", "0"], "between 1 and 10"),
        (["run", "ok", "--max-steps", "11"], "between 1 and 10"),
        (["run", "ok", "--budget", "0.001"], "budget"),
        (["run", "ok", "--budget", "5.5"], "budget"),
        (["run", "ok", "--max-steps", "three"], "invalid int"),
        (["events", "no-such-run"], "no run 'no-such-run'"),
        (["approve", "no-such-run", "step_1"], "no run"),
        (["frobnicate"], "invalid choice"),
    ],
)
def test_bad_input_exits_2_with_one_line_and_writes_nothing(cli_env: str, argv: list[str], needle: str) -> None:
    open_store(cli_env).close()  # the store exists: the input, not the store, is what is wrong
    code, out, err = cli(*argv, "--db", cli_env) if argv[0] != "frobnicate" else cli(*argv)
    assert code == 2, (out, err)
    assert needle in err and len(err.strip().splitlines()) == 1
    assert open_store(cli_env).count_runs() == 0


def test_approval_flow_from_the_cli(cli_env: str) -> None:
    assert cli("run", SAVE_GOAL, "--db", cli_env)[0] == 0
    code, out, _ = cli("run", SAVE_GOAL, "--db", cli_env, "--json")
    waiting = json.loads(out)
    assert code == 0 and waiting["status"] == "waiting_approval" and waiting["pending_step"] == "step_3"
    code, out, _ = cli("approve", waiting["run_id"], "step_3", "--comment", "ok", "--db", cli_env)
    assert code == 0 and "ApprovalGranted" in out and out.splitlines()[-1].endswith(": completed")
    code, _, err = cli("approve", waiting["run_id"], "step_3", "--db", cli_env)
    assert code == 2 and "already granted" in err


def test_verify_log_names_the_first_tampered_event(cli_env: str) -> None:
    code, out, _ = cli("run", "Summarize notes.txt", "--db", cli_env, "--json")
    run_id = json.loads(out)["run_id"]
    assert cli("verify-log", "--db", cli_env)[0:2] == (0, "ok: the hash chain of every run verifies\n")
    store = open_store(cli_env)
    with store._write.begin() as conn:
        conn.execute(text("DROP TRIGGER events_no_update"))
        conn.execute(text("UPDATE events SET actor = 'human' WHERE run_id = :r AND seq = 4"), {"r": run_id})
    code, out, _ = cli("verify-log", run_id, "--db", cli_env)
    assert code == 1 and f"run {run_id} seq 4" in out


def test_export_then_import_round_trips_and_refuses_an_existing_run(cli_env: str, tmp_path: Path) -> None:
    code, out, _ = cli("run", "Summarize notes.txt", "--db", cli_env, "--json")
    run_id = json.loads(out)["run_id"]
    code, exported, _ = cli("export", run_id, "--db", cli_env)
    assert code == 0 and len(exported.splitlines()) == json.loads(out)["events"]
    dump = tmp_path / "run.jsonl"
    dump.write_text(exported)
    other = f"sqlite:///{tmp_path / 'other.db'}"
    assert cli("import", str(dump), "--db", other)[0] == 0
    assert cli("export", run_id, "--db", other)[1] == exported  # same events, same hashes
    code, _, err = cli("import", str(dump), "--db", other)
    assert code == 2 and "already exists" in err
    dump.write_text(exported.replace("notes.txt", "other.txt", 1))
    code, _, err = cli("import", str(dump), "--db", f"sqlite:///{tmp_path / 'third.db'}")
    assert code == 2 and "altered after export" in err


def test_module_entry_point_runs_in_a_fresh_process(cli_env: str) -> None:
    open_store(cli_env).close()  # an empty store ('runs' on a missing one exits 2: it never creates one)
    done = subprocess.run(
        [sys.executable, "-m", "agent_core", "runs", "--db", cli_env],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0 and "no runs yet" in done.stdout


def test_cancelling_a_held_run_prints_no_stale_approval_prompt(cli_env: str) -> None:
    assert cli("run", SAVE_GOAL, "--db", cli_env)[0] == 0
    code, out, _ = cli("run", SAVE_GOAL, "--db", cli_env)
    run_id = out.splitlines()[-2].split()[1].rstrip(":")  # "run ID: waiting_approval", then the approve hint
    assert "waiting: approve with" in out
    code, out, _ = cli("cancel", run_id, "--db", cli_env)
    assert code == 0 and out.splitlines() == [f"run {run_id}: cancelled — cancelled by cli"]
    code, out, _ = cli("runs", "--db", cli_env, "--json")
    assert next(r for r in json.loads(out) if r["run_id"] == run_id)["pending_step"] is None
