"""The HTTP API: a FastAPI app over the Workbench, served by ``python -m agent_core api``.

Every route calls the Workbench (or the background runner for work that continues after the
answer), never the store's SQL. Every error is ``application/problem+json`` (RFC 9457: type,
title, status, detail), whatever raised it: a domain error, a validation error, an unknown
route or a bug. When ``AGENT_API_TOKEN`` is set every request needs ``Authorization: Bearer``
with it; without a token the server only listens on loopback (``check_bind``).
"""

from __future__ import annotations

import asyncio
import hmac
import ipaddress
import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import fields
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any, Literal

import anyio
from fastapi import Body, FastAPI, Header, Query, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi
from fastapi.routing import APIRoute
from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field
from sse_starlette import EventSourceResponse, ServerSentEvent
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

from agent_core import events as ev
from agent_core.config import Settings
from agent_core.errors import (
    AgentError,
    ConcurrencyError,
    ConfigError,
    PayloadRejected,
    PolicyError,
    RunnerBusy,
    RunNotFound,
    RunStateError,
    StoreError,
)
from agent_core.jsontext import first_surrogate
from agent_core.orchestrator import (
    BUDGET_RANGE,
    CONTROL_CHARS,
    GOAL_MAX_CHARS,
    MAX_STEPS_RANGE,
    RunRequest,
    RunRequestError,
)
from agent_core.projections import CANCELLED, COMPLETED, FAILED, RUNNING, TERMINAL_STATUSES, WAITING, RunState
from agent_core.projections import RunSummary as RunSummary
from agent_core.projections import StepState as StepState
from agent_core.providers import planner_choices
from agent_core.replay import Overrides, ReplayError
from agent_core.runner import BackgroundRunner
from agent_core.workbench import Workbench

log = logging.getLogger(__name__)

RUN_STATUSES = (RUNNING, WAITING, COMPLETED, FAILED, CANCELLED)
PAGE_LIMIT_MAX = 200
EVENTS_LIMIT_MAX = 5000
MAX_BODY_BYTES = 1_000_000
"""A request body above this is refused (413) before it is read: the largest valid one is far smaller."""
RUN_ID_MAX_CHARS = 200
TEXT_FILTER_MAX_CHARS = 200  # the Runs page's "Goal contains" box
MODEL_MAX_CHARS = 200
PROMPT_MAX_CHARS = 20_000  # the Replay page's system prompt box
COMMENT_MAX_CHARS = 2000
BY_MAX_CHARS = 100
STREAM_POLL_S = 0.25
"""How often an open event stream looks for new events of its run."""
PROBLEM_JSON = "application/problem+json"
PROBLEM_BASE = "urn:agent-workbench:problem:"


# --- text from the network -------------------------------------------------------------------


def _plain_text(value: str) -> str:
    """Refuse what the store cannot keep alike on every engine: NUL and other controls, unpaired surrogates."""
    for i, char in enumerate(value):
        if (ord(char) < 0x20 and char not in "\t\n\r") or 0x7F <= ord(char) <= 0x9F:
            raise ValueError(f"holds the control character U+{ord(char):04X} at position {i + 1}")
    where = first_surrogate(value)
    if where is not None:
        raise ValueError(f"holds U+{ord(value[where]):04X} at position {where + 1}, which is not valid text")
    return value


TEXT_PATTERN = f"^[^{CONTROL_CHARS}]*$"
"""Text without the characters a goal may not hold, as a JSON Schema pattern (so the schema says it)."""
GOAL_PATTERN = f"^[^{CONTROL_CHARS}]*[^\\s{CONTROL_CHARS}][^{CONTROL_CHARS}]*$"
"""... and with something besides white space: what ``RunRequest.validate`` accepts as a goal."""
PlainText = Annotated[str, Field(pattern=TEXT_PATTERN), AfterValidator(_plain_text)]


# --- request bodies --------------------------------------------------------------------------


class _Body(BaseModel):
    """Request bodies take JSON types as they are (``"5"`` is no integer) and refuse unknown fields (typos)."""

    model_config = ConfigDict(strict=True, extra="forbid")


_LAUNCH_DEFAULTS: dict[str, Any] = {f.name: f.default for f in fields(RunRequest)}


class LaunchBody(_Body):
    """The Launch form's fields; limits derived from ``RunRequest``'s, which checks them again (``validate``)."""

    goal: Annotated[str, AfterValidator(_plain_text)] = Field(
        max_length=GOAL_MAX_CHARS, pattern=GOAL_PATTERN, description="what the agent should do"
    )
    max_steps: int = Field(default=_LAUNCH_DEFAULTS["max_steps"], ge=MAX_STEPS_RANGE[0], le=MAX_STEPS_RANGE[1])
    budget_usd: float = Field(default=_LAUNCH_DEFAULTS["budget_usd"], ge=BUDGET_RANGE[0], le=BUDGET_RANGE[1])
    planner: str = Field(default=_LAUNCH_DEFAULTS["planner"], json_schema_extra={"enum": list(planner_choices())})
    model: PlainText | None = Field(default=None, max_length=MODEL_MAX_CHARS)

    def request(self) -> RunRequest:
        """The validated ``RunRequest`` (``RunRequestError`` names the field to fix)."""
        return RunRequest(self.goal, self.max_steps, self.budget_usd, self.planner, self.model).validate()


class DecisionBody(_Body):
    """A person's answer to a held step."""

    decision: Literal["approve", "deny"]
    comment: PlainText = Field(default="", max_length=COMMENT_MAX_CHARS)
    by: PlainText = Field(default="api", min_length=1, max_length=BY_MAX_CHARS, description="recorded as the decider")


class CancelBody(_Body):
    """Who cancels, and why (both optional)."""

    by: PlainText = Field(default="api", min_length=1, max_length=BY_MAX_CHARS)
    reason: PlainText = Field(default="", max_length=COMMENT_MAX_CHARS)


class ReplayBody(_Body):
    """A verify or a what-if, with the overrides of the CLI's ``replay`` and the Replay page."""

    mode: Literal["verify", "whatif"] = "verify"
    provider: str | None = Field(default=None, json_schema_extra={"enum": [*planner_choices(auto=False), None]})
    model: PlainText | None = Field(default=None, max_length=MODEL_MAX_CHARS)
    system_prompt: PlainText | None = Field(default=None, max_length=PROMPT_MAX_CHARS)
    policy: str | None = Field(
        default=None, max_length=255, description="a policy file's name beside the one in force (GET /policies)"
    )
    tools: Literal["recorded", "live"] = "recorded"
    save: bool = Field(default=False, description="verify: keep the re-execution as a run")


# --- responses -------------------------------------------------------------------------------


class FieldProblem(BaseModel):
    """One invalid field of a request: where it is and what is wrong."""

    loc: list[str | int]
    msg: str


class Problem(BaseModel):
    """An error, as RFC 9457 describes it; ``errors`` lists the invalid fields of a refused request."""

    type: str = "about:blank"
    title: str
    status: int
    detail: str
    instance: str | None = None
    errors: list[FieldProblem] | None = None


class RunCreated(BaseModel):
    """A run recorded and handed to the runner: where to read it."""

    run_id: str
    href: str
    events: str
    stream: str


class RunPage(BaseModel):
    """One page of the run list (newest first) and how many runs match the filters."""

    total: int
    limit: int
    offset: int
    next_offset: int | None
    runs: list[RunSummary]


class RunView(BaseModel):
    """A run's state, folded from its events, and the step waiting for a person (if any)."""

    run: RunState
    pending_step: StepState | None
    terminal: bool


class EventOut(BaseModel):
    """One recorded event: the envelope and its payload as stored (``problem`` when it could not be decoded)."""

    position: int
    run_id: str
    seq: int
    type: str
    version: int
    actor: str
    at: datetime
    hash: str
    payload: dict[str, Any]
    problem: str

    @classmethod
    def of(cls, e: ev.RecordedEvent) -> EventOut:
        """The API's view of a decoded event."""
        return cls(
            position=e.position,
            run_id=e.run_id,
            seq=e.seq,
            type=e.type,
            version=e.version,
            actor=e.actor,
            at=e.at,
            hash=e.hash,
            payload=e.event.to_payload(),
            problem=e.problem,
        )


class EventPage(BaseModel):
    """The run's events after ``after`` (a seq), in order; ``last_seq`` is where to continue from."""

    run_id: str
    after: int
    last_seq: int
    events: list[EventOut]


class ReplayOut(BaseModel):
    """A verify (identical or the first divergence) or a what-if (the new run, its verdict and diff)."""

    mode: Literal["verify", "whatif"]
    run_id: str
    line: str
    identical: bool | None = None
    replay_id: str | None = None
    replay_status: str | None = None
    verdict: str | None = None
    result: dict[str, Any]


class Health(BaseModel):
    """The store answered; what the runner of this process holds."""

    status: Literal["ok"]
    store: str
    runs_active: int
    runs_queued: int


class PolicyFiles(BaseModel):
    """The policy files a what-if may name: the one in force first."""

    in_force: str
    files: list[str]


# --- problems --------------------------------------------------------------------------------


class ApiProblem(Exception):
    """A refusal the API itself decides (an unknown step, a body too large): rendered as a problem."""

    def __init__(self, status: int, kind: str, title: str, detail: str) -> None:
        self.status, self.kind, self.title, self.detail = status, kind, title, detail
        super().__init__(detail)


_AGENT_PROBLEMS: tuple[tuple[type[AgentError], int, str, str], ...] = (
    (RunNotFound, 404, "run-not-found", "Unknown run"),
    (RunRequestError, 422, "invalid-run-request", "Invalid run request"),
    (PayloadRejected, 422, "payload-rejected", "The store refused the data"),
    (PolicyError, 422, "invalid-policy", "Invalid policy"),
    (ReplayError, 422, "replay-refused", "The replay cannot be set up"),
    (RunStateError, 409, "run-state-conflict", "The run cannot do that now"),
    (ConcurrencyError, 409, "run-changed", "The run changed meanwhile"),
    (RunnerBusy, 503, "runner-busy", "The background runner is full"),
    (StoreError, 503, "store-unavailable", "The event store cannot be reached"),
    (ConfigError, 500, "configuration", "The server's configuration is invalid"),
)
"""Which status each deliberate error answers with, most specific first; anything else is a 500."""


def _problem_response(
    status: int,
    kind: str | None,
    title: str,
    detail: str,
    *,
    errors: list[FieldProblem] | None = None,
    headers: dict[str, str] | None = None,
) -> Response:
    problem = Problem(
        type=PROBLEM_BASE + kind if kind else "about:blank", title=title, status=status, detail=detail, errors=errors
    )
    headers = dict(headers or {})
    if status == 401:
        headers["WWW-Authenticate"] = "Bearer"
    if status == 503:
        headers["Retry-After"] = "5"
    body = json.dumps(problem.model_dump(exclude_none=True), ensure_ascii=True)  # ASCII: no text can break encoding
    return Response(content=body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


def _one_line(message: str) -> str:
    return " ".join(message.split()) or "no detail"


async def _agent_error(request: Request, error: Exception) -> Response:
    for kind_of, status, kind, title in _AGENT_PROBLEMS:
        if isinstance(error, kind_of):
            return _problem_response(status, kind, title, _one_line(str(error)))
    return await _internal_error(request, error)


async def _api_problem(request: Request, error: Exception) -> Response:
    assert isinstance(error, ApiProblem)
    return _problem_response(error.status, error.kind, error.title, error.detail)


async def _http_error(request: Request, error: Exception) -> Response:
    assert isinstance(error, StarletteHTTPException)
    title = _HTTP_TITLES.get(error.status_code, "Error")
    detail = error.detail if isinstance(error.detail, str) else title
    if error.status_code == 404 and detail == "Not Found":
        detail = f"no route {request.method} {request.url.path!r}; see /docs for the API"
    headers = dict(error.headers or {})
    if error.status_code == 405:
        headers["Allow"] = ", ".join(_allowed_methods(request))
    return _problem_response(error.status_code, None, title, _one_line(detail), headers=headers)


def _allowed_methods(request: Request) -> list[str]:
    """Every method some route serves on this path (Starlette's own 405 names only the first route's)."""
    methods: set[str] = set()
    for route in request.app.routes:
        match, _ = route.matches({**request.scope, "method": "GET"})
        if match != Match.NONE and isinstance(route, APIRoute):
            methods |= route.methods or set()
    return sorted(methods)


async def _validation_error(request: Request, error: Exception) -> Response:
    assert isinstance(error, RequestValidationError)
    fields = [_field_problem(e) for e in error.errors()]
    detail = "; ".join(f"{'.'.join(map(str, f.loc))}: {f.msg}" for f in fields) or "the request is invalid"
    return _problem_response(422, "invalid-request", "Invalid request", _one_line(detail), errors=fields)


def _field_problem(error: dict[str, Any]) -> FieldProblem:
    loc = [p if isinstance(p, int) else str(p) for p in error.get("loc", ())]
    if error.get("type") == "json_invalid":  # loc ends with the character offset, not a field
        reason = error.get("ctx", {}).get("error", "")
        return FieldProblem(loc=loc[:1], msg=f"the body is not valid JSON (at character {loc[-1]}): {reason}")
    if error.get("type") == "string_pattern_mismatch":  # say what the pattern means, not the pattern
        blank = "must hold more than white space, and " if loc[-1:] == ["goal"] else "must "
        return FieldProblem(loc=loc, msg=f"{blank}hold no control character (tabs and line breaks are fine)")
    return FieldProblem(loc=loc, msg=str(error.get("msg", "")))


async def _internal_error(request: Request, error: Exception) -> Response:
    log.error("%s %s failed", request.method, request.url.path, exc_info=error)
    return _problem_response(
        500,
        "internal-error",
        "Internal error",
        f"the server failed on this request ({type(error).__name__}); see its log",
    )


_HTTP_TITLES = {
    400: "Bad Request",
    401: "Unauthorized",
    404: "Not Found",
    405: "Method Not Allowed",
    413: "Content Too Large",
    415: "Unsupported Media Type",
}


# --- the runner ------------------------------------------------------------------------------


def make_runner(workbench: Workbench) -> BackgroundRunner:
    """What executes the runs the API starts or continues: the process's own background runner.

    The one place to change for another executor (a queue with the runner's ``submit`` and
    ``continue_run``): every route obtains it from here, through ``app.state.runner``.
    """
    return BackgroundRunner(workbench)


# --- the app ---------------------------------------------------------------------------------

_ERRORS_OF = {
    400: "the request could not be read (a body that is not UTF-8 JSON)",
    401: "AGENT_API_TOKEN is set and the request has no valid bearer token",
    404: "unknown run (or step, or route)",
    409: "the run's state does not allow it (ended, imported, the step not waiting)",
    413: "the request body is too large",
    422: "invalid request: the fields and what is wrong with them",
    503: "the store cannot be reached, or the runner is full (nothing was written); retry later",
}


def _errors(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """The problem responses a route documents (400, 401 and 422 on all of them)."""
    return {s: {"model": Problem, "description": _ERRORS_OF[s]} for s in sorted({400, 401, 422, *statuses})}


def create_app(settings: Settings | None = None, *, workbench: Workbench | None = None) -> FastAPI:
    """The API over ``workbench`` (default: one opened from ``settings`` at start-up, closed at shutdown)."""
    settings = workbench.settings if workbench is not None else settings or Settings()
    token = settings.api_token.get_secret_value().encode("utf-8") if settings.api_token else None

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        bench = workbench or Workbench.open(settings)
        app.state.workbench = bench
        app.state.runner = make_runner(bench)
        try:
            yield
        finally:
            await anyio.to_thread.run_sync(app.state.runner.shutdown)
            if workbench is None:
                bench.close()

    app = FastAPI(
        title="Agent workbench",
        version="1",
        summary="Runs, their events, approvals and replays over HTTP.",
        lifespan=lifespan,
    )
    app.add_exception_handler(AgentError, _agent_error)
    app.add_exception_handler(ApiProblem, _api_problem)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(Exception, _internal_error)

    @app.middleware("http")
    async def guard(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        """The bearer token (constant-time compare) and the body size, before any route runs."""
        if token is not None and not _bearer_matches(request.headers.get("authorization"), token):
            return _problem_response(
                401, "unauthorized", "Unauthorized", "send 'Authorization: Bearer <AGENT_API_TOKEN>' with every request"
            )
        length = request.headers.get("content-length")
        if length is not None and (not length.isdigit() or int(length) > MAX_BODY_BYTES):
            return _problem_response(
                413, "body-too-large", "Content Too Large", f"the request body is over {MAX_BODY_BYTES:,} bytes"
            )
        return await call_next(request)

    _routes(app)
    app.openapi = lambda: _openapi(app)  # type: ignore[method-assign]  # FastAPI's documented override
    return app


def _bearer_matches(header: str | None, token: bytes) -> bool:
    scheme, _, given = (header or "").partition(" ")
    # Starlette decodes headers as latin-1: encoding back gives the bytes the client sent.
    return scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode("latin-1", "replace"), token)


def _openapi(app: FastAPI) -> dict[str, Any]:
    """FastAPI's schema with every error answer as ``application/problem+json`` of ``Problem``."""
    if app.openapi_schema is None:
        schema = get_openapi(title=app.title, version=app.version, summary=app.summary, routes=app.routes)
        problem = {"$ref": "#/components/schemas/Problem"}
        for path in schema.get("paths", {}).values():
            for operation in path.values():
                for status, response in operation.get("responses", {}).items():
                    if status.startswith(("4", "5")):
                        response["content"] = {PROBLEM_JSON: {"schema": problem}}
        components = schema.get("components", {}).get("schemas", {})
        for unused in ("HTTPValidationError", "ValidationError"):
            components.pop(unused, None)
        app.openapi_schema = schema
    return app.openapi_schema


def _bench(request: Request) -> Workbench:
    bench: Workbench = request.app.state.workbench
    return bench


def _runner(request: Request) -> BackgroundRunner:
    runner: BackgroundRunner = request.app.state.runner
    return runner


def _known(bench: Workbench, run_id: str) -> str:
    """``run_id`` if the store holds it, else ``RunNotFound`` (also for ids no store could hold)."""
    if len(run_id) > RUN_ID_MAX_CHARS:
        raise RunNotFound(run_id[:RUN_ID_MAX_CHARS] + "...")
    try:
        _plain_text(run_id)
    except ValueError:
        raise RunNotFound(run_id) from None
    bench.run_summary(run_id)
    return run_id


def _view(state: RunState) -> RunView:
    return RunView(run=state, pending_step=state.pending_approval, terminal=state.is_terminal)


def _iso_moment(value: object) -> datetime:
    """An ISO 8601 date or date-time (``2026-11-30``, ``2026-11-30T12:00:00Z``) as UTC; no zone means UTC.

    Stricter than pydantic's lax datetime, which also takes a bare number as a Unix time.
    """
    if isinstance(value, datetime):
        moment = value
    else:
        try:
            moment = datetime.fromisoformat(str(value))
        except ValueError:
            raise ValueError("an ISO 8601 date or date-time, like 2026-11-30 or 2026-11-30T12:00:00Z") from None
    try:
        return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    except (OverflowError, ValueError):
        raise ValueError("a date-time out of range once converted to UTC") from None


IsoMoment = Annotated[datetime, BeforeValidator(_iso_moment)]


RunId = Annotated[str, "a run's full id"]


def _routes(app: FastAPI) -> None:
    """Declare every route on ``app``."""

    @app.get("/healthz", responses=_errors(503))
    def healthz(request: Request) -> Health:
        """200 when the event store answers a read; 503 (problem) when it does not."""
        bench = _bench(request)
        try:
            bench.list_runs(limit=1)
        except Exception as error:  # whatever the driver raises: the check's whole job is to say "unreachable"
            detail = _one_line(str(error))
            raise ApiProblem(503, "store-unavailable", "The event store cannot be reached", detail) from error
        active, queued = _runner(request).load()
        return Health(status="ok", store=bench.store_label(), runs_active=active, runs_queued=queued)

    @app.post("/runs", status_code=201, responses=_errors(413, 503))
    def launch(request: Request, response: Response, body: LaunchBody) -> RunCreated:
        """Start a run (the Launch form's fields): recorded now, executed by the runner. 503 when it is full."""
        with _configuration_refuses():
            run_id = _runner(request).submit(body.request())
        href = f"/runs/{run_id}"
        response.headers["Location"] = href
        return RunCreated(run_id=run_id, href=href, events=f"{href}/events", stream=f"{href}/stream")

    @app.get("/runs", responses=_errors())
    def list_runs(
        request: Request,
        status: Annotated[list[Literal[RUN_STATUSES]] | None, Query()] = None,  # type: ignore[valid-type]
        text: Annotated[PlainText | None, Query(max_length=TEXT_FILTER_MAX_CHARS, description="in the goal")] = None,
        lineage: Literal["all", "originals", "replays"] = "all",
        started_after: Annotated[IsoMoment | None, Query(description="inclusive; UTC when no zone")] = None,
        started_before: Annotated[IsoMoment | None, Query(description="exclusive; UTC when no zone")] = None,
        limit: Annotated[int, Query(ge=1, le=PAGE_LIMIT_MAX)] = 50,
        offset: Annotated[int, Query(ge=0, le=10**9)] = 0,
    ) -> RunPage:
        """Runs newest first, filtered like the Runs page, one page at a time, with the total that match."""
        filters: dict[str, Any] = {
            "originals_only": lineage == "originals",
            "replays_only": lineage == "replays",
            "started_after": started_after,
            "started_before": started_before,
        }
        if status:
            filters["status"] = list(status)
        if text and text.strip():
            filters["text_in_title"] = text.strip()
        bench = _bench(request)
        total = bench.count_runs(**filters)
        runs = bench.list_runs(**filters, limit=limit, offset=offset)
        following = offset + len(runs)
        return RunPage(
            total=total, limit=limit, offset=offset, next_offset=following if following < total else None, runs=runs
        )

    @app.get("/runs/{run_id}", responses=_errors(404))
    def get_run(request: Request, run_id: RunId) -> RunView:
        """The run's state folded from its events."""
        bench = _bench(request)
        return _view(bench.run_state(_known(bench, run_id)))

    @app.get("/runs/{run_id}/events", responses=_errors(404))
    def get_events(
        request: Request,
        run_id: RunId,
        after: Annotated[int, Query(ge=0, le=2**31, description="a seq: only events after it")] = 0,
        limit: Annotated[int, Query(ge=1, le=EVENTS_LIMIT_MAX)] = 1000,
    ) -> EventPage:
        """The run's events after ``after``, in order (at most ``limit``; continue from ``last_seq``)."""
        bench = _bench(request)
        events = bench.run_events(_known(bench, run_id), after_seq=after)[:limit]
        last = events[-1].seq if events else after
        return EventPage(run_id=run_id, after=after, last_seq=last, events=[EventOut.of(e) for e in events])

    @app.get(
        "/runs/{run_id}/stream",
        responses={
            **_errors(404),
            200: {
                "description": "server-sent events: `id` the seq, `event` the type, `data` the event as JSON",
                "content": {"text/event-stream": {"schema": {"type": "string"}}},
            },
        },
        response_class=EventSourceResponse,
    )
    async def stream(
        request: Request,
        run_id: RunId,
        after: Annotated[int, Query(ge=0, le=2**31, description="a seq: only events after it")] = 0,
        last_event_id: Annotated[str | None, Header(max_length=20)] = None,
    ) -> EventSourceResponse:
        """Every event of the run in order, from ``after`` (or ``Last-Event-ID``); the stream ends with the run."""
        bench = _bench(request)
        await anyio.to_thread.run_sync(_known, bench, run_id)
        start = after
        if last_event_id is not None and last_event_id.strip().isdigit():
            start = int(last_event_id.strip())
        return EventSourceResponse(_follow(bench, run_id, start), ping=10)

    @app.post("/runs/{run_id}/approvals/{step_id}", responses=_errors(404, 409, 503))
    def decide(request: Request, run_id: RunId, step_id: str, body: DecisionBody) -> RunView:
        """Approve or deny a held step (recorded as ``by``), then the runner continues the run.

        404 for an unknown run or step, 409 when the step is not waiting, 503 (nothing recorded) when
        the runner has no room to continue the run.
        """
        bench = _bench(request)
        state = bench.run_state(_known(bench, run_id))
        if state.step(step_id) is None:
            raise ApiProblem(
                404, "step-not-found", "Unknown step", f"run {run_id!r} has no step {step_id[:RUN_ID_MAX_CHARS]!r}"
            )
        record = bench.approve if body.decision == "approve" else bench.deny
        # Recorded only once the runner holds a place to continue the run (else RunnerBusy: nothing recorded).
        _runner(request).continue_run(run_id, first=lambda: record(run_id, step_id, by=body.by, comment=body.comment))
        return _view(bench.run_state(run_id))

    @app.post("/runs/{run_id}/cancel", responses=_errors(404, 409))
    def cancel(request: Request, run_id: RunId, body: Annotated[CancelBody | None, Body()] = None) -> RunView:
        """End a run that has not ended (409 if it has); a worker advancing it stops at its next append."""
        body = body or CancelBody()
        bench = _bench(request)
        return _view(bench.cancel(_known(bench, run_id), by=body.by, reason=body.reason))

    @app.post("/runs/{run_id}/replays", responses=_errors(404, 409))
    def replay(request: Request, response: Response, run_id: RunId, body: ReplayBody) -> ReplayOut:
        """Verify the run against the current code, or replay it with overrides (what-if: a new run, 201).

        It answers when the replay is done (a what-if waiting for an approval answers then).
        """
        bench = _bench(request)
        _known(bench, run_id)
        overrides = Overrides(
            body.provider, body.model, body.system_prompt, _policy_file(bench, body.policy), body.tools
        )
        if body.mode == "verify":
            with _configuration_refuses():
                verified = bench.verify(run_id, overrides, save=body.save)
            return ReplayOut(
                mode="verify",
                run_id=run_id,
                line=verified.line(),
                identical=verified.identical,
                replay_id=verified.replay_run_id,
                result=verified.to_document(),
            )
        with _configuration_refuses():
            outcome = bench.whatif(run_id, overrides)
        response.status_code = 201
        response.headers["Location"] = f"/runs/{outcome.replay_id}"
        return ReplayOut(
            mode="whatif",
            run_id=run_id,
            line=outcome.line(),
            replay_id=outcome.replay_id,
            replay_status=outcome.state.status,
            verdict=outcome.diff.verdict,
            result={**outcome.diff.to_document(), "notes": list(outcome.notes)},
        )

    @app.get("/policies", responses=_errors())
    def policies(request: Request) -> PolicyFiles:
        """The policy files a what-if replay may name (``policy``), the one in force first."""
        files = _bench(request).policy_files()
        return PolicyFiles(in_force=files[0].name, files=[f.name for f in files])


@contextmanager
def _configuration_refuses() -> Iterator[None]:
    """A request this server's configuration cannot serve (a planner without its key) is the request's 422."""
    try:
        yield
    except ConfigError as error:
        raise ApiProblem(422, "not-configured", "Not available on this server", _one_line(str(error))) from error


def _policy_file(bench: Workbench, name: str | None) -> Path | None:
    """A policy file chosen by name among the Replay page's choices: never a path from the network."""
    if name is None:
        return None
    files = bench.policy_files()
    for candidate in files:
        if candidate.name == name:
            return candidate
    raise ApiProblem(
        422,
        "invalid-request",
        "Invalid request",
        f"policy: no policy file {name[:255]!r}; choose one of " + ", ".join(f.name for f in files),
    )


async def _follow(bench: Workbench, run_id: str, after: int) -> AsyncIterator[ServerSentEvent]:
    """The run's events after seq ``after`` as they are written, until the run has ended and all are sent."""
    sent = after
    while True:
        summary = await anyio.to_thread.run_sync(bench.run_summary, run_id)
        # Read after the status: once it says ended, every event up to the end is already committed.
        for e in await anyio.to_thread.run_sync(bench.run_events, run_id, sent):
            yield ServerSentEvent(data=EventOut.of(e).model_dump_json(), event=e.type, id=str(e.seq))
            sent = e.seq
        if summary.status in TERMINAL_STATUSES:
            return
        await asyncio.sleep(STREAM_POLL_S)


# --- serving ---------------------------------------------------------------------------------


def is_loopback(host: str) -> bool:
    """True for ``localhost`` and loopback addresses (127.0.0.0/8, ::1): nobody else can connect."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_bind(host: str, settings: Settings) -> None:
    """``ConfigError`` when ``host`` is reachable from other machines and ``AGENT_API_TOKEN`` is not set."""
    if not is_loopback(host) and settings.api_token is None:
        raise ConfigError(
            f"refusing to listen on {host!r} without AGENT_API_TOKEN: anyone who can reach it could start runs "
            "and approve steps; set AGENT_API_TOKEN (16+ characters) or listen on 127.0.0.1"
        )


def serve(workbench: Workbench, host: str, port: int) -> None:
    """Run the API with uvicorn until interrupted (``check_bind`` first)."""
    import uvicorn

    check_bind(host, workbench.settings)
    uvicorn.run(create_app(workbench=workbench), host=host, port=port, log_level="info")
