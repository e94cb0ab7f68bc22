"""The offline search on a generated real-looking folder: a persistent index updated only where files changed,
results that do not depend on the index's history, and observations that say what they covered."""

from __future__ import annotations

import os
import random
import shutil
import sqlite3
import time
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agent_core.config import Settings
from agent_core.tools import ToolContext, search_index
from agent_core.tools.search import workspace_search
from agent_core.tools.search_index import MAX_PARAGRAPH_CHARS, Paragraphs, SearchIndex, index_file_for
from agent_core.tools.walk import walk
from tests.workspaces import Generated, generate, write


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Generated:
    return generate(tmp_path_factory.mktemp("real") / "ws", documents=240)


def ctx(workspace: Path, index_dir: Path | None, **caps: Any) -> ToolContext:
    return ToolContext(workspace=workspace, prior_results={}, index_dir=index_dir, **caps)


def search(workspace: Path, index_dir: Path | None, query: str, **kw: Any) -> dict[str, Any]:
    folder = kw.pop("folder", None)
    return workspace_search(query, kw.pop("max_results", 5), ctx(workspace, index_dir, **kw), folder)


def update(index_file: Path, workspace: Path, **caps: int) -> Any:
    index = SearchIndex.open(index_file)
    try:
        return index.update(
            walk(workspace),
            database_path=None,
            max_files=caps.get("max_files", 20_000),
            max_file_bytes=caps.get("max_file_bytes", 10_000_000),
        )
    finally:
        index.close()


# --- what a search finds, and says it covered ----------------------------------------------------


def test_words_are_found_in_every_kind_of_document(folder: Generated, tmp_path: Path) -> None:
    for word, path in folder.planted.items():
        result = search(folder.root, tmp_path, word, max_results=1)
        assert [r["path"] for r in result["results"]] == [path], word
    latin1 = search(folder.root, tmp_path, "bibliothèque garçon")["results"][0]
    assert latin1["path"] == folder.latin1 and "café est très bon" in latin1["snippet"]


def test_hidden_secret_and_binary_files_are_never_searched(folder: Generated, tmp_path: Path) -> None:
    for word in ("zqhiddenmarker", "zqsecretmarker"):
        assert search(folder.root, tmp_path, word)["results"] == []


def test_the_observation_says_what_was_searched_skipped_and_why(folder: Generated, tmp_path: Path) -> None:
    result = search(folder.root, tmp_path, "ledger")
    coverage = result["coverage"]
    searched = len(folder.documents) + 4  # the large manual, the Latin-1 letter, the résumé, LICENSE, UTF-16
    assert coverage["files_searched"] == searched + 1
    assert coverage["files_skipped"] == {"binary": 1, "not_a_document": 3, "output_folder": 1}
    assert coverage["examples"]["binary"] == ["images/disguised.md"]
    assert coverage["examples"]["output_folder"] == ["reports/earlier-report.md"]
    assert coverage["files_truncated"] == 0
    assert coverage["scope"] == "the workspace except reports/"
    assert coverage["caps"] == {"max_files": 20_000, "max_file_bytes": 10_000_000}
    assert "reports/" not in {r["path"].split("/")[0] + "/" for r in result["results"]}


def test_caps_are_reported_when_reached(folder: Generated, tmp_path: Path) -> None:
    capped = search(folder.root, tmp_path, "zqendmarker", search_max_file_bytes=100_000, search_max_files=50)
    coverage = capped["coverage"]
    assert coverage["files_searched"] == 50 and coverage["files_skipped"]["over_file_cap"] > 190
    assert capped["results"] == []
    assert "over the 50-file cap (AGENT_SEARCH_MAX_FILES)" in capped["output"]
    big = search(folder.root, tmp_path, "zqendmarker", search_max_file_bytes=100_000)
    assert big["results"] == [] and big["coverage"]["examples"]["truncated"] == [folder.large]
    assert "searched only in their first 100,000 bytes (AGENT_SEARCH_MAX_FILE_BYTES): big/manual.md" in big["output"]
    whole = search(folder.root, tmp_path, "zqendmarker")
    assert [r["path"] for r in whole["results"]] == [folder.large]


def test_the_output_folder_is_searched_only_when_named(folder: Generated, tmp_path: Path) -> None:
    assert search(folder.root, tmp_path, "zqreportmarker")["results"] == []
    named = search(folder.root, tmp_path, "zqreportmarker", folder="reports")
    assert [r["path"] for r in named["results"]] == ["reports/earlier-report.md"]
    assert named["coverage"]["scope"] == "reports/" and named["coverage"]["files_searched"] == 1
    assert search(folder.root, tmp_path, "ledger", folder="area-1/")["coverage"]["files_searched"] < 60
    refused = workspace_search_error(folder.root, tmp_path, "../outside")
    assert "climbs out" in refused


def workspace_search_error(workspace: Path, index_dir: Path, folder: str) -> str:
    from agent_core.tools import execute

    result = execute("web_search", {"query": "q", "folder": folder}, ctx(workspace, index_dir))
    assert result["success"] is False
    return str(result["error"])


# --- the index: where it lives, what an update touches --------------------------------------------


def test_the_index_lives_beside_the_event_store_and_never_in_the_workspace(tmp_path: Path) -> None:
    assert Settings(DATABASE_URL=f"sqlite:///{tmp_path}/data/agent.db").search_index_dir() == (
        tmp_path / "data" / "agent.db.search"
    )
    cache = Settings(DATABASE_URL="postgresql+psycopg://u:secret@db/runs", XDG_CACHE_HOME=str(tmp_path / "cache"))
    assert cache.search_index_dir().parent == tmp_path / "cache" / "agent-workbench" / "search"
    assert Settings(AGENT_INDEX_DIR=str(tmp_path / "idx")).search_index_dir() == tmp_path / "idx"
    workspace = tmp_path / "ws"
    write(workspace / "a.md", "alpha bravo\n")
    before = sorted(p.name for p in workspace.rglob("*"))
    assert search(workspace, workspace / ".index", "alpha")["results"][0]["path"] == "a.md"
    assert sorted(p.name for p in workspace.rglob("*")) == before  # fell back to an index in memory
    search(workspace, tmp_path / "idx", "alpha")
    assert [p.name for p in (tmp_path / "idx").glob("*.sqlite3")] == [index_file_for(tmp_path / "idx", workspace).name]


def test_an_update_touches_only_what_changed(tmp_path: Path) -> None:
    generated = generate(tmp_path / "ws", documents=60)
    ws, index = generated.root, tmp_path / "index.sqlite3"
    first = update(index, ws)
    assert first.reindexed == len(generated.documents) + 7 and first.removed == 0  # + 6 text files and a PNG
    time.sleep(0.01)
    assert (update(index, ws).reindexed, update(index, ws).removed) == (0, 0)

    edited = ws / generated.documents[3]
    edited.write_text(edited.read_text() + "\nNow it mentions zqeditedmarker.\n")
    (ws / generated.documents[5]).unlink()
    (ws / generated.documents[7]).rename(ws / "renamed.md")
    os.utime(ws / generated.documents[9])  # touched: same content, new mtime
    census = update(index, ws)
    assert (census.reindexed, census.removed) == (2, 2)  # the edit and the new name; the deleted and the old name
    assert search(ws, tmp_path / "unused", "zqeditedmarker")["results"][0]["path"] == generated.documents[3]


def test_a_same_size_edit_within_the_mtime_granularity_is_caught_by_the_hash(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    write(ws / "a.md", "# A\n\nalpha zqfirstmarker\n")
    stamp = os.stat(ws / "a.md").st_mtime_ns
    index = tmp_path / "index.sqlite3"
    update(index, ws)
    write(ws / "a.md", "# A\n\nalpha zqsecndmarker\n")  # same size
    os.utime(ws / "a.md", ns=(stamp, stamp))  # and the same mtime: only the hash can tell
    assert update(index, ws).reindexed == 1
    hits = SearchIndex.open(index).search(["zqsecndmarker"], 5)
    assert [h.path for h in hits] == ["a.md"]


def test_results_do_not_depend_on_the_index_history(tmp_path: Path) -> None:
    generated = generate(tmp_path / "ws", documents=80, seed=3)
    ws = generated.root
    queries = ["ledger replay", "zq0011marker", "policy sandbox budget", "manual detail"]
    search(ws, tmp_path / "old", "warm it up")
    rng = random.Random(5)
    for rel in rng.sample(generated.documents, 12):
        path = ws / rel
        path.write_text(path.read_text() + "\n\nA new paragraph about ledger approval.\n")
    for rel in rng.sample(generated.documents, 5):
        (ws / rel).unlink(missing_ok=True)
    write(ws / "area-1/fresh.md", "# Fresh\n\nA fresh ledger, replay and budget.\n")
    incremental = [search(ws, tmp_path / "old", q) for q in queries]
    rebuilt = [search(ws, tmp_path / "new", q) for q in queries]
    assert incremental == rebuilt
    assert incremental == [search(ws, None, q) for q in queries]  # and a throw-away index in memory


def test_unreadable_files_are_skipped_and_named(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    write(ws / "a.md", "alpha\n")
    os.link(ws / "a.md", ws / "b.md")  # a hard link: the sandbox refuses to read either name
    write(ws / "c.md", "alpha charlie\n")
    result = search(ws, tmp_path / "idx", "alpha")
    assert result["coverage"]["files_skipped"] == {"unreadable": 2}
    assert [r["path"] for r in result["results"]] == ["c.md"]
    assert "2 unreadable" in result["output"] or result["results"]


def test_an_index_locked_too_long_answers_from_memory(
    folder: Generated, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(search_index, "_BUSY_TIMEOUT_MS", 50)
    expected = search(folder.root, tmp_path / "idx", "zqlicensemarker")
    blocker = sqlite3.connect(index_file_for(tmp_path / "idx", folder.root), isolation_level=None)
    blocker.execute("BEGIN IMMEDIATE")  # another process holding the index for longer than the busy timeout
    try:
        assert search(folder.root, tmp_path / "idx", "zqlicensemarker") == expected
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()


def test_a_broken_index_file_is_rebuilt(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    write(ws / "a.md", "alpha\n")
    index_file = index_file_for(tmp_path / "idx", ws)
    index_file.parent.mkdir(parents=True)
    index_file.write_bytes(b"not a database at all" * 100)
    assert search(ws, tmp_path / "idx", "alpha")["results"][0]["path"] == "a.md"


def test_copying_a_workspace_elsewhere_gets_its_own_index(folder: Generated, tmp_path: Path) -> None:
    copy = tmp_path / "copy"
    shutil.copytree(folder.root, copy, ignore=shutil.ignore_patterns("area-*"))
    result = search(copy, tmp_path / "idx", "zqlicensemarker")
    assert result["results"][0]["path"] == "LICENSE"
    assert len(list((tmp_path / "idx").glob("*.sqlite3"))) == 1


# --- paragraphs, fed in pieces ---------------------------------------------------------------------


_TEXT = st.lists(st.sampled_from([*"ab #\n\n  \t\r", "é", "word", "## h"]), max_size=120).map("".join)


@settings(max_examples=150, deadline=None)
@given(text=_TEXT, cuts=st.lists(st.integers(min_value=0, max_value=400), max_size=6))
def test_paragraphs_do_not_depend_on_where_the_text_was_cut(text: str, cuts: list[int]) -> None:
    whole = Paragraphs()
    expected = whole.feed(text) + whole.finish()
    pieces = Paragraphs()
    got: list[str] = []
    start = 0
    for cut in sorted(set(c for c in cuts if c < len(text))):
        got += pieces.feed(text[start:cut])
        start = cut
    got += pieces.feed(text[start:]) + pieces.finish()
    assert got == expected
    assert pieces.title == whole.title


def test_a_block_without_blank_lines_is_cut_the_same_way_however_it_arrives() -> None:
    line = "word " * 30 + "\n"
    text = line * (3 * MAX_PARAGRAPH_CHARS // len(line))
    whole = Paragraphs()
    expected = whole.feed(text) + whole.finish()
    assert len(expected) >= 3 and all(len(p) <= MAX_PARAGRAPH_CHARS for p in expected)
    pieces = Paragraphs()
    got = [p for i in range(0, len(text), 7_777) for p in pieces.feed(text[i : i + 7_777])] + pieces.finish()
    assert got == expected
