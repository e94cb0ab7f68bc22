"""The catalogue documents itself: every event and field described, docs/events.md generated from it."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import BaseModel

from agent_core import catalogue_docs
from agent_core import events as ev

MODELS: list[type[BaseModel]] = [*ev.EVENT_CLASSES, ev.PlannerInfo, ev.Usage]


@pytest.mark.parametrize("model", MODELS, ids=[m.__name__ for m in MODELS])
def test_every_event_class_has_a_docstring_and_every_payload_field_a_description(model: type[BaseModel]) -> None:
    assert "__doc__" in vars(model) and (model.__doc__ or "").strip(), f"{model.__name__} needs a docstring"
    undocumented = [name for name, field in model.model_fields.items() if name != "type" and not field.description]
    assert not undocumented, f"{model.__name__}: add Field(description=...) to {undocumented}"


def test_docs_events_md_is_generated_from_the_catalogue() -> None:
    committed = catalogue_docs.DOC_PATH.read_text(encoding="utf-8") if catalogue_docs.DOC_PATH.is_file() else ""
    assert committed == catalogue_docs.render(), f"docs/events.md is out of date: run {catalogue_docs.REGENERATE}"


def test_the_document_names_every_type_field_decision_and_upcaster() -> None:
    text = catalogue_docs.render()
    for name, cls in ev.EVENT_TYPES.items():
        assert f"\n### {name}\n" in text
        assert all(f"| `{field}` |" in text for field in cls.model_fields if field != "type")
    assert all(f"| `{d.word}` |" in text for d in ev.DECISIONS.values())
    assert all(function.__name__ in text for function in ev.UPCASTERS.values())


def test_check_mode_fails_on_a_stale_file_and_writing_fixes_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "events.md"
    target.write_text("# stale\n", encoding="utf-8")
    assert catalogue_docs.main(["--check", "--path", str(target)]) == 1
    assert catalogue_docs.REGENERATE in capsys.readouterr().err
    assert catalogue_docs.main(["--path", str(target)]) == 0
    assert catalogue_docs.main(["--check", "--path", str(target)]) == 0
    assert target.read_text(encoding="utf-8") == catalogue_docs.render()
