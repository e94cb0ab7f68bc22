"""The offline search's index: SQLite FTS5 (BM25 built in), kept beside the event store, updated where files changed.

One SQLite file per workspace under ``index_dir`` (see ``config.Settings.search_index_dir``: beside
a SQLite event store, or a cache folder derived from ``DATABASE_URL``; never inside the workspace).
Each search first brings the index up to date with the workspace: a file whose size and mtime
are those recorded is skipped without being opened, unless its mtime was too recent to trust
(then its hash decides, as for a file only touched); a new or changed file is re-indexed, a
vanished one removed. Files are read through the sandbox in chunks and their paragraphs streamed
into FTS5, so memory stays bounded by a chunk, not by the workspace.

Rankings are a function of the indexed text alone (FTS5's BM25 statistics are exact counts), and
ties are broken by path and paragraph order, so the same workspace gives the same results however
the index got there: replays compare recorded observations.

The FTS table is contentless (the index only); each file's paragraphs are kept zlib-compressed
beside it, for snippets and to delete the file's rows again (FTS5 needs the indexed text for that).
"""

from __future__ import annotations

import bisect
import contextlib
import hashlib
import os
import re
import sqlite3
import time
import zlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any, NamedTuple

from agent_core.tools import sandbox
from agent_core.tools.decode import SNIFF_BYTES, TextDecoder, sniff
from agent_core.tools.text import STOPWORDS
from agent_core.tools.walk import Entry, walk

SCHEMA = "1"
"""Bump when paragraphs, the tokenizer or the stored columns change: an index of another schema is rebuilt."""
DOCUMENT_SUFFIXES = (".md", ".markdown", ".txt", ".text", ".rst", ".adoc", ".org")
"""What the offline search indexes: these documents, and files without a suffix (README, LICENSE, NOTES)."""
TOKENIZER = "porter unicode61 remove_diacritics 2"
MAX_PARAGRAPH_CHARS = 20_000
"""A longer block (a log without blank lines) is cut at its last newline before this many characters."""
MAX_QUERY_TERMS = 32
SNIPPET_CHARS = 300
_READ_CHUNK = 1 << 20
_RACY_NS = 2_000_000_000  # an mtime this close to when the file was checked may hide a same-size edit
_BATCH_FILES = 500
_BATCH_BYTES = 32 << 20
_BUSY_TIMEOUT_MS = 60_000
_BLANK = re.compile(r"\n\s*\n")
_WORD = re.compile(r"[^\W_]+")
_HAS_WORD = re.compile(r"[^\W_]")


def is_document(rel: str) -> bool:
    """True for the files the offline search indexes (by name: the bytes decide later whether it is text)."""
    name = rel.rsplit("/", 1)[-1].lower()
    return name.endswith(DOCUMENT_SUFFIXES) or "." not in name.lstrip(".")


def query_terms(query: str) -> list[str]:
    """The query's words for FTS5: lower-cased, stop words dropped, each once, at most ``MAX_QUERY_TERMS``."""
    words = (w for w in _WORD.findall(query.lower()) if w not in STOPWORDS)
    return list(dict.fromkeys(words))[:MAX_QUERY_TERMS]


def index_file_for(index_dir: Path, workspace: Path, read_through: Path | None = None) -> Path:
    """The index file of a workspace (and of its read-through layer, for a what-if's scratch view)."""
    key = os.path.realpath(workspace) + ("\0" + os.path.realpath(read_through) if read_through else "")
    return index_dir / f"search-{hashlib.sha256(key.encode('utf-8', 'surrogateescape')).hexdigest()[:20]}.sqlite3"


def view_index_file(
    index_dir: Path | None, workspace: Path, read_through: Path | None, database_path: Path | None
) -> Path | None:
    """The index file for a view of the workspace; None (an index in memory) without an index folder, or when
    that folder is inside the workspace (an index is never written there).

    A what-if's scratch layer that holds no documents shares the real workspace's index; once it
    holds some, it gets its own, started as a copy of the real one, so only its own files are
    indexed again (copy-on-write, like its files).
    """
    if index_dir is None:
        return None
    folder = Path(os.path.realpath(index_dir))
    roots = [Path(os.path.realpath(p)) for p in (workspace, read_through) if p is not None]
    if any(sandbox.is_inside(root, folder) for root in roots):
        return None
    if read_through is None or not any(is_document(e.rel) for e in walk(workspace, database_path)):
        return index_file_for(folder, read_through or workspace)
    view = index_file_for(folder, workspace, read_through)
    if not view.exists():
        _seed(index_file_for(folder, read_through), view)
    return view


def forget_view(index_dir: Path, workspace: Path, read_through: Path) -> None:
    """Remove a what-if's own index, with its scratch layer (it is a copy that nothing else reads)."""
    view = index_file_for(Path(os.path.realpath(index_dir)), workspace, read_through)
    for suffix in ("", "-wal", "-shm", "-journal"):
        with contextlib.suppress(OSError):
            os.unlink(str(view) + suffix)


def _seed(source: Path, target: Path) -> None:
    if not source.exists():
        return
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        with contextlib.closing(sqlite3.connect(source)) as src, contextlib.closing(sqlite3.connect(target)) as dst:
            src.backup(dst)
    except (sqlite3.Error, OSError):
        target.unlink(missing_ok=True)


# --- paragraphs --------------------------------------------------------------------------------


class Paragraphs:
    """Blank-line separated paragraphs of text fed in pieces; a heading-only block is joined to the next one.

    The result does not depend on where the pieces were cut, only on the text.
    """

    def __init__(self) -> None:
        self._carry = ""
        self._pending = ""
        self.title: str | None = None
        """The file's first Markdown heading, once seen."""

    def feed(self, text: str) -> list[str]:
        """The paragraphs completed by this chunk of text (the rest waits for the next chunk)."""
        blocks = _BLANK.split(self._carry + text.replace("\x00", " "))
        self._carry = blocks.pop()
        out: list[str] = []
        for block in blocks:
            self._block(block, out)
        while len(self._carry) > MAX_PARAGRAPH_CHARS:  # the same cut the block would get once complete
            head, self._carry = _cut(self._carry)
            self._lines(head, out)
        return out

    def finish(self) -> list[str]:
        """The paragraphs left when the file ends."""
        out: list[str] = []
        self._block(self._carry, out)
        self._carry = ""
        if self._pending:
            out.append(self._pending)
            self._pending = ""
        return out

    def _block(self, block: str, out: list[str]) -> None:
        while len(block) > MAX_PARAGRAPH_CHARS:
            head, block = _cut(block)
            self._lines(head, out)
        self._lines(block, out)

    def _lines(self, block: str, out: list[str]) -> None:
        lines = [line.strip() for line in block.strip().splitlines() if line.strip()]
        if self.title is None:
            self.title = next((line.lstrip("#").strip() for line in lines if line.startswith("#")), None) or None
        while lines and lines[0].startswith("#"):
            self._pending = f"{self._pending} {lines.pop(0).lstrip('#').strip()}".strip()
        if not lines:
            return
        joined = " ".join(lines)
        paragraph = f"{self._pending} — {joined}" if self._pending else joined
        self._pending = ""
        if _HAS_WORD.search(paragraph):
            out.append(paragraph)


def _cut(text: str) -> tuple[str, str]:
    at = text.rfind("\n", 0, MAX_PARAGRAPH_CHARS)
    at = at if at > 0 else MAX_PARAGRAPH_CHARS
    return text[:at], text[at:]


def snippet_of(paragraph: str) -> str:
    """A paragraph as a result shows it: whitespace folded, cut to SNIPPET_CHARS."""
    return " ".join(paragraph.split())[:SNIPPET_CHARS]


# --- what an update and a search report --------------------------------------------------------


@dataclass
class Census:
    """What a search covered, for the observation (``coverage``): counts, and the first few names per reason."""

    searched: int = 0
    truncated: list[str] = field(default_factory=list)
    skipped: dict[str, list[str]] = field(default_factory=dict)
    """reason -> paths: ``binary``, ``unreadable``, ``over_file_cap``, ``not_a_document``, ``output_folder``."""
    reindexed: int = 0
    removed: int = 0

    def skip(self, reason: str, rel: str) -> None:
        """Count a file left out of the search, and why."""
        self.skipped.setdefault(reason, []).append(rel)

    def document(self, examples: int = 3) -> dict[str, object]:
        """The coverage as the observation records it, with a few example names per reason."""
        return {
            "files_searched": self.searched,
            "files_truncated": len(self.truncated),
            "files_skipped": {reason: len(paths) for reason, paths in sorted(self.skipped.items())},
            "examples": {
                **({"truncated": self.truncated[:examples]} if self.truncated else {}),
                **{reason: paths[:examples] for reason, paths in sorted(self.skipped.items())},
            },
        }


@dataclass(frozen=True, slots=True)
class Hit:
    """One ranked paragraph: its file, title, snippet and BM25 score (higher is better)."""

    path: str
    title: str
    snippet: str
    score: float
    ordinal: int


class _Row(NamedTuple):
    size: int
    mtime_ns: int
    sha256: str
    state: str  # text | binary | unreadable
    detail: str
    truncated: bool
    cap: int
    checked_ns: int


# --- the index ---------------------------------------------------------------------------------


class SearchIndex:
    """One workspace's index. ``open`` it (a file path, or None for a throw-away index in memory), ``update``
    it from a walk, ``search`` it, ``close`` it."""

    def __init__(self, conn: sqlite3.Connection, location: str) -> None:
        self._conn = conn
        self.location = location
        """``memory``, or the index file's path."""
        self._folders = contextlib.ExitStack()
        self._open_folder: tuple[tuple[Path, str], int] | None = None

    @classmethod
    def open(cls, path: Path | None) -> SearchIndex:
        """The index at ``path`` (created, or rebuilt when of another schema or unreadable); in memory for None."""
        if path is None:
            return cls(_connect(":memory:"), "memory")
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            return cls(_connect(str(path)), str(path))
        except sqlite3.DatabaseError:
            for suffix in ("", "-wal", "-shm"):  # not an index any more: it is only a cache, start again
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(str(path) + suffix)
            return cls(_connect(str(path)), str(path))

    def close(self) -> None:
        """Close the index file."""
        self._conn.close()

    # --- updating ----------------------------------------------------------------------------

    def update(
        self,
        entries: Iterable[Entry],
        *,
        database_path: Path | None,
        max_files: int,
        max_file_bytes: int,
        outside: Callable[[str], str | None] = lambda rel: None,
    ) -> Census:
        """Bring the index in line with ``entries`` (a walk): what changed is re-indexed, what vanished removed.

        The first ``max_files`` documents in walk order are indexed, all of them whatever the
        search's scope. ``outside(rel)`` says whether a file is outside that scope: None when
        inside, else a reason the census counts it under (``""``: not counted at all).
        """
        census = Census()
        conn = self._conn
        conn.execute("BEGIN IMMEDIATE")
        try:
            known = {
                row[0]: row[1:]
                for row in conn.execute(
                    "SELECT path, size, mtime_ns, sha256, state, detail, truncated, cap, checked_ns FROM files"
                )
            }
            seen: set[str] = set()
            documents = 0
            batch_files = batch_bytes = 0
            for entry in entries:
                excluded = outside(entry.rel)
                scoped = excluded is None
                if excluded:
                    census.skip(excluded, entry.rel)
                if not is_document(entry.rel):
                    if scoped:
                        census.skip("not_a_document", entry.rel)
                    continue
                documents += 1
                if documents > max_files:
                    if scoped:
                        census.skip("over_file_cap", entry.rel)
                    continue
                seen.add(entry.rel)
                found = known.get(entry.rel)
                row = _Row(*found) if found is not None else None
                if row is None or not (
                    _trusted(row, entry, max_file_bytes) or self._fresh(row, entry, database_path, max_file_bytes)
                ):
                    row = self._index(entry, database_path, max_file_bytes)
                    census.reindexed += 1
                    batch_files += 1
                    batch_bytes += min(entry.size, max_file_bytes)
                if scoped:
                    _count(census, entry.rel, row)
                if batch_files >= _BATCH_FILES or batch_bytes >= _BATCH_BYTES:
                    conn.execute("COMMIT")
                    conn.execute("BEGIN IMMEDIATE")
                    batch_files = batch_bytes = 0
            for rel in sorted(set(known) - seen):
                self._remove(rel)
                census.removed += 1
            conn.execute("COMMIT")
        except BaseException:
            with contextlib.suppress(sqlite3.Error):
                conn.execute("ROLLBACK")
            raise
        finally:
            self._close_folder()
        return census

    def _fresh(self, row: _Row, entry: Entry, database_path: Path | None, max_file_bytes: int) -> bool:
        """For a file ``_trusted`` could not vouch for: True when its indexed text is still the file's (same hash),
        as for a file only touched, or modified so recently that its mtime proves nothing."""
        if row.size != entry.size or row.state == "unreadable" or not _same_cap(row, entry, max_file_bytes):
            return False
        try:  # a binary file is known by its first bytes (never read whole: it may be a video)
            digest = _prefix_sha256(
                entry, database_path, max_file_bytes if row.state == "text" else _head(max_file_bytes)
            )
        except (sandbox.SandboxError, OSError):
            return False
        if digest != row.sha256:
            return False
        self._conn.execute(
            "UPDATE files SET mtime_ns = ?, checked_ns = ? WHERE path = ?", (entry.mtime_ns, time.time_ns(), entry.rel)
        )
        return True

    def _index(self, entry: Entry, database_path: Path | None, max_file_bytes: int) -> _Row:
        conn = self._conn
        self._remove(entry.rel)
        checked_ns = time.time_ns()
        first = _next_row(conn)
        body = _Body()
        splitter = Paragraphs()
        digest = hashlib.sha256()
        state, detail, truncated, size = "text", "", False, entry.size

        def add(paragraphs: list[str]) -> None:
            if paragraphs:
                conn.executemany(
                    "INSERT INTO fts(rowid, body) VALUES (?, ?)",
                    ((first + body.count + i, p) for i, p in enumerate(paragraphs)),
                )
                body.add(paragraphs)

        try:
            with sandbox.open_file(entry.root, PurePosixPath(entry.rel), database_path, self._folder(entry)) as (
                fd,
                st,
            ):
                size = st.st_size
                head = _read_upto(fd, _head(max_file_bytes))
                sniffed = sniff(head, complete=len(head) >= size)
                if sniffed.encoding is None:
                    state, detail = "binary", sniffed.kind
                    digest.update(head)
                else:
                    detail = sniffed.encoding
                    decoder = TextDecoder(sniffed.encoding)
                    taken = len(head)
                    digest.update(head)
                    add(splitter.feed(decoder.decode(head)))
                    while taken < max_file_bytes and (chunk := os.read(fd, min(_READ_CHUNK, max_file_bytes - taken))):
                        taken += len(chunk)
                        digest.update(chunk)
                        add(splitter.feed(decoder.decode(chunk)))
                    truncated = size > taken
                    add(splitter.feed(decoder.decode(b"", final=not truncated)))
                    add(splitter.finish())
                    detail = decoder.encoding
        except (sandbox.SandboxError, OSError) as error:
            if body.count:  # a file that failed halfway: take back the rows it got (rare; no savepoint per file,
                # because releasing one makes FTS5 flush a segment per file, which was most of a cold build)
                conn.executemany(
                    "INSERT INTO fts(fts, rowid, body) VALUES ('delete', ?, ?)",
                    ((first + i, p) for i, p in enumerate(_unpack(body.packed()))),
                )
            state, detail, body = "unreadable", str(error)[:200], _Body()
        title = splitter.title or entry.rel.rsplit("/", 1)[-1]
        row = _Row(size, entry.mtime_ns, digest.hexdigest(), state, detail, truncated, max_file_bytes, checked_ns)
        conn.execute(
            "INSERT INTO files (path, size, mtime_ns, sha256, state, detail, truncated, cap, checked_ns, title, "
            "first_row, rows, body) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (entry.rel, *_row_values(row), title, first, body.count, body.packed()),
        )
        if body.count:
            conn.execute("UPDATE meta SET value = ? WHERE key = 'next_row'", (str(first + body.count),))
        return row

    def _folder(self, entry: Entry) -> int | None:
        """A descriptor of the entry's folder, kept open while the walk stays in it (one walk of the path per
        folder, not per file)."""
        key = (entry.root, entry.rel.rpartition("/")[0])
        if self._open_folder is not None and self._open_folder[0] == key:
            return self._open_folder[1]
        self._close_folder()
        try:
            fd = self._folders.enter_context(sandbox.open_folder(entry.root, PurePosixPath(key[1] or ".")))
        except (sandbox.SandboxError, OSError):
            return None  # open_file walks the path itself and says what is wrong
        self._open_folder = (key, fd)
        return fd

    def _close_folder(self) -> None:
        self._folders.close()
        self._open_folder = None

    def _remove(self, rel: str) -> None:
        found = self._conn.execute("SELECT first_row, rows, body FROM files WHERE path = ?", (rel,)).fetchone()
        if found is None:
            return
        first, count, body = found
        if count:
            paragraphs = _unpack(body)
            self._conn.executemany(
                "INSERT INTO fts(fts, rowid, body) VALUES ('delete', ?, ?)",
                ((first + i, p) for i, p in enumerate(paragraphs)),
            )
        self._conn.execute("DELETE FROM files WHERE path = ?", (rel,))

    # --- searching ---------------------------------------------------------------------------

    def search(
        self, terms: list[str], max_results: int, in_scope: Callable[[str], bool] = lambda rel: True
    ) -> list[Hit]:
        """The best ``max_results`` paragraphs for ``terms`` (any of them), best first; ties by path, then order."""
        if not terms:
            return []
        match = " OR ".join(f'"{term}"' for term in terms)
        owners = _Owners(self._conn)
        limit = max(4 * max_results, 50)
        while True:
            rows = self._conn.execute(
                "SELECT rowid, bm25(fts) FROM fts WHERE fts MATCH ? ORDER BY bm25(fts) LIMIT ?", (match, limit)
            ).fetchall()
            ranked: list[tuple[float, str, int, _File]] = []
            for rowid, rank in rows:
                owner = owners.of(rowid)
                if owner is not None and in_scope(owner.path):
                    ranked.append((-rank, owner.path, rowid - owner.first, owner))
            ranked.sort(key=lambda r: (-r[0], r[1], r[2]))
            # Rows not fetched yet score at most the last one fetched: stop once that is below the last one
            # kept, so nothing unfetched could rank above it or tie with it.
            if len(rows) < limit or (len(ranked) >= max_results and -rows[-1][1] < ranked[max_results - 1][0]):
                break
            limit *= 4
        return [
            Hit(path, owner.title, snippet_of(owners.paragraphs(owner)[ordinal]), round(score, 4), ordinal)
            for score, path, ordinal, owner in ranked[:max_results]
        ]


class _Body:
    """A file's paragraphs as stored: NUL-terminated, zlib-compressed (streamed once past a megabyte)."""

    def __init__(self) -> None:
        self.count = 0
        self._parts: list[bytes] = []
        self._pending = 0
        self._packer: Any = None
        self._packed: list[bytes] = []

    def add(self, paragraphs: list[str]) -> None:
        data = "".join(p + "\0" for p in paragraphs).encode("utf-8", "surrogatepass")
        self.count += len(paragraphs)
        self._parts.append(data)
        self._pending += len(data)
        if self._pending > 1 << 20:
            self._packer = self._packer or zlib.compressobj(1)
            self._packed.append(self._packer.compress(b"".join(self._parts)))
            self._parts, self._pending = [], 0

    def packed(self) -> bytes:
        """The compressed paragraphs so far (b"" for none); may be called again."""
        if not self.count:
            return b""
        rest = b"".join(self._parts)
        if self._packer is None:
            return zlib.compress(rest, 1)
        packer = self._packer.copy()
        return b"".join([*self._packed, packer.compress(rest), packer.flush()])


@dataclass(frozen=True, slots=True)
class _File:
    path: str
    title: str
    first: int
    rows: int


class _Owners:
    """Paragraph rowid -> its file, looked up once per file (a file's rows are one contiguous range)."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn
        self._firsts: list[int] = []
        self._files: dict[int, _File] = {}
        self._bodies: dict[int, list[str]] = {}

    def of(self, rowid: int) -> _File | None:
        at = bisect.bisect_right(self._firsts, rowid) - 1
        if at >= 0:
            known = self._files[self._firsts[at]]
            if rowid < known.first + known.rows:
                return known
        found = self._conn.execute(
            "SELECT path, title, first_row, rows FROM files WHERE first_row <= ? ORDER BY first_row DESC LIMIT 1",
            (rowid,),
        ).fetchone()
        if found is None or rowid >= found[2] + found[3]:
            return None
        owner = _File(*found)
        bisect.insort(self._firsts, owner.first)
        self._files[owner.first] = owner
        return owner

    def paragraphs(self, owner: _File) -> list[str]:
        if owner.first not in self._bodies:
            body = self._conn.execute("SELECT body FROM files WHERE path = ?", (owner.path,)).fetchone()[0]
            self._bodies[owner.first] = _unpack(body)
        return self._bodies[owner.first]


def _trusted(row: _Row, entry: Entry, max_file_bytes: int) -> bool:
    """True when the file's size and mtime are those indexed, the mtime was old enough to trust when it was
    checked, and the size cap it was indexed under still gives the same text."""
    return (
        row.size == entry.size
        and row.mtime_ns == entry.mtime_ns
        and entry.mtime_ns < row.checked_ns - _RACY_NS
        and row.state != "unreadable"  # tried again: permissions change without a new mtime
        and _same_cap(row, entry, max_file_bytes)
    )


def _same_cap(row: _Row, entry: Entry, max_file_bytes: int) -> bool:
    return row.cap == max_file_bytes or (not row.truncated and entry.size <= max_file_bytes)


def _count(census: Census, rel: str, row: _Row) -> None:
    if row.state == "text":
        census.searched += 1
        if row.truncated:
            census.truncated.append(rel)
    else:
        census.skip(row.state, rel)


def _row_values(row: _Row) -> tuple[object, ...]:
    return (row.size, row.mtime_ns, row.sha256, row.state, row.detail, int(row.truncated), row.cap, row.checked_ns)


def _unpack(body: bytes) -> list[str]:
    return zlib.decompress(body).decode("utf-8", "surrogatepass").split("\0")[:-1] if body else []


def _next_row(conn: sqlite3.Connection) -> int:
    return int(conn.execute("SELECT value FROM meta WHERE key = 'next_row'").fetchone()[0])


def _head(max_file_bytes: int) -> int:
    return min(SNIFF_BYTES, max_file_bytes)


def _read_upto(fd: int, count: int) -> bytes:
    parts: list[bytes] = []
    got = 0
    while got < count and (chunk := os.read(fd, count - got)):
        parts.append(chunk)
        got += len(chunk)
    return b"".join(parts)


def _prefix_sha256(entry: Entry, database_path: Path | None, max_file_bytes: int) -> str:
    digest = hashlib.sha256()
    with sandbox.open_file(entry.root, PurePosixPath(entry.rel), database_path) as (fd, _st):
        taken = 0
        while taken < max_file_bytes and (chunk := os.read(fd, min(_READ_CHUNK, max_file_bytes - taken))):
            taken += len(chunk)
            digest.update(chunk)
    return digest.hexdigest()


def _connect(target: str) -> sqlite3.Connection:
    conn = sqlite3.connect(target, isolation_level=None, timeout=_BUSY_TIMEOUT_MS / 1000)
    try:
        conn.execute(f"PRAGMA busy_timeout = {_BUSY_TIMEOUT_MS}")
        if target != ":memory:":
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute("PRAGMA synchronous = NORMAL")  # a cache: a lost last commit is rebuilt, never corrupt
        _ensure_schema(conn)
    except BaseException:
        conn.close()
        raise
    return conn


def _ensure_schema(conn: sqlite3.Connection) -> None:
    conn.execute("BEGIN IMMEDIATE")
    try:
        tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        current = None
        if "meta" in tables:
            found = conn.execute("SELECT value FROM meta WHERE key = 'schema'").fetchone()
            current = found[0] if found else None
        if current != SCHEMA:
            for name in ("fts", "files", "meta"):
                conn.execute(f"DROP TABLE IF EXISTS {name}")
            conn.execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
            conn.executemany("INSERT INTO meta VALUES (?, ?)", [("schema", SCHEMA), ("next_row", "1")])
            conn.execute(
                "CREATE TABLE files (path TEXT PRIMARY KEY, size INTEGER, mtime_ns INTEGER, sha256 TEXT, state TEXT, "
                "detail TEXT, truncated INTEGER, cap INTEGER, checked_ns INTEGER, title TEXT, first_row INTEGER, "
                "rows INTEGER, body BLOB)"
            )
            conn.execute("CREATE INDEX files_first_row ON files (first_row)")
            conn.execute(f"CREATE VIRTUAL TABLE fts USING fts5(body, content='', tokenize='{TOKENIZER}')")
        conn.execute("COMMIT")
    except BaseException:
        with contextlib.suppress(sqlite3.Error):
            conn.execute("ROLLBACK")
        raise


@contextlib.contextmanager
def opened(path: Path | None) -> Iterator[SearchIndex]:
    """``SearchIndex.open(path)``, closed afterwards; falls back to memory when the file cannot be used."""
    try:
        index = SearchIndex.open(path)
    except (sqlite3.Error, OSError):
        index = SearchIndex.open(None)
    try:
        yield index
    finally:
        index.close()
