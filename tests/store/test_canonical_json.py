"""The stored text of a payload never changes: the fast encoder writes exactly what ``json.dumps`` writes.

An import recomputes every event's hash from ``canonical_json(payload)``, and a verify compares the
rows a re-execution stores with the recorded ones: a single character of difference would break
both for runs recorded before orjson wrote the text. So the reference here is the old encoder
itself, over arbitrary values: every kind of float, integers past 64 bits, any string (unpaired
surrogates and control characters included), subclasses and objects JSON cannot write.
"""

from __future__ import annotations

import enum
import json
import math
from datetime import UTC, datetime
from typing import Any

from hypothesis import example, given
from hypothesis import strategies as st

from agent_core.jsontext import canonical_json, plain_scalar
from agent_core.redaction import Redactor


def reference(value: Any) -> str:
    """The encoder every stored payload text was written with before the fast one."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


class Colour(enum.StrEnum):
    RED = "red"


class Tag(str):
    """A string subclass: orjson would write it its own way, so it goes to ``json``."""


scalars = (
    st.none()
    | st.booleans()
    | st.integers()  # past 64 bits too
    | st.integers(min_value=-(2**64), max_value=2**64)
    | st.floats()  # NaN, the infinities, subnormals, exponents both ways
    | st.floats(min_value=1e-5, max_value=1e-3)
    | st.floats(min_value=1e15, max_value=1e17)
    | st.text()  # unpaired surrogates included
    | st.sampled_from([Colour.RED, Tag("tagged"), datetime(2026, 1, 1, tzinfo=UTC), 1e-4, 1e16, -0.0, 9.999e-5])
)
values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.tuples(inner, inner) | st.dictionaries(st.text(max_size=6), inner, max_size=4)
    ),
    max_leaves=25,
)


def outcome(write: Any, value: Any) -> tuple[str, Any]:
    try:
        return "text", write(value)
    except (ValueError, TypeError) as error:
        return "refused", type(error)


@given(value=values)
def test_the_fast_path_writes_what_json_writes_or_refuses_alike(value: Any) -> None:
    assert outcome(lambda v: canonical_json(v, plain=True), value) == outcome(reference, value) or not _all_plain(value)
    assert outcome(canonical_json, value) == outcome(reference, value)


def _all_plain(value: Any) -> bool:
    if isinstance(value, str):
        return True
    if isinstance(value, dict):
        return all(isinstance(k, str) for k in value) and all(_all_plain(v) for v in value.values())
    if isinstance(value, list | tuple):
        return all(_all_plain(v) for v in value)
    return plain_scalar(value)


@given(payload=st.dictionaries(st.text(max_size=6), values, max_size=5))
@example(payload={"usd": 1e-05, "ms": 0.25, "big": 2**70, "when": datetime(2026, 1, 1, tzinfo=UTC)})
@example(payload={"bad": "\ud800", "x": 1.5})
@example(payload={"nan": math.nan})
def test_a_payloads_stored_text_is_the_old_encoders_text_of_its_redacted_payload(payload: dict[str, Any]) -> None:
    redactor = Redactor(secrets=())
    try:
        cleaned, text = redactor.payload_and_text(payload)
    except (ValueError, TypeError) as error:
        assert outcome(reference, redactor.payload(payload)) == ("refused", type(error))
        return
    assert cleaned == redactor.payload(payload)
    assert text == reference(cleaned)


@given(number=st.floats(allow_nan=False, allow_infinity=False))
@example(number=1e-4)
@example(number=math.nextafter(1e-4, 0))
@example(number=math.nextafter(1e16, 0))
@example(number=1e16)
def test_a_float_is_plain_only_where_orjson_writes_it_as_json_does(number: float) -> None:
    fast = canonical_json([number], plain=True)
    assert (fast == reference([number])) or not plain_scalar(number)
    assert plain_scalar(number) == (number == 0 or 1e-4 <= abs(number) < 1e16)


def test_the_fast_path_is_taken_for_an_ordinary_payload() -> None:
    """Not dead code: a plain payload's walk finds nothing odd, so orjson writes it (same text)."""
    odd: list[Any] = []
    payload = {"step_id": "step_1", "result": {"rows": [1, 2.5, None, True], "summary": "ok"}, "duration_ms": 0.125}
    cleaned = Redactor(secrets=())._payload(payload, None, odd)
    assert odd == []
    assert canonical_json(cleaned, plain=True) == reference(cleaned)
