"""Every error the HTTP API answers is an RFC 9457 problem (``application/problem+json``).

Domain errors map to a status by their class (``_AGENT_PROBLEMS``), the API's own refusals are an
``ApiProblem``, and validation errors, unknown routes and bugs get the same document; the schema
documents them so (``problem_openapi``).
"""

from __future__ import annotations

import json
import logging
from typing import Any

from fastapi import FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

from agent_core.api_schema import FieldProblem, Problem
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
from agent_core.orchestrator import RunRequestError
from agent_core.replay import ReplayError

log = logging.getLogger(__name__)

PROBLEM_JSON = "application/problem+json"
PROBLEM_BASE = "urn:agent-workbench:problem:"


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


def problem_response(
    status: int,
    kind: str | None,
    title: str,
    detail: str,
    *,
    errors: list[FieldProblem] | None = None,
    headers: dict[str, str] | None = None,
) -> Response:
    """The problem document as a response (ASCII JSON: no text in it can fail to encode)."""
    problem = Problem(
        type=PROBLEM_BASE + kind if kind else "about:blank", title=title, status=status, detail=detail, errors=errors
    )
    headers = dict(headers or {})
    if status == 401:
        headers["WWW-Authenticate"] = "Bearer"
    if status == 503:
        headers["Retry-After"] = "5"
    body = json.dumps(problem.model_dump(exclude_none=True), ensure_ascii=True)
    return Response(content=body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


def one_line(message: str) -> str:
    """``message`` on one line: a problem's ``detail`` is one sentence, whatever the error put in it."""
    return " ".join(message.split()) or "no detail"


async def _agent_error(request: Request, error: Exception) -> Response:
    for kind_of, status, kind, title in _AGENT_PROBLEMS:
        if isinstance(error, kind_of):
            return problem_response(status, kind, title, one_line(str(error)))
    return await _internal_error(request, error)


async def _api_problem(request: Request, error: Exception) -> Response:
    assert isinstance(error, ApiProblem)
    return problem_response(error.status, error.kind, error.title, error.detail)


async def _http_error(request: Request, error: Exception) -> Response:
    assert isinstance(error, StarletteHTTPException)
    title = _HTTP_TITLES.get(error.status_code, "Error")
    detail = error.detail if isinstance(error.detail, str) else title
    if error.status_code == 404 and detail == "Not Found":
        detail = f"no route {request.method} {request.url.path!r}; see /docs for the API"
    headers = dict(error.headers or {})
    if error.status_code == 405:
        headers["Allow"] = ", ".join(_allowed_methods(request))
    return problem_response(error.status_code, None, title, one_line(detail), headers=headers)


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
    return problem_response(422, "invalid-request", "Invalid request", one_line(detail), errors=fields)


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
    return problem_response(
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


def install(app: FastAPI) -> None:
    """Answer every error of ``app`` with a problem document."""
    app.add_exception_handler(AgentError, _agent_error)
    app.add_exception_handler(ApiProblem, _api_problem)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(Exception, _internal_error)


def problem_openapi(schema: dict[str, Any]) -> dict[str, Any]:
    """``schema`` with every error answer as ``application/problem+json`` of ``Problem`` (FastAPI says JSON)."""
    problem = {"$ref": "#/components/schemas/Problem"}
    for path in schema.get("paths", {}).values():
        for operation in path.values():
            for status, response in operation.get("responses", {}).items():
                if status.startswith(("4", "5")):
                    response["content"] = {PROBLEM_JSON: {"schema": problem}}
    components = schema.get("components", {}).get("schemas", {})
    for unused in ("HTTPValidationError", "ValidationError"):
        components.pop(unused, None)
    return schema
