"""The routes over a real store (SQLite and PostgreSQL): what each answers, and what it writes (or not)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from agent_core import RunRequest, RunState, Workbench, export_lines, import_lines
from agent_core.api import create_app
from tests.api.conftest import DEMO_GOAL, RUN_END_S, SAVE_GOAL, STRICT_POLICY, api_settings, wait_for_end

PROBLEM = "application/problem+json"


def assert_problem(response: object, status: int, kind: str | None = None) -> dict[str, object]:
    """An RFC 9457 problem with this status (and type suffix)."""
    assert response.status_code == status, response.text  # type: ignore[attr-defined]
    assert response.headers["content-type"] == PROBLEM  # type: ignore[attr-defined]
    body = response.json()  # type: ignore[attr-defined]
    assert body["status"] == status and body["title"] and body["detail"]
    if kind is not None:
        assert body["type"] == f"urn:agent-workbench:problem:{kind}", body
    return dict(body)


@pytest.fixture
def strict_client(database_url: str, workspace: Path) -> Iterator[TestClient]:
    """The API under policies/strict.yaml: every write waits for a person."""
    bench = Workbench.open(api_settings(database_url, workspace, AGENT_POLICY=str(STRICT_POLICY)))
    with TestClient(create_app(workbench=bench)) as client:
        yield client
    bench.close()


def launch(client: TestClient, goal: str = DEMO_GOAL, **fields: object) -> str:
    response = client.post("/runs", json={"goal": goal, **fields})
    assert response.status_code == 201, response.text
    run_id = str(response.json()["run_id"])
    assert response.headers["location"] == f"/runs/{run_id}"
    return run_id


def test_a_launched_run_is_executed_by_the_runner_and_read_back(client: TestClient, bench: Workbench) -> None:
    run_id = launch(client, max_steps=3, budget_usd=0.2, planner="offline")
    view = wait_for_end(client, run_id, "completed")
    assert view["run"]["goal"] == DEMO_GOAL and view["run"]["max_steps"] == 3 and view["run"]["budget_usd"] == 0.2
    assert view["terminal"] is True and view["pending_step"] is None
    events = client.get(f"/runs/{run_id}/events").json()
    stored = bench.run_events(run_id)
    assert [e["seq"] for e in events["events"]] == [e.seq for e in stored]
    assert [e["type"] for e in events["events"]] == [e.type for e in stored]
    assert events["last_seq"] == stored[-1].seq
    later = client.get(f"/runs/{run_id}/events", params={"after": 3, "limit": 2}).json()
    assert [e["seq"] for e in later["events"]] == [4, 5] and later["last_seq"] == 5


def test_the_launch_form_limits_apply_and_nothing_is_written_when_refused(client: TestClient, bench: Workbench) -> None:
    for body, field in (
        ({"goal": "   "}, "goal"),
        ({"goal": "x" * 4001}, "goal"),
        ({"goal": "ok", "max_steps": 11}, "max_steps"),
        ({"goal": "ok", "max_steps": "5"}, "max_steps"),  # JSON types as they are: a string is no integer
        ({"goal": "ok", "budget_usd": 5.01}, "budget_usd"),
        ({"goal": "ok", "planner": "shell"}, "planner"),
        ({"goal": "bell \x07"}, "goal"),
        ({"goal": "ok", "budget": 1}, "budget"),  # a typo is refused, not ignored
    ):
        problem = assert_problem(client.post("/runs", json=body), 422)
        assert field in str(problem["detail"]), (body, problem)
    assert bench.count_runs() == 0


def test_runs_are_listed_with_the_runs_page_filters_and_paged_with_a_total(client: TestClient) -> None:
    ids = [launch(client, goal=f"Research topic {i} and summarize the key findings") for i in range(3)]
    for run_id in ids:
        wait_for_end(client, run_id)
    verify = client.post(f"/runs/{ids[0]}/replays", json={"mode": "whatif", "tools": "recorded"})
    assert verify.status_code == 201, verify.text
    replay_id = verify.json()["replay_id"]
    assert verify.headers["location"] == f"/runs/{replay_id}"

    everything = client.get("/runs").json()
    assert everything["total"] == 4 and everything["next_offset"] is None
    assert [r["run_id"] for r in everything["runs"]] == [replay_id, *reversed(ids)]  # newest first
    first = client.get("/runs", params={"limit": 2}).json()
    second = client.get("/runs", params={"limit": 2, "offset": first["next_offset"]}).json()
    assert first["total"] == second["total"] == 4
    assert [r["run_id"] for r in first["runs"] + second["runs"]] == [r["run_id"] for r in everything["runs"]]
    assert second["next_offset"] is None

    assert [r["run_id"] for r in client.get("/runs", params={"lineage": "replays"}).json()["runs"]] == [replay_id]
    assert client.get("/runs", params={"lineage": "originals"}).json()["total"] == 3
    assert [r["run_id"] for r in client.get("/runs", params={"text": "topic 1"}).json()["runs"]] == [ids[1]]
    statuses = [r["status"] for r in everything["runs"]]
    ended = client.get("/runs", params={"status": ["failed", "cancelled"]}).json()
    assert ended["total"] == statuses.count("failed") + statuses.count("cancelled")
    assert all(r["status"] in ("failed", "cancelled") for r in ended["runs"])
    assert client.get("/runs", params={"status": "completed"}).json()["total"] == statuses.count("completed")
    assert client.get("/runs", params={"started_after": "2999-01-01T00:00:00"}).json()["total"] == 0
    assert client.get("/runs", params={"started_before": "2999-01-01"}).json()["total"] == 4
    assert_problem(client.get("/runs", params={"status": "done"}), 422, "invalid-request")
    assert_problem(client.get("/runs", params={"limit": 0}), 422)


def test_an_unknown_run_is_a_404_problem_on_every_route(client: TestClient) -> None:
    for method, path, body in (
        ("GET", "/runs/nope", None),
        ("GET", "/runs/nope/events", None),
        ("GET", "/runs/nope/stream", None),
        ("POST", "/runs/nope/cancel", None),
        ("POST", "/runs/nope/approvals/step_1", {"decision": "approve"}),
        ("POST", "/runs/nope/replays", {"mode": "verify"}),
    ):
        assert_problem(client.request(method, path, json=body), 404, "run-not-found")


def test_unknown_routes_and_methods_are_problems_too(client: TestClient) -> None:
    assert_problem(client.get("/nothing/here"), 404)
    assert_problem(client.delete("/runs"), 405)


def test_a_held_step_is_approved_over_http_and_the_runner_finishes_the_run(
    strict_client: TestClient, workspace: Path
) -> None:
    run_id = launch(strict_client, SAVE_GOAL)
    held = wait_for_end(strict_client, run_id, "waiting_approval")
    step_id = held["pending_step"]["step_id"]
    assert held["pending_step"]["tool"] == "write_file"

    answer = strict_client.post(
        f"/runs/{run_id}/approvals/{step_id}", json={"decision": "approve", "comment": "looks right", "by": "ana"}
    )
    assert answer.status_code == 200, answer.text
    done = wait_for_end(strict_client, run_id, "completed")
    step = next(s for s in done["run"]["steps"] if s["step_id"] == step_id)
    assert (step["decision"], step["decided_by"], step["comment"]) == ("granted", "ana", "looks right")
    assert (workspace / "summary.md").is_file()

    again = strict_client.post(f"/runs/{run_id}/approvals/{step_id}", json={"decision": "deny"})
    assert_problem(again, 409, "run-state-conflict")
    assert_problem(strict_client.post(f"/runs/{run_id}/approvals/step_99", json={"decision": "approve"}), 404)


def test_a_denied_step_does_not_run_and_a_step_that_is_not_held_is_a_409(strict_client: TestClient) -> None:
    run_id = launch(strict_client, SAVE_GOAL)
    held = wait_for_end(strict_client, run_id, "waiting_approval")
    step_id = held["pending_step"]["step_id"]
    not_held = next(s["step_id"] for s in held["run"]["steps"] if s["decision"] == "approved")
    assert_problem(strict_client.post(f"/runs/{run_id}/approvals/{not_held}", json={"decision": "approve"}), 409)
    answer = strict_client.post(f"/runs/{run_id}/approvals/{step_id}", json={"decision": "deny", "comment": "no"})
    assert answer.status_code == 200, answer.text
    done = wait_for_end(strict_client, run_id)
    step = next(s for s in done["run"]["steps"] if s["step_id"] == step_id)
    assert step["decision"] == "denied" and step["result"] is None


def test_a_waiting_run_is_cancelled_once(strict_client: TestClient) -> None:
    run_id = launch(strict_client, SAVE_GOAL)
    wait_for_end(strict_client, run_id, "waiting_approval")
    cancelled = strict_client.post(f"/runs/{run_id}/cancel", json={"by": "ops", "reason": "wrong goal"})
    assert cancelled.status_code == 200, cancelled.text
    assert (
        cancelled.json()["run"]["status"] == "cancelled" and cancelled.json()["run"]["failure_reason"] == "wrong goal"
    )
    assert_problem(strict_client.post(f"/runs/{run_id}/cancel"), 409, "run-state-conflict")


def test_replays_verify_and_what_if_with_a_policy_chosen_by_name(client: TestClient) -> None:
    run_id = launch(client, SAVE_GOAL)
    wait_for_end(client, run_id, "completed")
    verified = client.post(f"/runs/{run_id}/replays", json={})
    assert verified.status_code == 200, verified.text
    assert verified.json()["identical"] is True and verified.json()["result"]["status"] == "identical"

    names = client.get("/policies").json()
    assert names["in_force"] == "default.yaml" and "strict.yaml" in names["files"]
    whatif = client.post(f"/runs/{run_id}/replays", json={"mode": "whatif", "policy": "strict.yaml"})
    assert whatif.status_code == 201, whatif.text
    assert whatif.json()["verdict"] == "regression" and whatif.json()["replay_status"] == "waiting_approval"
    before = client.get("/runs").json()["total"]
    for path in ("/etc/passwd", "../policies/strict.yaml", "nope.yaml"):
        problem = assert_problem(client.post(f"/runs/{run_id}/replays", json={"mode": "whatif", "policy": path}), 422)
        assert "strict.yaml" in str(problem["detail"])  # the choices are named
    unknown = client.post(f"/runs/{run_id}/replays", json={"mode": "whatif", "provider": "shell"})
    assert "offline, anthropic, openai" in str(assert_problem(unknown, 422, "invalid-request")["detail"])
    keyless = client.post(f"/runs/{run_id}/replays", json={"mode": "whatif", "provider": "anthropic"})
    assert "ANTHROPIC_API_KEY" in str(assert_problem(keyless, 422, "not-configured")["detail"])
    assert client.get("/runs").json()["total"] == before


def test_a_full_runner_refuses_with_503_and_records_nothing(
    database_url: str, workspace: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bench = Workbench.open(api_settings(database_url, workspace, AGENT_MAX_ACTIVE_RUNS=1, AGENT_MAX_QUEUED_RUNS=0))
    release = threading.Event()
    advance = bench.advance

    def held_up(run_id: str, on_event: object = None) -> RunState:
        release.wait(RUN_END_S)
        return advance(run_id)

    monkeypatch.setattr(bench, "advance", held_up)
    with TestClient(create_app(workbench=bench)) as client:
        first = launch(client)
        refused = assert_problem(client.post("/runs", json={"goal": DEMO_GOAL}), 503, "runner-busy")
        assert "nothing was started" in str(refused["detail"])
        assert client.get("/runs").json()["total"] == 1
        release.set()
        wait_for_end(client, first, "completed")
    bench.close()


def test_healthz_says_the_store_answers(client: TestClient, bench: Workbench) -> None:
    health = client.get("/healthz")
    assert health.status_code == 200 and health.json()["status"] == "ok"
    assert health.json()["store"] == bench.store_label()


def test_healthz_is_a_503_problem_when_the_store_is_gone(tmp_path: Path, workspace: Path) -> None:
    db = tmp_path / "gone" / "events.db"
    db.parent.mkdir()
    bench = Workbench.open(api_settings(f"sqlite:///{db}", workspace))
    with TestClient(create_app(workbench=bench)) as client:
        assert client.get("/healthz").status_code == 200
        bench.store.close()
        db.unlink()
        db.parent.rmdir()
        assert_problem(client.get("/healthz"), 503, "store-unavailable")
    bench.close()


def test_an_imported_run_is_read_but_never_decided_or_cancelled(
    strict_client: TestClient, tmp_path: Path, workspace: Path
) -> None:
    """History, not authority: a held step of an imported run cannot be approved here (409), nothing is written."""
    elsewhere = Workbench.open(
        api_settings(f"sqlite:///{tmp_path / 'elsewhere.db'}", workspace, AGENT_POLICY=str(STRICT_POLICY))
    )
    held = elsewhere.run(RunRequest(SAVE_GOAL))
    assert held.pending_approval is not None
    lines = list(export_lines(elsewhere.store, held.run_id))
    elsewhere.close()
    bench: Workbench = strict_client.app.state.workbench  # type: ignore[attr-defined]
    run_id = import_lines(bench.store, lines)

    view = strict_client.get(f"/runs/{run_id}").json()
    assert view["run"]["status"] == "waiting_approval"
    step = view["pending_step"]["step_id"]
    before = len(bench.run_events(run_id))
    for method, path, body in (
        ("POST", f"/runs/{run_id}/approvals/{step}", {"decision": "approve"}),
        ("POST", f"/runs/{run_id}/cancel", None),
    ):
        problem = assert_problem(strict_client.request(method, path, json=body), 409, "run-state-conflict")
        assert "imported" in str(problem["detail"])
    assert len(bench.run_events(run_id)) == before
