"""Hostile input over HTTP: whatever arrives (huge or broken bodies, wrong types, control characters,
unpaired surrogates, path-like or unicode run ids) is answered with a problem, never a 500, and a refused
request writes nothing."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st

from agent_core import Workbench
from agent_core.api import MAX_BODY_BYTES, create_app
from tests.api.conftest import api_settings
from tests.hostile import CHARS, SHALLOW, TEXT

PROBLEM = "application/problem+json"
HOSTILE = settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
)


@pytest.fixture
def client(database_url: str, workspace: Path) -> Iterator[TestClient]:  # type: ignore[override]
    """A runner with room for every run the examples start (a full runner is tested elsewhere)."""
    bench = Workbench.open(api_settings(database_url, workspace, AGENT_MAX_QUEUED_RUNS=256))
    with TestClient(create_app(workbench=bench), raise_server_exceptions=False) as test_client:
        yield test_client
    bench.close()


def send(client: TestClient, method: str, path: str, body: Any = None) -> Any:
    """``body`` as JSON the way a hostile client can send it: unpaired surrogates as ``\\udXXX`` escapes."""
    raw = None if body is None else json.dumps(body, allow_nan=True)  # ensure_ascii: every string is escapable
    return client.request(method, path, content=raw, headers={"content-type": "application/json"})


def runs(client: TestClient) -> int:
    return int(client.get("/runs").json()["total"])


def assert_refused(response: Any, *statuses: int) -> None:
    """A problem document with one of ``statuses`` (never a 500)."""
    assert response.status_code in statuses, (response.status_code, response.text[:500])
    assert response.headers["content-type"] == PROBLEM
    problem = response.json()
    assert problem["status"] == response.status_code and problem["title"] and problem["detail"]


GOALS = st.one_of(TEXT, st.text(CHARS, min_size=1, max_size=60), st.text(min_size=3990, max_size=4010))


@HOSTILE
@given(goal=GOALS)
@example(goal="\x00")
@example(goal="\ud800 surrogate")
@example(goal="\ud800\udc00")
@example(goal="x" * 4001)
@example(goal=" \u2003 ")
@example(goal="Résumé “notes” 日本語 🙂 and summarize it")
def test_a_goal_is_recorded_as_given_or_refused_with_nothing_written(client: TestClient, goal: str) -> None:
    before = runs(client)
    response = send(client, "POST", "/runs", {"goal": goal, "planner": "offline"})
    if response.status_code == 201:
        run = client.get(response.headers["location"]).json()["run"]
        sent = json.loads(json.dumps(goal))  # what the server read: an escaped surrogate pair is one character
        assert run["goal"] == sent.strip()
        assert runs(client) == before + 1
    else:
        assert_refused(response, 422)
        assert runs(client) == before


FIELDS = st.sampled_from(["goal", "max_steps", "budget_usd", "planner", "model", "extra"])


@HOSTILE
@given(body=st.dictionaries(FIELDS, SHALLOW, max_size=5) | SHALLOW)
@example(body={"goal": "ok", "max_steps": True})
@example(body={"goal": "ok", "budget_usd": float("nan")})
@example(body={"goal": "ok", "max_steps": 2**70})
@example(body=[{"goal": "ok"}])
def test_any_json_body_is_a_run_or_a_problem(client: TestClient, body: Any) -> None:
    try:
        json.dumps(body, allow_nan=True)
    except ValueError:  # an integer past 4,300 digits: no client library writes it (raw bytes below do)
        assume(False)
    before = runs(client)
    response = send(client, "POST", "/runs", body)
    if response.status_code != 201:
        assert_refused(response, 400, 422)
        assert runs(client) == before


@HOSTILE
@given(raw=st.binary(max_size=300) | st.text(CHARS, max_size=300).map(lambda t: t.encode("utf-8", "surrogatepass")))
@example(raw=b'{"goal": ')
@example(raw=b"[" * 100_000)
@example(raw=b'{"goal": "ok", "max_steps": 1' + b"0" * 5000 + b"}")
@example(raw=b'{"goal": "ok", "goal": "twice", "max_steps": 2}')
@example(raw=b"\xff\xfe{}")
def test_bytes_that_are_no_json_object_are_refused(client: TestClient, raw: bytes) -> None:
    before = runs(client)
    response = client.post("/runs", content=raw, headers={"content-type": "application/json"})
    if response.status_code != 201:  # duplicate keys are JSON: the last one wins
        assert_refused(response, 400, 422)
        assert runs(client) == before


def test_a_body_past_the_cap_is_refused_before_it_is_read(client: TestClient) -> None:
    huge = json.dumps({"goal": "x" * (MAX_BODY_BYTES + 1)})
    assert_refused(client.post("/runs", content=huge, headers={"content-type": "application/json"}), 413)

    def chunks() -> Iterator[bytes]:  # no Content-Length: the body is counted as it arrives
        yield b'{"goal": "'
        for _ in range(40):
            yield b"x" * 50_000
        yield b'"}'

    chunked = client.post("/runs", content=chunks(), headers={"content-type": "application/json"})
    assert "content-length" not in chunked.request.headers
    assert_refused(chunked, 413)
    assert runs(client) == 0


RUN_IDS = st.one_of(
    st.text(CHARS, min_size=1, max_size=40),
    st.sampled_from(["..", "../..", "../../etc/passwd", "%2e%2e", "a/b", "\\windows", "run?x=1", "#frag", "~"]),
    st.text(min_size=201, max_size=300),
)


@HOSTILE
@given(run_id=RUN_IDS)
@example(run_id="\x00")
@example(run_id="\ud800")
@example(run_id="..%2F..%2Fetc")
def test_a_run_id_from_the_url_is_a_run_or_a_404_problem(client: TestClient, run_id: str) -> None:
    path = quote(run_id.encode("utf-8", "surrogatepass"), safe="")
    before = runs(client)
    for method, suffix, body in (
        ("GET", "", None),
        ("GET", "/events", None),
        ("GET", "/stream", None),
        ("POST", "/cancel", None),
        ("POST", "/approvals/step_1", {"decision": "approve"}),
        ("POST", "/replays", {"mode": "whatif"}),
    ):
        response = send(client, method, f"/runs/{path}{suffix}", body)
        assert_refused(response, 404)
    assert runs(client) == before


@HOSTILE
@given(comment=TEXT, by=TEXT, step=st.text(CHARS, min_size=1, max_size=30))
def test_decision_fields_are_recorded_or_refused(client: TestClient, comment: str, by: str, step: str) -> None:
    run_id = client.post("/runs", json={"goal": "Summarize notes.txt"}).json()["run_id"]
    client.app.state.runner.wait(run_id, timeout=60)  # type: ignore[attr-defined]
    events = len(client.get(f"/runs/{run_id}/events").json()["events"])
    step_path = quote(step.encode("utf-8", "surrogatepass"), safe="")
    response = send(
        client, "POST", f"/runs/{run_id}/approvals/{step_path}", {"decision": "deny", "comment": comment, "by": by}
    )
    assert_refused(response, 404, 409, 422)  # nothing is held in this run: no decision can be recorded
    assert len(client.get(f"/runs/{run_id}/events").json()["events"]) == events


@HOSTILE
@given(text=TEXT, status=st.lists(TEXT, max_size=3), after=TEXT, limit=TEXT | st.integers())
@example(text="\x00", status=[], after="", limit=1)
@example(text="x", status=[], after="9999-12-31T23:59:59-14:00", limit=1)
@example(text="x", status=[], after="1", limit=10**30)
def test_list_filters_are_a_page_or_a_problem(
    client: TestClient, text: str, status: list[str], after: str, limit: object
) -> None:
    params = {"text": text, "status": status, "started_after": after, "limit": str(limit)}
    encoded = {
        k: [s.encode("utf-8", "surrogatepass") for s in v] if isinstance(v, list) else v for k, v in params.items()
    }
    query = "&".join(
        f"{k}={quote(x if isinstance(x, bytes) else str(x).encode('utf-8', 'surrogatepass'), safe='')}"
        for k, v in encoded.items()
        for x in (v if isinstance(v, list) else [v])
    )
    response = client.get(f"/runs?{query}")
    if response.status_code != 200:
        assert_refused(response, 422)
