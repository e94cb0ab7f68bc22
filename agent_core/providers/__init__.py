"""Planners: a tiny protocol and its implementations (offline, Anthropic, OpenAI-compatible, recorded).

One module per wire format; ``registry`` chooses one from the settings.
"""

from agent_core.providers.anthropic import AnthropicPlanner
from agent_core.providers.base import Planner, Reply
from agent_core.providers.offline import OFFLINE_MODEL, OfflinePlanner, offline_plan
from agent_core.providers.openai import OpenAIPlanner
from agent_core.providers.recorded import RecordedPlanner
from agent_core.providers.registry import DEFAULT_MODELS, make_planner

__all__ = [
    "DEFAULT_MODELS",
    "OFFLINE_MODEL",
    "AnthropicPlanner",
    "OfflinePlanner",
    "OpenAIPlanner",
    "Planner",
    "RecordedPlanner",
    "Reply",
    "make_planner",
    "offline_plan",
]
