"""The peer benchmark's ``ours`` adapter, with tool results in the shape our ``web_search`` reports.

``../shared/peer-bench/examples/ours_agent.py`` returns the workload's fake tool result as is.
Since outcome rules 2 a step whose result lacks ``"success": true`` failed, a ``web_search``
without ``results`` found nothing, and a run where nothing was found ends ``failed``, which that
adapter refuses. This module adds the flag and names the workload's ``rows`` ``results`` (the
same data, 16 bytes more per result) and is otherwise the shared adapter. From the harness
folder, with this project on the import path:

    PYTHONPATH=<project> OURS_PROJECT=<project> ../../pb-venv/bin/python peer_bench.py bench \\
        --system 'ours=py:bench.peer_ours:OursSystem' ...
"""

from __future__ import annotations

from typing import Any

import examples.ours_agent as shared  # the harness folder's adapter (run from that folder)


class SucceedingTools(shared.FakeTools):  # type: ignore[misc, name-defined]
    """The workload's fake tool result, marked as a success the way every tool of ours reports one."""

    def run(self, tool: str, resolved_input: dict[str, Any], prior_results: Any) -> dict[str, Any]:
        result = super().run(tool, resolved_input, prior_results)
        return {"success": True, "results": result.pop("rows"), **result}


shared.FakeTools = SucceedingTools  # run_once builds its tools by this name
OursSystem = shared.OursSystem
