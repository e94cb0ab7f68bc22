"""Runtime fixtures: a seeded workspace, settings pointing at a real store, a Workbench."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from agent_core.config import Settings
from agent_core.workbench import Workbench
from agent_core.workspace import seed_workspace
from tests.fake_llm import fake_llm  # noqa: F401  (the fixture)

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_POLICY = ROOT / "policies" / "default.yaml"
STRICT_POLICY = ROOT / "policies" / "strict.yaml"
DEMO_GOAL = "Research the latest developments in AI agent frameworks and summarize the key findings"
SAVE_GOAL = "Summarize notes.txt and save the summary to summary.md"  # a fixed target: run twice, it overwrites


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    target = tmp_path / "workspace"
    seed_workspace(target)
    return target


def make_settings(database_url: str, workspace: Path, **extra: str) -> Settings:
    values = {
        "DATABASE_URL": database_url,
        "AGENT_WORKSPACE": str(workspace),
        "AGENT_POLICY": str(DEFAULT_POLICY),
        "AGENT_PLANNER": "offline",
        **extra,
    }
    return Settings(**values)


@pytest.fixture
def settings(database_url: str, workspace: Path) -> Settings:
    return make_settings(database_url, workspace)


@pytest.fixture
def bench(settings: Settings) -> Iterator[Workbench]:
    workbench = Workbench.open(settings)
    yield workbench
    workbench.close()
