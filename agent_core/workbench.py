"""Workbench: the composition root and the one object the dashboard and CLI talk to.

It builds the store and the collaborators from one ``Settings`` and offers the read and
write operations pages need, so pages never touch SQL, folding or SDKs themselves.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from agent_core import events as ev
from agent_core import replay
from agent_core.approval_preview import WritePreview, write_preview
from agent_core.approvals import (
    ApprovalFilter,
    PendingApproval,
    PolicyDecision,
    count_pending,
    decision_counts,
    decision_tools,
    pending_approvals,
    pending_choices,
    recorded_decisions,
)
from agent_core.config import Settings, describe_database
from agent_core.errors import RunNotFound
from agent_core.orchestrator import CommitApart, Orchestrator, RunRequest
from agent_core.overview import DEFAULT_DAYS, OverviewCache, RunOverview
from agent_core.policy import Policy, check_database_outside
from agent_core.projections import RunState, RunSummary, decode, list_summaries, load_events, load_state, open_store
from agent_core.providers import planner_choices
from agent_core.replay import CounterfactualReport, ForkResult, Overrides, ReplayAllReport, VerifyResult, WhatIfResult
from agent_core.replay.compare import RunComparison, compare_runs
from agent_core.replay.diff import DEFAULT_COST_SHARE, RunDiff, diff_runs
from agent_core.store import EventStore
from agent_core.tools.sandbox import database_path_from_url
from agent_core.transfer import export_lines

EventCallback = Callable[[ev.RecordedEvent], None]


DECISION_OUTCOMES = ev.DECISION_OUTCOMES


@dataclass(frozen=True, slots=True)
class LineageNode:
    """A run in its lineage tree: what it is (original, replay or fork) and the runs derived from it."""

    run: RunSummary
    kind: str  # original | verify | whatif | fork
    children: tuple[LineageNode, ...] = ()

    def walk(self, depth: int = 0) -> list[tuple[int, LineageNode]]:
        """(depth, node) in display order: the node, then its children's subtrees, oldest first."""
        found = [(depth, self)]
        for child in self.children:
            found.extend(child.walk(depth + 1))
        return found


class Workbench:
    """Reads and writes runs for the UI and CLI; see the module docstring."""

    def __init__(self, settings: Settings, store: EventStore | None = None, *, create: bool = True) -> None:
        """Open the store ``settings`` name; ``create=False`` (read-only commands) never creates one.

        A store inside the workspace is refused (``ConfigError``) before anything is created.
        """
        self.settings = settings
        if store is None:
            check_database_outside(settings.agent_workspace, settings.database_url)
            store = open_store(settings.database_url, create=create, log_key=settings.log_key())
        self.store = store
        self._orchestrator: Orchestrator | None = None
        self._overview = OverviewCache()

    @property
    def orchestrator(self) -> Orchestrator:
        """Built on first use: reading runs must work even when the workspace or policy is broken."""
        if self._orchestrator is None:
            self._orchestrator = Orchestrator(self.store, self.settings)
        return self._orchestrator

    @classmethod
    def open(cls, settings: Settings | None = None, *, create: bool = True) -> Workbench:
        """A workbench over the store ``settings`` name (default: the environment); ``create=False`` never makes one."""
        return cls(settings or Settings(), create=create)

    def close(self) -> None:
        """Release the store's connections."""
        self.store.close()

    # --- where things are ------------------------------------------------------------------

    def store_label(self) -> str:
        """Where the data lives, never with a password."""
        return describe_database(self.settings.database_url)

    def planner_label(self) -> str:
        """Which planner answers, for the sidebar."""
        provider = self.settings.resolved_planner()
        if provider == "offline":
            return "offline planner (deterministic, no network)"
        return f"{provider} ({self.settings.agent_model or 'default model'})"

    # --- running ---------------------------------------------------------------------------

    def start_run(self, request: RunRequest) -> str:
        """Validate and record ``RunStarted``; the caller advances it (in the background, for the UI)."""
        return self.orchestrator.start(request)

    def start_rerun(self, run_id: str) -> str:
        """Record ``RunStarted`` of a new run with ``run_id``'s goal, limits, planner and policy file; the caller
        advances it. A run planned by a planner nobody may choose (``recorded``) is planned as ``auto`` would.

        The system prompt override, if the run had one, goes with it; the new run is an original, not a replay.
        """
        state = self.run_state(run_id)
        planner = state.planner
        provider = planner.provider if planner and planner.provider in planner_choices(auto=False) else "auto"
        model = planner.model if planner and provider != "auto" and planner.model else None
        request = RunRequest(state.goal, state.max_steps, state.budget_usd, provider, model)
        policy = Path(state.policy_path) if state.policy_path else None
        prompt = state.overrides.get("system_prompt")
        return self.orchestrator.start(
            request, policy_path=policy, system_prompt=prompt if isinstance(prompt, str) else None
        )

    def run(self, request: RunRequest, on_event: EventCallback | None = None) -> RunState:
        """Start and advance in this thread until the run ends or waits for an approval."""
        return self.orchestrator.run(request, on_append=self._follow(on_event))

    def advance(
        self, run_id: str, on_event: EventCallback | None = None, commit_apart: CommitApart | None = None
    ) -> RunState:
        """Continue a run (after an approval, or after a crash: resume).

        A what-if replay continues through ``replay.continue_replay`` so it keeps its recorded
        tools or scratch workspace: a replay must never write the real workspace. ``commit_apart``:
        see ``Orchestrator.advance``.
        """
        self.orchestrator.ensure_local(run_id, "advanced or resumed")
        state = self.run_state(run_id)
        follow = self._follow(on_event)
        if state.replay_mode == "whatif" and not state.is_terminal:
            return replay.continue_replay(
                self.store, self.settings, run_id, on_append=follow, commit_apart=commit_apart
            ).state
        state = self.orchestrator.advance(run_id, on_append=follow, commit_apart=commit_apart)
        if state.forked_from is not None and state.verdict is None:
            state, _ = replay.record_fork_verdict(self.store, run_id, state)
        return state

    def approve(self, run_id: str, step_id: str, *, by: str = "human", comment: str = "") -> RunState:
        """Record a person's approval of the held step and continue the run."""
        return self.orchestrator.approve(run_id, step_id, by=by, comment=comment)

    def deny(self, run_id: str, step_id: str, *, by: str = "human", comment: str = "") -> RunState:
        """Record a person's denial of the held step and continue the run."""
        return self.orchestrator.deny(run_id, step_id, by=by, comment=comment)

    def cancel(self, run_id: str, *, by: str = "human", reason: str = "") -> RunState:
        """End a run that has not ended."""
        return self.orchestrator.cancel(run_id, by=by, reason=reason)

    def _follow(self, on_event: EventCallback | None) -> Callable[[str, int], None] | None:
        """Turn the orchestrator's (run_id, seq) notifications into decoded events, each once."""
        if on_event is None:
            return None
        shown: dict[str, int] = {}

        def follow(run_id: str, seq: int) -> None:
            for recorded in self.run_events(run_id, after_seq=shown.get(run_id, 0)):
                on_event(recorded)
                shown[run_id] = recorded.seq

        return follow

    # --- reading ---------------------------------------------------------------------------

    def list_runs(self, **filters: Any) -> list[RunSummary]:
        """Newest first; filters as ``EventStore.list_runs`` (status, text_in_title, limit, offset...)."""
        return list_summaries(self.store, **filters)

    def count_runs(self, **filters: Any) -> int:
        """How many runs match the filters."""
        return self.store.count_runs(**filters)

    def export(self, run_id: str) -> str:
        """The run as JSON lines, payloads exactly as stored (so ``import`` can check the hash chain)."""
        return "".join(line + "\n" for line in export_lines(self.store, run_id))

    def resolve_run_id(self, run_id: str) -> str:
        """The full id for an id or a unique prefix of one (as the CLI and UI show them shortened)."""
        if self.store.get_run(run_id) is not None:
            return run_id
        matches = self.store.run_ids_starting_with(run_id) if len(run_id) >= 4 else []
        if len(matches) == 1:
            return matches[0]
        raise RunNotFound(run_id)

    def is_imported(self, run_id: str) -> bool:
        """True for a run read from an export: history that is shown, verified and replayed, never advanced."""
        row = self.store.get_run(run_id)
        return row is not None and row.imported

    def run_state(self, run_id: str) -> RunState:
        """Raises ``RunNotFound`` for an unknown id."""
        return load_state(self.store, run_id)

    def run_events(self, run_id: str, after_seq: int = 0) -> list[ev.RecordedEvent]:
        """The run's events, decoded, in seq order."""
        return load_events(self.store, run_id, after_seq)

    def feed(self, after_position: int = 0, limit: int = 500) -> list[ev.RecordedEvent]:
        """Events of all runs after a global position: the live feed."""
        return [decode(s) for s in self.store.read_all(after_position, limit)]

    def pending_approvals(
        self, wanted: ApprovalFilter | None = None, *, limit: int = 100, offset: int = 0
    ) -> list[PendingApproval]:
        """Held steps across runs, oldest request first, one page, from the decisions index.

        Never those of imported runs (nobody here can approve them) nor of runs that ended.
        """
        return pending_approvals(self.store, wanted, limit=limit, offset=offset)

    def count_pending_approvals(self, wanted: ApprovalFilter | None = None) -> int:
        """How many held steps wait for a person (with ``wanted``: how many of those match): sidebar and queue agree."""
        return count_pending(self.store, wanted)

    def approval_preview(self, held: PendingApproval) -> WritePreview | None:
        """For a held ``write_file``: its content and the diff against the workspace file now (None for other tools)."""
        return write_preview(
            held.tool, held.input, self.settings.agent_workspace, database_path_from_url(self.settings.database_url)
        )

    def pending_choices(self) -> tuple[list[str], list[str]]:
        """(tools, rules) of the held steps waiting now: the queue's filter options."""
        return pending_choices(self.store)

    # --- replay (the dashboard's Replay page) -----------------------------------------------

    def verify(self, run_id: str, overrides: Overrides | None = None, *, save: bool = False) -> VerifyResult:
        """Re-execute a run from its recording with the current code; identical or the first divergence."""
        return replay.verify(self.store, self.settings, run_id, overrides, save=save)

    def whatif(self, run_id: str, overrides: Overrides, on_event: EventCallback | None = None) -> WhatIfResult:
        """A new replay run of ``run_id`` with ``overrides``, its verdict recorded (``ReplayDiffed``)."""
        return replay.whatif(self.store, self.settings, run_id, overrides, on_append=self._follow(on_event))

    def diff(self, original_id: str, replay_id: str, *, cost_share: float | None = None) -> RunDiff:
        """Step-aligned diff and verdict of two runs (any two, usually an original and its replay)."""
        share = DEFAULT_COST_SHARE if cost_share is None else cost_share
        return diff_runs(self.run_events(original_id), self.run_events(replay_id), cost_share=share)

    def compare(self, baseline_id: str, other_id: str, *, cost_share: float | None = None) -> RunComparison:
        """Any two runs side by side: the replay diff's alignment and verdict, plus cost, token and latency figures.

        Ids may be shortened; raises ``RunNotFound`` for an unknown one.
        """
        a, b = self.resolve_run_id(baseline_id), self.resolve_run_id(other_id)
        share = DEFAULT_COST_SHARE if cost_share is None else cost_share
        return compare_runs(self.run_events(a), self.run_events(b), cost_share=share)

    def fork(
        self,
        run_id: str,
        step_id: str,
        *,
        input: dict[str, Any] | None = None,
        replan: bool = False,
        overrides: Overrides | None = None,
        on_event: EventCallback | None = None,
    ) -> ForkResult:
        """A new run that inherits ``run_id`` up to ``step_id`` and continues live from it (see ``replay.fork``)."""
        return replay.fork(
            self.store,
            self.settings,
            run_id,
            step_id,
            input=input,
            replan=replan,
            overrides=overrides,
            on_append=self._follow(on_event),
        )

    def compare_arms(
        self,
        run_id: str,
        arms: list[str],
        *,
        tools: replay.ToolsMode = "recorded",
        judge: replay.JudgeKind | None = None,
    ) -> replay.ArmsReport:
        """One what-if of ``run_id`` per arm (``PROVIDER:MODEL``, ``PROVIDER`` or ``prompt=FILE``): the matrix.

        ``judge`` (``offline`` or ``llm``) scores each arm's final response, recorded on its replay.
        """
        parsed = [replay.parse_arm(a) for a in arms]
        return replay.compare_arms(
            self.store,
            self.settings,
            run_id,
            parsed,
            tools=tools,
            judge_with=judge,
        )

    def compare_arms_all(
        self,
        arms: list[str],
        *,
        tools: replay.ToolsMode = "recorded",
        on_result: Callable[[str], None] | None = None,
    ) -> list[replay.ArmTally]:
        """Every arm over every original run: per-arm wins, ties and losses."""
        parsed = [replay.parse_arm(a) for a in arms]
        return replay.compare_arms_all(self.store, self.settings, parsed, tools=tools, on_result=on_result)

    def lineage(self, run_id: str) -> LineageNode:
        """The tree ``run_id`` belongs to, from its original down: replays and forks, each with its verdict."""
        root = self.run_summary(self.resolve_run_id(run_id))  # up the runs index: no run's events are read
        seen = {root.run_id}
        while (parent := root.parent_id) is not None and parent not in seen:
            row = self.store.get_run(parent)
            if row is None:
                break
            root = RunSummary.from_row(row)
            seen.add(root.run_id)
        return self._lineage_node(root)

    def run_summary(self, run_id: str) -> RunSummary:
        """The run list's line for one run."""
        row = self.store.get_run(run_id)
        if row is None:
            raise RunNotFound(run_id)
        return RunSummary.from_row(row)

    def _lineage_node(self, run: RunSummary, depth: int = 0) -> LineageNode:
        children = sorted(self.list_runs(parent_id=run.run_id, limit=500), key=lambda r: r.started_at)
        kind = "fork" if run.forked_from else run.replay_mode or "original"
        nodes = tuple(self._lineage_node(c, depth + 1) for c in children) if depth < 20 else ()
        return LineageNode(run, kind, nodes)

    def replays_of(self, run_id: str, limit: int = 100) -> list[RunSummary]:
        """The replays of a run, newest first; each summary carries its ``verdict``."""
        return self.list_runs(parent_id=run_id, limit=limit)

    def policy_counterfactual(self, policy_path: str | Path, last_n: int = 20) -> CounterfactualReport:
        """The decisions another policy file would change on the recorded plans of the last ``last_n`` runs."""
        return replay.policy_counterfactual(self.store, self.settings, Path(policy_path), last_n)

    def replay_all(
        self,
        mode: ev.ReplayMode = "verify",
        overrides: Overrides | None = None,
        on_result: Callable[[str], None] | None = None,
        workers: int = 1,
    ) -> ReplayAllReport:
        """Verify or what-if every original run (CI's gate); ``on_result`` gets each line as it is ready;
        ``workers`` > 1 verifies in that many processes (the same lines, in the same order)."""
        return replay.replay_all(self.store, self.settings, mode, overrides, on_result=on_result, workers=workers)

    # --- policy ----------------------------------------------------------------------------

    def policy(self) -> Policy:
        """The policy in force (``AGENT_POLICY``); ``PolicyError`` says what to fix in the file."""
        return Policy.load(self.settings.agent_policy)

    def policy_files(self) -> list[Path]:
        """The policy in force first, then the other ``*.yaml`` files beside it, by name: the replay choices.

        Read-only: it lists files and opens none (a broken file is reported when a replay loads it).
        """
        in_force = Path(self.settings.agent_policy)
        folder = in_force.parent
        others = sorted(folder.glob("*.yaml")) if folder.is_dir() else []
        return [in_force, *(p for p in others if p.resolve() != in_force.resolve())]

    def decisions(
        self,
        *,
        rules: Sequence[str] = (),
        tools: Sequence[str] = (),
        outcomes: Sequence[str] = (),
        run_prefix: str = "",
        limit: int = 2000,
    ) -> list[PolicyDecision]:
        """Recorded policy decisions across runs, newest first, at most ``limit``, from the decisions index."""
        return recorded_decisions(
            self.store, rules=rules, tools=tools, outcomes=outcomes, run_prefix=run_prefix, limit=limit
        )

    def overview(self, days: int = DEFAULT_DAYS) -> RunOverview:
        """Runs per day by status, cost per day, p50/p95 duration and decisions by rule, from the indexes
        (recomputed when the store has changed: ``OverviewCache``)."""
        return self._overview.get(self.store, days)

    def decision_tools(self) -> list[str]:
        """The tools that have any recorded decision: the decisions table's filter options."""
        return decision_tools(self.store)

    def decision_counts(self) -> dict[tuple[str, str], int]:
        """(rule, outcome) -> number of decisions over every run: the decisions-by-rule chart."""
        return decision_counts(self.store)
