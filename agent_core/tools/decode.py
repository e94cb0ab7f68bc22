"""What a file's bytes are: text in a named encoding, or binary (and what kind), before anyone reads them as text.

``sniff`` looks at the first bytes of a file: byte-order marks, the signatures of common binary
formats, NUL and control bytes, then UTF-8, then charset-normalizer for legacy encodings. Among
legacy encodings that fit equally well it prefers Windows-1252 (a superset of Latin-1's printable
characters), the commonest one for Western text. The answer is deterministic for the same bytes.
``TextDecoder`` then decodes a whole file chunk by chunk in the sniffed encoding, so large files
never have to be held in memory at once.
"""

from __future__ import annotations

import codecs
from dataclasses import dataclass

SNIFF_BYTES = 64 * 1024
"""How much of a file the detection looks at."""

_SIGNATURES: tuple[tuple[bytes, str], ...] = (
    (b"\x89PNG\r\n\x1a\n", "PNG image"),
    (b"\xff\xd8\xff", "JPEG image"),
    (b"GIF87a", "GIF image"),
    (b"GIF89a", "GIF image"),
    (b"\x1f\x8b", "gzip archive"),
    (b"PK\x03\x04", "ZIP archive (or .docx, .xlsx, .jar)"),
    (b"PK\x05\x06", "ZIP archive (empty)"),
    (b"%PDF-", "PDF document"),
    (b"\x7fELF", "ELF executable"),
    (b"SQLite format 3\x00", "SQLite database"),
    (b"\xfd7zXZ\x00", "xz archive"),
    (b"7z\xbc\xaf\x27\x1c", "7-Zip archive"),
    (b"\x28\xb5\x2f\xfd", "zstd archive"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "OLE document (.doc, .xls, .msi)"),
    (b"\xca\xfe\xba\xbe", "Java class or Mach-O binary"),
    (b"\xcf\xfa\xed\xfe", "Mach-O executable"),
    (b"wOFF", "WOFF font"),
    (b"wOF2", "WOFF2 font"),
)
# UTF-32 first: its little-endian mark starts with UTF-16's.
_BOMS: tuple[tuple[bytes, str], ...] = (
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
_CONTROL_BYTES = bytes(b for b in [*range(0x20), 0x7F] if b not in b"\t\n\r\f\v\x1b")
_MAX_CONTROL_SHARE = 0.05
_PREFERRED_LEGACY = "cp1252"


@dataclass(frozen=True, slots=True)
class Sniffed:
    """Text in ``encoding`` (a Python codec name), or binary data described by ``kind``."""

    encoding: str | None
    kind: str = "text"

    @property
    def binary(self) -> bool:
        """True when no text encoding fits: the file is refused as binary, never read as text."""
        return self.encoding is None


def sniff(sample: bytes, *, complete: bool = True) -> Sniffed:
    """Text or binary, from a file's first bytes (``complete`` when ``sample`` is the whole file)."""
    for bom, encoding in _BOMS:
        if sample.startswith(bom):
            return Sniffed(encoding)
    for signature, kind in _SIGNATURES:
        if sample.startswith(signature):
            return Sniffed(None, kind)
    if b"\x00" in sample:
        return Sniffed(None, "binary data (NUL bytes)")
    controls = len(sample) - len(sample.translate(None, _CONTROL_BYTES))
    if sample and controls / len(sample) > _MAX_CONTROL_SHARE:
        return Sniffed(None, "binary data (control bytes)")
    try:
        codecs.getincrementaldecoder("utf-8")().decode(sample, final=complete)
    except UnicodeDecodeError:
        pass
    else:
        return Sniffed("utf-8")
    legacy = _legacy_encoding(sample)
    return Sniffed(legacy) if legacy else Sniffed(None, "binary data (no text encoding fits)")


def _legacy_encoding(sample: bytes) -> str | None:
    import charset_normalizer  # loaded only for the rare file that is not UTF-8

    matches = charset_normalizer.from_bytes(sample)
    best = matches.best()
    if best is None:
        return None
    fitting = [m.encoding for m in matches if m.chaos <= best.chaos + 0.01]
    if _PREFERRED_LEGACY in fitting or _decodes_alike(sample, best.encoding, _PREFERRED_LEGACY):
        return _PREFERRED_LEGACY
    return codecs.lookup(best.encoding).name


def _decodes_alike(sample: bytes, encoding: str, other: str) -> bool:
    try:
        return sample.decode(encoding) == sample.decode(other)
    except UnicodeDecodeError:
        return False


class TextDecoder:
    """Decode a file chunk by chunk; undecodable bytes become U+FFFD, never an error.

    UTF-8 is only a first guess from the file's start: when a later chunk is not UTF-8 (a Latin-1
    file whose first accent comes late), the decoder switches to the legacy encoding detected from
    there, and ``encoding`` says so. What came before decoded the same either way (it was ASCII, or
    the file mixes encodings and only its start was UTF-8).
    """

    def __init__(self, encoding: str) -> None:
        self.encoding = encoding
        self._tentative = encoding == "utf-8"
        self._decoder = codecs.getincrementaldecoder(encoding)("strict" if self._tentative else "replace")

    def decode(self, chunk: bytes, final: bool = False) -> str:
        """The text of ``chunk``; a character split across chunks comes out with the next one."""
        if not self._tentative:
            return self._decoder.decode(chunk, final)
        pending = self._decoder.getstate()[0]
        try:
            return self._decoder.decode(chunk, final)
        except UnicodeDecodeError as error:
            data = pending + chunk
            at = max(0, error.start)
            self.encoding = _legacy_encoding(data[at : at + SNIFF_BYTES]) or _PREFERRED_LEGACY
            self._tentative = False
            self._decoder = codecs.getincrementaldecoder(self.encoding)("replace")
            return self._decoder.decode(data, final)


def decode_text(data: bytes, *, complete: bool = True) -> tuple[str, Sniffed]:
    """``data`` as text and what it is (the encoding it was decoded with); binary data gives ``""``.

    When ``complete`` is False (the data is the start of a longer file) a character cut at the
    end is left out rather than replaced.
    """
    sniffed = sniff(data[:SNIFF_BYTES], complete=complete and len(data) <= SNIFF_BYTES)
    if sniffed.encoding is None:
        return "", sniffed
    decoder = TextDecoder(sniffed.encoding)
    text = decoder.decode(data, final=complete)
    return text, Sniffed(decoder.encoding)
