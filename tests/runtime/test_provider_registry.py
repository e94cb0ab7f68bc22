"""The provider registry is the one declaration of a provider: config validation, ``auto``, ``make_planner``,
the CLI's choices and ``RunRequest`` validation all read it. Proved with a throw-away provider added to
``PROVIDERS`` here and nowhere else."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from pydantic import ValidationError

from agent_core import planner_choices
from agent_core.cli import build_parser, main
from agent_core.config import Settings
from agent_core.errors import ConfigError
from agent_core.events import Usage
from agent_core.orchestrator import RunRequest, RunRequestError
from agent_core.planning import PlanLimits
from agent_core.providers import PROVIDERS, Reply, make_planner
from agent_core.providers.registry import API_KEY, ProviderSpec, forget_built_planners, wire_format
from tests.runtime.conftest import DEFAULT_POLICY

SHIPPED = ("auto", "offline", "anthropic", "openai")


class EchoPlanner:
    """A wire format of its own, as a new provider module would bring: one step summarizing the goal."""

    provider = "echo"

    def __init__(self, model: str, api_key: str | None, base_url: str | None, timeout_s: float) -> None:
        self.model, self.api_key, self.base_url, self.timeout_s = model, api_key, base_url, timeout_s

    def plan(self, system_prompt: str, user_message: str, limits: PlanLimits) -> Reply:
        step = {
            "id": "step_1",
            "objective": "Summarize the request",
            "tool": "summarize",
            "input": {"text": user_message, "max_words": 40},
            "success_criteria": "A short summary",
        }
        text = json.dumps({"steps": [step], "stop_conditions": ["a step fails"]})
        return Reply(text, Usage(input_tokens=10, output_tokens=20), self.model, 1.0, "end_turn")

    def summarize(self, text: str, instruction: str) -> Reply | None:
        return None


@pytest.fixture
def echo(monkeypatch: pytest.MonkeyPatch) -> ProviderSpec:
    """``echo`` registered (ranked before Anthropic for ``auto``, by its key only) and a hidden one."""
    spec = wire_format("echo", EchoPlanner, env="ECHO", default_model="echo-1", auto_rank=5, auto_when=(API_KEY,))
    monkeypatch.setitem(PROVIDERS, "echo", spec)
    monkeypatch.setitem(PROVIDERS, "hidden", ProviderSpec("hidden", PROVIDERS["offline"].build, selectable=False))
    return spec


def settings(**env: str) -> Settings:
    return Settings(_env_file=None, **env)  # type: ignore[call-arg]


# --- as shipped --------------------------------------------------------------------------------


def test_the_shipped_choices_and_what_is_not_a_choice() -> None:
    assert planner_choices() == SHIPPED
    assert planner_choices(auto=False) == SHIPPED[1:]
    assert not PROVIDERS["recorded"].selectable
    with pytest.raises(ConfigError, match=r"RecordedPlanner\(events\)"):
        make_planner(settings(), provider="recorded")
    with pytest.raises(ConfigError, match="unknown planner 'magic'; expected auto, offline, anthropic or openai"):
        make_planner(settings(), provider="magic")


def test_an_unknown_agent_planner_is_refused_with_the_valid_choices() -> None:
    with pytest.raises(ValidationError) as refused:
        settings(AGENT_PLANNER="magic")
    assert "unknown planner 'magic'; choose one of auto, offline, anthropic, openai" in str(refused.value)
    with pytest.raises(ValidationError, match="unknown planner 'recorded'"):
        settings(AGENT_PLANNER="recorded")


def test_an_unknown_agent_planner_is_a_one_line_usage_error_in_the_cli(
    monkeypatch: pytest.MonkeyPatch, sqlite_url: str
) -> None:
    monkeypatch.setenv("AGENT_PLANNER", "magic")
    err = io.StringIO()
    assert main(["runs", "--db", sqlite_url], io.StringIO(), err) == 2
    assert err.getvalue().count("\n") == 1
    assert "AGENT_PLANNER: Value error, unknown planner 'magic'; choose one of auto, offline" in err.getvalue()


def test_credentials_are_read_from_arguments_then_the_environment_then_dotenv(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / ".env").write_text("OPENAI_BASE_URL=http://dotenv/v1\nANTHROPIC_API_KEY=\n")
    assert Settings().credential("OPENAI_BASE_URL") == "http://dotenv/v1"
    assert Settings().credential("ANTHROPIC_API_KEY") is None  # empty is unset
    monkeypatch.setenv("OPENAI_BASE_URL", "http://env/v1")
    assert Settings().credential("OPENAI_BASE_URL") == "http://env/v1"
    assert Settings(OPENAI_BASE_URL="http://argument/v1").credential("OPENAI_BASE_URL") == "http://argument/v1"
    assert "sk-secret" not in repr(Settings(OPENAI_API_KEY="sk-secret-0123456789"))


# --- a provider added to the registry and nowhere else ------------------------------------------


def test_a_registered_provider_is_a_valid_agent_planner_and_auto_ranks_it(echo: ProviderSpec) -> None:
    assert settings(AGENT_PLANNER="echo").resolved_planner() == "echo"
    with pytest.raises(ValidationError, match="choose one of auto, offline, anthropic, openai, echo"):
        settings(AGENT_PLANNER="hidden")
    assert settings(ECHO_API_KEY="e", ANTHROPIC_API_KEY="a").resolved_planner() == "echo"
    assert settings(ECHO_BASE_URL="http://127.0.0.1:1/v1", ANTHROPIC_API_KEY="a").resolved_planner() == "anthropic"
    assert settings().resolved_planner() == "offline"


def test_make_planner_builds_it_with_its_credentials_and_default_model(
    echo: ProviderSpec, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(ConfigError) as missing:
        make_planner(settings(), provider="echo")
    needs = "the echo planner needs ECHO_API_KEY or ECHO_BASE_URL; set one, or use --planner offline"
    assert str(missing.value) == needs
    monkeypatch.setenv("ECHO_API_KEY", "echo-key-0123456789")
    planner = make_planner(settings(AGENT_PLANNER="auto"))
    assert isinstance(planner, EchoPlanner)
    assert (planner.model, planner.api_key, planner.base_url) == ("echo-1", "echo-key-0123456789", None)
    local = make_planner(settings(ECHO_BASE_URL="http://127.0.0.1:1/v1", AGENT_MODEL="echo-2"), provider="echo")
    assert isinstance(local, EchoPlanner) and (local.model, local.base_url) == ("echo-2", "http://127.0.0.1:1/v1")


def test_an_sdk_planner_is_built_once_per_model_key_url_and_timeout(echo: ProviderSpec) -> None:
    """Building an SDK client costs ~25 ms and a shared one keeps its connections alive between runs."""
    keyed = settings(ECHO_API_KEY="echo-key-0123456789")
    first = make_planner(keyed, provider="echo")
    assert make_planner(keyed, provider="echo") is first
    assert make_planner(settings(ECHO_API_KEY="echo-key-0123456789"), provider="echo") is first  # equal settings
    assert make_planner(keyed, provider="echo", model="echo-2") is not first
    assert make_planner(settings(ECHO_API_KEY="another-key-0123456789"), provider="echo") is not first
    assert (
        make_planner(settings(ECHO_API_KEY="echo-key-0123456789", AGENT_LLM_TIMEOUT="5"), provider="echo") is not first
    )
    forget_built_planners()
    assert make_planner(keyed, provider="echo") is not first


def test_the_cli_and_run_requests_accept_it(echo: ProviderSpec) -> None:
    parser = build_parser()
    assert parser.parse_args(["run", "goal", "--planner", "echo"]).planner == "echo"
    assert parser.parse_args(["replay", "r1", "--planner", "echo"]).planner == "echo"
    assert RunRequest("goal", planner="echo").validate().planner == "echo"
    with pytest.raises(RunRequestError, match="unknown planner 'hidden'"):
        RunRequest("goal", planner="hidden").validate()
    code = main(["run", "goal", "--planner", "hidden"], io.StringIO(), err := io.StringIO())
    assert code == 2 and "invalid choice: 'hidden'" in err.getvalue()


def test_a_cli_run_plans_with_it(
    echo: ProviderSpec, monkeypatch: pytest.MonkeyPatch, workspace: Path, sqlite_url: str
) -> None:
    for name, value in {
        "AGENT_WORKSPACE": str(workspace),
        "AGENT_POLICY": str(DEFAULT_POLICY),
        "ECHO_API_KEY": "echo-key-0123456789",
    }.items():
        monkeypatch.setenv(name, value)
    out, err = io.StringIO(), io.StringIO()
    code = main(["run", "Summarize the notes", "--planner", "echo", "--db", sqlite_url, "--json"], out, err)
    assert code == 0, err.getvalue()
    document = json.loads(out.getvalue())
    assert document["status"] == "completed" and document["input_tokens"] == 10
    out = io.StringIO()
    assert main(["events", document["run_id"], "--db", sqlite_url, "--json"], out, err) == 0
    started = json.loads(out.getvalue())[0]
    assert started["type"] == "RunStarted" and started["payload"]["planner"]["provider"] == "echo"
    assert started["payload"]["planner"]["model"] == "echo-1"
