"""Arms: three what-ifs of one recording (two providers via the local fake LLM, one prompt), the matrix, the judge."""

from __future__ import annotations

import io
import json
from pathlib import Path

from agent_core import events as ev
from agent_core.cli import main
from agent_core.orchestrator import RunRequest
from agent_core.replay.judge import judge_offline
from agent_core.workbench import Workbench
from tests.fake_llm import ANTHROPIC_PATH, OPENAI_PATH, FakeLLMServer, anthropic_tool_reply, openai_reply
from tests.replay.conftest import READ_GOAL, make_settings

JUDGED = {
    "criteria": [
        {"criterion": "goal", "met": True, "note": "summarized"},
        {"criterion": "step_1", "met": True, "note": "read"},
        {"criterion": "step_2", "met": False, "note": "too long"},
    ],
    "reasons": ["the summary is faithful but long"],
}


def test_three_arms_give_a_matrix_and_a_judge_event_each(
    database_url: str, workspace: Path, tmp_path: Path, fake_llm: FakeLLMServer
) -> None:
    settings = make_settings(
        database_url,
        workspace,
        OPENAI_BASE_URL=fake_llm.openai_base_url,
        ANTHROPIC_BASE_URL=fake_llm.anthropic_base_url,
        ANTHROPIC_API_KEY="test-key",
    )
    bench = Workbench.open(settings)
    try:
        original = bench.run(RunRequest(READ_GOAL))  # offline: read notes.txt, summarize
        assert original.plan is not None
        same_calls = original.plan.model_dump(mode="json")
        for step in same_calls["steps"]:
            step["objective"] += " (in other words)"
        other_file = json.loads(json.dumps(same_calls))
        other_file["steps"][0]["input"] = {"path": "tool-safety.md"}
        fake_llm.script(OPENAI_PATH, openai_reply(json.dumps(same_calls)))
        fake_llm.script(ANTHROPIC_PATH, anthropic_tool_reply(other_file))
        prompt = tmp_path / "v2.txt"
        prompt.write_text("You plan carefully. Use as few steps as you can.", encoding="utf-8")
        bench.settings = settings.model_copy(update={"agent_planner": "openai"})  # the LLM judge's provider
        fake_llm.default(OPENAI_PATH, openai_reply(json.dumps(JUDGED)))

        report = bench.compare_arms(
            original.run_id,
            ["openai:gpt-4.1-mini", "anthropic:claude-sonnet-4-6", f"prompt={prompt}"],
            judge="llm",
        )

        rows = {r.arm.split(":")[0].split("=")[0]: r for r in report.results}
        assert [r.arm for r in report.results][:2] == ["openai:gpt-4.1-mini", "anthropic:claude-sonnet-4-6"]
        openai, anthropic, prompted = rows["openai"], rows["anthropic"], rows["prompt"]
        # the same tool calls in other words; it costs money where the offline original cost nothing
        assert (openai.diff.verdict, openai.diff.actions) == ("regression", "same_actions_different_words")
        assert [r for r in openai.diff.reasons if not r.startswith("cost rose")] == []
        assert (anthropic.diff.verdict, anthropic.diff.actions) == ("regression", "different_actions")
        assert (prompted.diff.verdict, prompted.diff.actions) == ("unchanged", "same")
        assert openai.plan_changes == 2 and anthropic.plan_changes == 2 and prompted.plan_changes == 0
        assert openai.diff.tokens[1] > 0 and prompted.diff.tokens[1] == 0
        for row in report.results:
            replay = bench.run_state(row.replay_id)
            assert replay.replay_of == original.run_id and replay.verdict == row.diff.verdict
            [judged] = [e.event for e in bench.run_events(row.replay_id) if isinstance(e.event, ev.ResponseJudged)]
            assert (judged.judge, judged.score, row.score) == ("openai", 0.6667, 0.6667)
            assert judged.reasons == ["the summary is faithful but long"]
        assert report.table()[0].split()[:3] == ["arm", "verdict", "actions"]
        assert bench.run_state(prompted.replay_id).overrides["system_prompt"].startswith("You plan carefully")
        judge_requests = [r for r in fake_llm.requests_to(OPENAI_PATH) if "strict evaluator" in json.dumps(r.body)]
        assert len(judge_requests) == 3
    finally:
        bench.close()


def test_the_offline_judge_is_deterministic_and_the_cli_prints_one_object_per_arm(bench: Workbench) -> None:
    original = bench.run(RunRequest(READ_GOAL))
    first, second = judge_offline(original), judge_offline(original)
    assert first == second and first.judge == "offline" and first.score == 1.0
    assert [c.criterion.split(":")[0] for c in first.criteria] == ["goal", "step_1", "step_2"]

    out, err = io.StringIO(), io.StringIO()
    code = main(
        [
            "replay",
            original.run_id,
            "--arm",
            "offline",
            "--judge",
            "offline",
            "--json",
            "--db",
            bench.settings.database_url,
        ],
        out,
        err,
    )
    assert code == 0, err.getvalue()
    document = json.loads(out.getvalue())
    [arm] = document["arms"]
    assert (arm["arm"], arm["verdict"], arm["actions"], arm["score"], arm["judge"]) == (
        "offline",
        "unchanged",
        "same",
        1.0,
        "offline",
    )
    assert set(arm) >= {"steps_ok", "cost_usd", "tokens", "latency_ms", "plan_changes"}

    out = io.StringIO()
    assert main(["replay", "--all", "--arm", "offline", "--db", bench.settings.database_url], out, err) == 0
    assert "offline: 0 win, 1 tie, 0 loss" in out.getvalue()
    code = main(["replay", original.run_id, "--arm", "nope:x", "--db", bench.settings.database_url], out, err)
    assert code == 2 and "unknown provider 'nope'" in err.getvalue()
