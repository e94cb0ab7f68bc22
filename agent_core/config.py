"""Settings: one object read from the environment and ``.env``, passed explicitly.

Nothing in agent_core reads ``os.environ`` on its own (except the redactor, which must know
every secret present); callers build a ``Settings`` once and hand it down.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path
from typing import Any

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic.fields import FieldInfo
from pydantic_settings import (
    BaseSettings,
    EnvSettingsSource,
    InitSettingsSource,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from agent_core.errors import ConfigError

DEFAULT_DATABASE_URL = "sqlite:///data/agent.db"
SHIPPED_POLICY = Path(__file__).resolve().parent.parent / "policies" / "default.yaml"


class Settings(BaseSettings):
    """Everything configurable, with the defaults of DESIGN.md's Configuration section."""

    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore", frozen=True)

    database_url: str = Field(default=DEFAULT_DATABASE_URL, validation_alias="DATABASE_URL")
    agent_planner: str = Field(default="auto", validation_alias="AGENT_PLANNER")
    agent_model: str | None = Field(default=None, validation_alias="AGENT_MODEL")
    agent_workspace: Path = Field(default=Path("workspace"), validation_alias="AGENT_WORKSPACE")
    agent_policy: Path = Field(default=SHIPPED_POLICY, validation_alias="AGENT_POLICY")  # works from any folder
    provider_credentials: dict[str, SecretStr] = Field(default_factory=dict, exclude=True)
    """``ANTHROPIC_API_KEY``, ``OPENAI_BASE_URL``...: the variables registered providers name (``credential``)."""
    brave_api_key: SecretStr | None = Field(default=None, validation_alias="BRAVE_API_KEY")
    llm_timeout_s: float = Field(default=60.0, validation_alias="AGENT_LLM_TIMEOUT")
    read_max_bytes: int = Field(default=200_000, ge=1, validation_alias="AGENT_READ_MAX_BYTES")
    search_max_files: int = Field(default=20_000, ge=1, validation_alias="AGENT_SEARCH_MAX_FILES")
    search_max_file_bytes: int = Field(default=10_000_000, ge=1, validation_alias="AGENT_SEARCH_MAX_FILE_BYTES")
    index_dir: Path | None = Field(default=None, validation_alias="AGENT_INDEX_DIR")
    """Where the offline search keeps its index; default: see ``search_index_dir``."""
    xdg_cache_home: Path | None = Field(default=None, validation_alias="XDG_CACHE_HOME")

    @field_validator("agent_planner")
    @classmethod
    def _a_registered_planner(cls, value: str) -> str:
        from agent_core.providers.registry import planner_choices  # the registry imports this module

        choices = planner_choices()
        if value not in choices:
            raise ValueError(f"unknown planner {value!r}; choose one of {', '.join(choices)}")
        return value

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        credentials = _ProviderCredentials(settings_cls, init_settings, env_settings, dotenv_settings)
        return credentials, init_settings, env_settings, dotenv_settings, file_secret_settings

    def credential(self, name: str) -> str | None:
        """A provider's key or base URL by its variable's name (``OPENAI_BASE_URL``); None when unset."""
        value = self.provider_credentials.get(name)
        return value.get_secret_value() if value else None

    def resolved_planner(self) -> str:
        """The provider ``AGENT_PLANNER`` names; ``auto`` resolved by ``providers.registry.resolve_auto``.

        As shipped, ``auto`` is Anthropic if its key is set, else OpenAI if its key or base URL is set,
        else offline.
        """
        if self.agent_planner != "auto":
            return self.agent_planner
        from agent_core.providers.registry import resolve_auto  # the registry imports this module

        return resolve_auto(self)

    def search_index_dir(self) -> Path:
        """Where the offline search's index lives: ``AGENT_INDEX_DIR``, else beside a SQLite event store
        (``data/agent.db`` -> ``data/agent.db.search/``), else a cache folder named after the database URL
        (``$XDG_CACHE_HOME`` or ``~/.cache``, ``agent-workbench/search/<hash>``). Never the workspace: the
        search keeps its index in memory when this folder is inside it."""
        if self.index_dir is not None:
            return Path(os.path.abspath(self.index_dir))
        try:
            url = make_url(self.database_url)
        except ArgumentError:
            url = None
        if url is not None and url.get_backend_name() == "sqlite" and url.database not in (None, "", ":memory:"):
            return Path(os.path.abspath(str(url.database) + ".search"))
        try:
            cache = self.xdg_cache_home or Path.home() / ".cache"
        except RuntimeError:  # no home folder to speak of (a bare container user)
            cache = Path(tempfile.gettempdir())
        key = hashlib.sha256(masked_url(self.database_url).encode("utf-8")).hexdigest()[:16]
        return Path(os.path.abspath(cache)) / "agent-workbench" / "search" / key


class _ProviderCredentials(PydanticBaseSettingsSource):
    """The variables registered providers are reached with, read like a field: arguments, environment, ``.env``.

    They have no fields of their own because providers are declared in ``providers.registry``, not
    here: a new provider's ``{ENV}_API_KEY`` is read without a change to this module.
    """

    def __init__(self, settings_cls: type[BaseSettings], *sources: PydanticBaseSettingsSource) -> None:
        super().__init__(settings_cls)
        self._sources = sources  # first wins, as for the fields

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False  # __call__ fills the one field this source serves

    def __call__(self) -> dict[str, Any]:
        from agent_core.providers.registry import credential_names  # the registry imports this module

        found: dict[str, Any] = {}
        for name in credential_names():
            value = next((v for source in self._sources if (v := _lookup(source, name))), None)
            if value:
                found[name] = value
        return {"provider_credentials": found}


def _lookup(source: PydanticBaseSettingsSource, name: str) -> Any:
    if isinstance(source, InitSettingsSource):
        return source.init_kwargs.get(name)
    if isinstance(source, EnvSettingsSource):  # the environment, and .env (a subclass)
        return source.env_vars.get(name if source.case_sensitive else name.lower())
    return None


def load_settings(**values: Any) -> Settings:
    """``Settings(**values)``; invalid settings become one ``ConfigError`` naming each bad variable and why."""
    try:
        return Settings(**values)
    except ValidationError as error:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in error.errors())
        raise ConfigError(f"the settings in the environment or .env are invalid: {problems}") from error


def masked_url(url: str) -> str:
    """The URL as it may be shown to people: the password replaced by ``***``."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return "<unparseable database URL>"


def describe_database(url: str) -> str:
    """Where the data lives, for the sidebar and the CLI: a file path or host/database, never a password."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        return "<unparseable database URL>"
    if parsed.get_backend_name() == "sqlite":
        return f"SQLite file {parsed.database or ':memory:'}"
    return f"PostgreSQL {parsed.host or 'localhost'}:{parsed.port or 5432}/{parsed.database}"
