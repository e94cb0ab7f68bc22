"""The run lifecycle: start, advance, approve, deny, cancel, resume.

The run's state always comes from the store through the projection, never from memory, and
every transition is appended before it happens: the policy decision and the intent
(``ToolExecuted``) are durable before a tool runs, the observation after it, also on
failure. ``advance`` is also ``resume``: an intent without its observation can only mean the
process that wrote it died, so it becomes ``StepInterrupted`` and the step is retried safely.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from agent_core import events as ev
from agent_core import tools
from agent_core.clock import IdSource, RandomIds
from agent_core.config import Settings
from agent_core.errors import AgentError, ConcurrencyError, PayloadRejected, ReadOnlyRun, RunStateError
from agent_core.jsontext import clean, first_surrogate
from agent_core.outcome import CURRENT_RULES, unanswered
from agent_core.plan import PlanStep
from agent_core.planning import (
    BUDGET_MARKER,
    CURRENT_PROMPT,
    LEGACY_PROMPT,
    PROMPT_VERSIONS,
    PlanLimits,
    budget_left,
    prompt_sha,
    prompt_version_for,
    request_plan,
)
from agent_core.policy import Decision, Policy, PolicyContext, check_workspace
from agent_core.pricing import PriceTable, default_prices
from agent_core.projections import RunState, StepState, apply, decode, fold, load_events, load_state
from agent_core.providers import Planner, make_planner, planner_choices
from agent_core.redaction import Redactor
from agent_core.store import EncodedEvent, EventStore, NewEvent, StoredEvent
from agent_core.tools.base import ToolCaps
from agent_core.tools.relevant import relevant_files
from agent_core.tools.sandbox import database_path_from_url
from agent_core.workspace import list_workspace, seed_workspace

GOAL_MAX_CHARS = 4000
MAX_STEPS_RANGE = (1, 10)
BUDGET_RANGE = (0.01, 5.00)
FINAL_SUMMARY_CHARS = 2000
CONTROL_CHARS = r"\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f"
"""Characters a goal may not hold (a regex class body): C0 controls but tab and line breaks, DEL, C1 controls."""
_CONTROL = re.compile(f"[{CONTROL_CHARS}]")


class RunRequestError(AgentError):
    """A run request with an out-of-range field; ``field`` names it for the form or the CLI."""

    def __init__(self, field_name: str, message: str) -> None:
        self.field = field_name
        super().__init__(message)


@dataclass(frozen=True, slots=True)
class RunRequest:
    """What a person asks for: validated by ``validate`` before anything is written."""

    goal: str
    max_steps: int = 4
    budget_usd: float = 0.50
    planner: str = "auto"
    model: str | None = None

    def validate(self) -> RunRequest:
        """The request with a trimmed goal, or ``RunRequestError`` naming the field to fix."""
        goal = self.goal.strip()
        if not goal:
            raise RunRequestError("goal", "the goal is empty: say what the agent should do")
        if len(goal) > GOAL_MAX_CHARS:
            raise RunRequestError(
                "goal", f"the goal has {len(goal)} characters; shorten it to {GOAL_MAX_CHARS} or fewer"
            )
        _check_goal_text(goal)
        low, high = MAX_STEPS_RANGE
        if not low <= self.max_steps <= high:
            raise RunRequestError("max_steps", f"max steps must be between {low} and {high}, not {self.max_steps}")
        low_b, high_b = BUDGET_RANGE
        if not low_b <= self.budget_usd <= high_b:
            raise RunRequestError(
                "budget_usd", f"the budget must be between ${low_b:.2f} and ${high_b:.2f}, not ${self.budget_usd}"
            )
        choices = planner_choices()
        if self.planner not in choices:
            raise RunRequestError("planner", f"unknown planner {self.planner!r}; choose one of {choices}")
        return RunRequest(goal, self.max_steps, float(self.budget_usd), self.planner, self.model or None)


def _check_goal_text(goal: str) -> None:
    """Refuse what no engine stores alike or a terminal should not receive: control characters, invalid text."""
    control = _CONTROL.search(goal)
    if control is not None:
        raise RunRequestError(
            "goal",
            f"the goal holds the control character U+{ord(control.group()):04X} at position {control.start() + 1}; "
            "remove it (tabs and line breaks are fine)",
        )
    where = first_surrogate(goal)
    if where is not None:
        raise RunRequestError(
            "goal",
            f"the goal holds U+{ord(goal[where]):04X} at position {where + 1}, which is not valid text; remove it",
        )


OnAppend = Callable[[str, int], None]
"""Called with (run_id, new last seq) after every append: how the CLI prints progress live."""


class ToolRunner(Protocol):
    """Where tool effects come from: the live tools, or (for replay) recorded observations."""

    def target_sha256(self, tool: str, resolved_input: dict[str, Any]) -> str | None:
        """The write target's hash before the tool runs (recorded with the intent)."""
        ...

    def run(
        self, tool: str, resolved_input: dict[str, Any], prior_results: Mapping[str, dict[str, Any]]
    ) -> dict[str, Any]:
        """The tool's result for the resolved input; a failure is a result, not an exception."""
        ...


@dataclass
class LiveTools:
    """The real tools in the workspace sandbox; ``summarize`` may use the run's LLM.

    ``read_through``: a read-only layer below ``workspace`` (a what-if replay's scratch over the real
    workspace); ``index_dir``: where the offline search keeps its index; ``caps``: the settings' limits.
    """

    workspace: Path
    database_path: Path | None = None
    brave_api_key: str | None = None
    summarize_llm: Callable[[str, str], Any] | None = None
    read_through: Path | None = None
    index_dir: Path | None = None
    caps: ToolCaps = field(default_factory=ToolCaps)

    def target_sha256(self, tool: str, resolved_input: dict[str, Any]) -> str | None:
        """The write target's hash in the real workspace now."""
        return tools.target_sha256(tool, resolved_input, self.workspace, self.read_through)

    def run(
        self, tool: str, resolved_input: dict[str, Any], prior_results: Mapping[str, dict[str, Any]]
    ) -> dict[str, Any]:
        """Run the real tool in the workspace sandbox."""
        context = tools.ToolContext.with_caps(
            self.caps,
            workspace=self.workspace,
            prior_results=prior_results,
            brave_api_key=self.brave_api_key,
            summarize_llm=self.summarize_llm,
            database_path=self.database_path,
            index_dir=self.index_dir,
            read_through=self.read_through,
        )
        return tools.execute(tool, resolved_input, context)


CommitApart = Callable[[int], bool]
"""Asked with the seq the events held for the next append end at, before more join them: True commits them
alone, at once (a stopping worker letting go at a step's end, verify stopping where a recording stopped)."""


@dataclass
class RunWriter:
    """Appends with the run's expected seq; a lost race surfaces as ``ConcurrencyError``.

    ``state`` is the run's fold at ``seq``: it goes along with each append, and the store's
    indexer (``projections.index_run``), which folds the appended events anyway, hands the new
    state back, so the run is not read back and folded a second time after each append.

    ``hold`` keeps events that record what already happened (a step's observation; a planner's
    answer and its cost; the offline planner's request too, as it reaches nothing outside the process)
    for the run's next append instead of committing them alone: the next transition (a step's decision
    and intent, a hold, the run's end, the next request) is appended before anything else happens
    anyway, and one commit instead of two is most of what a step costs the store. A crash in between
    (microseconds of deciding, against the seconds an LLM call or a tool takes) loses what a crash
    during the call or the tool would have lost. Held events are encoded when held (a refused one raises
    ``PayloadRejected`` then), keep the time they happened and are folded into ``caught_up`` at
    once, so the next decision sees them as the store will record them. ``commit_apart`` (see
    ``CommitApart``) says when they must be committed alone; ``flush`` commits what is held.
    """

    store: EventStore
    run_id: str
    seq: int
    on_append: OnAppend | None = None
    state: RunState | None = None
    commit_apart: CommitApart | None = None
    _held: list[tuple[ev.DomainEvent, EncodedEvent]] = field(default_factory=list)
    _view: RunState | None = None

    def __call__(self, *events: NewEvent) -> None:
        if events:
            self._apart_if_asked()
        held, self._held, view, self._view = self._held, [], self._view, None
        try:
            appended = self.store.append_indexed(  # the view already holds the held events: not folded again
                self.run_id, [*(encoded for _, encoded in held), *events], self.seq, state=view or self.state
            )
        except ConcurrencyError:
            self._record_late_costs((*(event for event, _ in held), *events))
            raise
        except PayloadRejected:
            if held and events:  # the held events were checked when held: they are committed alone
                self._held = held
                self.flush()
            raise
        self.seq = appended.last_seq
        folded = appended.index.state
        self.state = folded if isinstance(folded, RunState) and folded.last_seq == self.seq else None
        if self.on_append:
            self.on_append(self.run_id, self.seq)

    def hold(self, *events: ev.DomainEvent) -> None:
        """Append ``events`` with the run's next append (see the class docstring); at once when this writer has
        no fold of the run to add them to."""
        self._apart_if_asked()
        view = self._view or self.state
        if view is None or view.last_seq != self.seq + len(self._held):
            self(*events)
            return
        encoded = [(event, self.store.encode(self.run_id, event)) for event in events]  # all or none held
        for event, e in encoded:
            seq = self.seq + len(self._held) + 1
            view = apply(
                view, decode(StoredEvent(0, self.run_id, seq, e.type, e.schema_version, e.actor, e.at, "", e.payload))
            )
            self._held.append((event, e))
        self._view = view

    def _apart_if_asked(self) -> None:
        """Commit what is held alone before more joins it, when ``commit_apart`` says so for where it ends."""
        if self._held and self.commit_apart is not None and self.commit_apart(self.seq + len(self._held)):
            self.flush()

    def flush(self) -> None:
        """Commit what is held for the next append, alone."""
        if self._held:
            self()

    def caught_up(self, state: RunState) -> RunState:
        """The run after this writer's appends and held events: the indexer's fold, else ``state`` plus the log."""
        if self._view is not None:
            return self._view
        if self.state is not None and self.state.last_seq == self.seq:
            return self.state
        return fold(load_events(self.store, state.run_id, after_seq=state.last_seq), initial=state)

    def _record_late_costs(self, events: tuple[NewEvent, ...]) -> None:
        """An LLM call that answered after the run ended (a cancel while it was in flight) was still paid:
        its ``CostRecorded`` is appended after the terminal event, its total carried on from the run's.

        Only to an ended run: a run another process is driving is its log to extend, not ours.
        """
        costs = [e for e in events if isinstance(e, ev.CostRecorded)]
        for _attempt in range(3) if costs else ():
            state = load_state(self.store, self.run_id)
            if not state.is_terminal:
                return
            total, late = state.cost_usd, []
            for cost in costs:
                total = round(total + cost.usd, 6)
                late.append(cost.model_copy(update={"total_usd": total}))
            try:
                seq = self.store.append(self.run_id, late, state.last_seq)
            except ConcurrencyError:
                continue
            if self.on_append:
                self.on_append(self.run_id, seq)
            return


@dataclass(frozen=True)
class _Started:
    """What ``start`` knows of the run it wrote: its fold, as the writer left it, and the policy whose
    sha ``RunStarted`` records. The ``advance`` that usually follows folds on only what was appended
    since (a cancel, another process's steps) instead of reading the whole run, and decides with
    that policy instead of reading its file again (a change made since is one made after the read)."""

    state: RunState
    policy: Policy


class Orchestrator:
    """Composes planner, policy, tools and store into runs; see the module docstring."""

    def __init__(
        self,
        store: EventStore,
        settings: Settings,
        *,
        ids: IdSource | None = None,
        prices: PriceTable | None = None,
        planner_factory: Callable[..., Planner] = make_planner,
        policy_source: Callable[[Path], Policy] = Policy.load,
        read_through: Path | None = None,
    ) -> None:
        self.store = store
        self.settings = settings
        self.workspace = settings.agent_workspace.resolve()
        seed_workspace(self.workspace)  # a first start gets the sample documents; an existing folder is left alone
        self.database_path = database_path_from_url(settings.database_url)
        check_workspace(self.workspace, settings.database_url)
        self.read_through = read_through.resolve() if read_through is not None else None
        """A read-only layer below the workspace: set for a what-if replay with live tools (see ``LiveTools``)."""
        self.index_dir = settings.search_index_dir()
        self.caps = ToolCaps(settings.read_max_bytes, settings.search_max_files, settings.search_max_file_bytes)
        self._ids = ids or RandomIds()
        self._prices = prices or default_prices()
        self._planner_factory = planner_factory
        self._load_policy = policy_source
        """Reads a policy file (a replay serves the policy it loaded: ``replay.driver.Served``)."""
        self._redactor = Redactor()
        self._started: _Started | None = None
        """The run ``start`` wrote last: the ``advance`` that usually follows begins from it."""

    # --- starting --------------------------------------------------------------------------

    def start(
        self,
        request: RunRequest,
        *,
        policy_path: Path | None = None,
        system_prompt: str | None = None,
        replay_of: str | None = None,
        replay_mode: ev.ReplayMode | None = None,
        overrides: dict[str, Any] | None = None,
        on_append: OnAppend | None = None,
        prompt_version: str | None = None,
        forked_from: ev.ForkPoint | None = None,
        outcome_rules: int = CURRENT_RULES,
        inherited: Sequence[NewEvent] = (),
    ) -> str:
        """Validate the request and write ``RunStarted``; returns the new run id (nothing runs yet).

        ``prompt_version`` (default: the current one) decides the prompt and the tools offered, and
        ``outcome_rules`` how the run ends (``agent_core.outcome``); verify passes the recording's,
        so an old run is planned and judged again the way it was.
        ``forked_from`` marks a fork, and ``inherited`` is its prefix (``replay.fork``): appended with
        ``RunStarted`` in one transaction, so no fork is ever stored without the steps it inherits.
        """
        request = request.validate()
        policy = self._load_policy(policy_path or self.settings.agent_policy)
        provider = self.settings.resolved_planner() if request.planner == "auto" else request.planner
        planner = self._planner_factory(self.settings, provider=provider, model=request.model)
        run_id = self._ids.new_id()
        version = PROMPT_VERSIONS[prompt_version] if prompt_version else CURRENT_PROMPT
        prompt = system_prompt or version.text
        recorded_overrides = dict(overrides or {})
        if system_prompt is not None:
            recorded_overrides["system_prompt"] = system_prompt
            if version is not LEGACY_PROMPT:  # a custom prompt's sha names no version: record the tools' version
                recorded_overrides["prompt_version"] = version.id
        goal, redacted = self._redactor.redact_text(request.goal.strip())
        started = ev.RunStarted(
            goal=goal,
            redactions=redacted,
            max_steps=request.max_steps,
            budget_usd=request.budget_usd,
            planner=ev.PlannerInfo(provider=planner.provider, model=planner.model, prompt_sha=prompt_sha(prompt)),
            policy_sha=policy.sha,
            policy_path=str(policy.path),
            replay_of=replay_of,
            replay_mode=replay_mode,
            overrides=recorded_overrides,
            forked_from=forked_from,
            outcome_rules=outcome_rules,
        )
        writer = RunWriter(self.store, run_id, 0, on_append)
        writer(started, *inherited)
        self._started = _Started(writer.state, policy) if writer.state is not None else None
        return run_id

    def run(self, request: RunRequest, *, on_append: OnAppend | None = None, **start_options: Any) -> RunState:
        """Start and advance until the run ends or waits for an approval."""
        return self.advance(self.start(request, on_append=on_append, **start_options), on_append=on_append)

    # --- advancing -------------------------------------------------------------------------

    def advance(
        self,
        run_id: str,
        *,
        planner: Planner | None = None,
        tool_runner: ToolRunner | None = None,
        on_append: OnAppend | None = None,
        commit_apart: CommitApart | None = None,
    ) -> RunState:
        """Drive the run forward from whatever its log says; also the crash ``resume``.

        Returns when the run is terminal or waits for a human. Raises ``ConcurrencyError`` when
        another process appended to the run meanwhile (it is the one driving it now), and
        ``ReadOnlyRun`` for an imported run. An event the store refuses (``PayloadRejected``: too
        large, or not storable JSON) ends the run with ``RunFailed`` saying which: a run is never
        left running by what a provider or a tool sent.

        A step's observation (and a planner's answer) is committed with the run's next transition
        (``RunWriter.hold``); ``commit_apart`` (see ``CommitApart``) commits it alone instead.
        """
        started, self._started = self._started, None
        if started is None or started.state.run_id != run_id:
            started = None
            self.ensure_local(run_id, "advanced or resumed")  # a run started here was not imported
        try:
            return self._advance(run_id, started, planner, tool_runner, on_append, commit_apart)
        except PayloadRejected as error:
            state = load_state(self.store, run_id)
            if state.is_terminal:
                raise
            reason = f"the run stopped because the store refused an event: {error}"
            writer = RunWriter(self.store, run_id, state.last_seq, on_append, state)
            writer(ev.RunFailed(reason=reason))
            return writer.caught_up(state)

    def _advance(
        self,
        run_id: str,
        started: _Started | None,
        planner: Planner | None,
        tool_runner: ToolRunner | None,
        on_append: OnAppend | None,
        commit_apart: CommitApart | None,
    ) -> RunState:
        if started is None:
            state = load_state(self.store, run_id)
        else:  # what another process appended since (a cancel, a worker's steps) is folded on
            state = fold(load_events(self.store, run_id, after_seq=started.state.last_seq), initial=started.state)
        if state.is_terminal or state.pending_approval is not None:
            return state
        writer = RunWriter(self.store, run_id, state.last_seq, on_append, state, commit_apart)
        try:
            return self._drive(state, writer, planner, tool_runner, started.policy if started else None)
        finally:
            writer.flush()  # on every way out: an observation held when something failed is still recorded

    def _drive(
        self,
        state: RunState,
        writer: RunWriter,
        planner: Planner | None,
        tool_runner: ToolRunner | None,
        policy: Policy | None = None,
    ) -> RunState:
        """``policy``: the one ``start`` just recorded the sha of (else the run's policy file is read now)."""
        if policy is None:
            policy = self._load_policy(Path(state.policy_path) if state.policy_path else self.settings.agent_policy)
        if policy.sha != state.policy_sha:
            writer(
                ev.RunFailed(
                    reason=(
                        f"the policy file {state.policy_path!r} changed since the run started "
                        f"(sha {state.policy_sha[:12]} -> {policy.sha[:12]}); "
                        "start a new run or a what-if replay with the new policy"
                    )
                )
            )
            return writer.caught_up(state)
        planner = planner or self._planner_for(state)
        tool_runner = tool_runner or self._live_tools(planner)

        if state.plan is None and not self._plan(state, planner, writer):
            return writer.caught_up(state)
        state = writer.caught_up(state)
        llm = _has_llm(planner)
        for step in state.plan.steps if state.plan else ():
            if not self._advance_step(state, step, policy, tool_runner, writer, llm=llm):
                return writer.caught_up(state)
            state = writer.caught_up(state)

        no_answer = unanswered(state, state.outcome_rules)
        writer(
            ev.ResponseFinalized(summary=_final_summary(state), step_count=len(state.steps)),
            ev.RunFailed(reason=no_answer) if no_answer else ev.RunCompleted(),
        )
        return writer.caught_up(state)

    def _planner_for(self, state: RunState) -> Planner:
        info = state.planner
        return self._planner_factory(
            self.settings, provider=info.provider if info else None, model=info.model if info else None
        )

    def _live_tools(self, planner: Planner) -> LiveTools:
        brave = self.settings.brave_api_key.get_secret_value() if self.settings.brave_api_key else None
        llm = planner.summarize if _has_llm(planner) else None
        return LiveTools(self.workspace, self.database_path, brave, llm, self.read_through, self.index_dir, self.caps)

    def _plan(self, state: RunState, planner: Planner, writer: RunWriter) -> bool:
        version = prompt_version_for(
            state.planner.prompt_sha if state.planner else None, state.overrides.get("prompt_version")
        )
        limits = PlanLimits(max_steps=state.max_steps, tools=version.offered)
        if version.listing == "relevant":
            files = relevant_files(
                self.workspace,
                state.goal,
                database_path=self.database_path,
                index_dir=self.index_dir,
                read_through=self.read_through,
                caps=self.caps,
            )
        else:
            files = list_workspace(self.workspace)
        outcome = request_plan(
            planner,
            state.goal,
            limits,
            workspace_files=files,
            emit=writer if _has_llm(planner) else writer.hold,  # offline: nothing to record before the call
            keep=writer.hold,  # the answer goes with step 1's decision and intent, or the run's end
            prices=self._prices,
            spent_usd=state.cost_usd,
            system_prompt=state.overrides.get("system_prompt") or version.text,
            redactor=self._redactor,
            budget_usd=state.budget_usd,
        )
        if outcome.plan is None:
            writer(ev.RunFailed(reason=outcome.reason))
            return False
        return True

    def _advance_step(
        self, state: RunState, step: PlanStep, policy: Policy, runner: ToolRunner, writer: RunWriter, *, llm: bool
    ) -> bool:
        """Take one step as far as it can go; False when the run stopped (ended or waits).

        ``llm``: the run has an LLM, so a tool that calls it (``summarize``) is a paid call.
        """
        current = state.step(step.id) or StepState(step_id=step.id, tool=step.tool)
        if current.result is not None or current.decision in ("rejected", "denied"):
            return True
        paid = llm and tools.calls_llm(step.tool)
        resolved = tools.resolve_input(step, prior_results(state))
        if current.executed:  # an intent without its outcome: the writer died mid-tool
            return self._after_interruption(state, step, current, resolved, runner, writer, paid=paid)
        if current.decision in ("approved", "granted") or (current.interrupted and current.decision is None):
            return self._execute(state, step, resolved, runner, writer, paid=paid)
        if state.cost_usd > state.budget_usd:
            _stop_for_budget(state, f"before {step.id}", writer)
            return False
        decision = self._decide(state, step, resolved, policy)
        if decision.outcome == "reject":
            writer(ev.ToolRejected(step_id=step.id, tool=step.tool, rule=decision.rule, reason=decision.reason))
            return True
        if decision.outcome == "hold":
            writer(
                ev.ApprovalRequested(
                    step_id=step.id, tool=step.tool, input=resolved, rule=decision.rule, reason=decision.reason
                )
            )
            return False
        approved = ev.ToolApproved(step_id=step.id, tool=step.tool, rule=decision.rule, reason=decision.reason)
        return self._execute(state, step, resolved, runner, writer, decided=approved, paid=paid)

    def _decide(self, state: RunState, step: PlanStep, resolved: dict[str, Any], policy: Policy) -> Decision:
        return decide(
            policy, state, step, resolved, self.workspace, self.database_path, self.read_through, self._redactor
        )

    def _after_interruption(
        self,
        state: RunState,
        step: PlanStep,
        current: StepState,
        resolved: dict[str, Any],
        runner: ToolRunner,
        writer: RunWriter,
        *,
        paid: bool,
    ) -> bool:
        times = current.interrupted + 1
        limit = self.settings.max_interruptions
        if times >= limit:
            writer(
                ev.StepInterrupted(
                    step_id=step.id, tool=step.tool, next_action=f"fail the run (interrupted {times} times)"
                ),
                ev.RunFailed(
                    reason=(
                        f"step {step.id} ({step.tool}) was interrupted {times} times: the process running its "
                        f"tool died each time, so the run stops instead of trying it again (the limit is "
                        f"AGENT_MAX_INTERRUPTIONS={limit}); find out what kills it (memory, a timeout, the input), "
                        "then start a new run or fork this one"
                    )
                ),
            )
            return False
        if tools.is_read_only(step.tool):
            writer(ev.StepInterrupted(step_id=step.id, tool=step.tool, next_action="re-run (read-only tool)"))
            return self._execute(state, step, resolved, runner, writer, paid=paid)
        if runner.target_sha256(step.tool, resolved) == current.target_sha256:
            writer(ev.StepInterrupted(step_id=step.id, tool=step.tool, next_action="re-run (target unchanged)"))
            return self._execute(state, step, resolved, runner, writer, paid=paid)
        writer(
            ev.StepInterrupted(step_id=step.id, tool=step.tool, next_action="hold (target changed since the intent)"),
            ev.ApprovalRequested(
                step_id=step.id,
                tool=step.tool,
                input=resolved,
                rule="resume_target_changed",
                reason="the write target changed after the interrupted attempt; approve to write it again",
            ),
        )
        return False

    def _execute(
        self,
        state: RunState,
        step: PlanStep,
        resolved: dict[str, Any],
        runner: ToolRunner,
        writer: RunWriter,
        decided: ev.DomainEvent | None = None,
        *,
        paid: bool = False,
    ) -> bool:
        if paid and not budget_left(state.cost_usd, state.budget_usd):
            _stop_for_budget(state, f"before {step.id}, whose {step.tool} calls the LLM", writer)
            return False
        intent = ev.ToolExecuted(
            step_id=step.id, tool=step.tool, input=resolved, target_sha256=runner.target_sha256(step.tool, resolved)
        )
        writer(*([decided] if decided else []), intent)
        started = time.perf_counter()
        try:
            result = runner.run(step.tool, resolved, prior_results(state))
        except Exception as error:  # a tool must never take the run down: record it as a failed observation
            result = {"success": False, "error": f"{type(error).__name__}: {error}"}
        duration_ms = round((time.perf_counter() - started) * 1000, 3)
        result = clean(result) if isinstance(result, dict) else {"success": False, "error": "the tool gave no result"}
        costs: list[ev.DomainEvent] = []
        usage = result.get("usage")
        tokens = {k: _count(usage.get(k)) for k in ("input_tokens", "output_tokens")} if isinstance(usage, dict) else {}
        if any(tokens.values()):
            spent = ev.Usage(**tokens)
            costs.append(self._prices.cost_event(step.tool, str(result.get("model", "")), spent, state.cost_usd))
        observed = ev.ObservationCaptured(
            step_id=step.id, tool=step.tool, result=ev.result_once(result), duration_ms=duration_ms
        )
        try:
            writer.hold(observed, *costs)
        except PayloadRejected as refused:  # the result cannot be stored (too large, ...): the step failed
            failed = {"success": False, "output": "", "error": f"the tool's result could not be stored: {refused}"}
            writer.hold(observed.model_copy(update={"result": failed}), *costs)
        return True

    def ensure_local(self, run_id: str, action: str) -> None:
        """``ReadOnlyRun`` when ``run_id`` was imported: its log is history, and nothing in it is authority here.

        The store refuses to append to an imported run anyway; this check says so before any work
        (or any paid call) is done.
        """
        if self.store.is_imported(run_id):
            raise ReadOnlyRun(run_id, action)

    # --- humans ----------------------------------------------------------------------------

    def approve(self, run_id: str, step_id: str, *, by: str = "human", comment: str = "") -> RunState:
        """Grant a held step (the run does not move until ``advance``)."""
        return self._decide_held(run_id, step_id, ev.ApprovalGranted(step_id=step_id, by=by, comment=comment))

    def deny(self, run_id: str, step_id: str, *, by: str = "human", comment: str = "") -> RunState:
        """Record a person's denial of the held step; the run continues without it."""
        return self._decide_held(run_id, step_id, ev.ApprovalDenied(step_id=step_id, by=by, comment=comment))

    def _decide_held(self, run_id: str, step_id: str, decision: ev.DomainEvent) -> RunState:
        self.ensure_local(run_id, "approved or denied")
        state = load_state(self.store, run_id)
        step = state.step(step_id)
        if step is None:
            raise RunStateError(f"run {run_id!r} has no step {step_id!r}")
        if step.decision in ("granted", "denied"):
            raise RunStateError(f"step {step_id!r} of run {run_id!r} was already {step.decision} by {step.decided_by}")
        if step.decision != "held" or state.is_terminal:
            raise RunStateError(
                f"step {step_id!r} of run {run_id!r} is not waiting for approval (run is {state.status})"
            )
        try:
            self.store.append(run_id, [decision], state.last_seq)
        except ConcurrencyError as error:
            raise RunStateError(f"run {run_id!r} changed while deciding {step_id!r}; reload and try again") from error
        return load_state(self.store, run_id)

    def cancel(self, run_id: str, *, by: str = "human", reason: str = "") -> RunState:
        """End a run that has not ended; a process advancing it stops at its next append."""
        self.ensure_local(run_id, "cancelled")
        state = load_state(self.store, run_id)
        if state.is_terminal:
            raise RunStateError(f"run {run_id!r} already ended ({state.status}); nothing to cancel")
        self.store.append(run_id, [ev.RunCancelled(by=by, reason=reason or f"cancelled by {by}")], state.last_seq)
        return load_state(self.store, run_id)


def _has_llm(planner: Planner) -> bool:
    """True when the run's planner is an LLM (its ``summarize`` is then a paid call); the offline one is not."""
    return planner.provider != "offline"


def _count(value: Any) -> int:
    """A token count from a tool's result; anything but a non-negative integer counts 0."""
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else 0


def _stop_for_budget(state: RunState, where: str, writer: RunWriter) -> None:
    writer(
        ev.BudgetExceeded(spent_usd=state.cost_usd, budget_usd=state.budget_usd),
        ev.RunFailed(
            reason=(
                f"{BUDGET_MARKER} spent ${state.cost_usd:.4f} of ${state.budget_usd:.2f} {where}; "
                "raise the budget or lower max steps"
            )
        ),
    )


def prior_results(state: RunState) -> dict[str, dict[str, Any]]:
    """The results of the steps that have one: what ``resolve_input`` fills later steps' input from."""
    return {s.step_id: s.result for s in state.steps if s.result is not None}


def decide(
    policy: Policy,
    state: RunState,
    step: PlanStep,
    resolved: dict[str, Any],
    workspace: Path,
    database_path: Path | None,
    read_through: Path | None = None,
    redactor: Redactor | None = None,
) -> Decision:
    """The guard's decision on ``step`` (with its resolved input) given the run so far.

    The one place a policy context is built: the orchestrator and the policy counterfactual agree.
    """
    context = PolicyContext(
        workspace=workspace,
        database_path=database_path,
        tool_calls_so_far=sum(1 for s in state.steps if s.executed or s.result is not None),
        spent_usd=state.cost_usd,
        budget_usd=state.budget_usd,
        read_through=read_through,
        redactor=redactor,
    )
    return policy.evaluate(step.model_copy(update={"input": resolved}), context)


def _final_summary(state: RunState) -> str:
    """The answer a person reads first: the counts, the files written, then the last summary (or output)."""
    counts = ", ".join(
        f"{n} {label}" for label in ("succeeded", "failed", "rejected", "denied") if (n := state.count(label))
    )
    done = [(s.tool, str(s.result.get("output", ""))) for s in state.steps if s.result and s.result.get("success")]
    written = [output for tool, output in done if tool == "write_file"]
    texts = [output for tool, output in done if tool != "write_file"]
    last = next((t for t in reversed(texts) if t.strip()), "")
    head = "\n".join([f"{len(state.steps)} planned steps: {counts or 'none run'}.", *written])
    return f"{head}\n\n{last[:FINAL_SUMMARY_CHARS]}".strip()
