"""Normalise event streams for comparison: drop what legitimately differs between two executions.

Ids, times, positions and hashes live in the envelope and are dropped; inside payloads only
measured durations differ, and the count of redactions: the marks stay, but a re-execution is fed
the recording's already redacted text, so it has nothing left to redact. The same normaliser is
the verify-replay oracle and the tests' way to assert whole streams.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from agent_core import events as ev
from agent_core.redaction import REDACTIONS_FIELD

VOLATILE_PAYLOAD_FIELDS = frozenset({"duration_ms", "latency_ms"})


def _strip(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _strip(v) for k, v in value.items() if k not in VOLATILE_PAYLOAD_FIELDS}
    if isinstance(value, list):
        return [_strip(v) for v in value]
    return value


def normalize_payload(payload: dict[str, Any]) -> dict[str, Any]:
    """A payload without volatile fields and the redaction count (a new dict; ``payload`` is not changed)."""
    stripped: dict[str, Any] = _strip(payload)
    stripped.pop(REDACTIONS_FIELD, None)
    return stripped


def normalize_event(recorded: ev.RecordedEvent) -> dict[str, Any]:
    """``{"type", "actor", "payload"}`` without volatile fields and the redaction count."""
    return {"type": recorded.type, "actor": recorded.actor, "payload": normalize_payload(recorded.event.to_payload())}


def normalize(events: Iterable[ev.RecordedEvent]) -> list[dict[str, Any]]:
    """A whole stream normalised event by event: equal lists mean the two executions behaved alike."""
    return [normalize_event(e) for e in events]
