"""Planning tests: the fake provider server fixture and small helpers."""

from __future__ import annotations

from tests.fake_llm import fake_llm  # noqa: F401 - the fixture, re-exported for this package
