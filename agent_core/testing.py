"""The pytest plugin: recordings verified as tests, and a what-if fixture that never calls a live model.

Installed with the package (the ``pytest11`` entry point ``agent_core.testing``); in a checkout
enable it with ``-p agent_core.testing`` or ``pytest_plugins = ["agent_core.testing"]``.

- ``--agent-recordings DIR`` (repeatable; or the ini option ``agent_recordings``): every
  recording folder under DIR (written by ``python -m agent_core record RUN_ID --to DIR``) becomes
  a test that re-executes it with the current code; it fails with the first diverging event and
  a diff of the recorded and the re-executed event.
- the ``agent_whatif`` fixture: ``agent_whatif(folder, system_prompt=..., model=..., policy=...)``
  runs a what-if on a recording and returns an ``AgentWhatIf`` (``verdict``, ``actions``,
  ``diff``) for assertions. A planner request or a tool call the recording does not hold fails
  the test, naming the call (``live_llm=True`` lets the configured provider answer instead).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from agent_core.projections import RunState
from agent_core.replay.bundle import (
    divergence_report,
    find_recordings,
    manifest,
    open_recording,
    verify_recording,
    whatif_recording,
)
from agent_core.replay.diff import RunDiff
from agent_core.replay.driver import Overrides, ToolsMode

OPTION, INI = "--agent-recordings", "agent_recordings"


def pytest_addoption(parser: pytest.Parser) -> None:
    """``--agent-recordings DIR`` (and the ``agent_recordings`` ini key): folders of recordings to verify."""
    group = parser.getgroup("agent-recordings", "agent workbench recordings")
    group.addoption(
        OPTION,
        action="append",
        default=[],
        metavar="DIR",
        help="verify every recording folder under DIR with the current code (repeatable)",
    )
    parser.addini(INI, "folders of recordings to verify (as --agent-recordings)", type="paths", default=[])


class RecordingDiverged(Exception):
    """The re-execution of a recording wrote another event stream than the one recorded."""


class RecordingItem(pytest.Item):
    """One recording folder, verified: the current code must write exactly what the recording holds."""

    def __init__(self, *, folder: Path, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.folder = folder

    def runtest(self) -> None:
        """Verify the recording; a divergence fails with the first diverging event."""
        result = verify_recording(self.folder)
        if not result.identical:
            raise RecordingDiverged(divergence_report(result))

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> str:
        """The divergence as a readable diff, not a traceback."""
        if isinstance(excinfo.value, RecordingDiverged):
            return f"recording {self.folder} does not verify:\n{excinfo.value}"
        return str(super().repr_failure(excinfo))

    def reportinfo(self) -> tuple[Path, int | None, str]:
        """Where the recording lives, for pytest's report."""
        return self.folder, None, f"agent recording {self.folder.name}"


def _folders(config: pytest.Config) -> list[Path]:
    """The option's folders; else the ini's, when the run collects them (a run of one test file does not)."""
    given = [Path(p) for p in config.getoption(OPTION) or []]
    if given:
        return given
    targets = [Path(str(arg).split("::", 1)[0]).resolve() for arg in config.args]
    return [
        Path(p)
        for p in config.getini(INI)
        if any(Path(p).resolve() == t or t in Path(p).resolve().parents for t in targets)
    ]


def pytest_collection_modifyitems(session: pytest.Session, config: pytest.Config, items: list[pytest.Item]) -> None:
    """Add one test per recording in the configured folders this run covers."""
    for root in _folders(config):
        if not root.is_dir():
            raise pytest.UsageError(f"{OPTION} {root}: no such folder")
        for folder in find_recordings(root):
            name = f"agent-recording[{folder.name}]"
            items.append(RecordingItem.from_parent(session, name=name, folder=folder))


@dataclass(frozen=True)
class AgentWhatIf:
    """A what-if on a recording, for assertions: the verdict, how the actions changed, the diff and the run."""

    verdict: str
    actions: str
    diff: RunDiff
    state: RunState

    @property
    def same_actions(self) -> bool:
        """True when the replay made the same tool calls with the same inputs (the words may differ)."""
        return self.actions != "different_actions"


WhatIfRunner = Callable[..., AgentWhatIf]


@pytest.fixture
def agent_whatif() -> Iterator[WhatIfRunner]:
    """``agent_whatif(folder, *, provider=None, model=None, system_prompt=None, policy=None, tools="recorded",
    live_llm=False)`` -> ``AgentWhatIf``; a call the recording does not hold fails the test, naming it."""

    def run(
        folder: str | Path,
        *,
        provider: str | None = None,
        model: str | None = None,
        system_prompt: str | None = None,
        policy: str | Path | None = None,
        tools: ToolsMode = "recorded",
        live_llm: bool = False,
    ) -> AgentWhatIf:
        path = Path(folder)
        manifest(path)  # a clear error for a folder that is not a recording
        overrides = Overrides(provider, model, system_prompt, Path(policy) if policy else None, tools)
        with open_recording(path) as loaded:
            result, misses = whatif_recording(loaded, overrides, live_llm=live_llm)
        if misses:
            pytest.fail(f"the what-if on {path.name} met calls absent from the recording:\n" + "\n".join(misses))
        return AgentWhatIf(result.diff.verdict, result.diff.actions, result.diff, result.state)

    yield run
