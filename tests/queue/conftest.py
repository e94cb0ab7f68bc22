"""Fixtures of the queue tests: a fresh PostgreSQL schema, worker processes, the fake LLM server."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from agent_core.config import Settings
from agent_core.dispatch import QueueDispatcher
from agent_core.workbench import Workbench
from tests.fake_llm import fake_llm  # noqa: F401
from tests.queue.workers import STALLED_S, Workers, worker_env


@pytest.fixture
def workers(tmp_path: Path) -> Iterator[Workers]:
    started = Workers(tmp_path)
    yield started
    started.stop_all()


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    return tmp_path / "workspace"


def client(database_url: str, workspace: Path, **extra: str) -> tuple[Workbench, QueueDispatcher]:
    """A workbench and queue dispatcher in the test process, configured like the workers."""
    env = worker_env(database_url, workspace, **extra)
    settings = Settings(**{k: v for k, v in env.items() if k.startswith(("AGENT_", "DATABASE_", "OPENAI_"))})
    assert settings.worker_stalled_s == float(STALLED_S)
    bench = Workbench(settings)
    return bench, QueueDispatcher(bench)
