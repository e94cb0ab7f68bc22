"""Redaction never changes what the agent acts on: ordinary names run as planned, a step whose input holds a
secret is refused by the ``no_secrets`` rule, and recorded runs verify identical under the new redaction and
the new shipped policies. SQLite and PostgreSQL alike."""

from __future__ import annotations

import base64
import json
import re
import shutil
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agent_core import events as ev
from agent_core.jsontext import canonical_json
from agent_core.orchestrator import RunRequest
from agent_core.plan import PlanStep
from agent_core.policy import RULE_KINDS, NoParams, Policy, PolicyContext
from agent_core.projections import open_store
from agent_core.redaction import Redactor
from agent_core.replay import verify
from agent_core.transfer import import_lines
from agent_core.workbench import Workbench
from tests.fake_llm import OPENAI_PATH, FakeLLMServer, openai_reply
from tests.runtime.conftest import DEFAULT_POLICY, ROOT, STRICT_POLICY, make_settings
from tests.store.test_redaction_properties import leaks, ordinary

GITHUB_TOKEN = "ghp_" + "R2d2C3po" * 4 + "BB8x"
SERVICE_TOKEN = "svc-7f3a9c1e5b-Quartz"
ORDINARY_CONTENT = "See desk-reference-for-on-call-engineers; data QUJD+BSAbcdefghijklmnopqrstuvwxyz0123/4=="
RECORDINGS = ROOT / "tests" / "fixtures" / "recordings"


def step(step_id: str, tool: str, **input: Any) -> dict[str, Any]:
    return {"id": step_id, "objective": f"do {step_id}", "tool": tool, "input": input, "success_criteria": "done"}


def planned_run(fake_llm: FakeLLMServer, bench: Workbench, *steps: dict[str, Any]) -> str:
    """Run a goal whose plan is exactly ``steps``, answered by a local OpenAI-compatible server."""
    fake_llm.script(OPENAI_PATH, openai_reply(json.dumps({"steps": list(steps)}), usage=(900, 400)))
    return bench.run(RunRequest("Copy the notes as planned")).run_id


@pytest.fixture
def llm_settings(fake_llm: FakeLLMServer, database_url: str, workspace: Path) -> Any:
    (workspace / "risk-management-strategies.md").write_text("Hedge early.\n", encoding="utf-8")
    basic = base64.b64encode(f"svc:{SERVICE_TOKEN}".encode()).decode()
    (workspace / "service-notes.md").write_text(
        f"token: {SERVICE_TOKEN}\nAuthorization: Basic {basic}\n", encoding="utf-8"
    )
    return make_settings(
        database_url,
        workspace,
        AGENT_PLANNER="openai",
        OPENAI_API_KEY="test-key-0123456789",
        OPENAI_BASE_URL=fake_llm.openai_base_url,
        AGENT_MODEL="gpt-4.1-mini",
    )


@pytest.fixture
def llm_bench(llm_settings: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv("MY_SERVICE_TOKEN", SERVICE_TOKEN)  # before the store reads the environment
    bench = Workbench.open(llm_settings)
    yield bench
    bench.close()


# --- the guard rule ---------------------------------------------------------------------------------


def check(input: dict[str, Any]) -> str | None:
    plan_step = PlanStep(id="s1", objective="o", tool="write_file", input=input, success_criteria="c")
    context = PolicyContext(Path("."), None, tool_calls_so_far=0, spent_usd=0.0, budget_usd=1.0)
    return RULE_KINDS["no_secrets"].check(NoParams(), plan_step, context)


def test_the_rule_is_declared_for_every_tool_and_shipped_in_both_policies() -> None:
    assert RULE_KINDS["no_secrets"].scope == "all" and RULE_KINDS["no_secrets"].effect == "reject"
    for path in (DEFAULT_POLICY, STRICT_POLICY):
        rule = next(r for r in Policy.load(path).rules if r.name == "no_secrets")
        assert (rule.applies_to, rule.effect) == ("all tools", "reject")


@given(values=st.dictionaries(st.sampled_from(["path", "content", "query", "text"]), ordinary, max_size=4))
@settings(max_examples=200)
def test_the_rule_lets_ordinary_input_through(values: dict[str, str]) -> None:
    assert check(values) is None


@given(leak=leaks(), field=st.sampled_from(["path", "content", "query", "text"]))
@settings(max_examples=200)
def test_the_rule_refuses_input_holding_a_key_and_never_quotes_it(leak: tuple[str, str, str], field: str) -> None:
    label, key, text_with_key = leak
    reason = check({field: text_with_key, "other": "risk-management-strategies.md"})
    assert reason is not None and f"{field!r}" in reason and label in reason and "'other'" not in reason
    assert key not in reason


def test_the_rule_refuses_configured_secrets_and_marks_but_not_the_old_unnamed_mark(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("MY_SERVICE_TOKEN", SERVICE_TOKEN)
    encoded = base64.b64encode(SERVICE_TOKEN.encode()).decode()
    assert "env:MY_SERVICE_TOKEN" in (check({"content": f"Basic {encoded}"}) or "")
    assert "github-token" in (check({"path": "reports/[REDACTED:github-token].md"}) or "")
    assert check({"path": "ri[REDACTED].md", "content": "de[REDACTED]"}) is None  # a run from before the marks


# --- runs ---------------------------------------------------------------------------------------------


def test_ordinary_names_are_stored_and_acted_on_exactly_as_planned(
    fake_llm: FakeLLMServer, llm_bench: Workbench, workspace: Path
) -> None:
    run_id = planned_run(
        fake_llm,
        llm_bench,
        step("step_1", "read_file", path="risk-management-strategies.md"),
        step("step_2", "write_file", path="reports/task-orchestration-frameworks.md", content=ORDINARY_CONTENT),
    )
    state = llm_bench.run_state(run_id)
    assert state.status == "completed" and state.count("succeeded") == 2, state.failure_reason
    assert state.steps[0].result["output"] == "Hedge early.\n"
    assert (workspace / "reports" / "task-orchestration-frameworks.md").read_text() == ORDINARY_CONTENT
    exported = llm_bench.export(run_id)
    assert "[REDACTED" not in exported and '"redactions"' not in exported
    assert llm_bench.verify(run_id).identical


def test_a_planned_step_holding_a_key_is_refused_not_run_with_an_altered_input(
    fake_llm: FakeLLMServer, llm_bench: Workbench, workspace: Path
) -> None:
    run_id = planned_run(
        fake_llm,
        llm_bench,
        step("step_1", "read_file", path="risk-management-strategies.md"),
        step("step_2", "write_file", path="notes-copy.md", content=f"push with {GITHUB_TOKEN}"),
    )
    state = llm_bench.run_state(run_id)
    assert state.status == "completed" and [s.decision for s in state.steps] == ["approved", "rejected"]
    refused = state.steps[1]
    assert refused.rule == "no_secrets" and "'content'" in refused.reason and "github-token" in refused.reason
    assert not (workspace / "notes-copy.md").exists()
    exported = llm_bench.export(run_id)
    assert GITHUB_TOKEN not in exported
    plan = next(e.event for e in llm_bench.run_events(run_id) if isinstance(e.event, ev.PlanGenerated))
    assert plan.redactions == 2  # once in the plan, once in the raw answer, and the event says so
    assert plan.plan.steps[1].input["content"] == "push with [REDACTED:github-token]"
    assert llm_bench.verify(run_id).identical


def test_a_file_with_a_configured_secret_is_read_redacted_and_never_copied(
    fake_llm: FakeLLMServer, llm_bench: Workbench, workspace: Path
) -> None:
    run_id = planned_run(
        fake_llm,
        llm_bench,
        step("step_1", "read_file", path="service-notes.md"),
        step("step_2", "write_file", path="copy.md", from_step="step_1"),
    )
    state = llm_bench.run_state(run_id)
    assert [s.decision for s in state.steps] == ["approved", "rejected"]
    assert state.steps[1].rule == "no_secrets" and "env:MY_SERVICE_TOKEN" in state.steps[1].reason
    assert not (workspace / "copy.md").exists()
    read = next(e.event for e in llm_bench.run_events(run_id) if isinstance(e.event, ev.ObservationCaptured))
    assert read.redactions >= 2 and "token: [REDACTED:env:MY_SERVICE_TOKEN]" in read.result["output"]
    exported = llm_bench.export(run_id)
    encoded = base64.b64encode(f"svc:{SERVICE_TOKEN}".encode()).decode()
    assert SERVICE_TOKEN not in exported and encoded[8:30] not in exported
    assert llm_bench.verify(run_id).identical


def test_a_goal_holding_a_key_is_stored_redacted_says_so_and_no_step_searches_for_the_mark(bench: Workbench) -> None:
    state = bench.run(RunRequest(f"Research AI agent frameworks with token {GITHUB_TOKEN} and summarize"))
    events = bench.run_events(state.run_id)
    started = events[0].event
    assert isinstance(started, ev.RunStarted) and started.redactions == 1
    assert started.goal == "Research AI agent frameworks with token [REDACTED:github-token] and summarize"
    search = state.steps[0]
    assert (search.tool, search.decision, search.rule) == ("web_search", "rejected", "no_secrets")
    assert GITHUB_TOKEN not in bench.export(state.run_id)
    assert bench.verify(state.run_id).identical


# --- versioning ------------------------------------------------------------------------------------------

_OLD_SHAPES = re.compile(
    r"sk-ant-[A-Za-z0-9_\-]{8,}|sk-(?:proj-)?[A-Za-z0-9_\-]{16,}|gh[pousr]_[A-Za-z0-9]{20,}"
    r"|AKIA[0-9A-Z]{16}|xox[abprs]-[A-Za-z0-9\-]{10,}|BSA[A-Za-z0-9_\-]{20,}"
)


class OldRedactor(Redactor):
    """The redactor before this change: unanchored shapes, one unnamed mark, no count in the payload."""

    def payload(self, payload: dict[str, Any], max_depth: int | None = None) -> dict[str, Any]:
        return dict(self._old(payload))

    def payload_and_text(self, payload: dict[str, Any], max_depth: int | None = None) -> tuple[dict[str, Any], str]:
        cleaned = self.payload(payload)
        return cleaned, canonical_json(cleaned)

    def _old(self, value: Any) -> Any:
        if isinstance(value, str):
            return _OLD_SHAPES.sub("[REDACTED]", value)
        if isinstance(value, dict):
            return {self._old(k): self._old(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self._old(v) for v in value]
        return value


def test_a_run_recorded_under_the_old_redaction_verifies_identical_under_the_new_one(
    fake_llm: FakeLLMServer, llm_settings: Any, workspace: Path, database_url: str
) -> None:
    old = Workbench(llm_settings, store=open_store(database_url, redactor=OldRedactor()))
    try:
        run_id = planned_run(
            fake_llm,
            old,
            step("step_1", "read_file", path="risk-management-strategies.md"),
            step("step_2", "write_file", path="reports/task-orchestration-frameworks.md", content=ORDINARY_CONTENT),
        )
        state = old.run_state(run_id)
        assert state.steps[0].input["path"] == "ri[REDACTED].md"  # what the old redaction made the agent do
        assert (workspace / "reports" / "ta[REDACTED].md").read_text() == "See de[REDACTED]; data QUJD+[REDACTED]/4=="
        result = old.verify(run_id)  # re-executed by the current code, its appends redacted the new way
        assert result.identical, result.why
    finally:
        old.close()


@pytest.mark.parametrize("recording", sorted(RECORDINGS.glob("*.jsonl")), ids=lambda p: p.stem)
def test_recorded_runs_verify_identical_under_the_new_shipped_policies(
    recording: Path, database_url: str, workspace: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cwd = tmp_path / "cwd"
    shutil.copytree(ROOT / "policies", cwd / "policies")  # the recorded relative path finds today's files
    monkeypatch.chdir(cwd)
    store = open_store(database_url)
    try:
        run_id = import_lines(store, recording.read_text(encoding="utf-8").splitlines())
        result = verify(store, make_settings(database_url, workspace), run_id)
    finally:
        store.close()
    assert result.identical, result.why
    assert any("policy file" in note and "changed since the run was recorded" in note for note in result.notes)
