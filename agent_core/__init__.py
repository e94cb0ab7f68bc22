"""agent_core: the embedded engine of the agent workbench.

This package is the public API: the dashboard (``app.py``, ``pages/``, ``ui/``) imports from
``agent_core`` itself, never from a submodule (tests/test_architecture.py checks it), so the
modules behind these names can move without touching a page. Names are loaded on first use so
that importing one of them does not pull in the LLM SDKs.

To export a name, add it to ``_EXPORTS`` (name -> module) and to the ``TYPE_CHECKING`` block
(for type checkers); a test checks that the two agree and that every name resolves.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

_EXPORTS = {
    # settings and errors
    "Settings": "agent_core.config",
    "describe_database": "agent_core.config",
    "load_settings": "agent_core.config",
    "AgentError": "agent_core.errors",
    "ConcurrencyError": "agent_core.errors",
    "ConfigError": "agent_core.errors",
    "PolicyError": "agent_core.errors",
    "ProviderError": "agent_core.errors",
    "RunNotFound": "agent_core.errors",
    "RunStateError": "agent_core.errors",
    "RunnerBusy": "agent_core.errors",
    "StoreError": "agent_core.errors",
    # the log and what it means
    "RecordedEvent": "agent_core.events",
    "ObservationCaptured": "agent_core.events",
    "StepInterrupted": "agent_core.events",
    "ToolExecuted": "agent_core.events",
    "summarize_event": "agent_core.describe",
    "COMPLETED": "agent_core.projections",
    "TERMINAL_STATUSES": "agent_core.projections",
    "RunState": "agent_core.projections",
    "RunSummary": "agent_core.projections",
    "StepState": "agent_core.projections",
    "fold": "agent_core.projections",
    # starting and driving runs
    "BUDGET_RANGE": "agent_core.orchestrator",
    "GOAL_MAX_CHARS": "agent_core.orchestrator",
    "MAX_STEPS_RANGE": "agent_core.orchestrator",
    "planner_choices": "agent_core.providers",
    "RunRequest": "agent_core.orchestrator",
    "RunRequestError": "agent_core.orchestrator",
    "PROVIDER_FAILURE_MARKER": "agent_core.planning",
    "SYSTEM_PROMPT": "agent_core.planning",
    "DECISION_OUTCOMES": "agent_core.workbench",
    "ApprovalFilter": "agent_core.approvals",
    "RunOverview": "agent_core.overview",
    "WritePreview": "agent_core.approval_preview",
    "PendingApproval": "agent_core.approvals",
    "LineageNode": "agent_core.workbench",
    "PolicyDecision": "agent_core.approvals",
    "Workbench": "agent_core.workbench",
    "BackgroundRunner": "agent_core.runner",
    "Dispatcher": "agent_core.dispatch",
    "QueueDispatcher": "agent_core.dispatch",
    "dispatcher": "agent_core.dispatch",
    "QueueHealth": "agent_core.queue",
    "queue_health": "agent_core.queue",
    # replay, export and import
    "DEFAULT_COST_SHARE": "agent_core.replay",
    "Overrides": "agent_core.replay",
    "ForkResult": "agent_core.replay",
    "ArmResult": "agent_core.replay",
    "ArmsReport": "agent_core.replay",
    "ReplayError": "agent_core.replay",
    "RunComparison": "agent_core.replay",
    "RunDiff": "agent_core.replay",
    "StepFigures": "agent_core.replay",
    "StepDiff": "agent_core.replay",
    "VerifyResult": "agent_core.replay",
    "TransferError": "agent_core.transfer",
    "export_lines": "agent_core.transfer",
    "import_lines": "agent_core.transfer",
    # the Timeline's step waterfall
    "Waterfall": "agent_core.waterfall",
    "WaterfallRow": "agent_core.waterfall",
    "WaterfallSpan": "agent_core.waterfall",
    "step_waterfall": "agent_core.waterfall",
}
_MODULES = {"events"}
"""Public modules: the event catalogue is a contract as a whole, so ``from agent_core import events`` is allowed."""
__all__ = sorted([*_EXPORTS, *_MODULES])

if TYPE_CHECKING:
    from agent_core import events as events
    from agent_core.approval_preview import WritePreview as WritePreview
    from agent_core.approvals import ApprovalFilter as ApprovalFilter
    from agent_core.approvals import PendingApproval as PendingApproval
    from agent_core.approvals import PolicyDecision as PolicyDecision
    from agent_core.config import Settings as Settings
    from agent_core.config import describe_database as describe_database
    from agent_core.config import load_settings as load_settings
    from agent_core.describe import summarize_event as summarize_event
    from agent_core.dispatch import Dispatcher as Dispatcher
    from agent_core.dispatch import QueueDispatcher as QueueDispatcher
    from agent_core.dispatch import dispatcher as dispatcher
    from agent_core.errors import AgentError as AgentError
    from agent_core.errors import ConcurrencyError as ConcurrencyError
    from agent_core.errors import ConfigError as ConfigError
    from agent_core.errors import PolicyError as PolicyError
    from agent_core.errors import ProviderError as ProviderError
    from agent_core.errors import RunnerBusy as RunnerBusy
    from agent_core.errors import RunNotFound as RunNotFound
    from agent_core.errors import RunStateError as RunStateError
    from agent_core.errors import StoreError as StoreError
    from agent_core.events import ObservationCaptured as ObservationCaptured
    from agent_core.events import RecordedEvent as RecordedEvent
    from agent_core.events import StepInterrupted as StepInterrupted
    from agent_core.events import ToolExecuted as ToolExecuted
    from agent_core.orchestrator import BUDGET_RANGE as BUDGET_RANGE
    from agent_core.orchestrator import GOAL_MAX_CHARS as GOAL_MAX_CHARS
    from agent_core.orchestrator import MAX_STEPS_RANGE as MAX_STEPS_RANGE
    from agent_core.orchestrator import RunRequest as RunRequest
    from agent_core.orchestrator import RunRequestError as RunRequestError
    from agent_core.overview import RunOverview as RunOverview
    from agent_core.planning import PROVIDER_FAILURE_MARKER as PROVIDER_FAILURE_MARKER
    from agent_core.planning import SYSTEM_PROMPT as SYSTEM_PROMPT
    from agent_core.projections import COMPLETED as COMPLETED
    from agent_core.projections import TERMINAL_STATUSES as TERMINAL_STATUSES
    from agent_core.projections import RunState as RunState
    from agent_core.projections import RunSummary as RunSummary
    from agent_core.projections import StepState as StepState
    from agent_core.projections import fold as fold
    from agent_core.providers import planner_choices as planner_choices
    from agent_core.queue import QueueHealth as QueueHealth
    from agent_core.queue import queue_health as queue_health
    from agent_core.replay import DEFAULT_COST_SHARE as DEFAULT_COST_SHARE
    from agent_core.replay import ArmResult as ArmResult
    from agent_core.replay import ArmsReport as ArmsReport
    from agent_core.replay import ForkResult as ForkResult
    from agent_core.replay import Overrides as Overrides
    from agent_core.replay import ReplayError as ReplayError
    from agent_core.replay import RunComparison as RunComparison
    from agent_core.replay import RunDiff as RunDiff
    from agent_core.replay import StepDiff as StepDiff
    from agent_core.replay import StepFigures as StepFigures
    from agent_core.replay import VerifyResult as VerifyResult
    from agent_core.runner import BackgroundRunner as BackgroundRunner
    from agent_core.transfer import TransferError as TransferError
    from agent_core.transfer import export_lines as export_lines
    from agent_core.transfer import import_lines as import_lines
    from agent_core.waterfall import Waterfall as Waterfall
    from agent_core.waterfall import WaterfallRow as WaterfallRow
    from agent_core.waterfall import WaterfallSpan as WaterfallSpan
    from agent_core.waterfall import step_waterfall as step_waterfall
    from agent_core.workbench import DECISION_OUTCOMES as DECISION_OUTCOMES
    from agent_core.workbench import LineageNode as LineageNode
    from agent_core.workbench import Workbench as Workbench


def __getattr__(name: str) -> Any:
    """Import the module behind a public name on first use (PEP 562), then hand out the name."""
    if name in _MODULES:
        return importlib.import_module(f"agent_core.{name}")
    if name not in _EXPORTS:
        raise AttributeError(f"module 'agent_core' has no attribute {name!r}")
    return getattr(importlib.import_module(_EXPORTS[name]), name)
