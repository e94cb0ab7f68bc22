"""The provider registry: every planner provider declared once, in ``PROVIDERS``.

Everything else reads this table: the validation of ``AGENT_PLANNER``, what ``auto`` picks,
``make_planner``, the CLI's ``--planner`` choices, ``RunRequest`` validation, the dashboard's
select boxes and replay overrides. An OpenAI-compatible server needs no entry (it is ``openai``
with ``OPENAI_BASE_URL``); a new wire format is one module (a planner class taking
``(model, api_key, base_url, timeout_s)``) plus one ``wire_format(...)`` line below, plus its
prices in ``prices.yaml``. Its key and base URL are read as ``{ENV}_API_KEY`` / ``{ENV}_BASE_URL``
by ``Settings`` without a field of their own.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Protocol

from agent_core.errors import ConfigError
from agent_core.providers.anthropic import AnthropicPlanner
from agent_core.providers.base import Planner
from agent_core.providers.offline import OFFLINE_MODEL, OfflinePlanner
from agent_core.providers.openai import OpenAIPlanner

if TYPE_CHECKING:
    from agent_core.config import Settings

AUTO = "auto"
API_KEY = "API_KEY"
BASE_URL = "BASE_URL"


@dataclass(frozen=True)
class ProviderSpec:
    """One provider: how its planner is built, what it needs, and where ``auto`` and people may choose it."""

    name: str
    """What ``AGENT_PLANNER``, ``--planner``, the dashboard and ``Planner.provider`` call it."""
    build: Callable[[Settings, str], Planner]
    """The planner for the settings and the model (already defaulted; a planner may ignore it)."""
    default_model: str = ""
    """The model when neither ``--model`` nor ``AGENT_MODEL`` names one."""
    credentials: tuple[str, ...] = ()
    """The variables it is reached with (``OPENAI_API_KEY``...); unless empty, one must be set."""
    needs: str = ""
    """What the error for missing credentials says it needs; by default the variables."""
    auto_rank: int | None = None
    """``auto`` tries providers by ascending rank; None: ``auto`` never picks this one."""
    auto_when: tuple[str, ...] = ()
    """``auto`` picks it when one of these variables is set; empty: always (the fallback)."""
    selectable: bool = True
    """A choice for people (``AGENT_PLANNER``, CLI, dashboard); False for a planner built another way."""

    def missing_credentials(self, settings: Settings) -> str | None:
        """The error message when none of its credentials is set, else None."""
        if not self.credentials or any(settings.credential(name) for name in self.credentials):
            return None
        needs = self.needs or f"{' or '.join(self.credentials)}; set {'it' if len(self.credentials) == 1 else 'one'}"
        return f"the {self.name} planner needs {needs}, or use --planner offline"

    def auto_picks(self, settings: Settings) -> bool:
        """Whether ``auto`` may take this provider with these settings (its rank decides among those that may)."""
        return self.auto_rank is not None and (
            not self.auto_when or any(settings.credential(name) for name in self.auto_when)
        )


MAX_BUILT_PLANNERS = 32


def forget_built_planners() -> None:
    """Drop every cached SDK planner: the next ``make_planner`` builds a new client (and new connections).

    A wire format's planner is built once per model, key, base URL and timeout and then shared: its
    SDK client costs ~25 ms to build (its TLS context) and keeps its connections alive between runs;
    it is safe across threads. Tests that restart a fake server call this between tests.
    """
    _built.cache_clear()


class WirePlanner(Hashable, Protocol):
    """How a wire-format planner class is constructed (``AnthropicPlanner``, ``OpenAIPlanner``)."""

    def __call__(self, model: str, api_key: str | None, base_url: str | None, timeout_s: float) -> Planner: ...


def wire_format(
    name: str,
    planner: WirePlanner,
    *,
    env: str,
    default_model: str,
    needs: str = "",
    auto_rank: int | None = None,
    auto_when: tuple[str, ...] = (API_KEY, BASE_URL),
) -> ProviderSpec:
    """A provider reached through an SDK with ``{env}_API_KEY`` and/or ``{env}_BASE_URL`` (either one will do).

    ``auto_when`` names which of the two (``API_KEY``, ``BASE_URL``) let ``auto`` pick it. Its planners
    are built once per model, key, base URL and timeout (``forget_built_planners``).
    """
    key, url = f"{env}_{API_KEY}", f"{env}_{BASE_URL}"

    def build(settings: Settings, model: str) -> Planner:
        return _built(planner, model, settings.credential(key), settings.credential(url), settings.llm_timeout_s)

    return ProviderSpec(
        name,
        build,
        default_model,
        credentials=(key, url),
        needs=needs,
        auto_rank=auto_rank,
        auto_when=tuple(f"{env}_{which}" for which in auto_when),
    )


@lru_cache(maxsize=MAX_BUILT_PLANNERS)
def _built(planner: WirePlanner, model: str, api_key: str | None, base_url: str | None, timeout_s: float) -> Planner:
    """The one planner of this wire format for these arguments (``forget_built_planners``)."""
    return planner(model, api_key, base_url, timeout_s)


def _offline(settings: Settings, model: str) -> Planner:
    return OfflinePlanner(settings.agent_workspace)  # its rules are its model: a model asked for is ignored


def _recorded(settings: Settings, model: str) -> Planner:
    raise ConfigError("the recorded planner replays a run: build it with RecordedPlanner(events) from that run")


PROVIDERS: dict[str, ProviderSpec] = {
    spec.name: spec
    for spec in (
        ProviderSpec("offline", _offline, OFFLINE_MODEL, auto_rank=100),
        wire_format(
            "anthropic",
            AnthropicPlanner,
            env="ANTHROPIC",
            default_model="claude-sonnet-4-6",
            needs="ANTHROPIC_API_KEY; set it",
            auto_rank=10,
            auto_when=(API_KEY,),
        ),
        wire_format(
            "openai",
            OpenAIPlanner,
            env="OPENAI",
            default_model="gpt-4.1-mini",
            needs="OPENAI_API_KEY, or OPENAI_BASE_URL for a local OpenAI-compatible server (Ollama, vLLM, llama.cpp); "
            "set one",
            auto_rank=20,
        ),
        ProviderSpec("recorded", _recorded, selectable=False),
    )
}
"""Every provider by name, in the order people see them. Tests may add an entry (``monkeypatch.setitem``)."""

DEFAULT_MODELS: dict[str, str] = {spec.name: spec.default_model for spec in PROVIDERS.values() if spec.default_model}
"""Each shipped provider's default model (read off ``PROVIDERS``; the prices check walks it)."""


def planner_choices(*, auto: bool = True) -> tuple[str, ...]:
    """The planners people may choose, in registry order: ``auto`` first unless ``auto=False``."""
    names = tuple(name for name, spec in PROVIDERS.items() if spec.selectable)
    return (AUTO, *names) if auto else names


def credential_names() -> tuple[str, ...]:
    """Every variable a registered provider is reached with: what ``Settings`` reads for them."""
    return tuple(dict.fromkeys(name for spec in PROVIDERS.values() for name in (*spec.credentials, *spec.auto_when)))


def resolve_auto(settings: Settings) -> str:
    """What ``auto`` means with these settings: the lowest-ranked provider that ``auto`` may pick.

    As shipped: Anthropic if its key is set, else OpenAI if its key or base URL is set, else offline.
    """
    picked = [spec for spec in PROVIDERS.values() if spec.auto_picks(settings)]
    if not picked:
        raise ConfigError(f"no provider may be picked by 'auto'; set AGENT_PLANNER to one of {planner_choices()[1:]}")
    return min(picked, key=lambda spec: spec.auto_rank or 0).name


def make_planner(settings: Settings, *, provider: str | None = None, model: str | None = None) -> Planner:
    """The planner ``settings`` (or the explicit ``provider``/``model``) ask for.

    ``auto`` -> ``resolve_auto``. The model is ``model``, else ``AGENT_MODEL``, else the provider's
    default. A provider without the credentials it needs is a ``ConfigError`` saying which to set.
    An SDK provider's planner is shared by every call with the same model, key, base URL and timeout.
    """
    choice = provider or settings.agent_planner
    if choice == AUTO:
        choice = resolve_auto(settings)
    spec = PROVIDERS.get(choice)
    if spec is None:
        *first, last = planner_choices()
        raise ConfigError(f"unknown planner {choice!r}; expected {', '.join(first)} or {last}")
    missing = spec.missing_credentials(settings)
    if missing:
        raise ConfigError(missing)
    return spec.build(settings, model or settings.agent_model or spec.default_model)
