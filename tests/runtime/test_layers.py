"""The read-through layer of a what-if with live tools: reads fall through to the real workspace, writes land in
the scratch layer above it, listings and searches see both, and nothing below is ever written."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from agent_core.tools import ToolContext, execute, target_sha256
from agent_core.tools.search_index import SearchIndex, forget_view, index_file_for
from tests.workspaces import write


@pytest.fixture
def layers(tmp_path: Path) -> tuple[Path, Path]:
    below, above = tmp_path / "real", tmp_path / "scratch"
    write(below / "a.md", "# A\n\nalpha bravo in the real workspace\n")
    write(below / "docs" / "b.md", "# B\n\ncharlie delta\n")
    (below / "docs" / "link.md").symlink_to(below / "a.md")
    above.mkdir()
    return below, above


def run(tool: str, data: dict[str, object], below: Path, above: Path, tmp_path: Path) -> dict[str, object]:
    ctx = ToolContext(workspace=above, prior_results={}, read_through=below, index_dir=tmp_path / "index")
    return execute(tool, data, ctx)


def test_reads_fall_through_and_writes_land_above(layers: tuple[Path, Path], tmp_path: Path) -> None:
    below, above = layers
    before = sorted((p.name, p.stat().st_mtime_ns) for p in below.rglob("*"))
    assert "alpha bravo" in str(run("read_file", {"path": "a.md"}, below, above, tmp_path)["content"])
    assert run("read_file", {"path": "docs/link.md"}, below, above, tmp_path)["success"] is False  # links: never

    new = run("write_file", {"path": "docs/c.md", "content": "echo foxtrot"}, below, above, tmp_path)
    assert new["created"] is True and (above / "docs" / "c.md").read_text() == "echo foxtrot"
    sha_below = hashlib.sha256((below / "a.md").read_bytes()).hexdigest()
    assert target_sha256("write_file", {"path": "a.md"}, above, below) == sha_below
    over = run("write_file", {"path": "a.md", "content": "replaced"}, below, above, tmp_path)
    assert over["created"] is False and (above / "a.md").read_text() == "replaced"
    assert run("read_file", {"path": "a.md"}, below, above, tmp_path)["content"] == "replaced"  # above hides below
    assert sorted((p.name, p.stat().st_mtime_ns) for p in below.rglob("*")) == before


def test_listing_and_search_see_both_layers_and_leave_the_real_index_alone(
    layers: tuple[Path, Path], tmp_path: Path
) -> None:
    below, above = layers
    real = ToolContext(workspace=below, prior_results={}, index_dir=tmp_path / "index")
    assert execute("web_search", {"query": "charlie"}, real)["results"][0]["path"] == "docs/b.md"
    run("write_file", {"path": "docs/c.md", "content": "# C\n\ncharlie golf\n"}, below, above, tmp_path)

    listed = run("list_files", {}, below, above, tmp_path)
    assert [f["path"] for f in listed["files"]] == ["a.md", "docs/b.md", "docs/c.md"]  # type: ignore[index]
    found = run("web_search", {"query": "charlie"}, below, above, tmp_path)
    assert {r["path"] for r in found["results"]} == {"docs/b.md", "docs/c.md"}  # type: ignore[union-attr]

    index = SearchIndex.open(index_file_for(tmp_path / "index", below))
    assert [h.path for h in index.search(["charlie"], 5)] == ["docs/b.md"]  # the real workspace's index
    index.close()
    assert len(list((tmp_path / "index").glob("*.sqlite3"))) == 2  # the view's own, seeded from it
    forget_view(tmp_path / "index", above, below)  # what the what-if does when its scratch layer goes
    assert [p.name for p in (tmp_path / "index").glob("*.sqlite3")] == [index_file_for(tmp_path / "index", below).name]
