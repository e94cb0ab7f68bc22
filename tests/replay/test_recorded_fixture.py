"""Runs recorded before the refactor still verify *identical* with the current code.

``tests/fixtures/recordings/*.jsonl`` are runs exported with the code of the commit that added
them (see ``make_recordings.py`` there: an offline run, an OpenAI and an Anthropic run through the
real SDKs, a run held by the strict policy and approved, a run SIGKILLed inside a tool and
resumed). Each is imported into a fresh store and verified through the command line only
(``import``, then ``replay RUN_ID --mode verify --json``), because modules will move: this test
must keep working without any ``agent_core`` submodule import.

Verify needs nothing but the log: the recorded plan and tool results are served from it and the
workspace is a shadow rebuilt from the recorded file list. The one outside input is the policy
file, recorded by the relative path ``policies/<name>.yaml``; the fixture keeps a byte copy of
those files, and the CLI runs in a folder holding that copy, so the recorded policy sha matches.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
RECORDINGS = ROOT / "tests" / "fixtures" / "recordings"
FILES = sorted(RECORDINGS.glob("*.jsonl"))
EXPECTED_FILES = {
    "offline-summary.jsonl",
    "openai-llm-summary.jsonl",
    "anthropic-llm-summary.jsonl",
    "approval-strict.jsonl",
    "crash-resume.jsonl",
}


def agent_core(cwd: Path, *argv: str) -> subprocess.CompletedProcess[str]:
    """``python -m agent_core ARGV`` in ``cwd`` with this checkout on the path (no .env, no key from the shell)."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    return subprocess.run(
        [sys.executable, "-m", "agent_core", *argv], cwd=cwd, env=env, capture_output=True, text=True, timeout=120
    )


def test_the_fixture_holds_every_recorded_run() -> None:
    assert {f.name for f in FILES} == EXPECTED_FILES
    assert sum(f.stat().st_size for f in RECORDINGS.rglob("*") if f.is_file()) < 200_000


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'imported.db'}"
    return str(request.getfixturevalue("pg_schema_url"))


@pytest.mark.parametrize("recording", FILES, ids=[f.stem for f in FILES])
def test_recorded_run_verifies_identical(recording: Path, db_url: str, tmp_path: Path) -> None:
    lines = [json.loads(line) for line in recording.read_text(encoding="utf-8").splitlines() if line.strip()]
    run_id = lines[0]["run_id"]
    cwd = tmp_path / "cwd"
    shutil.copytree(RECORDINGS / "policies", cwd / "policies")  # the recorded relative policy_path resolves here

    imported = agent_core(cwd, "import", str(recording), "--db", db_url)
    assert imported.returncode == 0, imported.stderr
    assert imported.stdout.strip() == f"imported run {run_id}"

    verified = agent_core(cwd, "replay", run_id, "--mode", "verify", "--db", db_url, "--json")
    document = json.loads(verified.stdout)
    assert document["status"] == "identical", json.dumps(document, indent=2)
    assert verified.returncode == 0, verified.stderr
    assert document["run_id"] == run_id and document["index"] is None
    # Every recorded event was compared, except an interrupted attempt (its intent and StepInterrupted).
    interrupted = sum(1 for line in lines if line["type"] == "StepInterrupted")
    assert document["compared"] == len(lines) - 2 * interrupted
    assert not [note for note in document["notes"] if "policy" in note], document["notes"]  # the recorded policy
