"""JSON that every engine stores and hashes alike: the one definition, shared by the parser, tools and the store.

A value can be an event's payload when it serialises to strict JSON (no ``NaN`` or ``Infinity``),
every string is Unicode that encodes to UTF-8 (no unpaired surrogate: what a JSON escape such as
``\\ud800`` or a file name that is not UTF-8 decodes to), and it nests at most ``MAX_DEPTH`` levels
(far deeper JSON exhausts Python's recursion when it is read back). Strings may hold any other
character, NUL included: JSON escapes it. The store refuses anything else with a typed error;
text that comes from outside (tool results, file names, LLM replies) is cleaned before it gets
there (``clean``), and the plan parser rejects it with a reason the model can act on.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

import orjson

MAX_DEPTH = 64
"""How deeply a payload may nest objects and arrays (the payload object itself is level 1)."""
REPLACEMENT = "\ufffd"
_SURROGATE = re.compile("[\ud800-\udfff]")


def first_surrogate(text: str) -> int | None:
    """The index of the first unpaired surrogate in ``text`` (text that cannot be UTF-8), or None."""
    if text.isascii():
        return None
    found = _SURROGATE.search(text)
    return found.start() if found else None


def clean_text(text: str) -> str:
    """``text`` with every unpaired surrogate replaced by U+FFFD (the rest unchanged)."""
    return text if text.isascii() else _SURROGATE.sub(REPLACEMENT, text)


def clean(value: Any) -> Any:
    """A JSON-like value made storable: strings and keys cleaned (``clean_text``), ``NaN`` and
    infinities as null, tuples as lists. Meant for shallow values from this code's own tools;
    nesting is not bounded here (the store refuses a payload deeper than ``MAX_DEPTH``)."""
    if isinstance(value, str):
        return clean_text(value)
    if isinstance(value, dict):
        return {clean_text(str(key)): clean(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [clean(item) for item in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


_ORJSON = orjson.OPT_SORT_KEYS | orjson.OPT_PASSTHROUGH_SUBCLASS | orjson.OPT_PASSTHROUGH_DATETIME
_ORJSON |= orjson.OPT_PASSTHROUGH_DATACLASS  # what json cannot write, orjson refuses too (then json raises)


def canonical_json(value: Any, *, plain: bool = False) -> str:
    """The text a payload is stored and hashed as: ``json.dumps`` with sorted keys, no spaces, UTF-8
    rather than ``\\u`` escapes, no ``NaN``; its ``ValueError`` or ``TypeError`` when it cannot.

    An import recomputes each event's hash from this text, so it never changes. ``plain`` says the
    caller saw every leaf of ``value`` pass ``plain_scalar`` (or be a string): orjson then writes the
    same text about ten times faster. The exceptions orjson refuses (an integer past 64 bits, a
    string subclass, an unpaired surrogate, a key that is not a string) are written by ``json``.
    """
    if plain:
        try:
            return orjson.dumps(value, option=_ORJSON).decode()
        except TypeError:  # orjson.JSONEncodeError
            pass
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def plain_scalar(value: Any) -> bool:
    """True for None, a bool, an int, and a float that ``json`` writes without an exponent (0, or 1e-4 <=
    abs < 1e16): orjson writes these exactly as ``json`` does (it writes 1e-05 as 0.00001, 1e+16 as 1e16)."""
    kind = value.__class__
    if kind is float:
        number: float = value
        return number == 0.0 or 1e-4 <= abs(number) < 1e16  # False for NaN and the infinities: json refuses them
    return kind is int or kind is bool or value is None


class TooDeep(ValueError):
    """A value nests objects or arrays more than the limit allows (raised by walks that check it on the way)."""

    def __init__(self, limit: int) -> None:
        """Say the limit."""
        super().__init__(f"it nests objects or arrays more than {limit} levels deep")
        self.limit = limit


def too_deep(value: Any, limit: int = MAX_DEPTH) -> bool:
    """True when ``value`` nests objects or arrays more than ``limit`` levels (walked without recursion)."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if not isinstance(item, dict | list | tuple):
            continue
        if depth > limit:
            return True
        children = item.values() if isinstance(item, dict) else item
        stack.extend((child, depth + 1) for child in children if isinstance(child, dict | list | tuple))
    return False


def describe_unencodable(error: UnicodeEncodeError) -> str:
    """Why text could not be encoded as UTF-8, for a message: the code point and where it sits."""
    bad = error.object[error.start : error.end]
    point = f"U+{ord(bad[0]):04X}" if bad else "a character"
    around = clean_text(error.object[max(0, error.start - 20) : error.start])
    return (
        f"it holds an unpaired surrogate {point} (text that is not valid UTF-8, e.g. from a JSON escape like "
        f"\\ud800 or a file name that is not UTF-8) after {around!r}"
    )


__all__ = [
    "MAX_DEPTH",
    "REPLACEMENT",
    "TooDeep",
    "canonical_json",
    "clean",
    "clean_text",
    "describe_unencodable",
    "first_surrogate",
    "plain_scalar",
    "too_deep",
]
