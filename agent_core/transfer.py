"""Export a run as JSON lines and import it back, hash chain checked on the way in.

An imported run is history, not authority: the store records it as ``imported`` and never
appends to it, so nothing in the file (a forged ``ApprovalGranted``, say) can make anything
run here. It can be read, verified, exported and replayed; a what-if replay is a new local run
under the local policy.

A keyed run (``AGENT_LOG_KEY``) is exported with ``"chain": "hmac-sha256"`` on every line and
can only be imported where the same key is set; a file without that field is a plain SHA-256
chain, which anyone can recompute.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from agent_core.errors import AgentError, ConfigError
from agent_core.jsontext import canonical_json
from agent_core.store import CHAINS, GENESIS_HASH, IMPORTED, SHA256, EventStore


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
    """One JSON object per event, envelope and payload, in seq order (``chain`` named when it is keyed)."""
    row = store.get_run(run_id)
    chain = row.chain if row is not None else SHA256
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
        if chain != SHA256:
            record["chain"] = chain
        yield json.dumps(record, ensure_ascii=False, sort_keys=True)


def import_lines(store: EventStore, lines: Iterable[str]) -> str:
    """Append an exported run to ``store`` as ``imported``; refuses a run id that exists and a broken chain.

    A keyed chain is checked with the store's key (``TransferError`` when the store has none or
    another one): an export edited by someone without the key does not import.
    """
    records = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as error:
            raise TransferError(f"line {number} is not JSON ({error.msg}); is this a file from 'export'?") from error
        if not isinstance(record, dict):
            raise TransferError(f"line {number} is not a JSON object; is this a file from 'export'?")
        records.append(record)
    if not records:
        raise TransferError("the file holds no events")
    run_ids = {str(r.get("run_id")) for r in records}
    if len(run_ids) != 1:
        raise TransferError(f"the file mixes {len(run_ids)} runs; import one run per file")
    run_id = run_ids.pop()
    chains = {r.get("chain", SHA256) for r in records}
    chain = str(chains.pop()) if len(chains) == 1 else ""
    if chain not in CHAINS:
        raise TransferError(f"the file's hash chain is {sorted(map(str, chains | {chain}))}; expected one of {CHAINS}")
    if store.get_run(run_id) is not None:
        raise TransferError(f"run {run_id!r} already exists in this store; import refuses to merge into it")
    try:
        digest_of = store.chain_function(chain, run_id)
    except ConfigError as error:
        raise TransferError(f"{error} (this export was written with a key)") from None
    prev = GENESIS_HASH
    events, times = [], []
    for expected_seq, r in enumerate(records, start=1):
        try:
            at = datetime.fromisoformat(r["at"])
            payload_text = canonical_json(r["payload"])
            digest = digest_of(prev, run_id, r["seq"], r["type"], r["version"], r["actor"], at, payload_text)
        except (KeyError, TypeError, ValueError) as error:
            raise TransferError(f"event {expected_seq} is missing or has a malformed field: {error}") from error
        if r["seq"] != expected_seq or digest != r["hash"]:
            keyed = " (or exported with another AGENT_LOG_KEY)" if chain != SHA256 else ""
            raise TransferError(f"event seq {r['seq']} breaks the hash chain: the file was altered after export{keyed}")
        prev = digest
        events.append(RawEvent(r["type"], r["version"], r["actor"], r["payload"]))
        times.append(at)
    store.append(run_id, events, 0, times=times, origin=IMPORTED, chain=chain)
    return run_id
