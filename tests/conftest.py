"""Shared fixtures: real databases (a SQLite file per test, a PostgreSQL database per session)."""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import settings
from sqlalchemy import create_engine, text

from agent_core.projections import open_store
from agent_core.providers.registry import forget_built_planners
from agent_core.store import EventStore

try:  # a loaded machine (CI beside nothing else, a laptop beside everything) must not fail a browser check
    from playwright.sync_api import expect

    expect.set_options(timeout=20_000)
except ImportError:  # the browser tests skip without Playwright
    pass

# No time limit per example: a cold or loaded machine (CI's first import of everything) made an example
# of a pure function take longer than Hypothesis's default 200 ms, and the suite keeps no timing thresholds.
settings.register_profile("agent_core", deadline=None)
settings.load_profile("agent_core")


@pytest.fixture(autouse=True)
def _fresh_sdk_planners() -> Iterator[None]:
    """Each test builds its own SDK planners: a fake server's port may be handed out again later in the
    session, and a shared client would carry its kept-alive connections and learned schema support over."""
    yield
    forget_built_planners()


PG_ADMIN_URL = os.environ.get("TEST_PG_ADMIN_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


def _postgres_reachable() -> bool:
    try:
        with socket.create_connection(("127.0.0.1", 5432), timeout=1):
            return True
    except OSError:
        return False


@pytest.fixture(autouse=True)
def _no_secrets_in_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests never see a real key or a real provider URL from the developer's shell."""
    for name in (
        "ANTHROPIC_API_KEY",
        "OPENAI_API_KEY",
        "ANTHROPIC_BASE_URL",
        "OPENAI_BASE_URL",
        "BRAVE_API_KEY",
        "AGENT_PLANNER",
        "AGENT_MODEL",
        "DATABASE_URL",
        "AGENT_WORKSPACE",
        "AGENT_POLICY",
        "AGENT_LOG_KEY",
    ):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture(autouse=True)
def _caches_in_tmp(monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory) -> None:
    """Search indexes of stores without a folder of their own (PostgreSQL) go under the test session's tmp."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path_factory.getbasetemp() / "xdg-cache"))
    monkeypatch.delenv("AGENT_INDEX_DIR", raising=False)


@pytest.fixture(scope="session")
def pg_database_url() -> Iterator[str]:
    """A fresh PostgreSQL database for this test session, dropped afterwards."""
    if not _postgres_reachable():
        pytest.skip("PostgreSQL is not running at 127.0.0.1:5432 (CI starts it; see .ci/run)")
    name = f"t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'events.db'}"


@pytest.fixture
def pg_schema_url(pg_database_url: str) -> Iterator[str]:
    """A schema of its own for one test (cheaper than a database): tests never see each other's runs."""
    schema = f"s_{uuid.uuid4().hex[:12]}"
    engine = create_engine(pg_database_url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        yield f"{pg_database_url}?options=-csearch_path%3D{schema}"
    finally:
        with engine.connect() as conn:
            conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        engine.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Each test using this runs once on a SQLite file and once on PostgreSQL (its own schema)."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'events.db'}"
    return request.getfixturevalue("pg_schema_url")


@pytest.fixture
def store(database_url: str) -> Iterator[EventStore]:
    """An indexed store on each backend, empty at the start of the test."""
    s = open_store(database_url)
    yield s
    s.close()
