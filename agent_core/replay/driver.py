"""What every re-execution shares: the error, the overrides, and the loop that drives the orchestrator."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any, Literal

from agent_core import events as ev
from agent_core.config import Settings
from agent_core.errors import AgentError
from agent_core.orchestrator import CommitApart, OnAppend, Orchestrator
from agent_core.policy import Policy
from agent_core.pricing import PriceTable, default_prices
from agent_core.projections import RunState
from agent_core.providers import Planner
from agent_core.store import EventStore

ToolsMode = Literal["recorded", "live"]


class ReplayError(AgentError):
    """A replay cannot be set up (unknown run, no recording to serve, bad override)."""


@dataclass(frozen=True, slots=True)
class Overrides:
    """What a what-if replay changes; ``None`` keeps the original's value."""

    provider: str | None = None
    model: str | None = None
    system_prompt: str | None = None
    policy_path: Path | None = None
    tools: ToolsMode = "recorded"

    @property
    def asks_planner(self) -> bool:
        """True when the plan must come from a provider rather than the recording."""
        return bool(self.provider or self.model or self.system_prompt is not None)

    @property
    def empty(self) -> bool:
        """True when nothing is overridden: a plain verify."""
        return not self.asks_planner and self.policy_path is None and self.tools == "recorded"

    def recorded(self) -> dict[str, Any]:
        """The overrides as ``RunStarted.overrides`` holds them (the system prompt is added by ``start``)."""
        data: dict[str, Any] = {"tools": self.tools}
        if self.provider:
            data["provider"] = self.provider
        if self.model:
            data["model"] = self.model
        if self.policy_path is not None:
            data["policy_path"] = str(self.policy_path)
        return data


# --- the recording -------------------------------------------------------------------------------


@cache
def replay_prices() -> PriceTable:
    """The shipped price table, loaded once for all replays."""
    return default_prices()


class StopReplay(Exception):
    """Raised from ``on_append`` to stop a re-execution where the recording stopped."""


def drive(
    orchestrator: Orchestrator,
    run_id: str,
    planner: Planner,
    runner: Any,
    decisions: Sequence[ev.ApprovalGranted | ev.ApprovalDenied],
    *,
    may_reuse: Callable[[str, str], bool] = lambda step_id, tool: True,
    on_append: OnAppend | None = None,
    commit_apart: CommitApart | None = None,
) -> RunState:
    """Advance until the run ends or waits with no recorded human decision left for the held step."""
    queues: dict[str, deque[ev.ApprovalGranted | ev.ApprovalDenied]] = {}
    for decision in decisions:
        queues.setdefault(decision.step_id, deque()).append(decision)
    while True:
        state = orchestrator.advance(
            run_id, planner=planner, tool_runner=runner, on_append=on_append, commit_apart=commit_apart
        )
        held = state.pending_approval
        queue = queues.get(held.step_id) if held else None
        if held is None or state.is_terminal or not queue or not may_reuse(held.step_id, held.tool):
            return state
        decision = queue.popleft()
        decide = orchestrator.approve if isinstance(decision, ev.ApprovalGranted) else orchestrator.deny
        decide(run_id, held.step_id, by=decision.by, comment=decision.comment)


class Served:
    """What the replay in progress serves an orchestrator many replays share: its planner, and the policy it
    loaded (one re-execution reads its policy file once, and decides with the bytes it checked)."""

    def __init__(self, planner: Planner | None = None, policy: Policy | None = None) -> None:
        """Nothing served until a replay sets it (or serve one replay's from the start)."""
        self.planner = planner
        self.policy = policy

    def planner_for(self, *_args: Any, **_kwargs: Any) -> Planner:
        """The planner of the replay in progress (the orchestrator's planner factory)."""
        if self.planner is None:
            raise RuntimeError("no replay in progress: set Served.planner first")
        return self.planner

    def policy_at(self, path: Path) -> Policy:
        """The policy of the replay in progress when ``path`` is its file; any other file is loaded."""
        policy = self.policy
        return policy if policy is not None and Path(path) == policy.path else Policy.load(path)


# --- verify --------------------------------------------------------------------------------------


def replay_orchestrator(
    store: EventStore,
    settings: Settings,
    workspace: Path,
    planner: Planner | Served,
    policy_path: Path,
    read_through: Path | None = None,
) -> Orchestrator:
    """An orchestrator over ``store`` whose workspace and policy are the replay's and whose planner is ``planner``
    (or, for an orchestrator many replays share, whatever the ``Served`` holds: its planner, and its policy
    when set); ``read_through`` is the read-only layer below a live replay's scratch workspace (the real workspace)."""
    scoped = settings.model_copy(update={"agent_workspace": workspace, "agent_policy": policy_path})
    served = planner if isinstance(planner, Served) else Served(planner)
    return Orchestrator(
        store,
        scoped,
        prices=replay_prices(),
        planner_factory=served.planner_for,
        policy_source=served.policy_at,
        read_through=read_through,
    )
