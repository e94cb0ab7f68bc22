"""schemathesis over the API's own OpenAPI schema: whatever it generates (valid and invalid requests), no
answer is a 500, and every answer conforms to the schema (status code, content type, body)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, settings
from schemathesis.checks import positive_data_acceptance

from agent_core import Workbench
from agent_core.api import create_app
from tests.api.conftest import SAVE_GOAL, STRICT_POLICY, api_settings


@pytest.fixture
def api_schema(database_url: str, workspace: Path) -> Iterator[schemathesis.BaseSchema]:
    """The schema of a started app (its runner up) over a store holding a held run and a finished one."""
    # A queue deep enough for every run the examples launch: a full runner's 503 is a documented answer
    # (tests/api/test_routes.py), but this test's "no 5xx" check cannot tell it from a crash.
    settings = api_settings(database_url, workspace, AGENT_POLICY=str(STRICT_POLICY), AGENT_MAX_QUEUED_RUNS=256)
    bench = Workbench.open(settings)
    app = create_app(workbench=bench)
    with TestClient(app) as client:
        for _ in range(2):
            run_id = client.post("/runs", json={"goal": SAVE_GOAL}).json()["run_id"]
            app.state.runner.wait(run_id, timeout=60)
        client.post(f"/runs/{run_id}/cancel")
        yield schemathesis.openapi.from_asgi("/openapi.json", app)
    bench.close()


schema = schemathesis.pytest.from_fixture("api_schema")


@schema.parametrize()
@settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.function_scoped_fixture],
)
def test_the_api_keeps_its_schema(case: schemathesis.Case) -> None:
    # Every check but "schema-valid data is accepted": whether a request can be served also depends on the
    # server (a planner without its key, a policy file name, a run id), which a static schema cannot say.
    case.call_and_validate(excluded_checks=[positive_data_acceptance])


def test_the_schema_documents_problems_and_the_engines_limits(sqlite_url: str, workspace: Path) -> None:
    """Every error answer is documented as a problem; the launch limits are the engine's, not copies."""
    from agent_core.orchestrator import BUDGET_RANGE, GOAL_MAX_CHARS, MAX_STEPS_RANGE

    with TestClient(create_app(api_settings(sqlite_url, workspace))) as client:
        document = client.get("/openapi.json").json()
    errors = [
        (path, method, status, response)
        for path, operations in document["paths"].items()
        for method, operation in operations.items()
        for status, response in operation["responses"].items()
        if status[0] in "45"
    ]
    assert len(errors) >= 5 * len(document["paths"])
    for path, method, status, response in errors:
        assert response["content"] == {
            "application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}
        }, (
            path,
            method,
            status,
        )
    launch = document["components"]["schemas"]["LaunchBody"]["properties"]
    assert (launch["max_steps"]["minimum"], launch["max_steps"]["maximum"]) == MAX_STEPS_RANGE
    assert (launch["budget_usd"]["minimum"], launch["budget_usd"]["maximum"]) == BUDGET_RANGE
    assert launch["goal"]["maxLength"] == GOAL_MAX_CHARS
    assert "HTTPValidationError" not in document["components"]["schemas"]
