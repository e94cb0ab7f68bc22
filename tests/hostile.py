"""Hypothesis strategies for hostile input: what a confused model, a crafted file or an attacker may send.

Values (for tool inputs and payloads) and texts (for LLM answers) share one vocabulary:
integers far past 64 bits (also past Python's 4,300-digit conversion limit), ``NaN`` and
infinities, nesting deeper than any recursion limit, unpaired surrogates, C0/C1 control
characters and NUL, and byte strings decoded every way a careless caller would.
"""

from __future__ import annotations

import json
from typing import Any

from hypothesis import strategies as st

from agent_core.events import Usage
from agent_core.providers import Reply

SURROGATES = st.integers(0xD800, 0xDFFF).map(chr)
CONTROLS = st.sampled_from([chr(c) for c in (*range(0x20), 0x7F, *range(0x80, 0xA0))])
CHARS = st.one_of(*[st.characters()] * 6, SURROGATES, CONTROLS)
TEXT = st.one_of(st.text(max_size=20), st.text(CHARS, max_size=30))
TOOL_NAMES = st.sampled_from(["web_search", "read_file", "summarize", "write_file", "list_files", "shell", ""])


def nested(depth: int, leaf: Any = 1, kind: str = "list") -> Any:
    """``depth`` levels of lists (or one-key objects) around ``leaf``, built without recursion."""
    value = leaf
    for _ in range(depth):
        value = [value] if kind == "list" else {"a": value}
    return value


INTS = st.one_of(
    st.integers(-1000, 1000),
    st.integers(-(2**70), 2**70),
    st.sampled_from([2**63, -(2**63) - 1]),
    st.integers(18, 4400).map(lambda digits: 10**digits),  # past 4,300 digits not even repr() works
)
FLOATS = st.floats(allow_nan=True, allow_infinity=True)
SCALARS = st.one_of(st.none(), st.booleans(), INTS, FLOATS, TEXT)
DEEP = st.builds(nested, st.integers(30, 3000), st.just(1), st.sampled_from(["list", "dict"]))
SHALLOW = st.recursive(
    SCALARS,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(TEXT, inner, max_size=4)),
    max_leaves=6,
)
VALUES = st.one_of(SHALLOW, SHALLOW, SHALLOW, DEEP)
"""Python values as a JSON decoder (or a careless tool) could produce them: not all of them are storable."""
VALUES_WITH_BYTES = st.one_of(VALUES, st.binary(max_size=20), st.lists(st.binary(max_size=8), max_size=3))


def dumps(value: Any, ascii_only: bool) -> str:
    """``value`` as JSON text however it can be written (``NaN`` as Python writes it, huge ints as digits)."""
    try:
        return json.dumps(value, ensure_ascii=ascii_only)
    except ValueError:  # an integer past the conversion limit: write it as the digits a model would send
        return '{"n": ' + "9" * 5000 + "}"
    except RecursionError:
        return "[" * 10_000 + "]" * 10_000


def _step(fields: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in fields.items() if v is not None}


STEPS = st.builds(
    lambda id_, objective, tool, tool_input, criteria, extra: _step(
        {"id": id_, "objective": objective, "tool": tool, "input": tool_input, "success_criteria": criteria, **extra}
    ),
    st.one_of(st.sampled_from(["step_1", "step_2", "step_3"]), TEXT, SCALARS),
    st.one_of(st.just("read the notes"), st.just("read the notes"), TEXT, SCALARS),
    st.one_of(TOOL_NAMES, TOOL_NAMES, SCALARS),
    st.one_of(
        st.fixed_dictionaries({"path": st.one_of(st.just("notes.txt"), st.just("reports/out.md"), TEXT)}),
        st.fixed_dictionaries(
            {"path": st.one_of(st.just("out.md"), TEXT), "content": TEXT},
        ),
        st.fixed_dictionaries({"query": st.one_of(st.just("agents"), TEXT)}),
        st.fixed_dictionaries({"query": TEXT, "max_results": st.one_of(INTS, FLOATS, st.booleans())}),
        st.fixed_dictionaries({"text": TEXT, "max_words": st.one_of(INTS, FLOATS)}),
        st.fixed_dictionaries({"from_steps": st.lists(st.one_of(st.just("step_1"), TEXT), max_size=3)}),
        st.dictionaries(TEXT, SHALLOW, max_size=3),
        SHALLOW,
    ),
    st.one_of(st.just("done"), st.just("done"), TEXT, SCALARS),
    st.one_of(st.just({}), st.just({}), st.dictionaries(TEXT, SHALLOW, max_size=2)),
)
PLANS = st.builds(
    lambda steps, stops, fenced, ascii_only: ("```json\n{}\n```" if fenced else "{}").format(
        dumps({"steps": steps, "stop_conditions": stops}, ascii_only)
    ),
    st.one_of(st.lists(STEPS, min_size=1, max_size=4), st.lists(STEPS, min_size=1, max_size=4), VALUES),
    st.one_of(st.lists(TEXT, max_size=2), st.just([]), VALUES),
    st.booleans(),
    st.booleans(),
)
"""Answers shaped like a plan, with hostile fields: many are valid, many are not."""

ANSWERS = st.one_of(
    PLANS,
    VALUES.flatmap(lambda v: st.sampled_from([dumps(v, True), dumps(v, False)])),
    st.text(CHARS, max_size=200),
    st.binary(max_size=200).flatmap(
        lambda raw: st.sampled_from(
            [raw.decode("utf-8", "surrogateescape"), raw.decode("latin-1"), raw.decode("utf-8", "replace")]
        )
    ),
    st.integers(1, 6000).map(lambda n: '{"steps": [' + "9" * n + "]}"),
    st.integers(10, 5000).map(lambda n: '{"steps": ' + "[" * n + "]" * n + "}"),
    st.integers(10, 5000).map(lambda n: '{"a": ' * n + "1" + "}" * n),
    st.sampled_from(['{"steps": NaN}', '{"steps": [Infinity]}', '{"x": 1e999}', '{"s": "\\ud800"}', "\x00{}"]),
)
"""Raw LLM answers: plan-shaped, any JSON, any text, decoded bytes, huge numbers, deep nesting, bad literals."""

STORABLE_TEXT = st.text(st.characters(exclude_categories=["Cs"], exclude_characters="\x00"), min_size=1, max_size=30)
_INPUTS = {
    "web_search": st.fixed_dictionaries(
        {"query": STORABLE_TEXT}, optional={"max_results": st.one_of(st.integers(-5, 50), st.booleans(), FLOATS)}
    ),
    "read_file": st.fixed_dictionaries(
        {"path": st.one_of(STORABLE_TEXT, st.sampled_from(["notes.txt", "../x", "/etc"]))}
    ),
    "summarize": st.one_of(
        st.fixed_dictionaries({"text": STORABLE_TEXT}, optional={"max_words": st.integers(-5, 5000)}),
        st.just({"from_steps": ["step_1"]}),
    ),
    "write_file": st.fixed_dictionaries(
        {"path": st.one_of(STORABLE_TEXT, st.sampled_from(["out.md", ".env", "notes.txt"])), "content": STORABLE_TEXT}
    ),
    "list_files": st.fixed_dictionaries(
        {}, optional={"pattern": STORABLE_TEXT, "max_files": st.one_of(st.integers(-5, 1000), st.booleans())}
    ),
}
PLAUSIBLE_PLANS = st.lists(
    st.sampled_from(sorted(_INPUTS)).flatmap(lambda tool: st.tuples(st.just(tool), _INPUTS[tool])),
    min_size=1,
    max_size=4,
).map(
    lambda calls: json.dumps(
        {
            "steps": [
                {"id": f"step_{n}", "objective": "o", "tool": tool, "input": tool_input, "success_criteria": "c"}
                for n, (tool, tool_input) in enumerate(calls, start=1)
            ]
        }
    )
)
"""Plans that mostly parse, with odd but storable inputs: what reaches the guard and the tools."""


class ScriptedPlanner:
    """A planner (the ``Planner`` protocol) answering scripted texts in turn; its summaries are scripted too.

    It calls itself ``openai``/``gpt-4.1-mini`` by default, so runs it plans are priced and a
    verify can replay them under a registered provider's name.
    """

    def __init__(
        self,
        *answers: str,
        summaries: tuple[str, ...] = (),
        usage: tuple[int, int] = (1000, 100),
        provider: str = "openai",
        model: str = "gpt-4.1-mini",
    ) -> None:
        self.provider, self.model = provider, model
        self.answers, self.summaries = list(answers), list(summaries)
        self.usage = Usage(input_tokens=usage[0], output_tokens=usage[1])
        self.plan_calls = self.summary_calls = 0

    def plan(self, system_prompt: str, user_message: str, limits: Any) -> Reply:
        self.plan_calls += 1
        return Reply(self.answers.pop(0) if self.answers else "", self.usage, self.model, 1.0)

    def summarize(self, text: str, instruction: str) -> Reply | None:
        self.summary_calls += 1
        return Reply(self.summaries.pop(0), self.usage, self.model, 1.0) if self.summaries else None


READ_AND_SUMMARIZE = json.dumps(
    {
        "steps": [
            {
                "id": "step_1",
                "objective": "Read",
                "tool": "read_file",
                "input": {"path": "notes.txt"},
                "success_criteria": "read",
            },
            {
                "id": "step_2",
                "objective": "Summarize",
                "tool": "summarize",
                "input": {"from_steps": ["step_1"]},
                "success_criteria": "summarized",
            },
        ]
    }
)
"""A two-step plan (read notes.txt, summarize it) for scripted-planner runs."""
