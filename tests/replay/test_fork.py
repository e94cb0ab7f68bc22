"""fork: a new run inherits a recorded run's prefix byte for byte and continues live from a step."""

from __future__ import annotations

import io
import json
from pathlib import Path

from agent_core import events as ev
from agent_core.cli import main
from agent_core.orchestrator import RunRequest
from agent_core.replay import Overrides
from agent_core.workbench import Workbench
from tests.fake_llm import OPENAI_PATH, FakeLLMServer, openai_reply
from tests.replay.conftest import READ_GOAL, make_settings, run_goal


def _payloads(bench: Workbench, run_id: str) -> list[tuple[str, int, str, dict[str, object]]]:
    return [(e.type, e.version, e.actor, e.payload) for e in bench.store.read_run(run_id)]


def test_a_fork_inherits_the_prefix_byte_for_byte_and_runs_the_rest_live(bench: Workbench) -> None:
    original_id = run_goal(bench)  # web_search, summarize, write_file

    result = bench.fork(original_id, "step_3")

    fork = bench.run_state(result.fork_id)
    started = bench.run_events(result.fork_id)[0].event
    assert isinstance(started, ev.RunStarted) and started.forked_from is not None
    assert (started.forked_from.run_id, started.forked_from.step_id) == (original_id, "step_3")
    # the plan and steps 1-2 (decisions, intents, observations) are the original's events, byte for byte
    original, forked = _payloads(bench, original_id), _payloads(bench, result.fork_id)
    assert result.inherited == started.forked_from.inherited == 9
    assert forked[1 : 1 + result.inherited] == original[1 : 1 + result.inherited]
    # step_3 runs live under the same write rules as any run: the original's report exists, so it is held
    assert [t for t, *_ in forked[1 + result.inherited :]] == ["ApprovalRequested"]
    assert forked[1 + result.inherited][3]["step_id"] == "step_3"
    assert fork.status == "waiting_approval" and result.diff is None
    written = next(bench.settings.agent_workspace.glob("reports/*.md"))
    before = written.read_bytes()
    assert bench.lineage(original_id).children[0].run.verdict is None

    bench.approve(result.fork_id, "step_3")
    fork = bench.advance(result.fork_id)
    # the fold knows the inherited steps; only step_3 ran again
    assert fork.status == "completed" and fork.count("succeeded") == 3
    own = bench.run_events(result.fork_id)[1 + result.inherited :]
    assert [e.event.step_id for e in own if isinstance(e.event, ev.ToolExecuted)] == ["step_3"]
    assert written.read_bytes() == before  # the offline summary is deterministic: same bytes
    # the verdict is recorded once the fork stops; the diff starts at the fork point
    assert fork.verdict == "unchanged"
    diff = bench.diff(original_id, result.fork_id)
    assert [r.key for r in diff.rows] == ["step_3"]
    assert any("compared from the fork point" in n for n in diff.notes)
    # a run that is not a fork still writes no forked_from key at all
    assert "forked_from" not in original[0][3]


def test_an_edited_input_reaches_the_tool(bench: Workbench) -> None:
    original_id = run_goal(bench, READ_GOAL)  # read_file notes.txt, summarize

    result = bench.fork(original_id, "step_1", input={"path": "tool-safety.md"})

    intents = [e.event for e in bench.run_events(result.fork_id) if isinstance(e.event, ev.ToolExecuted)]
    assert intents[0].step_id == "step_1" and intents[0].input == {"path": "tool-safety.md"}
    observed = bench.run_state(result.fork_id).step("step_1")
    assert observed is not None and observed.result and "Tool safety" in observed.result["output"]
    [row] = [r for r in result.diff.rows if r.key == "step_1"]  # type: ignore[union-attr]
    assert row.plan_change == "changed: input"
    # the recorded plan event is the original's; the fold puts the edit into the plan
    plans = [e.event for e in bench.run_events(result.fork_id) if isinstance(e.event, ev.PlanGenerated)]
    assert plans[0].plan.steps[0].input == {"path": "notes.txt"}
    assert bench.run_state(result.fork_id).plan.steps[0].input == {"path": "tool-safety.md"}  # type: ignore[union-attr]


def test_a_fork_of_a_fork_and_the_lineage_tree(bench: Workbench) -> None:
    original_id = run_goal(bench, READ_GOAL)
    first = bench.fork(original_id, "step_1", input={"path": "event-sourcing.md"})
    replay = bench.whatif(original_id, Overrides())

    second = bench.fork(first.fork_id, "step_2")

    state = bench.run_state(second.fork_id)
    assert state.forked_from is not None and state.forked_from.run_id == first.fork_id
    # the parent's edit of the inherited step travels with the prefix: nothing before the fork point differs
    assert state.forked_from.inputs == {"step_1": {"path": "event-sourcing.md"}}
    assert [r.key for r in second.diff.rows] == ["step_2"]  # type: ignore[union-attr]
    tree = bench.lineage(second.fork_id)
    assert tree.run.run_id == original_id and tree.kind == "original"
    shown = [(depth, node.kind, node.run.run_id) for depth, node in tree.walk()]
    assert shown == [
        (0, "original", original_id),
        (1, "fork", first.fork_id),
        (2, "fork", second.fork_id),
        (1, "whatif", replay.replay_id),
    ]
    assert all(node.run.verdict for _, node in tree.walk()[1:])
    assert bench.run_summary(first.fork_id).forked_from == original_id
    assert bench.run_summary(first.fork_id).replay_of is None
    refused = bench.verify(first.fork_id)
    assert refused.status == "error" and "verify the run it was forked from" in refused.why


NEW_PLAN = {
    "steps": [
        {
            "id": "step_1",
            "objective": "Read the safety notes too.",
            "tool": "read_file",
            "input": {"path": "tool-safety.md"},
            "success_criteria": "The text is read.",
        },
        {
            "id": "step_2",
            "objective": "Summarize it.",
            "tool": "summarize",
            "input": {"from_steps": ["step_1"]},
            "success_criteria": "A summary.",
        },
    ]
}
READ_ONLY = {
    "steps": [
        {
            "id": "step_1",
            "objective": "Read the notes.",
            "tool": "read_file",
            "input": {"path": "notes.txt"},
            "success_criteria": "The notes are read.",
        },
        {
            "id": "step_2",
            "objective": "Read the cost notes.",
            "tool": "read_file",
            "input": {"path": "llm-cost-control.md"},
            "success_criteria": "Read.",
        },
    ]
}


def test_replan_asks_the_planner_for_the_rest_given_the_observations(
    database_url: str, workspace: Path, fake_llm: FakeLLMServer
) -> None:
    settings = make_settings(database_url, workspace, AGENT_PLANNER="openai", OPENAI_BASE_URL=fake_llm.openai_base_url)
    fake_llm.script(OPENAI_PATH, openai_reply(json.dumps(READ_ONLY)), openai_reply(json.dumps(NEW_PLAN)))
    fake_llm.default(OPENAI_PATH, openai_reply("A short summary."))  # the summarize tool's LLM call
    bench = Workbench.open(settings)
    try:
        original = bench.run(RunRequest(READ_GOAL))
        assert original.status == "completed"

        result = bench.fork(original.run_id, "step_2", replan=True)
        events = bench.run_events(result.fork_id)
        state = bench.run_state(result.fork_id)
    finally:
        bench.close()

    asked = fake_llm.requests_to(OPENAI_PATH)[1].body["messages"][1]["content"]
    assert "Steps already done" in asked and "step_1 read_file" in asked and "succeeded:" in asked
    plans = [e.event for e in events if isinstance(e.event, ev.PlanGenerated)]
    assert len(plans) == 2  # the inherited plan, then the new one: inherited steps first, new ones renumbered
    assert [(s.id, s.tool) for s in plans[1].plan.steps] == [
        ("step_1", "read_file"),
        ("step_2", "read_file"),
        ("step_3", "summarize"),
    ]
    assert plans[1].plan.steps[2].input == {"from_steps": ["step_2"]}
    assert state.status == "completed" and state.forked_from is not None and state.forked_from.replan
    ran = [e.event.input for e in events if isinstance(e.event, ev.ToolExecuted)]
    assert ran[0] == {"path": "notes.txt"}  # inherited
    assert ran[1] == {"path": "tool-safety.md"}  # the new plan, live
    assert state.count("succeeded") == 3


def test_the_cli_forks_and_says_why_it_cannot(bench: Workbench) -> None:
    original_id = run_goal(bench, READ_GOAL)
    url = bench.settings.database_url

    def cli(*argv: str) -> tuple[int, str, str]:
        out, err = io.StringIO(), io.StringIO()
        code = main([*argv, "--db", url], out, err)
        return code, out.getvalue(), err.getvalue()

    code, out, _ = cli("fork", original_id[:8], "--at", "step_1", "--input", '{"path": "notes.txt"}', "--json")
    document = json.loads(out)
    assert code == 0 and document["status"] == "completed"
    assert document["forked_from"] == {"run_id": original_id, "step_id": "step_1"}
    assert document["verdict"] == "unchanged"

    code, _, err = cli("fork", original_id, "--at", "step_9")
    assert code == 2 and "has no step 'step_9'; fork at one of step_1, step_2" in err
    code, _, err = cli("fork", original_id, "--at", "step_1", "--input", "[1]")
    assert code == 2 and "--input must be a JSON object" in err
    code, _, err = cli("fork", original_id, "--at", "step_1", "--input", "{nope")
    assert code == 2 and "--input is not JSON" in err


def test_a_fork_is_stored_with_its_inherited_prefix_in_one_transaction(bench: Workbench) -> None:
    """No reader (nor a crash) ever sees a fork's RunStarted without the steps it says it inherits."""
    from agent_core.replay import fork

    original_id = run_goal(bench, READ_GOAL)
    appends: list[int] = []
    result = fork(bench.store, bench.settings, original_id, "step_2", on_append=lambda _run, seq: appends.append(seq))

    assert result.inherited > 0
    assert appends[0] == 1 + result.inherited  # the first commit holds RunStarted and the whole prefix
