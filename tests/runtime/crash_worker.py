"""A run that stops inside a tool so the test can SIGKILL it between intent and observation."""

from __future__ import annotations

import sys
import time
from typing import Any

from agent_core.config import Settings
from agent_core.orchestrator import LiveTools, RunRequest
from agent_core.workbench import Workbench


class StallingTools(LiveTools):
    """The real tools, except that the named tool announces itself and then hangs (as a slow API would)."""

    stall_on: str = ""

    def run(self, tool: str, resolved_input: dict[str, Any], prior_results: Any) -> dict[str, Any]:
        if tool == self.stall_on:
            print(f"IN_TOOL {tool}", flush=True)
            time.sleep(600)
        return super().run(tool, resolved_input, prior_results)


def main(goal: str, stall_on: str) -> None:
    bench = Workbench.open(Settings())
    orchestrator = bench.orchestrator
    run_id = orchestrator.start(RunRequest(goal))
    print(f"RUN {run_id}", flush=True)
    tools = StallingTools(orchestrator.workspace, orchestrator.database_path)
    tools.stall_on = stall_on
    orchestrator.advance(run_id, tool_runner=tools)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
