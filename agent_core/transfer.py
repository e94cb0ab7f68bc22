"""Export a run as JSON lines and import it back, hash chain checked on the way in."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from agent_core.errors import AgentError
from agent_core.store import GENESIS_HASH, EventStore, chain_hash


class TransferError(AgentError):
    """The file is not an exported run, or it was altered after export."""


@dataclass(frozen=True, slots=True)
class RawEvent:
    """An event taken as it is (type, version, actor, payload): what import appends."""

    type: str
    schema_version: int
    actor: str
    payload: dict[str, Any]

    def to_payload(self) -> dict[str, Any]:
        """The payload exactly as exported, so the recomputed hash matches the file's."""
        return self.payload


def export_lines(store: EventStore, run_id: str) -> Iterator[str]:
    """One JSON object per event, envelope and payload, in seq order."""
    for e in store.read_run(run_id):
        record = {
            "run_id": e.run_id,
            "seq": e.seq,
            "type": e.type,
            "version": e.version,
            "actor": e.actor,
            "at": e.at.isoformat(),
            "hash": e.hash,
            "payload": e.payload,
        }
        yield json.dumps(record, ensure_ascii=False, sort_keys=True)


def import_lines(store: EventStore, lines: Iterable[str]) -> str:
    """Append an exported run to ``store``; refuses a run id that exists and a broken chain."""
    records = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError as error:
            raise TransferError(f"line {number} is not JSON ({error.msg}); is this a file from 'export'?") from error
    if not records:
        raise TransferError("the file holds no events")
    run_ids = {r.get("run_id") for r in records}
    if len(run_ids) != 1:
        raise TransferError(f"the file mixes {len(run_ids)} runs; import one run per file")
    run_id = str(run_ids.pop())
    if store.get_run(run_id) is not None:
        raise TransferError(f"run {run_id!r} already exists in this store; import refuses to merge into it")
    prev = GENESIS_HASH
    events, times = [], []
    for expected_seq, r in enumerate(records, start=1):
        try:
            at = datetime.fromisoformat(r["at"])
            payload_text = json.dumps(r["payload"], sort_keys=True, separators=(",", ":"), ensure_ascii=False)
            digest = chain_hash(prev, run_id, r["seq"], r["type"], r["version"], r["actor"], at, payload_text)
        except (KeyError, TypeError, ValueError) as error:
            raise TransferError(f"event {expected_seq} is missing or has a malformed field: {error}") from error
        if r["seq"] != expected_seq or digest != r["hash"]:
            raise TransferError(f"event seq {r['seq']} breaks the hash chain: the file was altered after export")
        prev = digest
        events.append(RawEvent(r["type"], r["version"], r["actor"], r["payload"]))
        times.append(at)
    store.append(run_id, events, 0, times=times)
    return run_id
