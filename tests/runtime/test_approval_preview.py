"""What approving a held write shows: the exact content and a diff against the file now, read through the
sandbox; any path or content an LLM could put in a held step gives a preview or a one-line problem."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from agent_core.approval_preview import write_preview


def test_a_new_file_an_edit_and_an_equal_file(tmp_path: Path) -> None:
    (tmp_path / "notes.md").write_text("one\ntwo\n", encoding="utf-8")
    new = write_preview("write_file", {"path": "reports/a.md", "content": "# A\n"}, tmp_path, None)
    assert new is not None and (new.new_file, new.content, new.diff, new.problem) == (True, "# A\n", "", "")
    edit = write_preview("write_file", {"path": "notes.md", "content": "one\nthree"}, tmp_path, None)
    assert edit is not None and not edit.new_file
    assert edit.diff.splitlines() == [
        "--- notes.md (now)",
        "+++ notes.md (after the write)",
        "@@ -1,2 +1,2 @@",
        " one",
        "-two",
        "+three",
    ]
    same = write_preview("write_file", {"path": "notes.md", "content": "one\ntwo\n"}, tmp_path, None)
    assert same is not None and same.unchanged and same.diff == ""
    assert write_preview("web_search", {"query": "x"}, tmp_path, None) is None


def test_paths_the_sandbox_refuses_are_a_problem_line_never_a_read(tmp_path: Path) -> None:
    workspace = tmp_path / "ws"
    workspace.mkdir()
    (tmp_path / "secret.txt").write_text("outside", encoding="utf-8")
    (workspace / "link.md").symlink_to(tmp_path / "secret.txt")
    for path in ("../secret.txt", "/etc/passwd", "link.md", ".env"):
        preview = write_preview("write_file", {"path": path, "content": "x"}, workspace, None)
        assert preview is not None and "outside" not in preview.diff
        assert preview.problem.startswith("the current file cannot be read") or preview.new_file, path
    binary = workspace / "b.md"
    binary.write_bytes(b"\x00\x01\x02" * 100)
    assert "binary" in write_preview("write_file", {"path": "b.md", "content": "x"}, workspace, None).problem  # type: ignore[union-attr]


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    path=st.one_of(st.text(max_size=80), st.integers(), st.none(), st.lists(st.text(max_size=3), max_size=2)),
    content=st.one_of(st.text(max_size=300), st.none(), st.integers()),
)
@example(path="notes.md", content="new\n")
@example(path="a/../../x", content="x")
def test_any_held_input_gives_a_preview_without_raising(tmp_path: Path, path: Any, content: Any) -> None:
    (tmp_path / "notes.md").write_text("old\n", encoding="utf-8")
    preview = write_preview("write_file", {"path": path, "content": content}, tmp_path, None)
    assert preview is not None
    assert preview.content == (content if isinstance(content, str) else "")
    assert "\n" not in preview.problem
    if preview.diff:
        assert preview.diff.startswith("--- ")
