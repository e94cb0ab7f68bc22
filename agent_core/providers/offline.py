"""The offline planner: deterministic, network-free, a few readable rules."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from agent_core.events import Usage
from agent_core.planning import PlanLimits, parse_goal
from agent_core.providers.base import (
    Reply,
)
from agent_core.tools.files import READ_FILE
from agent_core.tools.list_files import LIST_FILES
from agent_core.tools.search import WEB_SEARCH
from agent_core.workspace import list_workspace

OFFLINE_MODEL = "offline-rules-v1"

_RESEARCH = re.compile(r"\b(research\w*|search\w*|latest|look up|find out|news|recent|current state)\b", re.I)
_SUMMARY = re.compile(r"\b(summari[sz]\w*|key findings|overview|tl;?dr)\b", re.I)
_WRITE = re.compile(r"\b(write|writes|save|store|export|report to|put it in)\b", re.I)
_ALL_FILES = re.compile(r"\b(the workspace|all (the )?(files|documents|docs)|every (file|document))\b", re.I)
_FILE = re.compile(r"(?<![\w/.-])([\w][\w./-]*\.(?:md|txt|csv|json|ya?ml|log|html?|rst|py))(?![\w/-])", re.I)
_TARGET = re.compile(r"\b(?:to|into|as|in)\s+[`'\"]?([\w][\w./-]*\.\w+)", re.I)
_QUOTED = re.compile(r"[\"“]([^\"”]{1,2000})[\"”]")
_LEADING_VERB = re.compile(
    r"^(?:please\s+)?(?:(?:do\s+)?(?:some\s+)?research(?:\s+(?:on|into|about))?|search(?:\s+the\s+web)?(?:\s+for)?"
    r"|read|look\s+up|find\s+out(?:\s+about)?|find|investigate|explore|summari[sz]e|give\s+me|tell\s+me\s+about"
    r"|write\s+(?:a\s+)?(?:report|summary)\s+(?:on|about))\s+",
    re.I,
)
_THEN_ACTION = re.compile(
    r"(?:,\s*(?:and\s+|then\s+)?|\s+(?:and|then|and then)\s+)"
    r"(?=(?:summari|write|save|report|store|create|make|produce|give|list)\w*)|[.;!?](?:\s|$)",
    re.I,
)
_LIST = re.compile(r"\b(?:list|which|what)\b(?:\s+(?:all|the|of|my|workspace))*\s+(?:\S+\s+)?files\b", re.I)
_GLOB = re.compile(r"[\w./-]*\*[\w.*/-]*")
_STOPWORDS = frozenset(
    {"a", "an", "the", "of", "in", "on", "and", "for", "to", "about", "with", "into", "from", "by", "at", "is", "are"}
)


@dataclass
class _Intent:
    kind: str  # list | read | search | summarize | write
    value: str = ""  # path or query or text
    content: str | None = None


class OfflinePlanner:
    """Deterministic, network-free planner built from a few readable rules.

    It reads the goal and the workspace file list back from the user message
    (``planning.build_user_message``'s format), so its plan is a pure function of the recorded
    request; it lists ``workspace`` itself only when the message has no file list. Rules: a file
    the goal names (or, for goals without research words, a workspace file whose name the goal
    mentions) -> ``read_file``; research words -> ``web_search``; "summarize" -> ``summarize``
    over the earlier steps; "write"/"save"/"report to X", or research plus a summary ->
    ``write_file`` of the last result to X or to a new ``reports/<slug>.md``.
    """

    provider = "offline"

    def __init__(self, workspace: Path, model: str = OFFLINE_MODEL) -> None:
        self.workspace = workspace
        self.model = model

    def plan(self, system_prompt: str, user_message: str, limits: PlanLimits) -> Reply:
        """The rule-based plan for the goal and file list read back from the request message."""
        goal, files = parse_goal(user_message)
        if files is None:
            files = list_workspace(self.workspace)
        document = {
            "planner": "offline rule-based planner: no LLM was called",
            **offline_plan(goal, files, limits.max_steps, limits.tools),
        }
        return Reply(json.dumps(document, indent=2, ensure_ascii=False), Usage(), self.model, 0.0, "end_turn")

    def summarize(self, text: str, instruction: str) -> Reply | None:
        """None: the offline planner has no LLM, so the tool summarizes extractively."""
        return None


def offline_plan(goal: str, workspace_files: list[str], max_steps: int, tools: Sequence[str] = ()) -> dict[str, Any]:
    """The offline planner's plan for ``goal`` as a JSON-ready dict (same input, same plan).

    ``tools`` are the tools the request offers; ``list_files`` is planned only when offered.
    """
    intents = _intents(goal, workspace_files, LIST_FILES.name in tools)
    chosen = _fit(intents, max(1, max_steps))
    return {"steps": _materialize(chosen, goal), "stop_conditions": _stop_conditions(chosen)}


def _intents(goal: str, files: list[str], may_list: bool = False) -> list[_Intent]:
    research = bool(_RESEARCH.search(goal))
    wants_summary = bool(_SUMMARY.search(goal))
    wants_write = bool(_WRITE.search(goal))
    target = _write_target(goal) if wants_write else None
    if may_list and _LIST.search(goal):
        glob = _GLOB.search(goal)
        intents = [_Intent("list", glob.group(0) if glob else "*")]
    else:
        intents = [_Intent("read", path) for path in _files_to_read(goal, files, target, research)]
    if research or (not intents and not _inline_text(goal)):
        intents.append(_Intent("search", _search_query(goal)))
    direct_write = wants_write and _quoted(goal) is not None and not intents
    if wants_summary or (not intents and not direct_write):
        intents.append(_Intent("summarize", "" if intents else _inline_text(goal) or goal))
    if wants_write or (research and wants_summary):
        path = target or _report_path(goal, files)
        intents.append(_Intent("write", path, content=_quoted(goal)))
    return intents


def _files_to_read(goal: str, files: list[str], target: str | None, research: bool) -> list[str]:
    by_name: dict[str, list[str]] = {}
    for path in files:
        by_name.setdefault(path.rsplit("/", 1)[-1].lower(), []).append(path)
    paths: list[str] = []
    for mention in _FILE.findall(goal):
        mention = mention.rstrip(".")
        if target is not None and mention == target:
            continue
        exact = [p for p in files if p.lower() == mention.lower()]
        named = exact or by_name.get(mention.lower(), [])
        paths.append(named[0] if len(named) == 1 else mention)
    if not paths and _ALL_FILES.search(goal):
        paths = [p for p in files if not p.startswith("reports/")]
    if not paths and not research:
        words = " ".join(re.findall(r"[a-z0-9]+", goal.lower()))
        for path in files:
            stem = " ".join(re.findall(r"[a-z0-9]+", path.rsplit("/", 1)[-1].rsplit(".", 1)[0].lower()))
            if stem and re.search(rf"\b{re.escape(stem)}\b", words) and not path.startswith("reports/"):
                paths.append(path)
    return list(dict.fromkeys(paths))


def _write_target(goal: str) -> str | None:
    targets = _TARGET.findall(goal)
    return targets[-1].rstrip(".") if targets else None


def _inline_text(goal: str) -> str:
    """Text handed over in the goal itself: 'Summarize: <text>' or a quoted passage."""
    quoted = _quoted(goal)
    if quoted:
        return quoted
    head, sep, tail = goal.partition(":")
    return tail.strip() if sep and _SUMMARY.search(head) and len(tail.strip()) >= 40 else ""


def _quoted(goal: str) -> str | None:
    match = _QUOTED.search(goal)
    return match.group(1) if match else None


def _search_query(goal: str) -> str:
    clause = _THEN_ACTION.split(goal.strip(), maxsplit=1)[0].strip() or goal.strip()
    previous = None
    while previous != clause:
        previous = clause
        clause = _LEADING_VERB.sub("", clause).strip()
    clause = re.sub(r"^(?:the|a|an)\s+", "", clause, flags=re.I).strip(" .,:;")
    return (clause or goal.strip())[:200]


def _report_path(goal: str, files: list[str]) -> str:
    topic = _search_query(_FILE.sub(lambda m: m.group(1).rsplit("/", 1)[-1].rsplit(".", 1)[0], goal))
    words = [w for w in re.findall(r"[a-z0-9]+", topic.lower()) if w not in _STOPWORDS]
    slug = "-".join(words[:6])[:60].strip("-") or "report"
    taken = set(files)
    path, n = f"reports/{slug}.md", 2
    while path in taken:
        path, n = f"reports/{slug}-{n}.md", n + 1
    return path


def _fit(intents: list[_Intent], max_steps: int) -> list[_Intent]:
    """At most ``max_steps`` intents: keep a write last, then one source, the summary, more sources."""
    if len(intents) <= max_steps:
        return intents
    sources = [i for i in intents if i.kind in ("read", "search", "list")]
    summary = next((i for i in intents if i.kind == "summarize"), None)
    write = next((i for i in intents if i.kind == "write"), None)
    keep_write = write is not None and (max_steps >= 2 or not sources)
    room = max_steps - (1 if keep_write else 0)
    chosen_sources = sources[:1] if room >= 1 else []
    room -= len(chosen_sources)
    keep_summary = summary is not None and room >= 1
    room -= 1 if keep_summary else 0
    chosen_sources += sources[1 : 1 + max(room, 0)]
    kept = [i for i in sources if any(i is c for c in chosen_sources)]
    if keep_summary and summary is not None:
        kept.append(summary)
    if keep_write and write is not None:
        kept.append(write)
    return kept or intents[:max_steps]


def _materialize(intents: list[_Intent], goal: str) -> list[dict[str, Any]]:
    steps: list[dict[str, Any]] = []
    for number, intent in enumerate(intents, start=1):
        step: tuple[str, str, dict[str, Any], str]
        earlier = [s["id"] for s in steps]
        sources = [s["id"] for s in steps if s["tool"] in (READ_FILE.name, WEB_SEARCH.name, LIST_FILES.name)]
        if intent.kind == "list":
            step = (
                f"List the workspace files matching {intent.value!r}",
                LIST_FILES.name,
                {"pattern": intent.value, "max_files": 100},
                "The matching files are listed with their sizes",
            )
        elif intent.kind == "read":
            step = (
                f"Read {intent.value} from the workspace",
                "read_file",
                {"path": intent.value},
                "The file's text is returned",
            )
        elif intent.kind == "search":
            step = (
                f"Search for {intent.value!r}",
                "web_search",
                {"query": intent.value, "max_results": 5},
                "At least one relevant passage is found",
            )
        elif intent.kind == "summarize" and (sources or earlier):
            step = (
                "Summarize what the earlier steps found",
                "summarize",
                {"from_steps": sources or earlier, "max_words": 250},
                "A short summary of the key points, faithful to the sources",
            )
        elif intent.kind == "summarize":
            step = (
                "Summarize the text given in the goal",
                "summarize",
                {"text": intent.value or goal, "max_words": 250},
                "A short summary of the key points",
            )
        elif earlier:
            step = (
                f"Write the result to {intent.value}",
                "write_file",
                {"path": intent.value, "from_step": earlier[-1]},
                f"{intent.value} holds the result",
            )
        else:
            content = intent.content or f"# {goal}\n\n(Written by the offline planner: no LLM composed this text.)\n"
            step = (
                f"Write {intent.value}",
                "write_file",
                {"path": intent.value, "content": content},
                f"{intent.value} is written",
            )
        objective, tool, tool_input, criteria = step
        steps.append(
            {
                "id": f"step_{number}",
                "objective": objective,
                "tool": tool,
                "input": tool_input,
                "success_criteria": criteria,
            }
        )
    return steps


def _stop_conditions(intents: list[_Intent]) -> list[str]:
    stops = ["a step fails"]
    if any(i.kind == "search" for i in intents):
        stops.append("the search finds nothing relevant")
    if any(i.kind == "read" for i in intents):
        stops.append("a file to read does not exist")
    return stops


# --- choosing a planner ----------------------------------------------------------------------
