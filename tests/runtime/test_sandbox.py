"""The sandbox's lexical checks and link-refusing openers, plus the hostile workspace the guard and executor share."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agent_core.tools import sandbox
from agent_core.tools.sandbox import SandboxError

OUTSIDE_TEXT = "outside secret: do not read\n"


@dataclass(frozen=True)
class Hostile:
    """One hostile step: what the guard must answer (rule) and what the executor's error must say."""

    name: str
    tool: str
    input: dict[str, Any]
    rule: str
    error: str


@dataclass(frozen=True)
class HostileWorkspace:
    root: Path
    workspace: Path
    sibling: Path
    outside: Path
    database: Path


def make_hostile_workspace(tmp_path: Path) -> HostileWorkspace:
    """ws/ with links leading out, a sibling ws-evil/ whose name starts like it, and a database file inside."""
    workspace, sibling, outside = tmp_path / "ws", tmp_path / "ws-evil", tmp_path / "outside"
    for folder in (workspace, sibling, outside):
        folder.mkdir()
    (outside / "secret.txt").write_text(OUTSIDE_TEXT)
    (sibling / "f.txt").write_text(OUTSIDE_TEXT)
    (workspace / "notes.md").write_text("# Notes\n\nThe workspace is the only folder file tools may touch.\n")
    (workspace / "escape_link").symlink_to(outside / "secret.txt")
    (workspace / "dir_link").symlink_to(sibling, target_is_directory=True)
    os.link(outside / "secret.txt", workspace / "hard.txt")
    database = workspace / "runs.data"
    database.write_bytes(b"SQLite format 3\x00")
    return HostileWorkspace(tmp_path, workspace, sibling, outside, database)


def hostile_steps(h: HostileWorkspace) -> list[Hostile]:
    big = "x" * 100_001
    return [
        Hostile("traversal", "read_file", {"path": "../outside/secret.txt"}, "workspace_paths", "climbs out"),
        Hostile("nested traversal", "read_file", {"path": "notes/../../outside/secret.txt"}, "workspace_paths", ".."),
        Hostile("absolute path", "read_file", {"path": str(h.outside / "secret.txt")}, "workspace_paths", "absolute"),
        Hostile("absolute sibling", "read_file", {"path": str(h.sibling / "f.txt")}, "workspace_paths", "absolute"),
        Hostile("sibling traversal", "read_file", {"path": "../ws-evil/f.txt"}, "workspace_paths", "climbs out"),
        Hostile("drive letter", "read_file", {"path": "C:\\Windows\\win.ini"}, "workspace_paths", "absolute"),
        Hostile("home folder", "read_file", {"path": "~/notes.md"}, "workspace_paths", "~"),
        Hostile("symlink escape", "read_file", {"path": "escape_link"}, "workspace_paths", "symbolic link"),
        Hostile("symlink to sibling", "read_file", {"path": "dir_link/f.txt"}, "workspace_paths", "link"),
        Hostile("hard link escape", "read_file", {"path": "hard.txt"}, "workspace_paths", "hard link"),
        Hostile("NUL", "read_file", {"path": "notes.md\x00.txt"}, "workspace_paths", "U+0000"),
        Hostile("newline", "read_file", {"path": "notes\n.md"}, "workspace_paths", "U+000A"),
        Hostile("bidi override", "read_file", {"path": "txt.\u202emd"}, "workspace_paths", "U+202E"),
        Hostile(".env", "read_file", {"path": ".env"}, "secret_names", "protected name"),
        Hostile("nested .env", "read_file", {"path": "app/.env.local"}, "secret_names", "protected name"),
        Hostile("pem", "read_file", {"path": "certs/server.PEM"}, "secret_names", "protected name"),
        Hostile("private key", "read_file", {"path": "keys/id_rsa"}, "secret_names", "protected name"),
        Hostile("event database", "read_file", {"path": "runs.data"}, "event_database", "event database"),
        Hostile("database journal", "write_file", {"path": "runs.data-wal", "content": "x"}, "event_database", "event"),
        Hostile("oversized write", "write_file", {"path": "big.txt", "content": big}, "write_size_cap", "limit"),
        Hostile("unknown tool", "shell", {"cmd": "rm -rf /"}, "known_tools", "tool 'shell'"),
        Hostile("missing field", "read_file", {}, "input_schema", "path"),
        Hostile("missing content", "write_file", {"path": "a.md"}, "input_schema", "content"),
        Hostile(
            "write through symlink", "write_file", {"path": "escape_link", "content": "x"}, "workspace_paths", "link"
        ),
        Hostile(
            "write into sibling", "write_file", {"path": "dir_link/new.txt", "content": "x"}, "workspace_paths", "link"
        ),
        Hostile(
            "write to hard link", "write_file", {"path": "hard.txt", "content": "x"}, "workspace_paths", "hard link"
        ),
        Hostile("write traversal", "write_file", {"path": "../x", "content": "x"}, "workspace_paths", "climbs out"),
    ]


HOSTILE_NAMES = [c.name for c in hostile_steps(HostileWorkspace(*[Path("/unused")] * 5))]


def hostile_case(h: HostileWorkspace, name: str) -> Hostile:
    """The named case with its paths under this test's workspace."""
    return next(c for c in hostile_steps(h) if c.name == name)


def outside_untouched(h: HostileWorkspace) -> bool:
    return (
        (h.outside / "secret.txt").read_text() == OUTSIDE_TEXT
        and sorted(p.name for p in h.sibling.iterdir()) == ["f.txt"]
        and sorted(p.name for p in h.outside.iterdir()) == ["secret.txt"]
        and not (h.root / "x").exists()
    )


# --- lexical checks --------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["notes.md", "a/b/c.txt", "./a.md", "a//b.md", "ünïcode/文件.md"])
def test_clean_relative_paths_pass(path: str) -> None:
    assert sandbox.check_relative(path) == PurePosixPath(path)


@pytest.mark.parametrize(
    ("path", "fragment"),
    [
        ("", "empty"),
        ("   ", "empty"),
        (".", "workspace itself"),
        ("/etc/passwd", "absolute"),
        ("a/../../b", ".."),
        ("a\\b", "backslash"),
        ("a\tb", "U+0009"),
        ("x" * 1025, "limit"),
        ("a/" + "y" * 256, "limit"),
        (None, "string"),
        (["a"], "string"),
    ],
)
def test_malformed_paths_are_refused(path: object, fragment: str) -> None:
    with pytest.raises(SandboxError) as caught:
        sandbox.check_relative(path)
    assert fragment in str(caught.value)


def test_dot_folders_are_refused_anywhere_in_the_path() -> None:
    with pytest.raises(SandboxError, match="dot-file"):
        sandbox.check_name(PurePosixPath("docs/.git/config"))


def test_containment_is_component_wise_not_a_string_prefix(tmp_path: Path) -> None:
    assert sandbox.is_inside(tmp_path / "ws", tmp_path / "ws" / "a")
    assert not sandbox.is_inside(tmp_path / "ws", tmp_path / "ws-evil" / "a")
    assert not sandbox.is_inside(tmp_path / "ws", tmp_path)


def test_database_path_from_url(tmp_path: Path) -> None:
    assert sandbox.database_path_from_url(f"sqlite:///{tmp_path}/e.db") == tmp_path / "e.db"
    assert sandbox.database_path_from_url("sqlite://") is None
    assert sandbox.database_path_from_url("postgresql+psycopg://u@h/db") is None
    assert sandbox.database_path_from_url("not a url") is None


# --- the openers -----------------------------------------------------------------------------


def test_read_caps_content_but_hashes_the_whole_file(tmp_path: Path) -> None:
    (tmp_path / "big.txt").write_bytes(b"a" * 1000)
    got = sandbox.read_file(tmp_path, PurePosixPath("big.txt"), None, max_bytes=10)
    assert (got.data, got.size, got.truncated) == (b"a" * 10, 1000, True)
    assert got.sha256 == sandbox.file_sha256(tmp_path, PurePosixPath("big.txt"), None)


def test_write_is_atomic_creates_folders_and_leaves_no_temp_file(tmp_path: Path) -> None:
    assert sandbox.write_file(tmp_path, PurePosixPath("a/b/out.md"), b"one", None) is True
    assert sandbox.write_file(tmp_path, PurePosixPath("a/b/out.md"), b"two", None) is False
    assert (tmp_path / "a/b/out.md").read_bytes() == b"two"
    assert sorted(p.name for p in (tmp_path / "a/b").iterdir()) == ["out.md"]


def test_missing_file_has_no_hash(tmp_path: Path) -> None:
    assert sandbox.file_sha256(tmp_path, PurePosixPath("nope/none.md"), None) is None


def test_openers_refuse_a_parent_folder_swapped_for_a_link_after_the_check(tmp_path: Path) -> None:
    h = make_hostile_workspace(tmp_path)
    (h.workspace / "sub").mkdir()
    rel = PurePosixPath("sub/report.md")
    assert sandbox.inspect_target(h.workspace, rel, None).exists is False
    (h.workspace / "sub").rmdir()
    (h.workspace / "sub").symlink_to(h.outside, target_is_directory=True)  # the swap between approval and execution
    with pytest.raises(SandboxError, match="link"):
        sandbox.write_file(h.workspace, rel, b"pwned", None)
    with pytest.raises(SandboxError, match="link"):
        sandbox.read_file(h.workspace, PurePosixPath("sub/secret.txt"), None, 100)
    assert outside_untouched(h)


def test_openers_refuse_the_database_by_identity_even_under_another_name(tmp_path: Path) -> None:
    h = make_hostile_workspace(tmp_path)
    os.rename(h.database, h.workspace / "renamed.bin")
    moved = h.workspace / "renamed.bin"
    with pytest.raises(SandboxError, match="event database"):
        sandbox.read_file(h.workspace, PurePosixPath("renamed.bin"), moved, 100)


def test_a_fifo_is_not_a_regular_file(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "pipe.txt")
    with pytest.raises(SandboxError, match="not a regular file"):
        sandbox.read_file(tmp_path, PurePosixPath("pipe.txt"), None, 100)
    with pytest.raises(SandboxError, match="not a regular file"):
        sandbox.inspect_target(tmp_path, PurePosixPath("pipe.txt"), None)


def test_a_missing_workspace_is_reported(tmp_path: Path) -> None:
    with pytest.raises(SandboxError, match="AGENT_WORKSPACE"):
        sandbox.inspect_target(tmp_path / "nope", PurePosixPath("a.md"), None)


def _answer(check: Any, *args: Any) -> tuple[str, str]:
    try:
        return "ok", str(check(*args))
    except SandboxError as error:
        return "refused", str(error)


@settings(max_examples=300, deadline=None)
@given(path=st.text(max_size=40) | st.sampled_from(["notes.txt", "a/../b", "/etc/passwd", ".env", "~/x", "a\\b"]))
def test_remembered_path_checks_answer_as_the_checks_themselves_every_time(path: str) -> None:
    """check_relative and the protected-name test keep answers for paths asked again; the answers are the
    uncached functions' own, a refusal included, on every ask."""
    uncached = _answer(sandbox._checked_relative.__wrapped__, path)
    assert _answer(sandbox.check_relative, path) == uncached
    assert _answer(sandbox.check_relative, path) == uncached
    patterns = tuple(sandbox.DEFAULT_SECRET_PATTERNS)
    for name in (path.lower(), "id_rsa", ".env", "notes.txt"):
        assert sandbox._protected_by(name, patterns) == sandbox._protected_by.__wrapped__(name, patterns)
