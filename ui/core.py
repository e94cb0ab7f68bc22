"""The one Workbench per process (``st.cache_resource``) and the error guard every page uses.

Pages call ``workbench()`` and render inside ``errors_as_messages()``: any deliberate
agent_core error becomes an ``st.error`` that says what to do, never a traceback.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import streamlit as st

from agent_core import (
    AgentError,
    ConfigError,
    Dispatcher,
    RunnerBusy,
    RunNotFound,
    Settings,
    StoreError,
    Workbench,
    describe_database,
    dispatcher,
    load_settings,
)

STORE_HINT = (
    "Check DATABASE_URL (environment or .env): a SQLite URL like sqlite:///data/agent.db, or "
    "postgresql+psycopg://USER@HOST:5432/DB with the server running. Then reload this page."
)


def settings() -> Settings:
    """Read fresh on every script run: cheap, and a changed .env is picked up on reload."""
    return load_settings()


def store_label(current: Settings) -> str:
    """Where the data lives, without opening the store (so it shows even when unreachable)."""
    return describe_database(current.database_url)


def _release(workbench: Workbench) -> None:
    workbench.close()


@st.cache_resource(show_spinner="Opening the event store…", on_release=_release)
def _open(key: str, _settings: Settings) -> Workbench:
    # ``key`` (settings without secret values) decides reuse; ``_settings`` is not hashed.
    return Workbench(_settings)


def workbench() -> Workbench:
    """The process-wide Workbench for the current settings; raises ``StoreError`` if unreachable."""
    current = settings()
    return _open(current.model_dump_json(), current)


def _stop(runner: Dispatcher) -> None:
    runner.shutdown()


@st.cache_resource(show_spinner=False, on_release=_stop)
def _runner(key: str, _workbench: Workbench) -> Dispatcher:
    # In-process: bounded by AGENT_MAX_ACTIVE_RUNS and AGENT_MAX_QUEUED_RUNS; AGENT_QUEUE=procrastinate: workers.
    return dispatcher(_workbench)


def runner() -> Dispatcher:
    """The process-wide dispatcher (agent_core's seam): runs execute in background threads here, or on
    queue workers with ``AGENT_QUEUE=procrastinate``; pages then only read the store.

    In-process it holds at most ``max_active_runs + max_queued_runs`` runs: past that ``RunnerBusy``.
    """
    current = settings()
    return _runner(current.model_dump_json(), workbench())


def message_for(error: AgentError) -> tuple[str, str]:
    """(what happened, what to do) for an error, as the pages show it."""
    if isinstance(error, StoreError):
        return str(error), STORE_HINT
    if isinstance(error, RunNotFound):
        return str(error), "Pick a run on the Runs page, or check the run id in the address bar."
    if isinstance(error, RunnerBusy):
        return str(error), "Wait for a run to finish (the Runs page shows what is running), then try again."
    if isinstance(error, ConfigError):
        return str(error), "Fix the setting named above in the environment or .env, then reload."
    return str(error), "Reload the page; if it persists, run the same action with the CLI to see details."


def show_error(error: AgentError) -> None:
    what, todo = message_for(error)
    # Error text may quote untrusted values (run ids, goals): render it as text, not Markdown.
    with st.container(border=True):
        st.error(f"**{type(error).__name__}**", icon=":material/error:")
        st.text(what)
        st.caption(todo)


def show_answer(answer: object) -> None:
    """A click's answer, kept by its callback for the rerun: the error and what to do, or the
    confirmation (a success line, and a toast that stays in view while the page scrolls)."""
    if isinstance(answer, AgentError):
        show_error(answer)
    elif answer:
        st.success(str(answer), icon=":material/check_circle:")
        st.toast(str(answer), icon=":material/check_circle:")


@contextmanager
def errors_as_messages() -> Iterator[None]:
    """Render the block; an ``AgentError`` inside becomes a message and the script stops there."""
    try:
        yield
    except AgentError as error:
        show_error(error)
        st.stop()
