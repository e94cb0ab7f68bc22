"""The planner prompt, versioned, and the request message whose format the offline planner reads back."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from agent_core.tools import TOOLS

if TYPE_CHECKING:
    from agent_core.planning.parse import PlanLimits


@dataclass(frozen=True)
class PromptVersion:
    """One version of the planner prompt: its id, the tools it offers and the order it lists them in.

    A run records the sha of its prompt; verify and resume look the version up by that sha, so a
    run recorded under an older version is planned again with that version's text and tools.
    """

    id: str
    offered: tuple[str, ...]
    """The tools a plan may use, in the order the request message and the validator name them."""
    listed: tuple[str, ...]
    """The order of the prompt's tool section."""
    pinned: tuple[tuple[str, str], ...] = ()
    """(tool, prompt line) as this version wrote them, for tools whose ``ToolSpec.prompt`` changed since."""
    listing: Literal["sorted", "relevant"] = "sorted"
    """How the request message picks the workspace files it names: the first 200 paths in sorted order
    (``workspace.list_workspace``), or the 200 most relevant to the goal (``tools.relevant``), shown sorted."""

    @property
    def text(self) -> str:
        """The system prompt; its tool section comes from each tool's ``ToolSpec.prompt`` (or the pinned line)."""
        return _system_prompt(self.id, self.listed, dict(self.pinned))

    @property
    def sha(self) -> str:
        """The sha256 of the text: how a recorded run names its version."""
        return prompt_sha(self.text)


def _system_prompt(version: str, listed: tuple[str, ...], pinned: dict[str, str]) -> str:
    tool_lines = "\n".join(f"- {name}: {pinned.get(name, TOOLS[name].prompt)}" for name in listed)
    return f"""You are the planner of a careful research agent ({version}).
Turn the user's goal into a short plan of tool calls. You do not run the tools; you only plan.

Answer with exactly one JSON object and nothing else:
{{"steps": [{{"id": "step_1", "objective": "...", "tool": "...", "input": {{...}}, "success_criteria": "..."}}],
 "stop_conditions": ["..."]}}

Tools and their inputs:
{tool_lines}

Rules:
- Use only these tools, and no more steps than the limit given in the request.
- Step ids are "step_1", "step_2", ... in order; from_steps and from_step may name earlier steps only.
- Every field is required and must not be empty; objective and success_criteria are one sentence each.
- Prefer a new file under reports/ for written results; do not overwrite files unless the goal asks for it.
- stop_conditions say when the agent should stop early (for example: a step failed, nothing was found).
"""


def prompt_sha(system_prompt: str) -> str:
    """sha256 hex of the prompt text: recorded in ``RunStarted`` so a replay can tell prompts apart."""
    return hashlib.sha256(system_prompt.encode("utf-8")).hexdigest()


_WEB_SEARCH_BEFORE_FOLDER = ("web_search", '{"query": str, "max_results": int (optional, default 5)}')

PROMPT_VERSIONS: dict[str, PromptVersion] = {
    v.id: v
    for v in (
        # v1 named its four tools in two orders; kept byte-identical so runs recorded under it verify.
        PromptVersion(
            "plan-prompt-v1",
            offered=("web_search", "read_file", "write_file", "summarize"),
            listed=("web_search", "read_file", "summarize", "write_file"),
            pinned=(_WEB_SEARCH_BEFORE_FOLDER,),
        ),
        PromptVersion(
            "plan-prompt-v2",
            offered=("web_search", "read_file", "summarize", "write_file", "list_files"),
            listed=("web_search", "read_file", "summarize", "write_file", "list_files"),
            pinned=(_WEB_SEARCH_BEFORE_FOLDER,),
        ),
        # v3: web_search takes a folder (reports/ is searched only when named); the request names the
        # files most relevant to the goal instead of the first 200 sorted.
        PromptVersion(
            "plan-prompt-v3",
            offered=("web_search", "read_file", "summarize", "write_file", "list_files"),
            listed=("web_search", "read_file", "summarize", "write_file", "list_files"),
            listing="relevant",
        ),
    )
}
"""Every prompt a run may have been recorded with. Never edit one (a test pins their shas): a new tool, or a
new wording of a tool's ``prompt``, is a new version here, made ``CURRENT_PROMPT``."""

CURRENT_PROMPT = PROMPT_VERSIONS["plan-prompt-v3"]
PROMPT_VERSION = CURRENT_PROMPT.id
SYSTEM_PROMPT = CURRENT_PROMPT.text
LEGACY_PROMPT = PROMPT_VERSIONS["plan-prompt-v1"]
"""What a run that recorded no version (only a custom prompt, before versions were recorded) was planned with."""
_BY_SHA = {v.sha: v for v in PROMPT_VERSIONS.values()}


def prompt_version_for(prompt_sha_recorded: str | None, recorded_version: str | None = None) -> PromptVersion:
    """The version a run was planned with: by its recorded prompt sha, else the version it recorded
    beside a custom prompt, else v1 (the only version before versions were recorded)."""
    if prompt_sha_recorded and prompt_sha_recorded in _BY_SHA:
        return _BY_SHA[prompt_sha_recorded]
    if recorded_version in PROMPT_VERSIONS:
        return PROMPT_VERSIONS[recorded_version]
    return LEGACY_PROMPT


def plan_json_schema(tools: tuple[str, ...] = CURRENT_PROMPT.offered) -> dict[str, Any]:
    """The schema given to providers' structured-output features; ``parse_plan`` checks the same and more."""
    return {
        "type": "object",
        "properties": {
            "steps": {
                "type": "array",
                "minItems": 1,
                "items": {
                    "type": "object",
                    "properties": {
                        "id": {"type": "string", "description": "step_1, step_2, ..."},
                        "objective": {"type": "string"},
                        "tool": {"type": "string", "enum": list(tools)},
                        "input": {"type": "object", "description": "the tool's input, as listed in the system prompt"},
                        "success_criteria": {"type": "string"},
                    },
                    "required": ["id", "objective", "tool", "input", "success_criteria"],
                },
            },
            "stop_conditions": {"type": "array", "items": {"type": "string"}},
        },
        "required": ["steps", "stop_conditions"],
    }


PLAN_JSON_SCHEMA = plan_json_schema()


# --- the user message ------------------------------------------------------------------------

_GOAL_OPEN, _GOAL_CLOSE = "<goal>", "</goal>"
_FILES_HEADER = "Workspace files (paths for read_file and write_file):"
_REPAIR_HEADER = "Your previous answer was rejected:"


def build_user_message(goal: str, limits: PlanLimits, workspace_files: list[str]) -> str:
    """The request text. Its format is also what the offline planner reads back (``parse_goal``)."""
    files = "\n".join(f"- {name}" for name in sorted(workspace_files)) or "- (the workspace is empty)"
    return (
        f"{_GOAL_OPEN}\n{goal.strip()}\n{_GOAL_CLOSE}\n\n"
        f"Limits: at most {limits.max_steps} steps; tools: {', '.join(limits.tools)}.\n\n"
        f"{_FILES_HEADER}\n{files}\n\n"
        "Answer with the JSON plan object only."
    )


def build_repair_message(goal: str, limits: PlanLimits, workspace_files: list[str], error: str) -> str:
    """The request again, plus the validation error of the previous attempt."""
    return (
        f"{build_user_message(goal, limits, workspace_files)}\n\n"
        f"{_REPAIR_HEADER}\n{error}\n"
        "Return a corrected plan: one JSON object, nothing else."
    )


def parse_goal(user_message: str) -> tuple[str, list[str] | None]:
    """(goal, workspace files) from a ``build_user_message`` text; files None when not listed.

    A message in another format is taken as the goal itself.
    """
    match = re.search(re.escape(_GOAL_OPEN) + r"\n(.*?)\n" + re.escape(_GOAL_CLOSE), user_message, re.DOTALL)
    if match is None:
        return user_message.strip(), None
    goal = match.group(1).strip()
    after = user_message[match.end() :]
    if _FILES_HEADER not in after:
        return goal, None
    block = after.split(_FILES_HEADER, 1)[1].split("\n\n", 1)[0]
    files = [line[2:].strip() for line in block.strip().splitlines() if line.startswith("- ")]
    return goal, [f for f in files if f and f != "(the workspace is empty)"]
