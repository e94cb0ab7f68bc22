"""Choosing a planner from settings."""

from __future__ import annotations

from agent_core.config import Settings
from agent_core.errors import ConfigError
from agent_core.providers.anthropic import AnthropicPlanner
from agent_core.providers.base import Planner
from agent_core.providers.offline import OFFLINE_MODEL, OfflinePlanner
from agent_core.providers.openai import OpenAIPlanner

DEFAULT_MODELS: dict[str, str] = {
    "anthropic": "claude-sonnet-4-6",
    "openai": "gpt-4.1-mini",
    "offline": OFFLINE_MODEL,
}
"""Used when neither ``--model`` nor ``AGENT_MODEL`` names one."""


def make_planner(settings: Settings, *, provider: str | None = None, model: str | None = None) -> Planner:
    """The planner ``settings`` (or the explicit ``provider``/``model``) ask for.

    ``auto`` -> Anthropic if its key is set, else OpenAI if its key or base URL is set, else
    offline. A provider chosen explicitly without the credentials it needs is a ``ConfigError``.
    """
    choice = provider or settings.agent_planner
    if choice == "auto":
        choice = settings.resolved_planner()
    if choice == "offline":
        return OfflinePlanner(settings.agent_workspace)
    chosen_model = model or settings.agent_model or DEFAULT_MODELS.get(choice, "")
    if choice == "anthropic":
        if not settings.anthropic_api_key and not settings.anthropic_base_url:
            raise ConfigError("the anthropic planner needs ANTHROPIC_API_KEY; set it, or use --planner offline")
        return AnthropicPlanner(
            chosen_model, settings.anthropic_api_key, settings.anthropic_base_url, settings.llm_timeout_s
        )
    if choice == "openai":
        if not settings.openai_api_key and not settings.openai_base_url:
            raise ConfigError(
                "the openai planner needs OPENAI_API_KEY, or OPENAI_BASE_URL for a local OpenAI-compatible server "
                "(Ollama, vLLM, llama.cpp); set one, or use --planner offline"
            )
        return OpenAIPlanner(chosen_model, settings.openai_api_key, settings.openai_base_url, settings.llm_timeout_s)
    if choice == "recorded":
        raise ConfigError("the recorded planner replays a run: build it with RecordedPlanner(events) from that run")
    raise ConfigError(f"unknown planner {choice!r}; expected auto, offline, anthropic or openai")
