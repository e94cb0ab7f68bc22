"""Replay: pick a run (or arrive with ``?run_id=``), verify it against the current code or replay it
what-if with another provider, model, system prompt, policy or live tools, and read the verdict and
the step-by-step diff. Earlier replays of the run are listed with their verdicts; ``?replay_id=``
names the one shown. Replays never write the real workspace (agent_core uses a shadow or scratch copy).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import streamlit as st

from agent_core import (
    PROVIDER_FAILURE_MARKER,
    SYSTEM_PROMPT,
    AgentError,
    ArmsReport,
    ConfigError,
    Overrides,
    PolicyError,
    ProviderError,
    RecordedEvent,
    ReplayError,
    RunNotFound,
    RunState,
    VerifyResult,
    Workbench,
    planner_choices,
)
from ui import access, armschart, core, diffview, nav, tables
from ui.format import md_escape, relative_time, short_id, status_label

PICKER_SIZE = 100
HISTORY_SIZE = 20
MODES = {"verify": "verify", "whatif": "what-if", "arms": "compare arms"}
JUDGES = {"": "no judge", "offline": "offline scorer (deterministic)", "llm": "LLM judge (the configured provider)"}
ORIGINAL = "original"
FIRST_RUN_HINT = (
    "No runs to replay yet. Launch one from the Launch page, or from a terminal:\n\n"
    '    python -m agent_core run "Research agent frameworks and write a short report"\n\n'
    "then come back to verify it or replay it with another prompt, model or policy."
)
HINTS: dict[type[AgentError], str] = {
    ConfigError: "Set the key (or base URL) named above in .env and restart the dashboard, "
    "or choose provider 'original' or 'offline'.",
    ProviderError: "Check the provider's API key and base URL in .env, or choose provider 'original' or 'offline'.",
    PolicyError: "Fix the policy file named above, or choose another policy file.",
    ReplayError: "Choose another run or other overrides; 'python -m agent_core replay RUN_ID' shows the same check.",
}


@dataclass(frozen=True, slots=True)
class Request:
    """What the form asks for: the mode, the overrides, and whether a verify is kept as a run."""

    mode: str
    overrides: Overrides
    save: bool = False
    arms: tuple[str, ...] = ()
    judge: str | None = None


def replay_error(error: AgentError) -> None:
    """Like ``core.show_error``, with what to do about a replay in particular."""
    what, todo = core.message_for(error)
    todo = next((hint for kind, hint in HINTS.items() if isinstance(error, kind)), todo)
    with st.container(border=True):
        st.error(f"**The replay could not run** · {type(error).__name__}", icon=":material/error:")
        st.text(what)
        st.caption(todo)


def _picked() -> None:
    st.query_params["run_id"] = st.session_state["replay_run"]
    st.query_params.pop("replay_id", None)


def pick_run(workbench: Workbench) -> str:
    """The run in the address bar (a full id or a unique prefix), else the one chosen in the picker."""
    asked = st.query_params.get("run_id", "").strip()
    current = workbench.resolve_run_id(asked) if asked else None
    recent = workbench.list_runs(limit=PICKER_SIZE)
    if not recent:
        st.info(FIRST_RUN_HINT, icon=":material/rocket_launch:")
        st.stop()
    labels = {r.run_id: f"{short_id(r.run_id)} · {status_label(r.status)} · {r.goal[:80]}" for r in recent}
    if current and current not in labels:
        labels = {current: short_id(current), **labels}
    if current and st.session_state.get("replay_run") != current:
        st.session_state["replay_run"] = current  # the address bar wins (a link from Runs or Timeline)
    st.selectbox(
        "Run",
        list(labels),
        format_func=labels.__getitem__,
        key="replay_run",
        index=None,
        placeholder="Choose one of the latest runs",
        on_change=_picked,
    )
    if current is None:
        st.caption("Or choose a run on the Runs page and press Replay there.")
        st.stop()
    return current


def about(state: RunState) -> None:
    """The chosen run in one glance: its goal, how it ended, and what it was planned and judged with."""
    st.caption("Goal")
    st.code(state.goal, language=None, wrap_lines=True)
    planner = state.planner
    st.text(
        " · ".join(
            [
                status_label(state.status),
                f"{len(state.steps)} steps",
                f"planner {planner.provider}/{planner.model or 'default'}" if planner else "planner unknown",
                f"policy {state.policy_path or '?'} (sha {state.policy_sha[:10]})",
                f"started {relative_time(state.started_at)}",
            ]
        )
    )
    with st.container(horizontal=True, vertical_alignment="center"):
        nav.link_to_run("timeline", state.run_id, "Open timeline", ":material/timeline:")
        if state.replay_of:
            st.text(f"This run is a {state.replay_mode or ''} replay of {short_id(state.replay_of)}.")
            nav.link_to_run("replay", state.replay_of, "Replay the original", ":material/north_west:")
    if not state.is_terminal:
        st.warning(
            f"This run is {state.status.replace('_', ' ')}: a replay compares against what it recorded so far.",
            icon=":material/hourglass_top:",
        )


def recorded_prompt(workbench: Workbench, run_id: str) -> str:
    """The system prompt the run's planner was sent (the code's current one if it never asked)."""
    prompt = next((e.event.system_prompt for e in workbench.run_events(run_id) if e.type == "PlanRequested"), None)
    return prompt if isinstance(prompt, str) and prompt else SYSTEM_PROMPT


def _policy_label(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def _same_file(a: Path, b: str) -> bool:
    return bool(b) and a.resolve() == Path(b).resolve()


def form(workbench: Workbench, state: RunState) -> Request | None:
    """Mode and overrides; the request when 'Run replay' was pressed, else None."""
    mode = st.radio("Mode", list(MODES), format_func=MODES.__getitem__, horizontal=True, key="replay_mode")
    if mode == "verify":
        st.caption(
            "Verify re-executes the run with the current code, fed only its recording (plan text, tool "
            "results, human decisions): no provider, tool or network is called. It passes when the "
            "event stream is the same."
        )
        save = st.checkbox("Keep the re-execution as a run (listed under earlier replays)", key="replay_save")
        pressed = st.button("Run replay", type="primary", icon=":material/replay:", key="replay_go")
        return Request("verify", Overrides(), save) if pressed else None
    if mode == "arms":
        return arms_form()

    provider_col, model_col, tools_col, policy_col = st.columns([2, 2, 2, 3], vertical_alignment="bottom")
    provider = provider_col.selectbox(
        "Provider",
        (ORIGINAL, *planner_choices(auto=False)),
        key="replay_provider",
        format_func=lambda p: "original (recorded plan)" if p == ORIGINAL else p,
        help="'original' serves the recorded plan unless you change the model or the prompt.",
    )
    model = model_col.text_input(
        "Model", key="replay_model", max_chars=200, placeholder=state.planner.model if state.planner else ""
    )
    tools = tools_col.radio("Tools", ("recorded", "live"), horizontal=True, key="replay_tools")
    files = workbench.policy_files()
    policy = policy_col.selectbox("Policy", files, format_func=_policy_label, key="replay_policy")
    if tools == "live":
        st.caption("Live tools run in a scratch copy of the workspace; the real workspace is never written.")
    original_prompt = recorded_prompt(workbench, state.run_id)
    prompt = st.text_area(
        "System prompt", value=original_prompt, height=220, key=f"replay_prompt_{state.run_id}", max_chars=20_000
    )
    st.caption(
        "Prefilled with the prompt this run was planned with"
        + ("." if original_prompt == SYSTEM_PROMPT else "; the code's current prompt differs.")
        + " Leave it unchanged to keep it."
    )
    pressed = st.button("Run replay", type="primary", icon=":material/replay:", key="replay_go")
    if not pressed:
        return None
    changed_prompt = prompt.strip() and prompt.strip() != original_prompt.strip()
    overrides = Overrides(
        provider=None if provider == ORIGINAL else provider,
        model=model.strip() or None,
        system_prompt=prompt if changed_prompt else None,
        policy_path=None if policy is None or _same_file(policy, state.policy_path) else policy,
        tools="live" if tools == "live" else "recorded",
    )
    return Request("whatif", overrides)


def arms_form() -> Request | None:
    """Several what-ifs of the run side by side: one per arm, optionally judged."""
    st.caption(
        "One what-if replay per arm, compared in one matrix. An arm is PROVIDER:MODEL (openai:gpt-4.1-mini), "
        "PROVIDER (its default model) or prompt=FILE (the recorded planner with another system prompt)."
    )
    text = st.text_area("Arms, one per line", key="replay_arms_text", height=110, placeholder="openai:gpt-4.1-mini")
    tools_col, judge_col = st.columns(2)
    tools = tools_col.radio("Tools", ("recorded", "live"), horizontal=True, key="replay_arms_tools")
    judge = judge_col.selectbox("Judge", list(JUDGES), format_func=JUDGES.__getitem__, key="replay_arms_judge")
    pressed = st.button("Compare arms", type="primary", icon=":material/compare_arrows:", key="replay_arms_go")
    arms = tuple(line.strip() for line in text.splitlines() if line.strip())
    if not pressed:
        return None
    if not arms:
        st.error("Name at least one arm, one per line.")
        return None
    tools_mode = "live" if tools == "live" else "recorded"
    return Request("arms", Overrides(tools=tools_mode), arms=arms, judge=judge or None)


def arms_matrix(workbench: Workbench, run_id: str) -> None:
    """The last arms comparison of this run: the matrix, and a button per arm to open its diff below."""
    report: ArmsReport | None = st.session_state.get("replay_arms")
    if report is None or report.run_id != run_id:
        return
    st.subheader(f"Arms on {short_id(run_id)}")
    rows = [r.to_document() for r in report.results]
    columns = ["arm", "verdict", "actions", "steps_ok", "cost_usd", "tokens", "latency_ms", "plan_changes", "score"]
    st.dataframe([{c: row[c] for c in columns} for row in rows], hide_index=True, key="replay_arms_matrix")
    st.plotly_chart(armschart.arms_figure(report), config={"displaylogo": False}, key="replay_arms_chart")
    with st.container(horizontal=True):
        for r in report.results:
            st.button(f"Diff: {r.arm}", key=f"replay_arm_{r.replay_id}", on_click=_show, args=(r.replay_id,))


def run_request(workbench: Workbench, state: RunState, request: Request) -> None:
    """Run the replay in this script run, its progress in a status box; the address bar names the result."""
    label = f"{MODES[request.mode]} replay of {short_id(state.run_id)}"
    failure: AgentError | None = None
    with st.status(f"Running the {label}…", expanded=request.mode == "whatif") as status:
        try:
            if request.mode == "arms":
                report = workbench.compare_arms(
                    state.run_id, list(request.arms), tools=request.overrides.tools, judge=request.judge
                )
                st.session_state["replay_arms"] = report
                st.session_state.pop("replay_verified", None)
                status.update(label=f"{len(report.results)} arms compared", state="complete", expanded=False)
            elif request.mode == "verify":
                verified = workbench.verify(state.run_id, request.overrides, save=request.save)
                st.session_state["replay_verified"] = verified
                _name_replay(verified.replay_run_id)
                status.update(label=f"Verify: {verified.status}", state="complete", expanded=False)
            else:
                outcome = workbench.whatif(state.run_id, request.overrides, on_event=_progress())
                st.session_state.pop("replay_verified", None)
                _name_replay(outcome.replay_id)
                verdict = outcome.diff.verdict.upper()
                status.update(
                    label=f"What-if replay {short_id(outcome.replay_id)}: {verdict}", state="complete", expanded=False
                )
        except AgentError as error:
            failure = error
            status.update(label=f"The {label} could not run", state="error", expanded=False)
    if failure is not None:
        replay_error(failure)


def _name_replay(replay_id: str | None) -> None:
    if replay_id:
        st.query_params["replay_id"] = replay_id
    else:
        st.query_params.pop("replay_id", None)


def _progress() -> Callable[[RecordedEvent], None]:
    """An ``on_event`` that lists the replay's latest events as they are written (same thread as the script)."""
    lines: list[str] = []
    feed = st.empty()

    def show(recorded: RecordedEvent) -> None:
        lines.append(f"#{recorded.seq} {recorded.type}: {tables.summarize(recorded)}")
        feed.text("\n".join(lines[-12:]))

    return show


def provider_trouble(replay: RunState) -> None:
    """A replay whose planner could not answer (a refused key, a server down) says so and what to do."""
    if replay.status == "failed" and PROVIDER_FAILURE_MARKER in replay.failure_reason:
        with st.container(border=True):
            st.error("**The provider could not answer**, so the replay has no plan.", icon=":material/key_off:")
            st.caption(HINTS[ProviderError] + " Its message is under the verdict above.")


def waiting_note(replay: RunState) -> None:
    held = replay.pending_approval
    if held is None:
        return
    st.warning(
        f"The replay waits for a person: {md_escape(held.step_id)} ({md_escape(held.tool)}) is held by rule "
        f"{md_escape(held.rule)}. Approve or deny it in the queue to let the replay finish.",
        icon=":material/front_hand:",
    )
    nav.link_to_run("policy", replay.run_id, "Open the approval queue", ":material/policy:")


def result(workbench: Workbench, run_id: str) -> None:
    """The replay named in the address bar against this run, or this session's unsaved verify."""
    verified: VerifyResult | None = st.session_state.get("replay_verified")
    if verified is not None and verified.run_id == run_id and not verified.replay_run_id:
        st.subheader("Verify")
        diffview.verify_result(verified)
        return
    replay_id = st.query_params.get("replay_id", "").strip()
    if not replay_id:
        return
    try:
        replay = workbench.run_state(workbench.resolve_run_id(replay_id))
    except RunNotFound as error:
        replay_error(error)
        return
    st.subheader(f"{(replay.replay_mode or 'other').replace('whatif', 'what-if')} replay {short_id(replay.run_id)}")
    if verified is not None and verified.replay_run_id == replay.run_id:
        diffview.verify_result(verified)
    diff = workbench.diff(run_id, replay.run_id)
    diffview.verdict_banner(diff)
    provider_trouble(replay)
    waiting_note(replay)
    overrides = {k: ("(changed)" if k == "system_prompt" else v) for k, v in replay.overrides.items()}
    if overrides:
        st.caption("Overrides")
        st.code(json.dumps(overrides, ensure_ascii=False, sort_keys=True), language="json", wrap_lines=True)
    diffview.run_diff(diff, banner=False)


def _show(replay_id: str) -> None:
    st.query_params["replay_id"] = replay_id
    st.session_state.pop("replay_verified", None)


def history(workbench: Workbench, run_id: str) -> None:
    """Earlier replays of the run, newest first: when, mode, overrides, verdict; each can be shown."""
    replays = workbench.replays_of(run_id, limit=HISTORY_SIZE)
    st.subheader("Earlier replays of this run")
    if not replays:
        st.caption("None yet. Run one above; it is listed here with its verdict.")
        return
    for r in replays:
        overrides = workbench.run_state(r.run_id).overrides
        changed = ", ".join(
            "system prompt" if k == "system_prompt" else f"policy {Path(v).name}" if k == "policy_path" else f"{k} {v}"
            for k, v in sorted(overrides.items())
            if k != "workspace"
        )
        with st.container(horizontal=True, vertical_alignment="center"):
            st.text(
                f"{short_id(r.run_id)} · {relative_time(r.started_at)} · "
                f"{'fork at ' + (r.fork_step or '?') if r.forked_from else r.replay_mode or 'replay'} · "
                f"{status_label(r.status)} · {changed or 'no overrides'}"
            )
            st.badge(r.verdict or "no verdict", color=diffview.VERDICT_BADGE.get(r.verdict or "", "gray"))
            st.button("Show diff", key=f"replay_show_{r.run_id}", on_click=_show, args=(r.run_id,))
            nav.link_to_run("timeline", r.run_id, "Timeline", ":material/timeline:")
    if len(replays) == HISTORY_SIZE:
        st.caption(f"The latest {HISTORY_SIZE} replays; the Runs page lists them all (Show: replays).")


def main() -> None:
    access.gate()  # first: sign-in or refusal before anything is drawn
    st.title("Replay")
    with core.errors_as_messages():
        workbench = core.workbench()
        run_id = pick_run(workbench)
        state = workbench.run_state(run_id)
        about(state)
        st.divider()
        request = form(workbench, state)
        if request is not None:
            run_request(workbench, state, request)
        arms_matrix(workbench, run_id)
        result(workbench, run_id)
        st.divider()
        history(workbench, run_id)


main()
