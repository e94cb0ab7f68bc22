"""Planners: a tiny protocol and its four implementations (offline, Anthropic, OpenAI-compatible, recorded).

A planner turns (system prompt, user message) into raw text plus usage; it never validates —
``planning.parse_plan`` does that for every provider alike. SDK errors are translated here, once,
into ``ProviderError`` messages that say what happened and what to do. Keys are handed to the
SDK clients and go nowhere else.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from pydantic import SecretStr

from agent_core.config import Settings
from agent_core.errors import ConfigError, ProviderError
from agent_core.events import CostRecorded, PlanGenerated, PlanRejected, PlanRequested, RecordedEvent, Usage
from agent_core.planning import PLAN_JSON_SCHEMA, PROVIDER_FAILURE_MARKER, TRUNCATED_MARKER, PlanLimits, parse_goal
from agent_core.workspace import list_workspace

OFFLINE_MODEL = "offline-rules-v1"
DEFAULT_MODELS: dict[str, str] = {
    "anthropic": "claude-sonnet-4-6",
    "openai": "gpt-4.1-mini",
    "offline": OFFLINE_MODEL,
}
"""Used when neither ``--model`` nor ``AGENT_MODEL`` names one."""

PLAN_TOOL_NAME = "submit_plan"
MAX_OUTPUT_TOKENS = 4096
SUMMARY_SYSTEM_PROMPT = (
    "You summarize source text for a short research report. Be faithful to the text: no facts that are "
    "not in it. Use plain prose or short bullet points."
)
_NO_KEY = "no-key"  # local OpenAI-compatible servers ignore the key, but the SDK insists on one


@dataclass(frozen=True)
class Reply:
    """One provider answer: the raw text as received, its usage, and who answered."""

    text: str
    usage: Usage
    model: str
    latency_ms: float
    stop_reason: str = ""

    @property
    def truncated(self) -> bool:
        """The model stopped at its token limit: the text is incomplete."""
        return self.stop_reason in ("max_tokens", "length")


class Planner(Protocol):
    """What ``request_plan`` and the summarize tool need from an LLM provider."""

    provider: str
    model: str

    def plan(self, system_prompt: str, user_message: str, limits: PlanLimits) -> Reply:
        """Raw plan text for the request; raises ``ProviderError`` when the provider cannot answer."""
        ...

    def summarize(self, text: str, instruction: str) -> Reply | None:
        """An LLM summary of ``text``; None when this planner has no LLM (the tool summarizes offline)."""
        ...


# --- SDK error translation -------------------------------------------------------------------


@dataclass(frozen=True)
class _Endpoint:
    name: str  # "Anthropic" / "OpenAI-compatible server"
    env: str  # ANTHROPIC / OPENAI
    url: str
    model: str
    timeout_s: float
    max_retries: int


def _translate(error: Exception, where: _Endpoint) -> ProviderError:
    """Any SDK exception -> one ``ProviderError`` saying what happened and what to do."""
    kind = type(error).__name__
    status = getattr(error, "status_code", None)
    detail = str(getattr(error, "message", "") or error)[:300]
    tries = f"{where.max_retries + 1} attempt{'s' if where.max_retries else ''}"
    if kind == "APITimeoutError":
        return ProviderError(
            f"{where.name} at {where.url} did not answer within {where.timeout_s:g} s ({tries}); "
            "try again, raise AGENT_LLM_TIMEOUT, or run with --planner offline"
        )
    if kind == "APIConnectionError":
        cause = str(error.__cause__ or error)[:200]
        return ProviderError(
            f"cannot connect to {where.name} at {where.url} ({cause}); check that the server is running and "
            f"{where.env}_BASE_URL is right, or run with --planner offline"
        )
    if status == 401:
        return ProviderError(f"{where.name} rejected the API key (401 Unauthorized); check {where.env}_API_KEY")
    if status == 403:
        return ProviderError(
            f"{where.name} refused access (403): {detail}; check that {where.env}_API_KEY may use {where.model!r}"
        )
    if status == 404:
        return ProviderError(
            f"{where.name} at {where.url} does not know model {where.model!r} or the endpoint (404); "
            f"set AGENT_MODEL to a model it serves, or check {where.env}_BASE_URL"
        )
    if status == 429:
        return ProviderError(
            f"{where.name} is rate limiting (429) and still was after {where.max_retries} retries with backoff; "
            "wait a minute and try again"
        )
    if isinstance(status, int) and status >= 500:
        return ProviderError(
            f"{where.name} had a server error ({status}) that persisted after {where.max_retries} retries: "
            f"{detail}; try again later or run with --planner offline"
        )
    if isinstance(status, int):
        return ProviderError(f"{where.name} refused the request ({status}): {detail}")
    return ProviderError(f"{where.name} failed ({kind}): {detail}")


def _secret(value: SecretStr | str | None) -> str | None:
    return value.get_secret_value() if isinstance(value, SecretStr) else value


def _ms_since(start: float) -> float:
    return round((time.perf_counter() - start) * 1000, 1)


# --- Anthropic -------------------------------------------------------------------------------


class AnthropicPlanner:
    """Claude through the official SDK; the plan is requested as the input of a forced tool call."""

    provider = "anthropic"

    def __init__(
        self,
        model: str,
        api_key: SecretStr | str | None,
        base_url: str | None = None,
        timeout_s: float = 60.0,
        max_retries: int = 2,
        max_tokens: int = MAX_OUTPUT_TOKENS,
    ) -> None:
        import anthropic

        self._sdk = anthropic
        self.model = model
        self.max_tokens = max_tokens
        self._client = anthropic.Anthropic(
            api_key=_secret(api_key) or _NO_KEY, base_url=base_url, timeout=timeout_s, max_retries=max_retries
        )
        self._where = _Endpoint(
            "Anthropic", "ANTHROPIC", str(self._client.base_url).rstrip("/"), model, timeout_s, max_retries
        )

    def plan(self, system_prompt: str, user_message: str, limits: PlanLimits) -> Reply:
        tool = {
            "name": PLAN_TOOL_NAME,
            "description": f"Submit the plan: at most {limits.max_steps} steps using the listed tools.",
            "input_schema": PLAN_JSON_SCHEMA,
        }
        return self._call(
            system=system_prompt,
            messages=[{"role": "user", "content": user_message}],
            tools=[tool],
            tool_choice={"type": "tool", "name": PLAN_TOOL_NAME},
        )

    def summarize(self, text: str, instruction: str) -> Reply:
        return self._call(
            system=SUMMARY_SYSTEM_PROMPT, messages=[{"role": "user", "content": f"{instruction}\n\n{text}"}]
        )

    def _call(self, **request: Any) -> Reply:
        start = time.perf_counter()
        try:
            message = self._client.messages.create(model=self.model, max_tokens=self.max_tokens, **request)
        except self._sdk.AnthropicError as error:
            raise _translate(error, self._where) from error
        try:
            tool_inputs = [b.input for b in message.content if b.type == "tool_use" and b.name == PLAN_TOOL_NAME]
            if tool_inputs:
                text = json.dumps(tool_inputs[0], ensure_ascii=False)
            else:
                text = "".join(b.text for b in message.content if b.type == "text")
            usage = Usage(input_tokens=message.usage.input_tokens or 0, output_tokens=message.usage.output_tokens or 0)
        except (AttributeError, TypeError) as error:
            raise ProviderError(
                f"Anthropic at {self._where.url} sent a response this code cannot read: {error}"
            ) from error
        return Reply(text, usage, message.model or self.model, _ms_since(start), message.stop_reason or "")


# --- OpenAI and OpenAI-compatible servers ----------------------------------------------------


class OpenAIPlanner:
    """OpenAI or any OpenAI-compatible server (Ollama, vLLM, llama.cpp) through the official SDK.

    Asks for JSON-schema structured output; a server that answers 400/422 to that is asked again
    with plain JSON mode (and is not offered the schema again by this planner).
    """

    provider = "openai"

    def __init__(
        self,
        model: str,
        api_key: SecretStr | str | None,
        base_url: str | None = None,
        timeout_s: float = 60.0,
        max_retries: int = 2,
        max_tokens: int = MAX_OUTPUT_TOKENS,
    ) -> None:
        import openai

        self._sdk = openai
        self.model = model
        self.schema_supported = True
        # The official API wants max_completion_tokens; compatible servers reliably know max_tokens.
        self._limit = {"max_tokens" if base_url else "max_completion_tokens": max_tokens}
        self._client = openai.OpenAI(
            api_key=_secret(api_key) or _NO_KEY, base_url=base_url, timeout=timeout_s, max_retries=max_retries
        )
        name = "OpenAI-compatible server" if base_url else "OpenAI"
        self._where = _Endpoint(name, "OPENAI", str(self._client.base_url).rstrip("/"), model, timeout_s, max_retries)

    def plan(self, system_prompt: str, user_message: str, limits: PlanLimits) -> Reply:
        messages = [{"role": "system", "content": system_prompt}, {"role": "user", "content": user_message}]
        if self.schema_supported:
            schema = {"type": "json_schema", "json_schema": {"name": "plan", "schema": PLAN_JSON_SCHEMA}}
            try:
                return self._call(messages, response_format=schema)
            except (self._sdk.BadRequestError, self._sdk.UnprocessableEntityError):
                self.schema_supported = False
        return self._call(messages, response_format={"type": "json_object"})

    def summarize(self, text: str, instruction: str) -> Reply:
        messages = [
            {"role": "system", "content": SUMMARY_SYSTEM_PROMPT},
            {"role": "user", "content": f"{instruction}\n\n{text}"},
        ]
        return self._call(messages)

    def _call(self, messages: list[dict[str, str]], **extra: Any) -> Reply:
        start = time.perf_counter()
        try:
            completion = self._client.chat.completions.create(
                model=self.model, messages=messages, **self._limit, **extra
            )
        except self._sdk.OpenAIError as error:
            refused = isinstance(error, (self._sdk.BadRequestError, self._sdk.UnprocessableEntityError))
            if refused and extra.get("response_format", {}).get("type") == "json_schema":
                raise  # plan() falls back to JSON mode
            raise _translate(error, self._where) from error
        try:
            choice = completion.choices[0] if completion.choices else None
            text = (choice.message.content or "") if choice else ""
            usage = completion.usage
            tokens = Usage(
                input_tokens=(usage.prompt_tokens or 0) if usage else 0,
                output_tokens=(usage.completion_tokens or 0) if usage else 0,
            )
            stop = (choice.finish_reason or "") if choice else ""
        except (AttributeError, TypeError) as error:
            raise ProviderError(
                f"{self._where.name} at {self._where.url} sent a response this code cannot read: {error}"
            ) from error
        return Reply(text, tokens, completion.model or self.model, _ms_since(start), stop)


# --- recorded --------------------------------------------------------------------------------


@dataclass
class _RecordedAnswer:
    text: str
    usage: Usage
    latency_ms: float
    model: str
    stop_reason: str = ""
    failure: str | None = None


class RecordedPlanner:
    """Serves the planner answers recorded in a run's events, in attempt order (for replay).

    It takes the recorded provider and model names, so a verify-replay writes the same
    ``PlanRequested`` events; a recorded provider failure is raised again as a ``ProviderError``.
    """

    def __init__(self, events: Sequence[RecordedEvent]) -> None:
        self.provider = "recorded"
        self.model = "recorded"
        self._answers: list[_RecordedAnswer] = []
        current_model = ""
        for recorded in events:
            event = recorded.event
            if isinstance(event, PlanRequested):
                if not self._answers:
                    self.provider, self.model = event.provider, event.model
                current_model = event.model
            elif isinstance(event, PlanGenerated):
                self._answers.append(_RecordedAnswer(event.raw_text, event.usage, event.latency_ms, current_model))
            elif isinstance(event, PlanRejected):
                self._answers.append(_from_rejection(event, current_model))
            elif isinstance(event, CostRecorded) and event.source == "planner" and self._answers and event.model:
                self._answers[-1].model = event.model
        self._served = 0

    @property
    def remaining(self) -> int:
        return len(self._answers) - self._served

    def plan(self, system_prompt: str, user_message: str, limits: PlanLimits) -> Reply:
        if self._served >= len(self._answers):
            raise ProviderError(
                f"the recorded run holds only {len(self._answers)} planner answer(s) and all were used; "
                "replay with a live planner (--planner) to ask for more"
            )
        answer = self._answers[self._served]
        self._served += 1
        if answer.failure is not None:
            raise ProviderError(answer.failure)
        return Reply(answer.text, answer.usage, answer.model, answer.latency_ms, answer.stop_reason)

    def summarize(self, text: str, instruction: str) -> Reply | None:
        return None


def _from_rejection(event: PlanRejected, model: str) -> _RecordedAnswer:
    answer = _RecordedAnswer(event.raw_text, event.usage, event.latency_ms, model)
    if not event.retryable and PROVIDER_FAILURE_MARKER in event.error:
        answer.failure = event.error.split(PROVIDER_FAILURE_MARKER, 1)[1].strip()
    elif event.error.startswith(TRUNCATED_MARKER):
        recorded = re.search(r"\(stop reason '([^']*)'\)", event.error)
        answer.stop_reason = recorded.group(1) if recorded else "max_tokens"
    return answer


# --- offline ---------------------------------------------------------------------------------

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
_STOPWORDS = frozenset(
    {"a", "an", "the", "of", "in", "on", "and", "for", "to", "about", "with", "into", "from", "by", "at", "is", "are"}
)


@dataclass
class _Intent:
    kind: str  # read | search | summarize | write
    value: str = ""  # path or query or text
    content: str | None = None
    refs: list[int] = field(default_factory=list)


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
        goal, files = parse_goal(user_message)
        if files is None:
            files = list_workspace(self.workspace)
        document = {
            "planner": "offline rule-based planner: no LLM was called",
            **offline_plan(goal, files, limits.max_steps),
        }
        return Reply(json.dumps(document, indent=2, ensure_ascii=False), Usage(), self.model, 0.0, "end_turn")

    def summarize(self, text: str, instruction: str) -> Reply | None:
        return None


def offline_plan(goal: str, workspace_files: list[str], max_steps: int) -> dict[str, Any]:
    """The offline planner's plan for ``goal`` as a JSON-ready dict (same input, same plan)."""
    intents = _intents(goal, workspace_files)
    chosen = _fit(intents, max(1, max_steps))
    return {"steps": _materialize(chosen, goal), "stop_conditions": _stop_conditions(chosen)}


def _intents(goal: str, files: list[str]) -> list[_Intent]:
    research = bool(_RESEARCH.search(goal))
    wants_summary = bool(_SUMMARY.search(goal))
    wants_write = bool(_WRITE.search(goal))
    target = _write_target(goal) if wants_write else None
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
    sources = [i for i in intents if i.kind in ("read", "search")]
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
        earlier = [s["id"] for s in steps]
        sources = [s["id"] for s in steps if s["tool"] in ("read_file", "web_search")]
        if intent.kind == "read":
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


def make_planner(settings: Settings, *, provider: str | None = None, model: str | None = None) -> Planner:
    """The planner ``settings`` (or the explicit ``provider``/``model``) ask for.

    ``auto`` -> Anthropic if its key is set, else OpenAI if its key or base URL is set, else
    offline. A provider chosen explicitly without the credentials it needs is a ``ConfigError``.
    """
    choice = provider or settings.agent_planner
    if choice == "auto":
        choice = settings.resolved_planner()
    if choice == "offline":
        return OfflinePlanner(settings.agent_workspace)
    chosen_model = model or settings.agent_model or DEFAULT_MODELS.get(choice, "")
    if choice == "anthropic":
        if not settings.anthropic_api_key and not settings.anthropic_base_url:
            raise ConfigError("the anthropic planner needs ANTHROPIC_API_KEY; set it, or use --planner offline")
        return AnthropicPlanner(
            chosen_model, settings.anthropic_api_key, settings.anthropic_base_url, settings.llm_timeout_s
        )
    if choice == "openai":
        if not settings.openai_api_key and not settings.openai_base_url:
            raise ConfigError(
                "the openai planner needs OPENAI_API_KEY, or OPENAI_BASE_URL for a local OpenAI-compatible server "
                "(Ollama, vLLM, llama.cpp); set one, or use --planner offline"
            )
        return OpenAIPlanner(chosen_model, settings.openai_api_key, settings.openai_base_url, settings.llm_timeout_s)
    if choice == "recorded":
        raise ConfigError("the recorded planner replays a run: build it with RecordedPlanner(events) from that run")
    raise ConfigError(f"unknown planner {choice!r}; expected auto, offline, anthropic or openai")
