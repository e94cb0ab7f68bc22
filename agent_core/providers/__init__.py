"""Planners: a tiny protocol and its implementations (offline, Anthropic, OpenAI-compatible, recorded).

One module per wire format; ``registry`` declares each provider once and chooses one from the settings.
"""

from agent_core.providers.anthropic import AnthropicPlanner
from agent_core.providers.base import Planner, Reply
from agent_core.providers.offline import OFFLINE_MODEL, OfflinePlanner, offline_plan
from agent_core.providers.openai import OpenAIPlanner
from agent_core.providers.recorded import RecordedPlanner
from agent_core.providers.registry import DEFAULT_MODELS, PROVIDERS, ProviderSpec, make_planner, planner_choices

__all__ = [
    "DEFAULT_MODELS",
    "OFFLINE_MODEL",
    "PROVIDERS",
    "AnthropicPlanner",
    "OfflinePlanner",
    "OpenAIPlanner",
    "Planner",
    "ProviderSpec",
    "RecordedPlanner",
    "Reply",
    "make_planner",
    "offline_plan",
    "planner_choices",
]
