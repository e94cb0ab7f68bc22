"""Secrets never reach the log; settings come from the environment with safe defaults."""

from __future__ import annotations

from pathlib import Path

import pytest

from agent_core.config import Settings, describe_database, masked_url
from agent_core.redaction import Redactor, secrets_from_environment

ANTHROPIC_KEY = "sk-ant-api03-Q8f3kLm2ZpX9wV7t-Bn4Rc6Yd1Hs5Gj0Ka_Ue8Wo3Ti7Pl2Mn6Vb9Cx4Az1Sd5Fg8Hj2Kl7Qw3Er6Ty0Ui4Op9AA"
OPENAI_KEY = "sk-proj-aB3dE5fG7hJ9kL1mN3pQ5rS7tU9vW1xT3BlbkFJyZ2aB4cD6eF8gH0iJ2kL4mN6oP8qR0sT"


@pytest.mark.parametrize(
    ("leak", "label"),
    [
        (ANTHROPIC_KEY, "anthropic-key"),
        (OPENAI_KEY, "openai-key"),
        ("sk-" + "aB3dE5fG7hJ9kL1mN3pQ" + "T3BlbkFJ" + "yZ2aB4cD6eF8gH0iJ2kL", "api-key"),
        ("ghp_" + "0123456789abcdefghijABCDEFGHIJklmnop", "github-token"),
        ("AKIAIOSFODNN7EXAMPLE", "aws-access-key-id"),
        ("BSASbzOkt6aRXgHa-zncvcBnB0ooLZv", "brave-key"),
    ],
)
def test_key_shapes_are_redacted_anywhere_and_named(leak: str, label: str) -> None:
    redactor = Redactor(secrets=())
    payload = {"goal": f"use {leak} please", "nested": [{"x": leak}], leak: 1}
    cleaned, count = redactor.redact(payload)
    assert leak not in repr(cleaned) and count == 3
    assert cleaned["goal"] == f"use [REDACTED:{label}] please" and cleaned[f"[REDACTED:{label}]"] == 1


def test_environment_secrets_are_found_by_name_and_obvious_non_secrets_ignored() -> None:
    found = secrets_from_environment(
        {
            "OPENAI_API_KEY": "abcdefghijk",
            "GH_TOKEN": "zzzzzzzzzz",
            "GITHUB_PAT": "pat-0123456789",
            "DB_PASS": "hunter2hunter2",
            "SENTRY_DSN": "abc123def456",
            "AWS_CREDENTIALS": "cred-98765432",
            "API_BEARER": "bearer-value-1",
            "BASIC_AUTH": "user:letmein99",
            "PRIVATE_SIGNING": "-----signing-----",
            "DATABASE_URL": "postgresql://bob:topsecret99@db/agents",
            "DEBUG": "1",
            "HOME": "/root",
            "DB_PASSWORD": "pw",  # too short
            "AUTH_ENABLED": "disabled",  # a boolean
            "TOKEN_TTL_SECONDS": "86400000",  # a number
            "SSH_AUTH_SOCK": "/tmp/ssh-abc/agent.1",  # names a socket
            "GOOGLE_CREDENTIALS_FILE": "/etc/creds.json",  # names a file
            "AUTH_SERVER": "https://login.example.com/oauth",  # a URL without a password
            "PASSWORD_HINT": "./hint.txt",  # a path
            "PATH": "/usr/local/bin:/usr/bin",
            "COMPASS_THEME": "solarized-dark",  # PASS only inside a word
        }
    )
    assert found == {
        "OPENAI_API_KEY": "abcdefghijk",
        "GH_TOKEN": "zzzzzzzzzz",
        "GITHUB_PAT": "pat-0123456789",
        "DB_PASS": "hunter2hunter2",
        "SENTRY_DSN": "abc123def456",
        "AWS_CREDENTIALS": "cred-98765432",
        "API_BEARER": "bearer-value-1",
        "BASIC_AUTH": "user:letmein99",
        "PRIVATE_SIGNING": "-----signing-----",
        "DATABASE_URL": "topsecret99",
    }
    assert Redactor(found).text("a abcdefghijk b") == "a [REDACTED:env:OPENAI_API_KEY] b"
    assert Redactor(["abcdefghijk"]).text("a abcdefghijk b") == "a [REDACTED:secret] b"


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


def test_secrets_in_dotenv_are_known_and_the_environment_wins(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / ".env").write_text("BRAVE_API_KEY=from-dotenv-0123\nMY_TOKEN=dotenv-token-456\nAGENT_MODEL=m1\n")
    monkeypatch.setenv("MY_TOKEN", "environ-token-789")
    found = secrets_from_environment()
    assert found["BRAVE_API_KEY"] == "from-dotenv-0123" and found["MY_TOKEN"] == "environ-token-789"
    assert "AGENT_MODEL" not in found
    assert Redactor().text("key from-dotenv-0123") == "key [REDACTED:env:BRAVE_API_KEY]"
