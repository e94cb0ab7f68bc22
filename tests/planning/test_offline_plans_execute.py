"""Plans the offline agent can execute on real folders: files chosen by relevance, quoted names, targets written
as named, a summary when one is asked for, the agent's own reports left out of search unless asked, and (a
property) every plan for generated goals and workspaces passes the validator and the guard's schema checks."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from agent_core.orchestrator import RunRequest, RunRequestError
from agent_core.plan import Plan
from agent_core.planning import CURRENT_PROMPT, PlanLimits, build_user_message, parse_goal, parse_plan
from agent_core.policy import Policy, PolicyContext
from agent_core.providers import offline_plan
from agent_core.tools import resolve_input
from agent_core.tools.relevant import PLANNER_FILES, relevant_files
from agent_core.workspace import list_workspace
from tests.workspaces import write

TOOLS = CURRENT_PROMPT.offered


def steps(goal: str, files: list[str], max_steps: int = 6) -> list[tuple[str, dict[str, Any]]]:
    return [(s["tool"], s["input"]) for s in offline_plan(goal, files, max_steps, TOOLS)["steps"]]


# --- the cases from the issue ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def crowded(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """More files than the planner is shown, LICENSE sorting after the first 200, a Python file called reports."""
    root = tmp_path_factory.mktemp("crowded") / "ws"
    for i in range(260):
        write(root / f"A-{i:03d}" / "notes.md", f"# Notes {i}\n\nRoutine notes, number {i}.\n")
    write(root / "LICENSE", "Permission is hereby granted, free of charge, to any person.\n")
    write(root / "_pytest" / "reports.py", "def pytest_report(): ...\n")
    write(root / "deep" / "a" / "b" / "c" / "ssl-guide.md", "# TLS\n\nCertificates, handshakes and SSL pinning.\n")
    write(root / "reports" / "old.md", "# Old report\n\nCertificates again.\n")
    return root


def test_the_planner_is_shown_the_files_relevant_to_the_goal_not_the_first_200(crowded: Path) -> None:
    assert "LICENSE" not in list_workspace(crowded)  # the old listing: the first 200 sorted
    files = relevant_files(crowded, "Summarize the LICENSE")
    assert len(files) == PLANNER_FILES and "LICENSE" in files and files == sorted(files)
    assert steps("Summarize the LICENSE", files)[0] == ("read_file", {"path": "LICENSE"})
    by_content = relevant_files(crowded, "What do we know about certificates and handshakes?")
    assert "deep/a/b/c/ssl-guide.md" in by_content  # found by its text, four folders down
    assert relevant_files(crowded, "x", limit=10_000) == sorted(list_workspace(crowded, limit=10_000))


def test_an_explicit_target_is_written_as_named_never_matched_to_a_similar_file(crowded: Path) -> None:
    files = relevant_files(crowded, "Write a summary of SSL to reports/ssl.md")
    plan = steps("Write a summary of SSL to reports/ssl.md", [*files, "_pytest/reports.py"])
    assert [tool for tool, _ in plan] == ["web_search", "summarize", "write_file"]
    assert plan[0][1]["query"] == "SSL"
    assert plan[-1][1] == {"path": "reports/ssl.md", "from_step": "step_2"}
    assert not any(data.get("path") == "_pytest/reports.py" for _, data in plan)


def test_a_file_summarized_and_saved_over_is_read_first() -> None:
    assert steps("Summarize notes.txt and save the summary to notes.txt", ["notes.txt"]) == [
        ("read_file", {"path": "notes.txt"}),
        ("summarize", {"from_steps": ["step_1"], "max_words": 250}),
        ("write_file", {"path": "notes.txt", "from_step": "step_2"}),
    ]


def test_a_summary_asked_for_gets_a_summarize_step() -> None:
    plan = steps("Read notes.txt and write a summary to out/notes-summary.md", ["notes.txt"])
    assert [tool for tool, _ in plan] == ["read_file", "summarize", "write_file"]
    assert plan[-1][1] == {"path": "out/notes-summary.md", "from_step": "step_2"}


@pytest.mark.parametrize("quote", ['"{}"', "“{}”", "'{}'", "`{}`"])
def test_quoted_names_with_spaces_are_understood(quote: str) -> None:
    files = ["docs/Résumé notes.md", "notes.md"]
    name = quote.format("Résumé notes.md")
    assert steps(f"Summarize {name}", files)[0] == ("read_file", {"path": "docs/Résumé notes.md"})
    target = quote.format("My summary.md")
    assert steps(f"Summarize notes.md and save it to {target}", files)[-1] == (
        "write_file",
        {"path": "My summary.md", "from_step": "step_2"},
    )
    assert steps(f'Write "hello there" to {target}', files) == [
        ("write_file", {"path": "My summary.md", "content": "hello there"})
    ]


def test_a_deep_path_gives_objectives_within_their_limit() -> None:
    deep = "/".join(["folder"] * 140) + "/notes.md"  # 1,000 characters
    raw = json.dumps(offline_plan(f"Summarize {deep} and save it to {deep}.out.md", [deep], 4, TOOLS))
    assert isinstance(parse_plan(raw, PlanLimits(max_steps=4)), Plan)


def test_the_agents_own_reports_are_searched_only_when_asked() -> None:
    assert "folder" not in steps("Research certificates", [])[0][1]
    asked = steps("Search my earlier reports for certificates", [])[0]
    assert asked == (
        "web_search",
        {"query": "certificates", "max_results": 5, "folder": "reports"},
    )


def test_files_named_by_their_stem_must_be_documents_outside_reports() -> None:
    files = ["logo.png", "reports/notes.md", "data/notes.txt", "a.md"]
    assert steps("Summarize my notes and a logo", files)[:1] == [("read_file", {"path": "data/notes.txt"})]


# --- the property -----------------------------------------------------------------------------------

_NAME = st.text(alphabet=st.sampled_from(list("abcxyz019 -_.éÅ")), min_size=1, max_size=12).filter(
    lambda s: s.strip(" .") == s and s not in (".", "..")
)
_PATH = (
    st.lists(_NAME, min_size=1, max_size=4)
    .map("/".join)
    .flatmap(lambda p: st.sampled_from([".md", ".txt", "", ".png", ".py"]).map(lambda ext: p + ext))
)
_WORKSPACE = st.lists(_PATH, max_size=12, unique=True)
_FRAGMENTS = st.sampled_from(
    [
        "Summarize",
        "Research",
        "Read",
        "Write",
        "Save",
        "search for",
        "list the files",
        "report to",
        "summary",
        "the workspace",
        "and",
        "then",
        ",",
        ".",
        ";",
        "to",
        "into",
        "as",
        "in",
        "my earlier reports",
        "key findings",
        '"hello world"',
        "“quoted text”",
        "'single'",
        "`code`",
        ":",
        "latest",
        "LICENSE",
        "notes",
        "?",
    ]
)


def _goal(draw: st.DrawFn, files: list[str]) -> str:
    parts = draw(
        st.lists(
            st.one_of(
                _FRAGMENTS,
                st.sampled_from(files) if files else _FRAGMENTS,
                _PATH,
                _PATH.map(lambda p: f'"{p}"'),
                st.text(max_size=30),
                st.just("/".join(["deep"] * 120) + ".md"),
            ),
            min_size=1,
            max_size=10,
        )
    )
    return " ".join(parts)


@st.composite
def _cases(draw: st.DrawFn) -> tuple[str, list[str], int]:
    files = draw(_WORKSPACE)
    return _goal(draw, files), files, draw(st.integers(min_value=1, max_value=10))


@pytest.fixture(scope="module")
def schema_policy(tmp_path_factory: pytest.TempPathFactory) -> Policy:
    path = tmp_path_factory.mktemp("policy") / "schema.yaml"
    path.write_text(
        "name: schema\ndescription: the guard's schema checks only\nrules:\n"
        "  - {name: input_schema, kind: input_schema, description: schema}\n"
        "  - {name: required_fields, kind: required_fields, description: required}\n"
    )
    return Policy.load(path)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(case=_cases())
@example(case=("\x00", ["0.md"], 1))  # a goal the run request refuses (a control character): no plan is made
def test_every_offline_plan_passes_the_validator_and_the_guards_schema_checks(
    case: tuple[str, list[str], int], schema_policy: Policy, tmp_path: Path
) -> None:
    goal, files, max_steps = case
    try:
        RunRequest(goal).validate()
    except RunRequestError:
        return  # the run request refuses it (empty, control characters, ...) before any plan
    limits = PlanLimits(max_steps=max_steps)
    message_goal, message_files = parse_goal(build_user_message(goal, limits, files))
    plan = parse_plan(json.dumps(offline_plan(message_goal, message_files or [], max_steps, TOOLS)), limits)
    assert isinstance(plan, Plan), (goal, files, plan)
    prior = {s.id: {"success": True, "output": f"output of {s.id}"} for s in plan.steps}
    context = PolicyContext(tmp_path, None, tool_calls_so_far=0, spent_usd=0.0, budget_usd=1.0)
    for step in plan.steps:
        decision = schema_policy.evaluate(step.model_copy(update={"input": resolve_input(step, prior)}), context)
        assert decision.outcome == "approve", (goal, step, decision)
