"""Tools: one declaration per tool (``registry.TOOLS``), the sandboxed executor, and the tools themselves.

``execute`` never raises: a failure is a result with ``success: False`` and a reason, because an
observation is an ordinary outcome the orchestrator records. Results are deterministic for the
same workspace content (no times, no absolute paths), because replay compares them.

Only ``resolve_input`` lets earlier tool output into a step, and only as the text to summarize
or the content to write: it never touches ``path`` or ``tool`` and cannot add steps, so a file
that says "ignore previous instructions" is just text.
"""

from agent_core.tools.base import ToolContext, ToolInput, ToolResult, ToolSpec
from agent_core.tools.registry import TOOLS, calls_llm, execute, is_read_only, resolve_input, target_sha256

__all__ = [
    "TOOLS",
    "ToolContext",
    "ToolInput",
    "ToolResult",
    "ToolSpec",
    "calls_llm",
    "execute",
    "is_read_only",
    "resolve_input",
    "target_sha256",
]
