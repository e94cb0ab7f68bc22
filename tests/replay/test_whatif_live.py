"""what-if with live tools does not copy the world: it reads the real workspace and writes to an empty scratch
folder above it, so the replay holds only what it wrote and the real workspace is never changed."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from agent_core.orchestrator import RunRequest
from agent_core.replay import Overrides
from agent_core.workbench import Workbench
from tests.runtime.conftest import make_settings
from tests.workspaces import generate


def _listing(root: Path) -> dict[str, tuple[int, int]]:
    return {str(p.relative_to(root)): (p.stat().st_mtime_ns, p.stat().st_size) for p in sorted(root.rglob("*"))}


def _observations(bench: Workbench, run_id: str) -> list[tuple[str, dict[str, Any]]]:
    state = bench.run_state(run_id)
    return [(s.tool, {k: v for k, v in (s.result or {}).items() if k != "output"}) for s in state.steps]


@pytest.fixture
def big(tmp_path: Path, database_url: str) -> Workbench:
    generate(tmp_path / "ws", documents=150)
    (tmp_path / "ws" / "notes.txt").write_text("Notes about the ledger and its replay.\n")
    bench = Workbench.open(make_settings(database_url, tmp_path / "ws"))
    yield bench
    bench.close()


def test_a_live_replay_reads_the_real_workspace_and_writes_only_to_its_scratch_layer(big: Workbench) -> None:
    workspace = big.settings.agent_workspace
    original = big.run(RunRequest("Read notes.txt and search for ledger replay"))
    assert original.status == "completed", original.failure_reason
    before = _listing(workspace)

    result = big.whatif(original.run_id, Overrides(tools="live"))

    assert result.state.status == "completed" and result.diff.verdict == "unchanged", result.diff.reasons
    assert _observations(big, result.replay_id) == _observations(big, original.run_id)  # same search, same results
    scratch = Path(result.state.overrides["workspace"])
    assert result.state.overrides["read_through"] == str(workspace.resolve())
    assert not scratch.parent.exists()  # a finished replay's scratch folder is removed
    assert _listing(workspace) == before  # the real workspace was read, never written


def test_an_overwrite_sees_the_file_below_and_lands_above(big: Workbench, tmp_path: Path) -> None:
    workspace = big.settings.agent_workspace
    held = big.run(RunRequest("Summarize notes.txt and save the summary to notes.txt"))
    assert held.pending_approval is not None and held.pending_approval.rule == "no_overwrite"
    big.approve(held.run_id, "step_3", by="alice")
    assert big.advance(held.run_id).status == "completed"
    notes = (workspace / "notes.txt").read_bytes()
    (workspace / "notes.txt").write_bytes(b"Notes about the ledger and its replay.\n")  # back to what was read
    before = _listing(workspace)

    result = big.whatif(held.run_id, Overrides(tools="live"))

    step = result.state.step("step_3")
    assert step is not None and step.decision == "granted" and step.decided_by == "alice"  # held again, as before
    assert step.result is not None and step.result["created"] is False  # it overwrote: the file was there below
    assert _listing(workspace) == before and notes != (workspace / "notes.txt").read_bytes()


def test_a_replay_waiting_for_a_person_keeps_its_layer_until_continued(big: Workbench, tmp_path: Path) -> None:
    strict = Path(__file__).resolve().parents[2] / "policies" / "strict.yaml"
    original = big.run(RunRequest("Summarize notes.txt and save the summary to out/summary.md"))
    assert original.status == "completed", original.failure_reason
    (big.settings.agent_workspace / "out" / "summary.md").unlink()
    (big.settings.agent_workspace / "out").rmdir()

    waiting = big.whatif(original.run_id, Overrides(policy_path=strict, tools="live"))
    assert waiting.state.status == "waiting_approval"
    scratch = Path(waiting.state.overrides["workspace"])
    assert sorted(p.name for p in scratch.rglob("*")) == []  # nothing copied up front

    big.approve(waiting.replay_id, "step_3", by="bob")
    done = big.advance(waiting.replay_id)
    assert done.status == "completed"
    assert not (big.settings.agent_workspace / "out").exists()
