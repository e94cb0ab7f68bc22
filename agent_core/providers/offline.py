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
from agent_core.tools.search import OUTPUT_FOLDER, WEB_SEARCH
from agent_core.tools.search_index import is_document
from agent_core.workspace import list_workspace

OFFLINE_MODEL = "offline-rules-v2"
"""v2: quoted names, explicit targets written as named, a summary step for "summary", lookups of documents only."""

_RESEARCH = re.compile(r"\b(research\w*|search\w*|latest|look up|find out|news|recent|current state)\b", re.I)
_SUMMARY = re.compile(r"\b(summar(?:y|ies|i[sz]\w*)|key findings|overview|tl;?dr|recap)\b", re.I)
_WRITE = re.compile(r"\b(write|writes|save|store|export|report to|put it in)\b", re.I)
_ALL_FILES = re.compile(r"\b(the workspace|all (the )?(files|documents|docs)|every (file|document))\b", re.I)
_EXTENSIONS = (
    "md|markdown|txt|text|rst|adoc|org|csv|tsv|json|jsonl|ya?ml|toml|ini|cfg|log|html?|xml|py|js|ts|sql|sh"
    "|pdf|png|jpe?g|gif|svg|docx?|xlsx?"
)
_FILE = re.compile(rf"(?<![\w/.~-])((?:~/|/|\.{{1,2}}/)*[\w][\w./-]*\.(?:{_EXTENSIONS}))(?![\w/-])", re.I)
"""A file named without quotes, as written (``../x.md`` too: the guard, not the planner, refuses it)."""
_QUOTE_PAIRS = (('"', '"'), ("“", "”"), ("«", "»"), ("`", "`"), ("'", "'"))
_QUOTED = re.compile(
    "|".join(
        rf"(?<!\w){re.escape(a)}([^{re.escape(b)}\n]{{1,2000}}){re.escape(b)}(?!\w)"
        if a == "'"
        else rf"{re.escape(a)}([^{re.escape(b)}]{{1,2000}}){re.escape(b)}"
        for a, b in _QUOTE_PAIRS
    )
)
_PATHLIKE = re.compile(r"^[^\n]{1,1024}\.[A-Za-z0-9]{1,8}$")
_TARGET_WORD = re.compile(r"\b(?:to|into|as|in)\s*$", re.I)
_OWN_REPORTS = re.compile(
    r"\b(?:my|our|the|earlier|previous|past|old|existing)\s+(?:\w+\s+)?reports\b(?!/)|\breports(?:/|\s+folder)(?!\S*\.\w)",
    re.I,
)
_LEADING_VERB = re.compile(
    r"^(?:please\s+)?(?:(?:do\s+)?(?:some\s+)?research(?:\s+(?:on|into|about))?|search(?:\s+the\s+web)?(?:\s+for)?"
    r"|read|look\s+up|find\s+out(?:\s+about)?|find|investigate|explore|summari[sz]e|give\s+me|tell\s+me\s+about"
    r"|write\s+(?:a\s+)?(?:short\s+)?(?:report|summary)\s+(?:on|about|of))\s+",
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
_SHOWN_CHARS = 200
"""Paths and queries longer than this are shortened in a step's objective (a plan's text fields are capped)."""


@dataclass
class _Intent:
    kind: str  # list | read | search | summarize | write
    value: str = ""  # path or query or text
    content: str | None = None
    folder: str | None = None


@dataclass(frozen=True)
class _Mention:
    """A file the goal names: where in the goal, the name as written, and whether it was quoted."""

    start: int
    end: int
    name: str
    quoted: bool


class OfflinePlanner:
    """Deterministic, network-free planner built from a few readable rules.

    It reads the goal and the workspace file list back from the user message
    (``planning.build_user_message``'s format), so its plan is a pure function of the recorded
    request; it lists ``workspace`` itself only when the message has no file list. Rules: a file
    the goal names, quoted or not (or, for goals without research words, a listed document whose
    name the goal mentions) -> ``read_file``; research words -> ``web_search`` (of the agent's own
    ``reports/`` too when the goal asks about its reports); "summary"/"summarize" -> ``summarize``
    over the earlier steps; "write"/"save"/"report to X", or research plus a summary ->
    ``write_file`` of the last result to X exactly as named, or to a new ``reports/<slug>.md``.
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
    mentions = _mentions(goal, files)
    asked = _placeholders(goal, mentions)  # file names and quoted text say nothing about what to do
    research = bool(_RESEARCH.search(asked))
    wants_summary = bool(_SUMMARY.search(asked))
    wants_write = bool(_WRITE.search(asked))
    target = _target(goal, mentions) if wants_write else None
    if may_list and _LIST.search(asked):
        glob = _GLOB.search(goal)
        intents = [_Intent("list", glob.group(0) if glob else "*")]
    else:
        intents = [_Intent("read", path) for path in _files_to_read(goal, files, mentions, target, research)]
    if research or (not intents and not _inline_text(goal, files)):
        about = _without(goal, [target] if target else [])
        folder = OUTPUT_FOLDER if _OWN_REPORTS.search(asked) else None
        if folder:
            about = " ".join(_OWN_REPORTS.sub(" ", about).split()) or about
        intents.append(_Intent("search", _search_query(about), folder=folder))
    direct_write = wants_write and _quoted(goal, files) is not None and not intents
    if wants_summary or (not intents and not direct_write):
        intents.append(_Intent("summarize", "" if intents else _inline_text(goal, files) or goal))
    if wants_write or (research and wants_summary):
        path = target.name if target else _report_path(goal, files)
        intents.append(_Intent("write", path, content=_quoted(goal, files)))
    return intents


def _mentions(goal: str, files: list[str]) -> list[_Mention]:
    """The files the goal names: quoted names (spaces and all) first, then unquoted paths with a known suffix."""
    listed = {f.lower() for f in files} | {f.rsplit("/", 1)[-1].lower() for f in files}
    found: list[_Mention] = []
    for match in _QUOTED.finditer(goal):
        text = next(g for g in match.groups() if g is not None)
        name = text.strip()
        if name and (name.lower() in listed or _PATHLIKE.match(name)) and not name.endswith("/"):
            found.append(_Mention(match.start(), match.end(), name, True))
    for match in _FILE.finditer(goal):
        if any(m.start <= match.start() < m.end for m in found):
            continue
        found.append(_Mention(match.start(1), match.end(1), match.group(1).rstrip("."), False))
    return sorted(found, key=lambda m: m.start)


def _target(goal: str, mentions: list[_Mention]) -> _Mention | None:
    """The last file named after "to", "into", "as" or "in": where the result is written, exactly as named."""
    targets = [m for m in mentions if _TARGET_WORD.search(goal[: m.start].rstrip("`'\"“« \t"))]
    return targets[-1] if targets else None


def _files_to_read(
    goal: str, files: list[str], mentions: list[_Mention], target: _Mention | None, research: bool
) -> list[str]:
    by_name: dict[str, list[str]] = {}
    for path in files:
        by_name.setdefault(path.rsplit("/", 1)[-1].lower(), []).append(path)
    paths: list[str] = []
    for mention in mentions:
        if target is not None and mention.start == target.start:
            continue  # the target itself; the same file named earlier is still read ("summarize X, save it to X")
        exact = [p for p in files if p.lower() == mention.name.lower()]
        named = exact or by_name.get(mention.name.lower(), [])
        paths.append(named[0] if len(named) == 1 else mention.name)
    documents = [p for p in files if is_document(p) and not p.startswith(f"{OUTPUT_FOLDER}/")]
    if not paths and _ALL_FILES.search(_placeholders(goal, mentions)):
        paths = documents
    if not paths and not mentions and not research:
        words = " ".join(re.findall(r"[a-z0-9]+", _without(goal, mentions).lower()))
        for path in documents:
            stem = " ".join(re.findall(r"[a-z0-9]+", path.rsplit("/", 1)[-1].rsplit(".", 1)[0].lower()))
            if len(stem) >= 3 and stem not in _STOPWORDS and re.search(rf"\b{re.escape(stem)}\b", words):
                paths.append(path)
    return list(dict.fromkeys(paths))


def _placeholders(goal: str, mentions: Sequence[_Mention]) -> str:
    """The goal with each named file and quoted passage replaced by a placeholder word."""
    spans = sorted([(m.start, m.end) for m in mentions] + [match.span() for match in _QUOTED.finditer(goal)])
    merged: list[list[int]] = []
    for start, end in spans:
        if merged and start < merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    for start, end in reversed(merged):
        goal = goal[:start] + " the-file " + goal[end:]
    return goal


def _without(goal: str, mentions: Sequence[_Mention]) -> str:
    """The goal with the named files (and a target's "to") cut out: what is left says what it is about."""
    for mention in sorted(mentions, key=lambda m: -m.start):
        start = mention.start
        before = _TARGET_WORD.search(goal[:start].rstrip("`'\"“« \t"))
        if before:
            start = before.start()
        end = mention.end + (1 if mention.end < len(goal) and goal[mention.end] in "`'\"”»" else 0)
        goal = goal[:start] + " " + goal[end:]
    return " ".join(goal.split())


def _inline_text(goal: str, files: list[str]) -> str:
    """Text handed over in the goal itself: 'Summarize: <text>' or a quoted passage (not a file name)."""
    quoted = _quoted(goal, files)
    if quoted:
        return quoted
    head, sep, tail = goal.partition(":")
    return tail.strip() if sep and _SUMMARY.search(head) and len(tail.strip()) >= 40 else ""


def _quoted(goal: str, files: list[str]) -> str | None:
    named = {m.start for m in _mentions(goal, files) if m.quoted}
    for match in _QUOTED.finditer(goal):
        text = next(g for g in match.groups() if g is not None)
        if match.start() not in named and text.strip():
            return text
    return None


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
    path, n = f"{OUTPUT_FOLDER}/{slug}.md", 2
    while path in taken:
        path, n = f"{OUTPUT_FOLDER}/{slug}-{n}.md", n + 1
    return path


def _shown(text: str) -> str:
    return text if len(text) <= _SHOWN_CHARS else f"{text[: _SHOWN_CHARS // 2]}…{text[-_SHOWN_CHARS // 2 :]}"


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
        shown = _shown(intent.value)
        if intent.kind == "list":
            step = (
                f"List the workspace files matching {shown!r}",
                LIST_FILES.name,
                {"pattern": intent.value, "max_files": 100},
                "The matching files are listed with their sizes",
            )
        elif intent.kind == "read":
            step = (
                f"Read {shown} from the workspace",
                "read_file",
                {"path": intent.value},
                "The file's text is returned",
            )
        elif intent.kind == "search":
            where = f" in {intent.folder}/" if intent.folder else ""
            step = (
                f"Search{where} for {shown!r}",
                "web_search",
                {"query": intent.value, "max_results": 5, **({"folder": intent.folder} if intent.folder else {})},
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
                f"Write the result to {shown}",
                "write_file",
                {"path": intent.value, "from_step": earlier[-1]},
                f"{shown} holds the result",
            )
        else:
            content = intent.content or f"# {goal}\n\n(Written by the offline planner: no LLM composed this text.)\n"
            step = (
                f"Write {shown}",
                "write_file",
                {"path": intent.value, "content": content},
                f"{shown} is written",
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
