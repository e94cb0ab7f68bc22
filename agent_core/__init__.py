"""agent_core: the embedded engine of the agent workbench.

The public API — what pages, the CLI and tests import — is listed in ``__all__``. Names are
loaded on first use so that importing ``agent_core.events`` (say) does not pull in the LLM SDKs.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

_EXPORTS = {
    "Settings": "agent_core.config",
    "AgentError": "agent_core.errors",
    "ConcurrencyError": "agent_core.errors",
    "RunNotFound": "agent_core.errors",
    "RunStateError": "agent_core.errors",
    "StoreError": "agent_core.errors",
    "RunRequest": "agent_core.orchestrator",
    "RunRequestError": "agent_core.orchestrator",
    "RunState": "agent_core.projections",
    "RunSummary": "agent_core.projections",
    "StepState": "agent_core.projections",
    "TERMINAL_STATUSES": "agent_core.projections",
    "COMPLETED": "agent_core.projections",
    "Workbench": "agent_core.workbench",
    "PendingApproval": "agent_core.workbench",
    "BackgroundRunner": "agent_core.runner",
    "planner_choices": "agent_core.providers.registry",
}
__all__ = [
    "COMPLETED",
    "TERMINAL_STATUSES",
    "AgentError",
    "BackgroundRunner",
    "ConcurrencyError",
    "PendingApproval",
    "RunNotFound",
    "RunRequest",
    "RunRequestError",
    "RunState",
    "RunStateError",
    "RunSummary",
    "Settings",
    "StepState",
    "StoreError",
    "Workbench",
    "planner_choices",
]

if TYPE_CHECKING:
    from agent_core.config import Settings
    from agent_core.errors import AgentError, ConcurrencyError, RunNotFound, RunStateError, StoreError
    from agent_core.orchestrator import RunRequest, RunRequestError
    from agent_core.projections import COMPLETED, TERMINAL_STATUSES, RunState, RunSummary, StepState
    from agent_core.providers.registry import planner_choices
    from agent_core.runner import BackgroundRunner
    from agent_core.workbench import PendingApproval, Workbench


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'agent_core' has no attribute {name!r}")
    return getattr(importlib.import_module(_EXPORTS[name]), name)
