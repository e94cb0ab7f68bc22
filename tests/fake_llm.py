"""A local HTTP server that plays the Anthropic Messages API and the OpenAI Chat Completions API.

The only fake in the LLM tests: the official SDKs talk real HTTP to 127.0.0.1. Script what
each endpoint answers (a body, a status code, headers, a delay), point the SDK at
``server.anthropic_base_url`` / ``server.openai_base_url``, and assert on ``server.requests``.

    with FakeLLMServer() as server:
        server.script(ANTHROPIC_PATH, anthropic_tool_reply({"steps": [...]}))
        ...
        assert server.requests[0].body["model"] == "claude-sonnet-4-6"

Responses queue per path; when a path's queue is empty its ``default`` (if set) answers, else a
500 says the test forgot to script it. Use the ``fake_llm`` fixture in tests (import it into a
conftest.py: ``from tests.fake_llm import fake_llm  # noqa: F401``).
"""

from __future__ import annotations

import json
import socket
import threading
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

ANTHROPIC_PATH = "/v1/messages"
OPENAI_PATH = "/v1/chat/completions"


@dataclass(frozen=True)
class Scripted:
    """One scripted answer: ``body`` is JSON-encoded unless it is ``str`` or ``bytes``."""

    body: Any = None
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    delay_s: float = 0.0


@dataclass(frozen=True)
class ReceivedRequest:
    """What the server received: ``body`` is the parsed JSON (or None when it was not JSON)."""

    method: str
    path: str
    headers: dict[str, str]
    raw: bytes

    @property
    def body(self) -> Any:
        try:
            return json.loads(self.raw)
        except ValueError:
            return None


def free_port() -> int:
    """A port nothing listens on right now (also what a 'connection refused' test points at)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class FakeLLMServer:
    """Threaded loopback server; start/stop it or use it as a context manager."""

    def __init__(self) -> None:
        self._queues: dict[str, deque[Scripted]] = {}
        self._defaults: dict[str, Scripted] = {}
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self.requests: list[ReceivedRequest] = []
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # --- lifecycle ----------------------------------------------------------------------------

    def start(self) -> FakeLLMServer:
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.02}, name="fake-llm", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None

    def __enter__(self) -> FakeLLMServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        assert self._httpd is not None, "start the server first"
        return int(self._httpd.server_address[1])

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def anthropic_base_url(self) -> str:
        """The SDK appends ``/v1/messages`` itself."""
        return self.base_url

    @property
    def openai_base_url(self) -> str:
        """OpenAI-compatible servers are addressed with the ``/v1`` prefix."""
        return self.base_url + "/v1"

    # --- scripting ----------------------------------------------------------------------------

    def script(self, path: str, *answers: Scripted | dict[str, Any]) -> None:
        """Queue answers for ``path`` in order; a plain dict is a 200 JSON body."""
        with self._lock:
            queue = self._queues.setdefault(path, deque())
            queue.extend(a if isinstance(a, Scripted) else Scripted(a) for a in answers)

    def default(self, path: str, answer: Scripted | dict[str, Any]) -> None:
        """What ``path`` answers once its queue is empty (every time)."""
        with self._lock:
            self._defaults[path] = answer if isinstance(answer, Scripted) else Scripted(answer)

    def requests_to(self, path: str) -> list[ReceivedRequest]:
        with self._lock:
            return [r for r in self.requests if r.path == path]

    def _next(self, request: ReceivedRequest) -> Scripted:
        with self._lock:
            self.requests.append(request)
            queue = self._queues.get(request.path)
            if queue:
                return queue.popleft()
            if request.path in self._defaults:
                return self._defaults[request.path]
        return Scripted({"error": f"fake_llm: nothing scripted for {request.path}"}, status=500)


def _handler_for(server: FakeLLMServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True  # headers and body are two writes: no 40 ms stall on a kept-alive connection

        def do_POST(self) -> None:
            length = int(self.headers.get("content-length") or 0)
            raw = self.rfile.read(length)
            path = self.path.split("?", 1)[0]
            received = ReceivedRequest("POST", path, {k.lower(): v for k, v in self.headers.items()}, raw)
            answer = server._next(received)
            if answer.delay_s and server._stopping.wait(answer.delay_s):
                return
            if isinstance(answer.body, bytes):
                payload = answer.body
            elif isinstance(answer.body, str):
                payload = answer.body.encode()
            else:
                payload = json.dumps(answer.body).encode()
            try:
                self.send_response(answer.status)
                self.send_header("content-type", answer.headers.get("content-type", "application/json"))
                self.send_header("content-length", str(len(payload)))
                for name, value in answer.headers.items():
                    if name.lower() != "content-type":
                        self.send_header(name, value)
                self.end_headers()
                self.wfile.write(payload)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up (a timeout test): nothing to answer

        def log_message(self, format: str, *args: Any) -> None:
            return

    return Handler


# --- response bodies -------------------------------------------------------------------------


def anthropic_tool_reply(
    tool_input: dict[str, Any],
    *,
    model: str = "claude-sonnet-4-6",
    usage: tuple[int, int] = (120, 80),
    stop_reason: str = "tool_use",
    tool_name: str = "submit_plan",
) -> dict[str, Any]:
    return {
        "id": "msg_fake",
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": [{"type": "tool_use", "id": "toolu_fake", "name": tool_name, "input": tool_input}],
        "stop_reason": stop_reason,
        "stop_sequence": None,
        "usage": {"input_tokens": usage[0], "output_tokens": usage[1]},
    }


def anthropic_text_reply(
    text: str, *, model: str = "claude-sonnet-4-6", usage: tuple[int, int] = (120, 80), stop_reason: str = "end_turn"
) -> dict[str, Any]:
    return {
        "id": "msg_fake",
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": [{"type": "text", "text": text}] if text else [],
        "stop_reason": stop_reason,
        "stop_sequence": None,
        "usage": {"input_tokens": usage[0], "output_tokens": usage[1]},
    }


def anthropic_error(status: int, error_type: str, message: str, headers: dict[str, str] | None = None) -> Scripted:
    body = {"type": "error", "error": {"type": error_type, "message": message}}
    return Scripted(body, status=status, headers=headers or {})


def openai_reply(
    content: str | None,
    *,
    model: str = "gpt-4.1-mini",
    usage: tuple[int, int] | None = (100, 60),
    finish_reason: str = "stop",
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": "chatcmpl-fake",
        "object": "chat.completion",
        "created": 1_700_000_000,
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": content},
                "finish_reason": finish_reason,
            }
        ],
    }
    if usage is not None:
        body["usage"] = {"prompt_tokens": usage[0], "completion_tokens": usage[1], "total_tokens": sum(usage)}
    return body


def openai_error(status: int, message: str, headers: dict[str, str] | None = None) -> Scripted:
    body = {"error": {"message": message, "type": "invalid_request_error", "param": None, "code": None}}
    return Scripted(body, status=status, headers=headers or {})


FAST_RETRY = {"retry-after-ms": "1"}
"""Headers that make an SDK retry at once (both SDKs honour ``retry-after-ms``): fast tests."""


@pytest.fixture
def fake_llm() -> Iterator[FakeLLMServer]:
    """A started ``FakeLLMServer``, stopped after the test."""
    with FakeLLMServer() as server:
        yield server


READ_SUMMARIZE_WRITE_PLAN: dict[str, Any] = {
    "steps": [
        {
            "id": "step_1",
            "objective": "Read the notes",
            "tool": "read_file",
            "input": {"path": "notes.txt"},
            "success_criteria": "the notes are read",
        },
        {
            "id": "step_2",
            "objective": "Summarize them",
            "tool": "summarize",
            "input": {"from_steps": ["step_1"]},
            "success_criteria": "a short summary",
        },
        {
            "id": "step_3",
            "objective": "Save the summary",
            "tool": "write_file",
            "input": {"path": "llm-summary.md", "from_step": "step_2"},
            "success_criteria": "the file exists",
        },
    ],
    "stop_conditions": ["a step fails"],
}
"""The plan the LLM-run tests script: read notes.txt, summarize it with the LLM, write llm-summary.md."""
