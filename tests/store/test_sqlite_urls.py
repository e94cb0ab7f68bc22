"""Every SQLite URL form finds the real file (issue 10, item 6).

``config.sqlite_file`` must name the file SQLite really opens for every accepted URL form (plain
paths, ``file:`` URIs with ``?uri=true``, percent-escapes, authorities, query parameters,
fragments), because the start-up check and the guard's ``event_database`` rule rely on it; the
store must create no stray ``file:`` folder, refuse a store inside the workspace before creating
anything, and never create a store for a command that only reads.
"""

from __future__ import annotations

import io
import os
import tempfile
from pathlib import Path, PurePosixPath
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import create_engine
from sqlalchemy.pool import NullPool

from agent_core.cli import main
from agent_core.config import Settings, describe_database, sqlite_file
from agent_core.errors import ConfigError, StoreError
from agent_core.plan import PlanStep
from agent_core.policy import Policy, PolicyContext, check_workspace
from agent_core.projections import open_store
from agent_core.store import EventStore
from agent_core.tools import sandbox
from agent_core.workbench import Workbench
from tests.runtime.conftest import DEFAULT_POLICY

NAME_CHARS = st.sampled_from([*"abcxyz019_-. é%#?&=+~", "ü", "数", " "])
NAMES = st.text(NAME_CHARS, min_size=1, max_size=10).filter(lambda n: n not in (".", "..") and not n.startswith("~"))


def _opened_by_sqlite(url: str) -> Path | None:
    """What SQLite itself says it opened (``PRAGMA database_list``), through SQLAlchemy as the store connects."""
    engine = create_engine(url, poolclass=NullPool)
    try:
        with engine.connect() as conn:
            row = next(r for r in conn.exec_driver_sql("PRAGMA database_list") if r[1] == "main")
    finally:
        engine.dispose()
    return Path(os.path.realpath(row[2])) if row[2] else None


def _uri_path(text: str) -> str:
    """A path as a SQLite URI spells it: %, ?, # and & escaped (and escaped again for SQLAlchemy's URL)."""
    return quote(quote(text, safe="/"), safe="/")


@st.composite
def sqlite_urls(draw: st.DrawFn, root: Path) -> tuple[str, Path]:
    """(URL, the file it names) over the accepted forms, relative to the current folder ``root``."""
    parts = draw(st.lists(NAMES, min_size=1, max_size=3))
    rel = "/".join(parts)
    absolute = str(root / rel)
    form = draw(st.sampled_from(["plain-rel", "plain-abs", "uri-rel", "uri-abs", "uri-slashes", "uri-localhost"]))
    query = draw(st.sampled_from(["", "&cache=shared", "&mode=rwc", "&vfs=unix-dotfile", "&cache=private&mode=rwc"]))
    fragment = draw(st.sampled_from(["", "#frag"]))
    if form.startswith("plain"):
        path = rel if form == "plain-rel" else absolute
        if any(c in path for c in "?#%"):
            path = quote(path, safe="/")  # SQLAlchemy's URL decodes %XX in the database part
        return f"sqlite:///{path}", root / rel
    spelled = {
        "uri-rel": f"file:{_uri_path(rel)}",
        "uri-abs": f"file:{_uri_path(absolute)}",
        "uri-slashes": f"file://{_uri_path(absolute)}",
        "uri-localhost": f"file://localhost{_uri_path(absolute)}",
    }[form]
    return f"sqlite:///{spelled}{quote(fragment)}?uri=true{query}", root / rel


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_sqlite_file_is_the_file_sqlite_opens(data: st.DataObject) -> None:
    before = Path.cwd()
    with tempfile.TemporaryDirectory() as folder:
        root = Path(os.path.realpath(folder))
        os.chdir(root)
        try:
            url, expected = data.draw(sqlite_urls(root))
            expected.parent.mkdir(parents=True, exist_ok=True)
            resolved = sqlite_file(url)
            assert resolved == Path(os.path.realpath(expected)), url
            assert _opened_by_sqlite(url) == resolved, url
            assert sandbox.database_path_from_url(url) == resolved
            assert not [p for p in root.rglob("file:*")], "a stray 'file:' folder was created"
        finally:
            os.chdir(before)


@pytest.mark.parametrize(
    "url",
    ["sqlite://", "sqlite:///:memory:", "sqlite:///file::memory:?uri=true", "sqlite:///file:x.db?uri=true&mode=memory"],
)
def test_in_memory_forms_name_no_file(url: str) -> None:
    assert sqlite_file(url) is None
    assert _opened_by_sqlite(url) is None


def test_other_backends_name_no_file() -> None:
    assert sqlite_file("postgresql+psycopg://u@h/db") is None


@pytest.mark.parametrize("url", ["sqlite:///file://elsewhere/x.db?uri=true", "sqlite:///x.db?uri=maybe", "::"])
def test_urls_sqlite_would_refuse_are_a_config_error_in_one_line(url: str) -> None:
    with pytest.raises(ConfigError) as caught:
        sqlite_file(url)
    assert "\n" not in str(caught.value)


def test_a_uri_form_store_lands_in_the_real_file_and_creates_no_stray_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    store = EventStore("sqlite:///file:data/agent.db?uri=true")
    store.close()
    assert (tmp_path / "data" / "agent.db").is_file()
    assert store.sqlite_path == tmp_path / "data" / "agent.db"
    assert not list(tmp_path.glob("file:*"))
    assert describe_database("sqlite:///file:data/agent.db?uri=true") == f"SQLite file {tmp_path / 'data/agent.db'}"


# --- the start-up check and the guard see the database behind every form ---------------------------


def _uri_forms(db: Path) -> list[str]:
    return [
        f"sqlite:///{db}",
        f"sqlite:///file:{db}?uri=true",
        f"sqlite:///file://{db}?uri=true&cache=shared",
        f"sqlite:///file://localhost{db}?uri=true",
        f"sqlite:///file:{str(db).replace('/', '/./')}#x?uri=true",
    ]


def test_the_start_up_check_refuses_every_form_of_a_database_inside_the_workspace(tmp_path: Path) -> None:
    workspace = tmp_path / "ws"
    workspace.mkdir()
    for url in _uri_forms(workspace / "data" / "events.db"):
        with pytest.raises(ConfigError, match="inside the workspace"):
            check_workspace(workspace, url)


def test_the_event_database_rule_sees_every_form(tmp_path: Path) -> None:
    workspace = tmp_path / "ws"
    workspace.mkdir()
    policy = Policy.load(DEFAULT_POLICY)
    step = PlanStep(id="s1", objective="o", tool="read_file", input={"path": "events.db"}, success_criteria="c")
    for url in _uri_forms(workspace / "events.db"):
        context = PolicyContext(workspace, sandbox.database_path_from_url(url), 0, 0.0, 1.0)
        decision = policy.evaluate(step, context)
        assert decision.outcome == "reject" and "event database" in decision.reason, (url, decision)
        wal = step.model_copy(update={"input": {"path": "events.db-wal"}})
        assert policy.evaluate(wal, context).outcome == "reject", url


@pytest.mark.parametrize("form", range(5))
def test_a_store_inside_the_workspace_is_refused_before_anything_is_created(tmp_path: Path, form: int) -> None:
    workspace = tmp_path / "ws"
    url = _uri_forms(workspace / "data" / "events.db")[form]
    settings = Settings(DATABASE_URL=url, AGENT_WORKSPACE=str(workspace), AGENT_POLICY=str(DEFAULT_POLICY))
    with pytest.raises(ConfigError, match="inside the workspace"):
        Workbench.open(settings)
    assert not workspace.exists()  # neither the folder nor the database was created


# --- read-only commands never create a store ------------------------------------------------------


def cli(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), out, err)
    return code, out.getvalue(), err.getvalue()


READ_ONLY = [["runs"], ["events", "abcdef12"], ["verify-log"], ["export", "abcdef12"]]


@pytest.mark.parametrize("argv", READ_ONLY, ids=lambda a: a[0])
@pytest.mark.parametrize("spelling", ["plain", "uri"])
def test_read_only_commands_on_a_missing_sqlite_store_exit_2_and_create_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, argv: list[str], spelling: str
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("AGENT_WORKSPACE", str(tmp_path / "ws"))
    url = "sqlite:///typo/agent.db" if spelling == "plain" else "sqlite:///file:typo/agent.db?uri=true"
    code, out, err = cli(*argv, "--db", url)
    assert code == 2 and out == ""
    assert "no event store at" in err and str(tmp_path / "typo" / "agent.db") in err
    assert len(err.strip().splitlines()) == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == []  # no folder, no file, no "file:typo"


@pytest.mark.parametrize("argv", READ_ONLY, ids=lambda a: a[0])
def test_read_only_commands_on_an_empty_database_exit_2(
    database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, argv: list[str]
) -> None:
    monkeypatch.setenv("AGENT_WORKSPACE", str(tmp_path / "ws"))
    if database_url.startswith("sqlite"):
        create_engine(database_url).connect().close()  # an empty SQLite file: no event tables
    code, _, err = cli(*argv, "--db", database_url)
    assert code == 2 and "holds no event store" in err and len(err.strip().splitlines()) == 1


def test_read_only_commands_work_on_an_existing_store(database_url: str, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("AGENT_WORKSPACE", str(tmp_path / "ws"))
    open_store(database_url).close()
    assert cli("runs", "--db", database_url)[0] == 0
    assert cli("verify-log", "--db", database_url)[0] == 0


def test_a_read_only_store_refuses_an_in_memory_url() -> None:
    with pytest.raises(StoreError, match="in-memory"):
        EventStore("sqlite://", create=False)


def test_the_path_module_agrees_for_plain_urls(tmp_path: Path) -> None:
    assert sqlite_file(f"sqlite:///{tmp_path}/a/../b.db") == tmp_path / "b.db"
    assert PurePosixPath(str(sqlite_file("sqlite:///rel.db"))).is_absolute()
