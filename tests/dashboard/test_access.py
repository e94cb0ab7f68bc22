"""The dashboard is not an open door: a sign-in when AGENT_DASHBOARD_PASSWORD is set, a trusted proxy
header when AGENT_DASHBOARD_USER_HEADER is, open only on loopback otherwise; approvals and denials are
recorded as the login; and launches past the runner's capacity queue or are refused with a message."""

from __future__ import annotations

import ast
import threading
import tomllib
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from streamlit import config as st_config
from streamlit.testing.v1 import AppTest

from agent_core import RunState, Settings, Workbench
from tests.dashboard.conftest import ROOT, no_exceptions, texts
from tests.dashboard.seed import held_run
from ui import access, core, nav

PASSWORD = "correct horse battery staple"
RESEARCH = "Research the latest developments in AI agent frameworks and summarize the key findings"
PAGES = [None, *(spec.url_path for spec in nav.PAGES)]


@pytest.fixture(autouse=True)
def _isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Own workspace; no login settings or keys from the developer's environment; no sign-in delay."""
    monkeypatch.setenv("AGENT_WORKSPACE", str(tmp_path / "workspace"))
    for name in (
        "AGENT_DASHBOARD_PASSWORD",
        "AGENT_DASHBOARD_USER_HEADER",
        "AGENT_POLICY",
        "AGENT_PLANNER",
        "ANTHROPIC_API_KEY",
        "OPENAI_API_KEY",
        "OPENAI_BASE_URL",
        "ANTHROPIC_BASE_URL",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(access, "FAILED_SIGN_IN_DELAY_S", 0.0)


@pytest.fixture
def with_password(monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("AGENT_DASHBOARD_PASSWORD", PASSWORD)
    return PASSWORD


@pytest.fixture
def served_on() -> Iterator[Callable[[str | None], None]]:
    """``served_on("0.0.0.0")``: the server address as if started with ``--server.address``; restored after."""
    before = st_config.get_option("server.address")
    where = st_config.get_where_defined("server.address")

    def _set(address: str | None) -> None:
        st_config.set_option("server.address", address, "test")

    yield _set
    st_config.set_option("server.address", before, where)


def open_app(page: str | None = None, **query: str) -> AppTest:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=30)
    at.query_params.update(query)
    at.run()
    if page is not None:
        at.switch_page(f"pages/{page}.py").run()
    return at


def sign_in(at: AppTest, name: str, password: str) -> AppTest:
    at.text_input(key=access.NAME_FIELD).set_value(name)
    at.text_input(key=access.PASSWORD_FIELD).set_value(password)
    next(b for b in at.button if b.label == "Sign in").click().run()
    return at


def titles(at: AppTest) -> list[str]:
    return [t.value for t in at.title]


def decisions_by(run_id: str) -> list[tuple[str, str]]:
    """(event type, by) of the run's recorded human decisions, from the store."""
    workbench = Workbench(Settings())
    try:
        return [
            (e.type, e.event.to_payload()["by"])
            for e in workbench.run_events(run_id)
            if e.type in ("ApprovalGranted", "ApprovalDenied")
        ]
    finally:
        workbench.close()


def read_state(run_id: str) -> RunState:
    workbench = Workbench(Settings())
    try:
        return workbench.run_state(run_id)
    finally:
        workbench.close()


def press(at: AppTest, label: str) -> AppTest:
    next(b for b in at.button if b.label == label).click().run()
    return at


# --- the shipped configuration ----------------------------------------------------------------------


def test_the_shipped_streamlit_config_binds_loopback_only() -> None:
    shipped = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text(encoding="utf-8"))
    assert shipped["server"]["address"] == "127.0.0.1"


@pytest.mark.parametrize(
    ("address", "loopback"),
    [
        ("127.0.0.1", True),
        ("127.0.0.2", True),
        ("::1", True),
        ("[::1]", True),
        ("localhost", True),
        ("unix:///run/agent/dashboard.sock", True),
        (None, False),
        ("", False),
        ("0.0.0.0", False),
        ("::", False),
        ("192.168.1.20", False),
        ("10.0.0.1", False),
        ("no-such-host.invalid", False),
    ],
)
def test_only_addresses_no_other_machine_can_reach_count_as_loopback(address: str | None, loopback: bool) -> None:
    assert access.is_loopback(address) is loopback


def test_every_page_passes_the_gate_before_it_draws_anything() -> None:
    """Streamlit may serve a page file without app.py (a deep link to a fresh server): each gates itself."""
    for spec in nav.PAGES:
        tree = ast.parse((ROOT / spec.file).read_text(encoding="utf-8"))
        main = next(n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == "main")
        assert ast.unparse(main.body[0]) == "access.gate()", spec.file


# --- a password: sign in first, on every page ---------------------------------------------------------


@pytest.mark.parametrize("page", PAGES)
def test_with_a_password_every_page_asks_for_a_sign_in_first(seeded, with_password: str, page: str | None) -> None:
    _, ids = seeded
    at = open_app(page, run_id=ids.completed)
    no_exceptions(at)
    assert titles(at) == ["Sign in"]
    assert [w.label for w in at.text_input] == ["Name", "Password"]
    shown = texts(at)
    assert "Research agent frameworks" not in shown  # no run, goal or store detail before the sign-in
    assert not at.dataframe
    assert not at.sidebar.text  # nor the sidebar (store, planner, pending approvals)


def test_a_wrong_password_is_refused(seeded, with_password: str) -> None:
    at = sign_in(open_app(), "alice", PASSWORD + "!")
    no_exceptions(at)
    assert titles(at) == ["Sign in"]
    assert [e.value for e in at.error] == [access.WRONG]
    assert at.text_input(key=access.PASSWORD_FIELD).value == ""  # the password does not stay in the session
    assert access.LOGIN_KEY not in at.session_state
    at.switch_page("pages/runs.py").run()
    assert titles(at) == ["Sign in"]


def test_the_right_password_admits_and_the_sidebar_names_the_user(seeded, with_password: str) -> None:
    at = sign_in(open_app(), "alice", PASSWORD)
    no_exceptions(at)
    assert titles(at) == ["Launch a run"]
    assert "Password" not in [w.label for w in at.text_input]
    at.switch_page("pages/runs.py").run()
    assert titles(at) == ["Runs"]

    # AppTest re-runs only the page after the first run: the same session through app.py shows its sidebar.
    again = AppTest.from_file(str(ROOT / "app.py"), default_timeout=30)
    again.session_state[access.LOGIN_KEY] = at.session_state[access.LOGIN_KEY]
    again.run()
    assert titles(again) == ["Launch a run"]
    assert "alice" in [t.value for t in again.sidebar.text]
    assert "Signed in as" in [c.value for c in again.sidebar.caption]
    assert [b.label for b in again.sidebar.button] == ["Sign out"]
    again.sidebar.button[0].click().run()
    assert titles(again) == ["Sign in"]


def test_a_name_that_cannot_be_recorded_is_refused_even_with_the_right_password(seeded, with_password: str) -> None:
    for name in ("", "   ", "alice\x1b[2J", "-alice", "<script>"):
        at = sign_in(open_app(), name, PASSWORD)
        no_exceptions(at)
        assert titles(at) == ["Sign in"], name
        assert "Your name is recorded with every decision" in texts(at)


def test_a_changed_password_signs_the_session_out(seeded, with_password: str, monkeypatch: pytest.MonkeyPatch) -> None:
    at = sign_in(open_app(), "alice", PASSWORD)
    assert titles(at) == ["Launch a run"]
    monkeypatch.setenv("AGENT_DASHBOARD_PASSWORD", "a brand new team password")
    at.run()
    assert titles(at) == ["Sign in"]
    at = sign_in(at, "alice", PASSWORD)
    assert [e.value for e in at.error] == [access.WRONG]
    at = sign_in(at, "alice", "a brand new team password")
    assert titles(at) == ["Launch a run"]


def test_an_approval_is_recorded_as_the_signed_in_user(empty_store, with_password: str) -> None:
    run_id = held_run()
    at = sign_in(open_app(), "alice", PASSWORD)
    at.switch_page("pages/policy.py").run()
    assert titles(at) == ["Policy"]
    assert "Comment" in [w.label for w in at.text_input]  # approver is not a field anyone types in
    press(at, "Approve")
    no_exceptions(at)
    core.runner().wait(run_id, timeout=30)
    assert decisions_by(run_id) == [("ApprovalGranted", "alice")]
    assert read_state(run_id).status == "completed"
    at.session_state["section"] = "Decisions"  # the Policy page's Decisions tab (a URL-bound tab's key)
    at.run()
    assert at.dataframe[0].value.iloc[0]["by"] == "alice"  # the decisions table shows who


def test_a_denial_is_recorded_as_the_signed_in_user(empty_store, with_password: str) -> None:
    run_id = held_run()
    at = sign_in(open_app(), "bob@example.com", PASSWORD)
    at.switch_page("pages/policy.py").run()
    press(at, "Deny")
    no_exceptions(at)
    core.runner().wait(run_id, timeout=30)
    assert decisions_by(run_id) == [("ApprovalDenied", "bob@example.com")]


def test_a_decision_from_a_session_signed_out_meanwhile_records_nothing(
    empty_store, with_password: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    run_id = held_run()
    at = sign_in(open_app(), "alice", PASSWORD)
    at.switch_page("pages/policy.py").run()
    monkeypatch.setenv("AGENT_DASHBOARD_PASSWORD", "rotated while the page was open")
    press(at, "Approve")  # the click's callback runs before the page's gate
    no_exceptions(at)
    assert decisions_by(run_id) == []
    assert titles(at) == ["Sign in"]
    assert read_state(run_id).status == "waiting_approval"


# --- no password: open on loopback only ----------------------------------------------------------


def test_without_a_password_on_loopback_the_dashboard_opens_and_decisions_say_human(empty_store) -> None:
    run_id = held_run()
    at = open_app()
    no_exceptions(at)
    assert titles(at) == ["Launch a run"]
    assert "human (no sign-in on this machine)" in [t.value for t in at.sidebar.text]
    at.switch_page("pages/policy.py").run()
    press(at, "Approve")
    core.runner().wait(run_id, timeout=30)
    assert decisions_by(run_id) == [("ApprovalGranted", "human")]


@pytest.mark.parametrize("address", ["0.0.0.0", "192.168.1.20", None])
@pytest.mark.parametrize("page", PAGES)
def test_without_a_password_off_loopback_every_page_refuses_and_says_how_to_fix_it(
    seeded, served_on, address: str | None, page: str | None
) -> None:
    _, ids = seeded
    served_on(address)
    at = open_app(page, run_id=ids.completed)
    no_exceptions(at)
    assert titles(at) == ["Agent workbench"]
    assert [e.value for e in at.error] == ["The dashboard is closed"]
    shown = texts(at)
    assert (address or "every network interface") in shown
    for fix in ("AGENT_DASHBOARD_PASSWORD", "AGENT_DASHBOARD_USER_HEADER", "--server.address 127.0.0.1"):
        assert fix in shown
    assert "Research agent frameworks" not in shown
    assert not at.text_input and not at.dataframe and not at.sidebar.text


def test_off_loopback_a_password_turns_the_refusal_into_a_sign_in(seeded, served_on, with_password: str) -> None:
    served_on("0.0.0.0")
    at = open_app()
    assert titles(at) == ["Sign in"]
    at = sign_in(at, "alice", PASSWORD)
    assert titles(at) == ["Launch a run"]


def test_unreadable_settings_keep_the_pages_closed(seeded, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AGENT_DASHBOARD_PASSWORD", "short")  # too short to protect anything: a ConfigError
    at = open_app("runs")
    no_exceptions(at)
    shown = texts(at)
    assert "ConfigError" in shown and "AGENT_DASHBOARD_PASSWORD" in shown
    assert titles(at) == [] and not at.dataframe


# --- an authenticating proxy in front ---------------------------------------------------------------


@pytest.fixture
def behind_proxy(monkeypatch: pytest.MonkeyPatch) -> Callable[..., None]:
    """``behind_proxy("carol")``: the connection's X-Forwarded-User values, as the proxy would set them."""
    monkeypatch.setenv("AGENT_DASHBOARD_USER_HEADER", "X-Forwarded-User")
    sent: list[str] = []
    monkeypatch.setattr(access, "header_values", lambda name: list(sent) if name == "X-Forwarded-User" else [])

    def _send(*values: str) -> None:
        sent[:] = values

    return _send


def test_behind_a_trusted_proxy_its_header_names_the_user_who_approves(empty_store, behind_proxy, served_on) -> None:
    run_id = held_run()
    served_on("0.0.0.0")  # the proxy reaches the app over the network
    behind_proxy("carol")
    at = open_app()
    no_exceptions(at)
    assert titles(at) == ["Launch a run"]
    assert "carol" in [t.value for t in at.sidebar.text]
    assert "Signed in through the proxy as" in [c.value for c in at.sidebar.caption]
    assert not at.sidebar.button  # signing out is the proxy's business
    at.switch_page("pages/policy.py").run()
    press(at, "Approve")
    core.runner().wait(run_id, timeout=30)
    assert decisions_by(run_id) == [("ApprovalGranted", "carol")]


@pytest.mark.parametrize(
    ("sent", "why"),
    [((), "no X-Forwarded-User header"), (("carol", "mallory"), "more than one"), (("carol\x00",), "not a user name")],
)
def test_behind_a_proxy_a_connection_without_one_clear_user_is_refused(
    seeded, behind_proxy, sent: tuple[str, ...], why: str
) -> None:
    behind_proxy(*sent)
    at = open_app("policy")
    no_exceptions(at)
    assert [e.value for e in at.error] == ["The dashboard is closed"]
    assert why in texts(at)


# --- the runner's capacity on the Launch page ----------------------------------------------------------


def test_launches_past_the_runners_capacity_queue_then_are_refused_with_a_message(
    empty_store, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AGENT_MAX_ACTIVE_RUNS", "1")
    monkeypatch.setenv("AGENT_MAX_QUEUED_RUNS", "1")
    workbench = core.workbench()  # the page's own (st.cache_resource is shared in-process)
    released = threading.Event()
    real = workbench.advance

    def held(run_id: str, on_event: object = None) -> RunState:
        assert released.wait(timeout=60)
        return real(run_id)

    monkeypatch.setattr(workbench, "advance", held)
    runner = core.runner()
    assert (runner.workers, runner.queue) == (1, 1)
    try:
        at = open_app()
        at.text_area(key="launch_goal").set_value(RESEARCH)
        press(at, "Launch run")
        first = at.session_state["launch_run_id"]
        press(at, "Launch run")
        second = at.session_state["launch_run_id"]
        assert second != first
        no_exceptions(at)
        assert any(i.value.startswith("Queued: every worker is busy (0 runs ahead") for i in at.info)

        press(at, "Launch run")  # one running, one queued: the third is refused
        no_exceptions(at)
        shown = texts(at)
        assert "RunnerBusy" in shown
        assert "the background runner is full: 1 run(s) in progress and 1 waiting" in shown
        assert "Wait for a run to finish" in shown
        assert at.session_state["launch_run_id"] == second  # the page still follows the last accepted run
        assert workbench.count_runs() == 2  # nothing was recorded for the refused launch
    finally:
        released.set()
    runner.wait(first, timeout=30)
    runner.wait(second, timeout=30)
    assert read_state(first).is_terminal and read_state(second).is_terminal
