"""The CLI error contract everywhere, and terminals kept safe (issue 10, items 7 and 8).

Exit 2 with one line on stderr for an unsupported database and for every kind of bad policy
file, whichever command meets it; control characters in goals, file text and LLM text are
escaped before they reach a terminal, and JSON output stays the same JSON.
"""

from __future__ import annotations

import io
import json
import re
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from agent_core import events as ev
from agent_core.cli import json_safe, main, one_line, terminal_safe
from agent_core.projections import open_store
from tests.runtime.conftest import DEFAULT_POLICY, SAVE_GOAL
from tests.store.helpers import new_run_id

RAW_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
NASTY = "\x1b]0;pwned\x07\x1b[2J\x1b[H\x9b31m\x9d0;t\x9c\r\x08\x01\x7f"  # NUL: no engine stores it


def cli(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), out, err)
    return code, out.getvalue(), err.getvalue()


@pytest.fixture
def cli_env(monkeypatch: pytest.MonkeyPatch, workspace: Path, sqlite_url: str) -> str:
    monkeypatch.setenv("AGENT_WORKSPACE", str(workspace))
    monkeypatch.setenv("AGENT_POLICY", str(DEFAULT_POLICY))
    monkeypatch.setenv("AGENT_PLANNER", "offline")
    return sqlite_url


def assert_refused(code: int, err: str, needle: str) -> None:
    assert code == 2, err
    assert needle in err, err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err, err


# --- item 7: unsupported dialects ---------------------------------------------------------------


@pytest.mark.parametrize(
    "url", ["mysql://u@h/db", "mysql+pymysql://u:pw@h/db", "oracle://u@h/db", "mssql://x", "foo://x", "mariadb://h/d"]
)
@pytest.mark.parametrize("argv", [["runs"], ["run", "Summarize notes.txt"], ["verify-log"], ["import", "x.jsonl"]])
def test_an_unsupported_database_is_one_line_and_exit_2(cli_env: str, url: str, argv: list[str]) -> None:
    code, _, err = cli(*argv, "--db", url)
    assert_refused(code, err, "unsupported database")
    assert "pw" not in err  # the password stays masked


def test_an_unsupported_database_from_the_environment_is_exit_2(cli_env: str, monkeypatch) -> None:
    monkeypatch.setenv("DATABASE_URL", "oracle://scott:tiger@h/db")
    code, _, err = cli("runs")
    assert_refused(code, err, "unsupported database 'oracle'")
    assert "tiger" not in err


# --- item 7: every bad policy file --------------------------------------------------------------


def _bad_policies(tmp_path: Path) -> dict[str, tuple[Path, str]]:
    folder = tmp_path / "policies-folder"
    folder.mkdir()
    files = {
        "invalid-yaml": ("rules:\n  - name: x\n    kind: [unclosed\n  description: 'a\n", "not valid YAML"),
        "unknown-kind": (
            "rules:\n  - name: mine\n    kind: no_such_kind\n    description: d\n",
            "unknown kind 'no_such_kind'",
        ),
        "not-a-mapping": ("- just\n- a list\n", "must be a mapping"),
        "no-rules": ("name: empty\n", "rules"),
        "bad-params": ("rules:\n  - name: cap\n    kind: write_size_cap\n    description: d\n", "params"),
        "tabs-and-lines": ("rules:\n\t- bad: [\n", "not valid YAML"),
    }
    cases = {}
    for name, (text, needle) in files.items():
        path = tmp_path / f"{name}.yaml"
        path.write_text(text, encoding="utf-8")
        cases[name] = (path, needle)
    (tmp_path / "latin1.yaml").write_bytes(b"rules: caf\xe9\n")
    cases["not-utf8"] = (tmp_path / "latin1.yaml", "not UTF-8")
    cases["missing"] = (tmp_path / "nowhere.yaml", "not found")
    cases["folder"] = (folder, "is a folder")
    return cases


POLICY_CASES = [
    "invalid-yaml",
    "unknown-kind",
    "not-a-mapping",
    "no-rules",
    "bad-params",
    "tabs-and-lines",
    "not-utf8",
    "missing",
    "folder",
]


@pytest.mark.parametrize("case", POLICY_CASES)
def test_a_bad_agent_policy_stops_run_with_one_line_exit_2_and_writes_nothing(
    cli_env: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, case: str
) -> None:
    path, needle = _bad_policies(tmp_path)[case]
    monkeypatch.setenv("AGENT_POLICY", str(path))
    code, _, err = cli("run", "Summarize notes.txt", "--db", cli_env)
    assert_refused(code, err, needle)
    assert open_store(cli_env).count_runs() == 0


@pytest.mark.parametrize("case", POLICY_CASES)
def test_a_bad_replay_policy_is_one_line_exit_2(cli_env: str, tmp_path: Path, case: str) -> None:
    code, out, _ = cli("run", "Summarize notes.txt", "--db", cli_env, "--json")
    run_id = json.loads(out)["run_id"]
    path, needle = _bad_policies(tmp_path)[case]
    for argv in (
        ["replay", run_id, "--policy", str(path)],
        ["replay", run_id, "--mode", "verify", "--policy", str(path)],
        ["replay", "--counterfactual", "5", "--policy", str(path)],
    ):
        code, _, err = cli(*argv, "--db", cli_env)
        assert_refused(code, err, needle)
    assert open_store(cli_env).count_runs() == 1  # no replay was written


def test_a_policy_file_broken_after_the_run_started_stops_resume_with_exit_2(
    cli_env: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    policy = tmp_path / "mine.yaml"
    policy.write_bytes(DEFAULT_POLICY.read_bytes())
    monkeypatch.setenv("AGENT_POLICY", str(policy))
    for _ in range(2):  # the second run finds summary.md and waits for approval to overwrite it
        code, out, _ = cli("run", SAVE_GOAL, "--db", cli_env, "--json")
    waiting = json.loads(out)
    assert waiting["status"] == "waiting_approval"
    policy.write_text("rules: [\n", encoding="utf-8")
    code, _, err = cli("approve", waiting["run_id"], "step_3", "--db", cli_env)  # recorded, then the run goes on
    assert_refused(code, err, "not valid YAML")
    code, _, err = cli("resume", waiting["run_id"], "--db", cli_env)
    assert_refused(code, err, "not valid YAML")


# --- item 8: terminals are safe -----------------------------------------------------------------


@given(st.text())
def test_terminal_safe_leaves_no_control_character_and_keeps_the_rest(text: str) -> None:
    shown = terminal_safe(text)
    assert not RAW_CONTROL.search(shown)
    if not RAW_CONTROL.search(text):
        assert shown == text
    controls = RAW_CONTROL.findall(text)
    assert len(shown) == len(text) + 3 * len(controls)  # each one became the four characters \xNN
    assert shown == "".join(f"\\x{ord(c):02x}" if RAW_CONTROL.match(c) else c for c in text)


@given(
    st.recursive(
        st.none() | st.booleans() | st.integers() | st.text(),
        lambda inner: st.lists(inner) | st.dictionaries(st.text(), inner),
        max_leaves=20,
    )
)
def test_json_safe_is_the_same_json_value_without_control_characters(value: object) -> None:
    line = json_safe(json.dumps(value, ensure_ascii=False))
    assert not RAW_CONTROL.search(line)
    assert json.loads(line) == value


@given(st.text())
def test_one_line_is_one_line(text: str) -> None:
    assert "\n" not in one_line(text) and "\r" not in one_line(text) and one_line(text).strip()


def _nasty_run(url: str) -> str:
    """A run whose goal, plan, file text and LLM text carry escape sequences (as an imported or old log may)."""
    store = open_store(url)
    run = new_run_id()
    step = {
        "id": "s1",
        "objective": f"read {NASTY}",
        "tool": "read_file",
        "input": {"path": f"a{NASTY}.txt"},
        "success_criteria": f"ok {NASTY}",
    }
    store.append(
        run,
        [
            ev.RunStarted(
                goal=f"clear the screen {NASTY} and set the title",
                max_steps=4,
                budget_usd=0.5,
                planner=ev.PlannerInfo(provider="offline", model=f"m{NASTY}", prompt_sha="p" * 64),
                policy_sha="s" * 64,
            ),
            ev.PlanGenerated(plan={"steps": [step]}, raw_text=f"raw {NASTY}", latency_ms=1.0),
            ev.ToolApproved(step_id="s1", tool="read_file", rule="allowed", reason=f"ok {NASTY}"),
            ev.ToolExecuted(step_id="s1", tool="read_file", input=step["input"]),
            ev.ObservationCaptured(
                step_id="s1", tool="read_file", result={"success": False, "output": NASTY, "error": f"e {NASTY}"}
            ),
            ev.ResponseFinalized(summary=f"summary {NASTY}", step_count=1),
            ev.RunFailed(reason=f"failed {NASTY}"),
        ],
        0,
    )
    store.close()
    return run


@pytest.mark.parametrize(
    "argv",
    [
        ["runs"],
        ["runs", "--json"],
        ["events", "{run}"],
        ["events", "{run}", "--json"],
        ["export", "{run}"],
        ["resume", "{run}"],
        ["replay", "{run}", "--list"],
        ["events", "{nasty}"],
        ["approve", "{run}", "{nasty}"],
    ],
    ids=lambda a: "-".join(a).replace("{", "").replace("}", ""),
)
def test_no_command_prints_a_control_character(cli_env: str, argv: list[str]) -> None:
    run = _nasty_run(cli_env)
    _, out, err = cli(*[a.format(run=run, nasty=NASTY) for a in argv], "--db", cli_env)
    assert not RAW_CONTROL.search(out) and not RAW_CONTROL.search(err), (out, err)
    assert "\\x1b]0;pwned" in out + err or "\\u001b]0;pwned" in out + err or argv[0] == "replay"


def test_an_escaped_export_imports_with_the_same_values_and_hashes(cli_env: str, tmp_path: Path) -> None:
    run = _nasty_run(cli_env)
    code, exported, _ = cli("export", run, "--db", cli_env)
    assert code == 0 and "\x9b" not in exported and "\\u009b" in exported
    dump = tmp_path / "nasty.jsonl"
    dump.write_text(exported, encoding="utf-8")
    other = f"sqlite:///{tmp_path / 'other.db'}"
    assert cli("import", str(dump), "--db", other)[0] == 0
    assert cli("export", run, "--db", other)[1] == exported
    assert open_store(other).read_run(run)[0].payload["goal"].endswith("and set the title")
    assert cli("verify-log", run, "--db", other)[0] == 0


def test_file_and_llm_text_of_a_live_run_reach_the_terminal_escaped(cli_env: str, workspace: Path) -> None:
    prose = "Agents plan their work and record every decision as an event. " * 3  # text, not control bytes
    (workspace / "notes.txt").write_text(
        f"Agents are useful.{NASTY} They plan.\x1b[31m Red text. {prose}\n", encoding="utf-8"
    )
    code, out, err = cli("run", "Summarize notes.txt", "--db", cli_env)
    assert code == 0 and not RAW_CONTROL.search(out + err), out + err
    assert "\\x1b]0;pwned\\x07\\x1b[2J" in out  # the summary quotes the file, escaped
