"""Secrets never reach the log; settings come from the environment with safe defaults."""

from __future__ import annotations

from pathlib import Path

import pytest

from agent_core.config import Settings, describe_database, masked_url
from agent_core.redaction import REDACTED, Redactor, secrets_from_environment


@pytest.mark.parametrize(
    "leak",
    [
        "sk-ant-api03-abcdefghijklmnopqrstuv",
        "sk-proj-ABCDEFGHIJKLMNOPQRSTUVWX",
        "sk-0123456789abcdefghij",
        "ghp_0123456789abcdefghijABCDEFGHIJ",
        "AKIAABCDEFGHIJKLMNOP",
    ],
)
def test_key_shapes_are_redacted_anywhere(leak: str) -> None:
    redactor = Redactor(secrets=())
    payload = {"goal": f"use {leak} please", "nested": [{"x": leak}], leak: 1}
    cleaned = redactor.value(payload)
    assert leak not in repr(cleaned)
    assert cleaned["goal"] == f"use {REDACTED} please" and cleaned[REDACTED] == 1


def test_environment_secrets_are_found_by_name_and_short_values_ignored() -> None:
    found = secrets_from_environment(
        {"OPENAI_API_KEY": "abcdefghijk", "GH_TOKEN": "zzzzzzzzzz", "DEBUG": "1", "HOME": "/root", "DB_PASSWORD": "pw"}
    )
    assert set(found) == {"abcdefghijk", "zzzzzzzzzz"}
    assert Redactor(found).text("a abcdefghijk b") == f"a {REDACTED} b"


def test_ordinary_text_is_untouched() -> None:
    text = "Summarize the sk-learn notes and the ask-me file"
    assert Redactor(secrets=()).text(text) == text


def test_settings_defaults_and_auto_planner(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    settings = Settings()
    assert settings.database_url == "sqlite:///data/agent.db"
    assert settings.agent_workspace == Path("workspace") and settings.resolved_planner() == "offline"
    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:11434/v1")
    assert Settings().resolved_planner() == "openai"
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-whatever-123456")
    assert Settings().resolved_planner() == "anthropic"
    monkeypatch.setenv("AGENT_PLANNER", "offline")
    assert Settings().resolved_planner() == "offline"


def test_dotenv_file_is_read(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / ".env").write_text("DATABASE_URL=sqlite:///elsewhere.db\nAGENT_MODEL=m1\n")
    settings = Settings()
    assert settings.database_url == "sqlite:///elsewhere.db" and settings.agent_model == "m1"


def test_database_descriptions_never_show_a_password() -> None:
    url = "postgresql+psycopg://bob:topsecret@db.example:5433/agents"
    assert "topsecret" not in masked_url(url) and "topsecret" not in describe_database(url)
    assert describe_database(url) == "PostgreSQL db.example:5433/agents"
    assert describe_database("sqlite:///data/agent.db") == f"SQLite file {Path.cwd().resolve() / 'data/agent.db'}"
    assert describe_database("sqlite:///file:data/agent.db?uri=true") == describe_database("sqlite:///data/agent.db")
