"""The Replay page: its form for a run, verify and what-if replays with their verdicts and diffs, earlier
replays, the picker, and the error states (store, run, provider, a replay that cannot run); plus the
pure diff renderers of ``ui.diffview``."""

from __future__ import annotations

import html
import json
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from agent_core.config import Settings
from agent_core.orchestrator import RunRequest
from agent_core.projections import RunState
from agent_core.providers import PROVIDERS, ProviderSpec
from agent_core.replay import Overrides
from agent_core.replay.diff import diff_runs
from agent_core.workbench import Workbench
from tests.dashboard.conftest import ROOT, OpenPage, no_exceptions, texts
from tests.dashboard.seed import HOSTILE_GOAL
from tests.fake_llm import OPENAI_PATH, FakeLLMServer, Scripted
from ui import diffview
from ui.format import short_id

DEMO_GOAL = "Research the latest developments in AI agent frameworks and summarize the key findings"
STRICT = ROOT / "policies" / "strict.yaml"


@pytest.fixture(autouse=True)
def _own_workspace(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Runs made here write a temporary workspace; no key or planner choice leaks in from the shell."""
    monkeypatch.setenv("AGENT_WORKSPACE", str(tmp_path / "workspace"))
    for name in ("AGENT_POLICY", "AGENT_PLANNER", "AGENT_MODEL", "ANTHROPIC_API_KEY", "ANTHROPIC_BASE_URL"):
        monkeypatch.delenv(name, raising=False)
    for name in ("OPENAI_API_KEY", "OPENAI_BASE_URL"):
        monkeypatch.delenv(name, raising=False)


def with_bench(use):  # type: ignore[no-untyped-def]
    workbench = Workbench(Settings())
    try:
        return use(workbench)
    finally:
        workbench.close()


def real_run() -> str:
    """A completed offline run (web_search, summarize, write_file) in the store the page reads."""
    state: RunState = with_bench(lambda w: w.run(RunRequest(DEMO_GOAL)))
    assert state.status == "completed", state.failure_reason
    return state.run_id


def run_replay(at: AppTest, mode: str = "whatif", **choices: object) -> AppTest:
    at.radio(key="replay_mode").set_value(mode).run()
    for key, value in choices.items():  # replay_provider, replay_policy
        at.selectbox(key=key).set_value(value)
    at.button(key="replay_go").click().run()
    no_exceptions(at)
    return at


def test_the_form_offers_both_modes_and_the_whatif_overrides(seeded, open_page: OpenPage) -> None:
    _, ids = seeded
    at = open_page("replay", run_id=ids.completed)
    no_exceptions(at)
    assert at.selectbox(key="replay_run").value == ids.completed
    assert at.radio(key="replay_mode").options == ["verify", "what-if", "compare arms"]
    assert "Research agent frameworks and write a short report" in [c.value for c in at.code]
    assert at.button(key="replay_go").label == "Run replay"

    at.radio(key="replay_mode").set_value("whatif").run()
    assert at.selectbox(key="replay_provider").options == ["original (recorded plan)", "offline", "anthropic", "openai"]
    assert at.radio(key="replay_tools").options == ["recorded", "live"]
    policies = at.selectbox(key="replay_policy")
    assert policies.options[0] == "policies/default.yaml"  # the policy in force comes first and is the default
    assert "policies/strict.yaml" in policies.options
    assert policies.index == 0
    assert at.text_area(key=f"replay_prompt_{ids.completed}").value == "You plan."  # the run's recorded prompt


def test_the_provider_box_follows_the_registry(seeded, open_page: OpenPage, monkeypatch: pytest.MonkeyPatch) -> None:
    _, ids = seeded
    monkeypatch.setitem(PROVIDERS, "echo", ProviderSpec("echo", PROVIDERS["offline"].build))
    at = open_page("replay", run_id=ids.completed)
    at.radio(key="replay_mode").set_value("whatif").run()
    no_exceptions(at)
    options = at.selectbox(key="replay_provider").options
    assert options == ["original (recorded plan)", "offline", "anthropic", "openai", "echo"]


def test_a_whatif_with_the_strict_policy_is_a_regression_with_the_held_step_highlighted(
    seeded, open_page: OpenPage
) -> None:
    run_id = real_run()
    at = run_replay(open_page("replay", run_id=run_id), replay_policy=STRICT)

    assert "**REGRESSION** · 3 reasons" in [e.value for e in at.error]
    shown = texts(at)
    assert "step_3 (write_file) is newly held for approval by policy rule 'writes_need_approval'" in shown
    replay_id = at.query_params["replay_id"]
    frame = at.dataframe[0].value
    assert list(frame["step"]) == ["step_1", "step_2", "step_3", "outcome", "steps ok", "tokens", "cost"]
    step_3 = frame.set_index("step").loc["step_3"]
    assert step_3["original"].startswith("✓ succeeded · write_file reports/")
    assert step_3["replay"].startswith("‖ held (writes_need_approval) · write_file reports/")
    assert diffview.changed_rows(frame) == [2, 3, 4]
    assert "3 rows changed (highlighted)." in shown
    assert [e.label for e in at.expander] == [
        "step\\_3 · write\\_file · policy approved \\(rule allowed\\) \\-\\> held \\(rule writes\\_need\\_approval\\); "
        "outcome succeeded \\-\\> held"
    ]
    # the replay waits for a person: the page says so and links to the queue
    assert "Approve or deny it in the queue" in shown
    assert ("Open the approval queue", f"run_id={replay_id}") in [
        (p.proto.label, p.proto.query_string) for p in at.main.get("page_link")
    ]
    # listed under earlier replays with its verdict, and recorded in the store as a replay of the run
    assert any(short_id(replay_id) in t.value and "policy strict.yaml, tools recorded" in t.value for t in at.text)
    assert "red-badge[regression]" in "\n".join(m.value for m in at.markdown)
    replay: RunState = with_bench(lambda w: w.run_state(replay_id))
    assert (replay.replay_of, replay.replay_mode, replay.verdict) == (run_id, "whatif", "regression")


def test_compare_arms_shows_the_matrix_and_opens_an_arms_diff(seeded, open_page: OpenPage, tmp_path: Path) -> None:
    run_id = real_run()
    prompt = tmp_path / "v2.txt"
    prompt.write_text("You plan tersely.", encoding="utf-8")
    at = open_page("replay", run_id=run_id)
    at.radio(key="replay_mode").set_value("arms").run()
    at.text_area(key="replay_arms_text").set_value(f"offline\nprompt={prompt}")
    at.selectbox(key="replay_arms_judge").set_value("offline")
    at.button(key="replay_arms_go").click().run()
    no_exceptions(at)

    matrix = next(d.value for d in at.dataframe if "arm" in d.value.columns)
    assert list(matrix["arm"]) == ["offline", f"prompt={prompt}"]
    assert list(matrix["verdict"]) == ["unchanged", "unchanged"]
    assert list(matrix["score"]) == [1.0, 1.0]
    assert list(matrix.columns) == [
        "arm",
        "verdict",
        "actions",
        "steps_ok",
        "cost_usd",
        "tokens",
        "latency_ms",
        "plan_changes",
        "score",
    ]
    (chart,) = at.get("plotly_chart")  # cost against latency, one point per arm
    figure = json.loads(chart.proto.spec)
    assert [t["name"] for t in figure["data"]] == ["unchanged"]
    assert figure["data"][0]["text"] == ["offline", html.escape(f"prompt={prompt}", quote=False)]
    assert all("verdict: unchanged" in h for h in figure["data"][0]["hovertext"])
    replays = with_bench(lambda w: w.replays_of(run_id))
    target = next(r.run_id for r in replays if r.replay_mode == "whatif")
    at.button(key=f"replay_arm_{target}").click().run()
    no_exceptions(at)
    assert at.query_params["replay_id"] == target
    assert any("**UNCHANGED**" in e.value for e in at.success) or "UNCHANGED" in texts(at).upper()


def test_verify_of_an_unchanged_run_is_identical_and_writes_nothing(seeded, open_page: OpenPage) -> None:
    run_id = real_run()
    at = run_replay(open_page("replay", run_id=run_id), mode="verify")
    assert at.success[0].value.startswith("**IDENTICAL** · the current code re-executed 15 events")
    assert "replay_id" not in at.query_params
    assert with_bench(lambda w: w.replays_of(run_id)) == []
    assert "None yet" in texts(at)


def test_a_kept_verify_is_listed_and_shown_as_a_diff(seeded, open_page: OpenPage) -> None:
    run_id = real_run()
    at = open_page("replay", run_id=run_id)
    at.checkbox(key="replay_save").check()
    run_replay(at, mode="verify")
    [saved] = with_bench(lambda w: w.replays_of(run_id))
    assert at.query_params["replay_id"] == saved.run_id
    assert at.success[0].value.startswith("**IDENTICAL**")
    assert "**UNCHANGED** · 1 reason" in [i.value for i in at.info]
    assert any(short_id(saved.run_id) in t.value and "verify" in t.value for t in at.text)


def test_a_recorded_run_that_no_longer_matches_shows_where_it_diverged(seeded, open_page: OpenPage) -> None:
    _, ids = seeded  # recorded under a policy sha and rule names the current code does not produce
    at = run_replay(open_page("replay", run_id=ids.completed), mode="verify")
    assert at.error[0].value.startswith("**DIVERGED** at event")
    assert len(at.json) == 2  # the recorded and the re-executed event side by side
    assert any(c.language == "diff" and c.value.startswith("--- recorded") for c in at.code)


def test_a_changed_system_prompt_is_an_override_and_an_unchanged_one_is_not(seeded, open_page: OpenPage) -> None:
    run_id = real_run()
    at = open_page("replay", run_id=run_id)
    at.radio(key="replay_mode").set_value("whatif").run()
    prompt = at.text_area(key=f"replay_prompt_{run_id}")
    assert prompt.value.startswith("You are the planner")
    run_replay(at)
    first = at.query_params["replay_id"]
    prompt = at.text_area(key=f"replay_prompt_{run_id}")  # elements are snapshots: read it again after a run
    prompt.set_value(prompt.value + "\nPrefer fewer steps.")
    at.button(key="replay_go").click().run()
    no_exceptions(at)
    second = at.query_params["replay_id"]
    states: list[RunState] = with_bench(lambda w: [w.run_state(first), w.run_state(second)])
    assert "system_prompt" not in states[0].overrides
    assert states[1].overrides["system_prompt"].endswith("Prefer fewer steps.")
    assert "**UNCHANGED** · 1 reason" in [i.value for i in at.info]
    assert any("system prompt, tools recorded" in t.value for t in at.text)


def test_show_diff_on_an_earlier_replay_names_it_in_the_address_bar(seeded, open_page: OpenPage) -> None:
    run_id = real_run()
    earlier = with_bench(lambda w: w.whatif(run_id, Overrides(policy_path=STRICT)).replay_id)
    at = open_page("replay", run_id=run_id)
    assert not at.dataframe  # nothing shown until a replay is chosen
    at.button(key=f"replay_show_{earlier}").click().run()
    no_exceptions(at)
    assert at.query_params["replay_id"] == earlier
    assert "**REGRESSION** · 3 reasons" in [e.value for e in at.error]


def test_without_a_run_id_the_picker_chooses_one(seeded, open_page: OpenPage) -> None:
    _, ids = seeded
    at = open_page("replay")
    picker = at.selectbox(key="replay_run")
    assert picker.value is None
    assert picker.options[0].startswith(short_id(ids.running))
    assert not at.get("button")
    picker.set_value(ids.failed).run()
    no_exceptions(at)
    assert at.query_params["run_id"] == ids.failed
    assert HOSTILE_GOAL in [c.value for c in at.code]  # untrusted text as code, never as Markdown
    assert not any("<script>" in m.value for m in at.markdown)


def test_an_empty_store_says_what_to_do(empty_store, open_page: OpenPage) -> None:
    at = open_page("replay")
    no_exceptions(at)
    assert "No runs to replay yet" in at.info[0].value


def test_an_unreachable_store_is_a_message(unreachable_store, open_page: OpenPage) -> None:
    at = open_page("replay", run_id="abc")
    no_exceptions(at)
    assert "StoreError" in texts(at)
    assert "DATABASE_URL" in texts(at)


def test_an_unknown_run_is_a_message(seeded, open_page: OpenPage) -> None:
    at = open_page("replay", run_id="no-such-run")
    no_exceptions(at)
    assert "RunNotFound" in texts(at)
    assert "Runs page" in texts(at)
    assert not at.get("button")


def test_a_provider_without_its_key_cannot_run_and_says_what_to_set(seeded, open_page: OpenPage) -> None:
    run_id = real_run()
    at = run_replay(open_page("replay", run_id=run_id), replay_provider="anthropic")
    shown = texts(at)
    assert "**The replay could not run** · ConfigError" in [e.value for e in at.error]
    assert "the anthropic planner needs ANTHROPIC_API_KEY" in shown
    assert "choose provider 'original' or 'offline'" in shown
    assert with_bench(lambda w: w.replays_of(run_id)) == []


def test_a_refused_provider_key_fails_the_replay_with_what_to_do(
    seeded, open_page: OpenPage, monkeypatch: pytest.MonkeyPatch
) -> None:
    run_id = real_run()
    with FakeLLMServer() as llm:
        llm.default(OPENAI_PATH, Scripted({"error": {"message": "Incorrect API key provided"}}, status=401))
        monkeypatch.setenv("OPENAI_BASE_URL", llm.openai_base_url)
        monkeypatch.setenv("OPENAI_API_KEY", "sk-wrong")
        at = run_replay(open_page("replay", run_id=run_id), replay_provider="openai")
    shown = texts(at)
    assert "**The provider could not answer**, so the replay has no plan." in [e.value for e in at.error]
    assert "rejected the API key (401 Unauthorized); check OPENAI_API_KEY" in shown
    assert "**REGRESSION** · 2 reasons" in [e.value for e in at.error]
    assert "sk-wrong" not in shown


def test_a_broken_policy_file_is_a_message_not_a_traceback(
    seeded, open_page: OpenPage, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    run_id = real_run()
    folder = tmp_path / "policies"
    folder.mkdir()
    (folder / "in-force.yaml").write_text((ROOT / "policies" / "default.yaml").read_text(), encoding="utf-8")
    (folder / "broken.yaml").write_text("rules: [this is not a rule", encoding="utf-8")
    monkeypatch.setenv("AGENT_POLICY", str(folder / "in-force.yaml"))
    at = run_replay(open_page("replay", run_id=run_id), replay_policy=folder / "broken.yaml")
    assert "**The replay could not run** · PolicyError" in [e.value for e in at.error]
    assert "Fix the policy file named above" in texts(at)


# --- ui.diffview, without a page ----------------------------------------------------------------


def test_policy_files_lists_the_one_in_force_first_then_its_neighbours(tmp_path: Path) -> None:
    for name in ("b.yaml", "a.yaml", "notes.txt"):
        (tmp_path / name).write_text("", encoding="utf-8")
    settings = Settings(DATABASE_URL=f"sqlite:///{tmp_path / 'x.db'}", AGENT_POLICY=tmp_path / "b.yaml")  # type: ignore[call-arg]
    workbench = Workbench(settings)
    try:
        assert [p.name for p in workbench.policy_files()] == ["b.yaml", "a.yaml"]
    finally:
        workbench.close()


def test_the_diff_frame_marks_exactly_the_changed_cells(seeded) -> None:
    run_id = real_run()
    diff = with_bench(lambda w: w.whatif(run_id, Overrides(policy_path=STRICT)).diff)
    frame = diffview.diff_frame(diff)
    styles = diffview.highlighted(frame)._compute().ctx  # (row, column) -> css of the styled cells
    marked = {cell for cell, css in styles.items() if any("background-color" in prop for prop, _ in css)}
    assert marked == {(row, col) for row in (2, 3, 4) for col in (1, 2, 3)}


def test_unchanged_runs_have_no_changed_rows_and_a_unified_diff_is_empty_for_equal_text(seeded) -> None:
    run_id = real_run()
    events = with_bench(lambda w: w.run_events(run_id))
    frame = diffview.diff_frame(diff_runs(events, events))
    assert diffview.changed_rows(frame) == []
    assert diffview.unified("a\nb", "a\nb") == ""
    assert diffview.unified("a\nb", "a\nc").splitlines()[2:] == ["@@ -1,2 +1,2 @@", " a", "-b", "+c"]
