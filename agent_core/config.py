"""Settings: one object read from the environment and ``.env``, passed explicitly.

Nothing in agent_core reads ``os.environ`` on its own (except the redactor, which must know
every secret present); callers build a ``Settings`` once and hand it down.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

PlannerChoice = Literal["auto", "offline", "anthropic", "openai"]

DEFAULT_DATABASE_URL = "sqlite:///data/agent.db"
SHIPPED_POLICY = Path(__file__).resolve().parent.parent / "policies" / "default.yaml"


class Settings(BaseSettings):
    """Everything configurable, with the defaults of DESIGN.md's Configuration section."""

    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore", frozen=True)

    database_url: str = Field(default=DEFAULT_DATABASE_URL, validation_alias="DATABASE_URL")
    agent_planner: PlannerChoice = Field(default="auto", validation_alias="AGENT_PLANNER")
    agent_model: str | None = Field(default=None, validation_alias="AGENT_MODEL")
    agent_workspace: Path = Field(default=Path("workspace"), validation_alias="AGENT_WORKSPACE")
    agent_policy: Path = Field(default=SHIPPED_POLICY, validation_alias="AGENT_POLICY")  # works from any folder
    anthropic_api_key: SecretStr | None = Field(default=None, validation_alias="ANTHROPIC_API_KEY")
    anthropic_base_url: str | None = Field(default=None, validation_alias="ANTHROPIC_BASE_URL")
    openai_api_key: SecretStr | None = Field(default=None, validation_alias="OPENAI_API_KEY")
    openai_base_url: str | None = Field(default=None, validation_alias="OPENAI_BASE_URL")
    brave_api_key: SecretStr | None = Field(default=None, validation_alias="BRAVE_API_KEY")
    llm_timeout_s: float = Field(default=60.0, validation_alias="AGENT_LLM_TIMEOUT")
    otel_exporter_otlp_endpoint: str | None = Field(default=None, validation_alias="OTEL_EXPORTER_OTLP_ENDPOINT")

    def resolved_planner(self) -> Literal["offline", "anthropic", "openai"]:
        """``auto`` -> Anthropic if its key is set, else OpenAI if its key or base URL is set, else offline."""
        if self.agent_planner != "auto":
            return self.agent_planner
        if self.anthropic_api_key:
            return "anthropic"
        if self.openai_api_key or self.openai_base_url:
            return "openai"
        return "offline"


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
