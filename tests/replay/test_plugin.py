"""The pytest plugin, run through ``pytester``: recordings verify, a changed prompt fails readably, a miss is named.

The recordings are written by ``python -m agent_core record`` (the CLI is part of what is tested);
the project's own recordings (``tests/fixtures/agent-recordings``) are verified by the plugin in
every full run (``agent_recordings`` in pyproject.toml).
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from agent_core.cli import main
from agent_core.orchestrator import RunRequest
from agent_core.workbench import Workbench
from tests.fake_llm import OPENAI_PATH, FakeLLMServer, openai_reply
from tests.replay.conftest import READ_GOAL, make_settings

ROOT = Path(__file__).resolve().parents[2]
PROJECT_RECORDINGS = ROOT / "tests" / "fixtures" / "agent-recordings"
OFFLINE = PROJECT_RECORDINGS / "7d8f2390e7064208aedad79b297c8679"  # offline: read, summarize, write


def inner(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    """An in-process pytest run with the plugin (playwright's plugin cannot nest inside this run)."""
    return pytester.runpytest("-p", "agent_core.testing", "-p", "no:playwright", *args)


def record(url: str, run_id: str, to: Path) -> Path:
    out, err = io.StringIO(), io.StringIO()
    assert main(["record", run_id, "--to", str(to), "--db", url], out, err) == 0, err.getvalue()
    return to / run_id


@pytest.fixture
def recorded(tmp_path: Path, workspace: Path) -> Path:
    """A fresh offline run of READ_GOAL, recorded with the CLI."""
    url = f"sqlite:///{tmp_path / 'runs.db'}"
    bench = Workbench.open(make_settings(url, workspace))
    try:
        state = bench.run(RunRequest(READ_GOAL))
    finally:
        bench.close()
    folder = record(url, state.run_id, tmp_path / "recordings")
    assert sorted(p.name for p in folder.iterdir()) == ["policy.yaml", "recording.json", "run.jsonl"]
    return folder


def test_recordings_in_a_folder_verify_as_tests(pytester: pytest.Pytester, recorded: Path) -> None:
    result = inner(pytester, "--agent-recordings", str(recorded.parent), "-v")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines([f"*agent-recording?{recorded.name}? PASSED*"])


def test_the_projects_own_recordings_verify(pytester: pytest.Pytester) -> None:
    result = inner(pytester, "--agent-recordings", str(PROJECT_RECORDINGS))
    result.assert_outcomes(passed=5)


def test_a_changed_prompt_fails_the_recording_with_a_readable_diff(
    pytester: pytest.Pytester, recorded: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from agent_core.planning import prompt

    original = prompt._system_prompt
    monkeypatch.setattr(prompt, "_system_prompt", lambda *a: original(*a) + "\nAlways write a report.")

    result = inner(pytester, "--agent-recordings", str(recorded.parent))

    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            f"*recording {recorded} does not verify:*",
            "*DIVERGED at event 0: RunStarted differs in planner*",
            "*recorded (-) against re-executed (+)*",
            '*-*"prompt_sha": "*',
            '*+*"prompt_sha": "*',
        ]
    )


def test_the_whatif_fixture_returns_the_verdict_and_fails_on_a_changed_prompt(
    pytester: pytest.Pytester, recorded: Path
) -> None:
    pytester.makepyfile(
        f"""
        def test_same(agent_whatif):
            result = agent_whatif({str(recorded)!r})
            assert (result.verdict, result.actions, result.same_actions) == ("unchanged", "same", True)

        def test_policy(agent_whatif):
            result = agent_whatif({str(recorded)!r}, policy={str(ROOT / "policies" / "strict.yaml")!r})
            assert result.verdict == "unchanged"

        def test_new_prompt(agent_whatif):
            agent_whatif({str(recorded)!r}, system_prompt="You plan. Be brief.")
        """
    )
    result = inner(pytester)
    result.assert_outcomes(passed=2, failed=1)
    result.stdout.fnmatch_lines(
        [
            "*met calls absent from the recording:*",
            "*planner request absent from the recording: offline/offline-rules-v*, system prompt sha * its system "
            "prompt differs from the recorded one:*",
            "*+You plan. Be brief.*",
        ]
    )


PLAN = {
    "steps": [
        {
            "id": "step_1",
            "objective": "Read the safety notes.",
            "tool": "read_file",
            "input": {"path": "tool-safety.md"},
            "success_criteria": "Read.",
        }
    ]
}


def test_a_tool_call_absent_from_the_recording_fails_naming_it(
    pytester: pytest.Pytester, recorded: Path, fake_llm: FakeLLMServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_BASE_URL", fake_llm.openai_base_url)
    fake_llm.default(OPENAI_PATH, openai_reply(json.dumps(PLAN)))
    pytester.makepyfile(
        f"""
        def test_other_model(agent_whatif):
            agent_whatif({str(recorded)!r}, provider="openai", model="gpt-4.1-mini", live_llm=True)
        """
    )
    result = inner(pytester)
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(['*tool call absent from the recording: step_1 read_file {"path": "tool-safety.md"}*'])
    assert len(fake_llm.requests_to(OPENAI_PATH)) == 1  # the model was asked (live_llm); the tool never ran


def test_the_entry_point_is_declared() -> None:
    text = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    assert "[project.entry-points.pytest11]\n" in text
    assert '"agent_core.testing" = "agent_core.testing"' in text
