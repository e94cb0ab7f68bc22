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
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import Annotated, Any, Literal

import anyio
from fastapi import Body, FastAPI, Header, Query, Request, Response
from fastapi import Path as PathParam
from fastapi.openapi.utils import get_openapi
from sse_starlette import EventSourceResponse, ServerSentEvent
from starlette.datastructures import Headers
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from agent_core.api_problems import ApiProblem, install, one_line, problem_openapi, problem_response
from agent_core.api_schema import (
    RUN_STATUSES,
    TEXT_FILTER_MAX_CHARS,
    CancelBody,
    DecisionBody,
    EventOut,
    EventPage,
    Health,
    IsoMoment,
    LaunchBody,
    PlainText,
    PolicyFiles,
    Problem,
    ReplayBody,
    ReplayOut,
    RunCreated,
    RunPage,
    RunView,
    plain_text,
)
from agent_core.config import Settings
from agent_core.dispatch import Dispatcher, dispatcher
from agent_core.errors import ConfigError, RunNotFound
from agent_core.projections import TERMINAL_STATUSES, RunState
from agent_core.replay import Overrides
from agent_core.workbench import Workbench

PAGE_LIMIT_MAX = 200
EVENTS_LIMIT_MAX = 5000
MAX_BODY_BYTES = 1_000_000
"""A request body above this is refused (413) before it is read: the largest valid one is far smaller."""
RUN_ID_MAX_CHARS = 200
STREAM_POLL_S = 0.25
"""How often an open event stream looks for new events of its run."""


# --- the runner ------------------------------------------------------------------------------


def make_runner(workbench: Workbench) -> Dispatcher:
    """What executes the runs the API starts or continues: the dashboard's and the CLI's seam.

    The process's own background runner, or with ``AGENT_QUEUE=procrastinate`` the queue that
    workers drain; every route obtains it from here, through ``app.state.runner``.
    """
    return dispatcher(workbench)


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
    """The problem responses a route documents; every route may meet the guard, parsing and a store that is down."""
    every = {400, 401, 413, 422, 503}
    return {s: {"model": Problem, "description": _ERRORS_OF[s]} for s in sorted(every | set(statuses))}


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
    install(app)

    app.add_middleware(_Guard, token=token)
    _routes(app)
    app.openapi = lambda: _openapi(app)  # type: ignore[method-assign]  # FastAPI's documented override
    return app


class _Guard:
    """The bearer token (constant-time compare) and the body size cap, before any route runs.

    A plain ASGI middleware, so that it can count a body sent without ``Content-Length`` (chunked)
    as it arrives and stop reading past the cap.
    """

    def __init__(self, app: ASGIApp, token: bytes | None) -> None:
        self.app = app
        self.token = token

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        if self.token is not None and not _bearer_matches(headers.get("authorization"), self.token):
            detail = "send 'Authorization: Bearer <AGENT_API_TOKEN>' with every request"
            await problem_response(401, "unauthorized", "Unauthorized", detail)(scope, receive, send)
            return
        length = headers.get("content-length")
        if length is not None and (not length.isdigit() or int(length) > MAX_BODY_BYTES):
            await problem_response(413, None, "Content Too Large", _TOO_LARGE)(scope, receive, send)
            return
        received = 0

        async def capped() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > MAX_BODY_BYTES:  # FastAPI passes an HTTPException from here on as it is
                    raise StarletteHTTPException(413, _TOO_LARGE)
            return message

        await self.app(scope, capped, send)


_TOO_LARGE = f"the request body is over {MAX_BODY_BYTES:,} bytes; nothing was read past that"


def _bearer_matches(header: str | None, token: bytes) -> bool:
    scheme, _, given = (header or "").partition(" ")
    # Starlette decodes headers as latin-1: encoding back gives the bytes the client sent.
    return scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode("latin-1", "replace"), token)


def _openapi(app: FastAPI) -> dict[str, Any]:
    """FastAPI's schema, built once, with every error answer documented as a problem."""
    if app.openapi_schema is None:
        schema = get_openapi(title=app.title, version=app.version, summary=app.summary, routes=app.routes)
        app.openapi_schema = problem_openapi(schema)
    return app.openapi_schema


def _bench(request: Request) -> Workbench:
    bench: Workbench = request.app.state.workbench
    return bench


def _runner(request: Request) -> Dispatcher:
    runner: Dispatcher = request.app.state.runner
    return runner


def _known(bench: Workbench, run_id: str) -> str:
    """``run_id`` if the store holds it, else ``RunNotFound`` (also for ids no store could hold)."""
    if len(run_id) > RUN_ID_MAX_CHARS:
        raise RunNotFound(run_id[:RUN_ID_MAX_CHARS] + "...")
    try:
        plain_text(run_id)
    except ValueError:
        raise RunNotFound(run_id) from None
    bench.run_summary(run_id)
    return run_id


def _view(state: RunState) -> RunView:
    return RunView(run=state, pending_step=state.pending_approval, terminal=state.is_terminal)


RunId = Annotated[str, PathParam(description="the run's full id, as POST /runs answered it")]


def _routes(app: FastAPI) -> None:
    """Declare every route on ``app``."""

    @app.get("/healthz", responses=_errors())
    def healthz(request: Request) -> Health:
        """200 when the event store answers a read; 503 (problem) when it does not."""
        bench = _bench(request)
        try:
            bench.list_runs(limit=1)
        except Exception as error:  # whatever the driver raises: the check's whole job is to say "unreachable"
            detail = one_line(str(error))
            raise ApiProblem(503, "store-unavailable", "The event store cannot be reached", detail) from error
        active, queued = _runner(request).load()
        return Health(status="ok", store=bench.store_label(), runs_active=active, runs_queued=queued)

    @app.post("/runs", status_code=201, responses=_errors())
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

    @app.post("/runs/{run_id}/approvals/{step_id}", responses=_errors(404, 409))
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
        raise ApiProblem(422, "not-configured", "Not available on this server", one_line(str(error))) from error


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
