"""what-if: a new run (``replay_of``/``replay_mode`` set) with overrides, and its verdict as ``ReplayDiffed``.

It never writes the real workspace: recorded tools run against a shadow folder; live tools write to
an empty scratch folder and read everything else from the real workspace below it (copy-on-write:
nothing is copied up front, only what the replay writes exists in the scratch folder).
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from agent_core import events as ev
from agent_core.config import Settings
from agent_core.orchestrator import CommitApart, OnAppend, RunRequest
from agent_core.projections import RunState, load_events, load_state
from agent_core.providers import Planner, make_planner, planner_choices
from agent_core.replay.diff import DEFAULT_COST_SHARE, RunDiff, diff_runs
from agent_core.replay.driver import Overrides, ReplayError, drive, replay_orchestrator
from agent_core.replay.recording import (
    RecordedCall,
    RecordedTools,
    Recording,
    load_recording,
    recorded_planner,
    shadow_workspace,
)
from agent_core.store import EventStore
from agent_core.tools.search_index import forget_view


@dataclass(frozen=True, slots=True)
class WhatIfResult:
    """The new replay run, where it stopped, and its diff against the original."""

    original_id: str
    replay_id: str
    state: RunState
    diff: RunDiff
    notes: tuple[str, ...] = ()

    def line(self) -> str:
        """One line for the terminal: the verdict and its reasons."""
        return (
            f"{self.original_id}  {self.diff.verdict.upper()} (replay {self.replay_id}, {self.state.status}): "
            f"{'; '.join(self.diff.reasons)}"
        )


def _planner_for(settings: Settings, recording: Recording, overrides: Overrides) -> Planner:
    if not overrides.asks_planner:
        return recorded_planner(recording)
    info = recording.started.planner
    provider = overrides.provider or info.provider
    model = overrides.model or (info.model if provider == info.provider else None)
    return make_planner(settings, provider=provider, model=model)


def scratch_layer() -> Path:
    """An empty private folder a replay with live tools writes to; it reads the real workspace below it."""
    target = Path(tempfile.mkdtemp(prefix="agent-replay-")) / "workspace"
    target.mkdir()
    return target


def _below(settings: Settings) -> Path | None:
    workspace = settings.agent_workspace.resolve()
    return workspace if workspace.is_dir() else None


@contextmanager
def _replay_workspace(
    settings: Settings,
    recording: Recording,
    tools_mode: str,
    scratch: str | None,
    done: Sequence[RecordedCall] = (),
) -> Iterator[tuple[Path, Any]]:
    """(workspace, tool runner) for a what-if replay: a shadow with recorded tools, the scratch layer with live ones."""
    if tools_mode == "recorded":
        with shadow_workspace(recording, done) as shadow:
            yield shadow, RecordedTools(recording.calls, shadow, already_served=done)
        return
    yield (Path(scratch) if scratch and Path(scratch).is_dir() else scratch_layer()), None


def whatif(
    store: EventStore,
    settings: Settings,
    run_id: str,
    overrides: Overrides,
    *,
    cost_share: float = DEFAULT_COST_SHARE,
    on_append: OnAppend | None = None,
    planner: Planner | None = None,
) -> WhatIfResult:
    """Replay ``run_id`` as a new run with ``overrides``; append its verdict (``ReplayDiffed``) and return it.

    Tools ``recorded`` serve the original's observations (a call without one gets a failed
    observation saying so, never a live call); ``live`` run the real tools over the workspace,
    copy-on-write: they read the real workspace and write to a scratch folder above it. A step the
    original held reuses the original's human decision; any other held step waits for a person like
    any run (continue it with ``continue_replay``).

    The replay of an imported run is a local run under local policy: ``AGENT_POLICY`` unless
    overridden (never the policy path the export names), and no human decision of the export
    is reused (its held steps wait for a person here).

    ``planner`` replaces the planner the overrides ask for (the pytest plugin's strict recorded one).
    """
    recording = load_recording(store, run_id)
    started = recording.started
    recorded_policy = settings.agent_policy if recording.imported else started.policy_path or settings.agent_policy
    policy_path = overrides.policy_path or Path(recorded_policy)
    recorded_overrides = overrides.recorded()
    scratch = None
    read_through = None
    if overrides.tools == "live":
        scratch = str(scratch_layer())
        read_through = _below(settings)
        recorded_overrides["workspace"] = scratch
        if read_through is not None:
            recorded_overrides["read_through"] = str(read_through)
    with _replay_workspace(settings, recording, overrides.tools, scratch) as (workspace, runner):
        scoped = settings.model_copy(update={"agent_workspace": workspace})
        planner = planner or _planner_for(scoped, recording, overrides)
        orchestrator = replay_orchestrator(store, settings, workspace, planner, policy_path, read_through)
        # The request needs a name people may choose; the planner that answers is the one built above.
        provider = planner.provider if planner.provider in planner_choices(auto=False) else "offline"
        request = RunRequest(started.goal, started.max_steps, started.budget_usd, provider, planner.model)
        new_id = orchestrator.start(
            request,
            policy_path=policy_path,
            system_prompt=overrides.system_prompt
            if overrides.system_prompt is not None
            else started.overrides.get("system_prompt"),
            replay_of=run_id,
            replay_mode="whatif",
            overrides=recorded_overrides,
            on_append=on_append,
        )
        state = drive(
            orchestrator,
            new_id,
            planner,
            runner,
            () if recording.imported else recording.decisions,
            may_reuse=lambda s, t: (s, t) in recording.held,
            on_append=on_append,
        )
    return _record_verdict(store, settings, recording, new_id, state, cost_share, scratch)


def _record_verdict(
    store: EventStore,
    settings: Settings,
    recording: Recording,
    replay_id: str,
    state: RunState,
    cost_share: float,
    scratch: str | None,
) -> WhatIfResult:
    result = diff_runs(recording.events, load_events(store, replay_id), cost_share=cost_share)
    store.append(
        replay_id,
        [ev.ReplayDiffed(original_run_id=recording.run_id, verdict=result.verdict, reasons=list(result.reasons))],
        state.last_seq,
    )
    notes = []
    if scratch and state.is_terminal:
        below = state.overrides.get("read_through")
        if below:
            forget_view(settings.search_index_dir(), Path(scratch), Path(below))
        shutil.rmtree(Path(scratch).parent, ignore_errors=True)
    elif scratch:
        notes.append(f"the replay's live tools write to the scratch copy {scratch}")
    return WhatIfResult(recording.run_id, replay_id, load_state(store, replay_id), result, tuple(notes))


def continue_replay(
    store: EventStore,
    settings: Settings,
    run_id: str,
    *,
    on_append: OnAppend | None = None,
    commit_apart: CommitApart | None = None,
) -> WhatIfResult:
    """Advance a what-if replay that waited for a person, with the same tools mode and workspace rules."""
    state = load_state(store, run_id)
    if state.replay_mode != "whatif" or not state.replay_of:
        raise ReplayError(f"run {run_id!r} is not a what-if replay; continue it with 'python -m agent_core resume'")
    recording = load_recording(store, state.replay_of)
    own = load_recording(store, run_id)
    saved = state.overrides
    overrides = Overrides(
        provider=saved.get("provider"),
        model=saved.get("model"),
        system_prompt=saved.get("system_prompt"),
        policy_path=Path(state.policy_path) if state.policy_path else None,
        tools=saved.get("tools", "recorded"),
    )
    scratch = saved.get("workspace") if overrides.tools == "live" else None
    # A replay started before the scratch layer existed holds a whole copy and reads nothing through.
    read_through = Path(saved["read_through"]) if scratch and saved.get("read_through") else None
    with _replay_workspace(settings, recording, overrides.tools, scratch, own.calls) as (workspace, runner):
        scoped = settings.model_copy(update={"agent_workspace": workspace})
        planner = _planner_for(scoped, recording, overrides)
        orchestrator = replay_orchestrator(store, settings, workspace, planner, Path(state.policy_path), read_through)
        state = drive(orchestrator, run_id, planner, runner, (), on_append=on_append, commit_apart=commit_apart)
    return _record_verdict(
        store, settings, recording, run_id, state, DEFAULT_COST_SHARE, str(workspace) if scratch else None
    )
