"""read_file knows what it read: binary files are refused with what kind they are, encodings are detected and
named, and a read says how much of the file it covered."""

from __future__ import annotations

import codecs
import gzip
from pathlib import Path

import pytest

from agent_core.tools import ToolContext, execute
from agent_core.tools.decode import decode_text, sniff
from tests.workspaces import LATIN1_TEXT, PNG, Generated, generate, write, write_bytes


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Generated:
    return generate(tmp_path_factory.mktemp("reads") / "ws", documents=20)


def read(workspace: Path, path: str, **kw: int) -> dict[str, object]:
    return execute("read_file", {"path": path}, ToolContext(workspace=workspace, prior_results={}, **kw))


@pytest.mark.parametrize(
    ("path", "kind"),
    [("images/logo.png", "PNG image"), ("archive/notes.txt.gz", "gzip archive"), ("images/disguised.md", "PNG image")],
)
def test_binary_files_are_refused_with_what_they_are(folder: Generated, path: str, kind: str) -> None:
    result = read(folder.root, path)
    assert result["success"] is False and result["output"] == ""
    assert (result["binary"], result["kind"], result["path"]) == (True, kind, path)
    assert f"is a {kind}" in str(result["error"]) and "read_file reads text files only" in str(result["error"])
    assert result["bytes"] == (folder.root / path).stat().st_size and len(str(result["sha256"])) == 64


def test_latin1_text_is_decoded_and_the_encoding_named(folder: Generated) -> None:
    result = read(folder.root, folder.latin1)
    assert result["success"] is True and result["encoding"] == "cp1252"
    assert LATIN1_TEXT.strip() in str(result["content"]) and "\ufffd" not in str(result["content"])


def test_utf16_with_a_byte_order_mark_is_read(folder: Generated) -> None:
    result = read(folder.root, "utf16.txt")
    assert (result["encoding"], result["content"]) == ("utf-16", "UTF-16 text with zqutf16marker.\n")


def test_odd_names_are_read_as_named(folder: Generated) -> None:
    assert "zqresumemarker" in str(read(folder.root, "Résumé notes.md")["content"])
    assert "zqlicensemarker" in str(read(folder.root, "LICENSE")["content"])


def test_a_capped_read_says_how_much_it_covered(folder: Generated) -> None:
    result = read(folder.root, folder.large, max_read_bytes=1_000)
    size = (folder.root / folder.large).stat().st_size
    assert (result["truncated"], result["read_bytes"], result["bytes"], result["max_read_bytes"]) == (
        True,
        1_000,
        size,
        1_000,
    )
    whole = read(folder.root, "LICENSE")
    assert whole["truncated"] is False and whole["read_bytes"] == whole["bytes"]


def test_a_character_cut_by_the_cap_is_left_out_not_replaced(tmp_path: Path) -> None:
    write(tmp_path / "accents.md", "é" * 1_000)
    result = read(tmp_path, "accents.md", max_read_bytes=1_001)
    assert result["content"] == "é" * 500 and result["encoding"] == "utf-8"


def test_legacy_text_past_the_sniffed_start_is_decoded_too(tmp_path: Path) -> None:
    write_bytes(tmp_path / "long.txt", ("plain ascii line\n" * 5_000 + LATIN1_TEXT).encode("latin-1"))
    result = read(tmp_path, "long.txt")
    assert result["encoding"] == "cp1252" and str(result["content"]).endswith(LATIN1_TEXT)


@pytest.mark.parametrize(
    ("data", "encoding", "binary"),
    [
        (b"", "utf-8", False),
        (b"plain text\n", "utf-8", False),
        (codecs.BOM_UTF8 + b"bom", "utf-8-sig", False),
        ("déjà vu, très".encode("latin-1"), "cp1252", False),
        (PNG, None, True),
        (gzip.compress(b"x" * 100, mtime=0), None, True),
        (b"%PDF-1.7\n...", None, True),
        (b"text\x00with a NUL", None, True),
        (bytes(range(32)) * 10, None, True),
    ],
)
def test_sniff(data: bytes, encoding: str | None, binary: bool) -> None:
    sniffed = sniff(data)
    assert (sniffed.encoding, sniffed.binary) == (encoding, binary)
    text, again = decode_text(data)
    assert again == sniffed and (text == "" if binary else isinstance(text, str))
