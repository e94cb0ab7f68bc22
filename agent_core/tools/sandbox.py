"""The workspace sandbox: which relative paths file tools may name, and how files are opened.

Two layers share this module. The policy guard calls the *checks* (lexical rules, then a walk of
what exists on disk) to decide before anything runs; the tool executor calls the *openers*, which
walk the path again one component at a time with ``O_NOFOLLOW`` relative to the workspace's
directory descriptor, because the disk can change between approval and execution. Links are
never followed, hard-linked files are refused (their other name may live outside), and the event
database is never a target.
"""

from __future__ import annotations

import contextlib
import errno
import fnmatch
import functools
import hashlib
import os
import re
import secrets
import stat
import unicodedata
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from agent_core.config import sqlite_file
from agent_core.errors import ConfigError, ToolError

MAX_PATH_CHARS = 1024
MAX_COMPONENT_CHARS = 255
DATABASE_SUFFIXES = ("", "-wal", "-shm", "-journal")
DEFAULT_SECRET_PATTERNS: tuple[str, ...] = (
    ".env",
    ".env.*",
    "*.env",
    "*.pem",
    "*.key",
    "*.p12",
    "*.pfx",
    "*.jks",
    "*.keystore",
    "*.kdbx",
    "id_rsa*",
    "id_dsa*",
    "id_ecdsa*",
    "id_ed25519*",
    "credentials",
    "credentials.*",
    "secrets.*",
    "*.secret",
    ".netrc",
    ".pgpass",
    ".htpasswd",
)
_DRIVE = re.compile(r"^[A-Za-z]:")
_READ_CHUNK = 1 << 16


class SandboxError(ToolError):
    """A path names something outside the workspace, a link, a secret, or the event database."""


@dataclass(frozen=True, slots=True)
class Target:
    """What a relative path points at right now (the guard's view; the executor re-checks)."""

    rel: PurePosixPath
    exists: bool
    size: int | None = None


@dataclass(frozen=True, slots=True)
class ReadResult:
    """What ``read_file`` read: at most ``max_bytes`` of data, with the whole file's size and sha256."""

    data: bytes
    size: int
    sha256: str
    truncated: bool


# --- lexical checks --------------------------------------------------------------------------


def check_relative(path: object) -> PurePosixPath:
    """The path as a clean relative POSIX path, or ``SandboxError`` saying what is wrong with it.

    Refuses non-strings, empty paths, NUL and other control or format characters, absolute paths
    (POSIX, drive letters, UNC), backslashes, ``~``, ``..`` anywhere, and over-long names.
    """
    if not isinstance(path, str):
        raise SandboxError(f"path must be a string, got {type(path).__name__}")
    return _checked_relative(path)


@functools.lru_cache(maxsize=1024)
def _checked_relative(path: str) -> PurePosixPath:
    """``check_relative`` of a string: a pure function of it, asked several times per step (each path rule of
    the guard, the tool), so kept for the last strings asked (a refusal is not kept: it raises again)."""
    if not path.strip():
        raise SandboxError("path is empty; name a file inside the workspace, e.g. 'notes/summary.md'")
    bad = next((ch for ch in path if unicodedata.category(ch) in ("Cc", "Cf")), None)
    if bad is not None:
        raise SandboxError(f"path {path!r} contains the control character U+{ord(bad):04X}; use plain characters")
    if len(path) > MAX_PATH_CHARS:
        raise SandboxError(f"path is {len(path)} characters long; the limit is {MAX_PATH_CHARS}")
    if path.startswith("/") or _DRIVE.match(path):
        raise SandboxError(f"path {path!r} is absolute; use a path relative to the workspace")
    if "\\" in path:
        raise SandboxError(f"path {path!r} contains a backslash; use '/' between folders")
    rel = PurePosixPath(path)
    if any(part == ".." for part in rel.parts):
        raise SandboxError(f"path {path!r} climbs out with '..'; name a file inside the workspace")
    if rel.parts and rel.parts[0].startswith("~"):
        raise SandboxError(f"path {path!r} starts with '~'; home folders are outside the workspace")
    if not rel.parts or rel == PurePosixPath("."):
        raise SandboxError(f"path {path!r} names the workspace itself; name a file inside it")
    long_part = next((part for part in rel.parts if len(part) > MAX_COMPONENT_CHARS), None)
    if long_part is not None:
        raise SandboxError(f"a path component is {len(long_part)} characters long; the limit is {MAX_COMPONENT_CHARS}")
    return rel


def check_name(rel: PurePosixPath, patterns: Sequence[str] = DEFAULT_SECRET_PATTERNS) -> None:
    """Refuse dot-files and dot-folders anywhere in the path, and secret-like names (case-insensitive)."""
    globs = tuple(patterns)
    for part in rel.parts:
        pattern = _protected_by(part.lower(), globs)
        if pattern is not None:
            raise SandboxError(
                f"{str(rel)!r}: {part!r} is a protected name (matches {pattern!r}: secrets, keys, databases)"
            )
        if part.startswith("."):
            raise SandboxError(f"{str(rel)!r}: {part!r} is a dot-file or dot-folder; file tools skip hidden files")


@functools.lru_cache(maxsize=4096)
def _protected_by(lowered_name: str, patterns: tuple[str, ...]) -> str | None:
    """The first of ``patterns`` (case-insensitive globs) a lowered file name matches, or None; cached, since
    every path rule, listing and tool asks again for the same names."""
    return next((p for p in patterns if fnmatch.fnmatchcase(lowered_name, p.lower())), None)


def is_inside(root: Path, candidate: Path) -> bool:
    """Component-wise containment: ``/tmp/ws-evil`` is not inside ``/tmp/ws`` (a string prefix would say it is)."""
    return candidate == root or candidate.is_relative_to(root)


def database_path_from_url(database_url: str) -> Path | None:
    """The SQLite file behind a URL (real, absolute), or None for PostgreSQL, in-memory or invalid URLs.

    Every SQLite URL form is resolved as SQLite resolves it (``config.sqlite_file``): a
    ``file:...?uri=true`` URL names the same file as the plain form, so the guard sees it.
    """
    try:
        return sqlite_file(database_url)
    except ConfigError:
        return None  # such a URL opens no store, so no run reaches the guard with it


def is_database_path(candidate: Path, database_path: Path | None) -> bool:
    """True when ``candidate`` is the event database or one of its -wal/-shm/-journal companions."""
    if database_path is None:
        return False
    names = _database_files(database_path)
    return str(candidate) in names or os.path.realpath(candidate) in names


@functools.lru_cache(maxsize=64)
def _database_files(database_path: Path) -> frozenset[str]:
    """The database's file names, as configured and resolved, with their companions.

    Resolved once per path: the guard asks for every path it checks and a listing for every file,
    and the store keeps the file it opened at that real path for as long as the process runs.
    """
    bases = {str(database_path), os.path.realpath(database_path)}
    return frozenset(base + suffix for base in bases for suffix in DATABASE_SUFFIXES)


# --- the guard's walk ------------------------------------------------------------------------


def workspace_root(workspace: Path) -> Path:
    """The workspace's real path; ``SandboxError`` when it is missing or not a folder."""
    root = Path(os.path.realpath(workspace))
    if not root.is_dir():
        raise SandboxError(f"the workspace {str(workspace)!r} is not a folder; create it or set AGENT_WORKSPACE")
    return root


def inspect_target(workspace: Path, rel: PurePosixPath, database_path: Path | None) -> Target:
    """Walk the existing part of ``rel`` with ``lstat``: refuse links, non-folders on the way, odd files at the end."""
    root = workspace_root(workspace)
    current = root
    for index, part in enumerate(rel.parts):
        current = current / part
        shown = "/".join(rel.parts[: index + 1])
        try:
            st = os.lstat(current)
        except FileNotFoundError:
            break
        if stat.S_ISLNK(st.st_mode):
            raise SandboxError(f"{shown!r} is a symbolic link; file tools never follow links")
        last = index == len(rel.parts) - 1
        if not last and not stat.S_ISDIR(st.st_mode):
            raise SandboxError(f"{shown!r} is not a folder, so {str(rel)!r} cannot exist")
        if last:
            _check_file_stat(st, shown)
            if is_database_path(current, database_path):
                raise SandboxError(f"{shown!r} is the event database; no tool may touch it")
            return Target(rel, exists=True, size=st.st_size)
    full = root / rel
    if not is_inside(root, Path(os.path.realpath(full))):
        raise SandboxError(f"{str(rel)!r} resolves outside the workspace")
    if is_database_path(full, database_path):
        raise SandboxError(f"{str(rel)!r} is the event database; no tool may touch it")
    return Target(rel, exists=False)


def _check_file_stat(st: os.stat_result, shown: str) -> None:
    if stat.S_ISDIR(st.st_mode):
        raise SandboxError(f"{shown!r} is a folder; name a file")
    if not stat.S_ISREG(st.st_mode):
        raise SandboxError(f"{shown!r} is not a regular file (device, socket or pipe); file tools refuse it")
    if st.st_nlink > 1:
        raise SandboxError(
            f"{shown!r} is a hard link ({st.st_nlink} names); its other name may be outside the workspace"
        )


# --- the executor's openers ------------------------------------------------------------------


def _is_database_fd(st: os.stat_result, database_path: Path | None) -> bool:
    if database_path is None:
        return False
    for suffix in DATABASE_SUFFIXES:
        with contextlib.suppress(OSError):
            db = os.stat(str(database_path) + suffix)
            if (db.st_dev, db.st_ino) == (st.st_dev, st.st_ino):
                return True
    return False


@contextlib.contextmanager
def _parent_fd(workspace: Path, rel: PurePosixPath, create: bool) -> Iterator[int]:
    """A descriptor of ``rel``'s folder reached without following any link (created inside the workspace if asked)."""
    fd = os.open(workspace_root(workspace), os.O_RDONLY | os.O_DIRECTORY)
    try:
        for index, part in enumerate(rel.parts[:-1]):
            shown = "/".join(rel.parts[: index + 1])
            try:
                next_fd = os.open(part, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW, dir_fd=fd)
            except FileNotFoundError:
                if not create:
                    raise SandboxError(f"the folder {shown!r} does not exist") from None
                os.mkdir(part, 0o755, dir_fd=fd)
                next_fd = os.open(part, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW, dir_fd=fd)
            except OSError as e:
                if e.errno in (errno.ELOOP, errno.ENOTDIR):
                    raise SandboxError(f"{shown!r} is a link or not a folder; file tools never follow links") from None
                raise
            os.close(fd)
            fd = next_fd
        yield fd
    finally:
        os.close(fd)


@contextlib.contextmanager
def open_file(
    workspace: Path, rel: PurePosixPath, database_path: Path | None, folder: int | None = None
) -> Iterator[tuple[int, os.stat_result]]:
    """A read-only descriptor (and its ``fstat``) of a regular, singly-linked file, reached without following
    links and never the event database: what ``read_file`` and the search index read through.

    ``folder``: a descriptor of ``rel``'s folder from ``open_folder`` (reading many files of one folder).
    """
    if folder is None:
        with _parent_fd(workspace, rel, create=False) as parent, open_file(workspace, rel, database_path, parent) as it:
            yield it
        return
    try:
        fd = os.open(rel.name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK, dir_fd=folder)
    except FileNotFoundError:
        raise SandboxError(f"{str(rel)!r} does not exist") from None
    except OSError as e:
        if e.errno == errno.ELOOP:
            raise SandboxError(f"{str(rel)!r} is a symbolic link; file tools never follow links") from None
        raise
    try:
        st = os.fstat(fd)
        _check_file_stat(st, str(rel))
        if _is_database_fd(st, database_path):
            raise SandboxError(f"{str(rel)!r} is the event database; no tool may touch it")
        yield fd, st
    finally:
        os.close(fd)


@contextlib.contextmanager
def open_folder(workspace: Path, rel: PurePosixPath) -> Iterator[int]:
    """A descriptor of the folder ``rel`` (``.`` for the workspace) reached without following any link."""
    with _parent_fd(workspace, rel / "_", create=False) as fd:
        yield fd


def read_file(workspace: Path, rel: PurePosixPath, database_path: Path | None, max_bytes: int) -> ReadResult:
    """Read at most ``max_bytes`` of a regular, singly-linked file; the sha256 covers the whole file."""
    with open_file(workspace, rel, database_path) as (fd, _st):
        digest = hashlib.sha256()
        kept = bytearray()
        size = 0
        while chunk := os.read(fd, _READ_CHUNK):
            digest.update(chunk)
            size += len(chunk)
            if len(kept) < max_bytes:
                kept += chunk[: max_bytes - len(kept)]
    return ReadResult(bytes(kept), size, digest.hexdigest(), size > len(kept))


def file_sha256(workspace: Path, rel: PurePosixPath, database_path: Path | None) -> str | None:
    """The file's current sha256, or None when it does not exist (a missing folder counts as missing)."""
    try:
        return read_file(workspace, rel, database_path, max_bytes=0).sha256
    except SandboxError:
        if inspect_target(workspace, rel, database_path).exists:
            raise
        return None


def write_file(workspace: Path, rel: PurePosixPath, data: bytes, database_path: Path | None) -> bool:
    """Write atomically (temp file + rename in the same folder); returns True when the file was created."""
    with _parent_fd(workspace, rel, create=True) as parent:
        created = True
        try:
            st = os.stat(rel.name, dir_fd=parent, follow_symlinks=False)
        except FileNotFoundError:
            pass
        else:
            if stat.S_ISLNK(st.st_mode):
                raise SandboxError(f"{str(rel)!r} is a symbolic link; file tools never follow links")
            _check_file_stat(st, str(rel))
            if _is_database_fd(st, database_path):
                raise SandboxError(f"{str(rel)!r} is the event database; no tool may touch it")
            created = False
        tmp = f".{rel.name[:200]}.{secrets.token_hex(6)}.tmp"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o644, dir_fd=parent)
        try:
            try:
                view = memoryview(data)
                while view:
                    view = view[os.write(fd, view) :]
                os.fsync(fd)
            finally:
                os.close(fd)
            os.replace(tmp, rel.name, src_dir_fd=parent, dst_dir_fd=parent)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp, dir_fd=parent)
            raise
        os.fsync(parent)
    return created
