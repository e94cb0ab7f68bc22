"""The event catalogue as a document: ``docs/events.md``, generated from ``agent_core/events.py``.

    python -m agent_core.catalogue_docs            # (re)write docs/events.md
    python -m agent_core.catalogue_docs --check    # exit 1 if docs/events.md is out of date

The fields every event may hold, then each type in union order with its actor, schema version,
meaning and own fields (type, default, description), then the shared field types, the decision
vocabulary and the upcasters. Nothing here is written by hand except the envelope paragraph:
change ``events.py`` and regenerate; a test fails while the committed file differs.
"""

from __future__ import annotations

import argparse
import inspect
import json
import sys
import types
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal, Union, get_args, get_origin

from pydantic import BaseModel
from pydantic.fields import FieldInfo

from agent_core import events as ev

DOC_PATH = Path(__file__).resolve().parents[1] / "docs" / "events.md"
REGENERATE = "python -m agent_core.catalogue_docs"

_ENVELOPE = """\
Every event is stored in an envelope the store adds: `position` (global, increasing: the live
feed reads after it), `run_id`, `seq` (1..n within the run; `(run_id, seq)` is unique: the
optimistic lock), `type`, `version` (the payload's schema version), `actor`, `at` (UTC) and
`hash` (chained to the run's previous event). The payload is the event's fields below, stored as
JSON and never rewritten: an older version is lifted on read by the upcasters at the end."""


def render() -> str:
    """The whole document, deterministic: the same ``events.py`` always gives the same text."""
    return "\n".join(_lines()).rstrip() + "\n"


def _lines() -> Iterator[str]:
    yield "# Event catalogue"
    yield ""
    yield f"<!-- Generated from agent_core/events.py by `{REGENERATE}`; do not edit by hand. -->"
    yield ""
    yield _ENVELOPE
    yield ""
    yield "| type | actor | version | meaning |"
    yield "|---|---|---|---|"
    for name, cls in ev.EVENT_TYPES.items():
        yield f"| [{name}](#{name.lower()}) | {_actor(cls)} | {cls.VERSION} | {_cell(_summary(cls))} |"
    yield ""
    yield f"Runs end with {_names(ev.TERMINAL_TYPES)}."
    yield ""
    yield "## Fields every event may hold"
    yield ""
    yield from _field_table(_payload_fields(ev.DomainEvent))
    yield ""
    yield "## Events"
    for name, cls in ev.EVENT_TYPES.items():
        yield ""
        yield f"### {name}"
        yield ""
        yield _doc(cls)
        yield ""
        facts = [f"actor {_actor(cls)}", f"version {cls.VERSION}"]
        if cls.DECIDES is not None:
            facts.append(f"decides `{cls.DECIDES.word}` (see [decisions](#decisions))")
        if cls.TERMINAL:
            facts.append("ends the run")
        yield "; ".join(facts) + "."
        yield ""
        yield from _field_table(_own_fields(cls))
    yield ""
    yield "## Field types"
    for model in _nested_models():
        yield ""
        yield f"### {model.__name__}"
        yield ""
        yield _doc(model)
        if model.__module__ == ev.__name__:
            yield ""
            yield from _field_table(model.model_fields)
        else:
            yield ""
            yield f"Declared in `{model.__module__.replace('.', '/')}.py`."
    yield ""
    yield "## Decisions"
    yield ""
    yield "What each decision event means for its step (`events.DECISIONS`): the step's decision as every"
    yield "screen shows it, its effect (`run`: the tool may run, `skip`: never runs, `wait`: a person must"
    yield "decide) and, for the policy guard's, the policy outcome it records."
    yield ""
    yield "| event | step decision | effect | policy outcome |"
    yield "|---|---|---|---|"
    for name, decides in ev.DECISIONS.items():
        yield f"| {name} | `{decides.word}` | `{decides.effect}` | {_code(decides.policy_outcome)} |"
    yield ""
    yield "## Upcasters"
    yield ""
    yield "| type | from | to | function | what it does |"
    yield "|---|---|---|---|---|"
    for (name, version), function in sorted(ev.UPCASTERS.items()):
        yield f"| {name} | v{version} | v{version + 1} | `{function.__name__}` | {_cell(_summary(function))} |"


def _payload_fields(cls: type[BaseModel]) -> dict[str, FieldInfo]:
    return {name: field for name, field in cls.model_fields.items() if name != "type"}


def _own_fields(cls: type[ev.DomainEvent]) -> dict[str, FieldInfo]:
    """The type's own fields: those every event has are listed once, above the types."""
    shared = _payload_fields(ev.DomainEvent)
    return {name: field for name, field in _payload_fields(cls).items() if name not in shared}


def _field_table(fields: dict[str, FieldInfo]) -> Iterator[str]:
    if not fields:
        yield "No fields."
        return
    yield "| field | type | default | description |"
    yield "|---|---|---|---|"
    for name, field in fields.items():
        yield f"| `{name}` | {_code(_type(field.annotation))} | {_default(field)} | {_cell(field.description or '')} |"


def _nested_models() -> list[type[BaseModel]]:
    """The models event fields are made of (PlannerInfo, Usage, Plan...), in first-use order."""
    found: dict[type[BaseModel], None] = {}
    for cls in ev.EVENT_CLASSES:
        for field in _payload_fields(cls).values():
            for model in _models_in(field.annotation):
                found.setdefault(model, None)
    return list(found)


def _models_in(annotation: Any) -> Iterator[type[BaseModel]]:
    if inspect.isclass(annotation) and issubclass(annotation, BaseModel):
        yield annotation
    for arg in get_args(annotation):
        yield from _models_in(arg)


def _type(annotation: Any) -> str:
    origin = get_origin(annotation)
    if annotation is type(None):
        return "None"
    if annotation is Any:
        return "Any"
    if origin is Literal:
        return " | ".join(json.dumps(arg) for arg in get_args(annotation))
    if origin in (Union, types.UnionType):
        return " | ".join(_type(arg) for arg in get_args(annotation))
    if origin is not None:
        return f"{origin.__name__}[{', '.join(_type(arg) for arg in get_args(annotation))}]"
    return str(annotation.__name__)


def _default(field: FieldInfo) -> str:
    if field.is_required():
        return "required"
    value = field.get_default(call_default_factory=True)
    if isinstance(value, BaseModel):
        value = value.model_dump(mode="json")
    return _code(json.dumps(value, ensure_ascii=False))


def _actor(cls: type[ev.DomainEvent]) -> str:
    if "actor" in vars(cls):  # the event names its actor from its fields (CostRecorded: by source)
        return f"`{cls.ACTOR}` or by its fields"
    return f"`{cls.ACTOR}`"


def _doc(obj: Any) -> str:
    return inspect.cleandoc(obj.__doc__ or "")


def _summary(obj: Any) -> str:
    return _doc(obj).split("\n\n")[0].replace("\n", " ")


def _names(names: frozenset[str]) -> str:
    ordered = [name for name in ev.EVENT_TYPES if name in names]
    return ", ".join(f"`{name}`" for name in ordered[:-1]) + f" or `{ordered[-1]}`"


def _code(text: str) -> str:
    return f"`{_cell(text)}`" if text else ""


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def main(argv: list[str] | None = None) -> int:
    """``python -m agent_core.catalogue_docs [--check]``: write docs/events.md, or only compare it."""
    parser = argparse.ArgumentParser(prog=REGENERATE, description="Write docs/events.md from agent_core/events.py.")
    parser.add_argument("--check", action="store_true", help="exit 1 if the file is out of date; write nothing")
    parser.add_argument("--path", type=Path, default=DOC_PATH, help="where the document lives (docs/events.md)")
    args = parser.parse_args(argv)
    text = render()
    current = args.path.read_text(encoding="utf-8") if args.path.is_file() else None
    if args.check:
        if current != text:
            print(f"{args.path} is out of date: run {REGENERATE}", file=sys.stderr)
            return 1
        return 0
    if current != text:
        args.path.parent.mkdir(parents=True, exist_ok=True)
        args.path.write_text(text, encoding="utf-8")
        print(f"wrote {args.path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
