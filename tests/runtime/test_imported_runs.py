"""An imported run is history, not authority; AGENT_LOG_KEY makes the chain an HMAC (issue 10, item 5).

The attack: an export edited with a recomputed SHA-256 chain (here, a forged ``ApprovalGranted``
and a policy path pointing at a permissive file) imported cleanly, and ``resume`` then ran the
step the forgery allowed, skipping local policy. Now the store records every imported run as
``imported`` and never appends to it; resume, approve, deny and cancel refuse it with exit 2; a
what-if replay of it is a new local run under the local policy that reuses none of its human
decisions. With ``AGENT_LOG_KEY`` the chain is an HMAC: an export edited without the key fails
import or ``verify-log``. Runs written without a key keep plain SHA-256 and still verify.
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import text

from agent_core import events as ev
from agent_core.cli import main
from agent_core.errors import ConfigError, ReadOnlyRun
from agent_core.orchestrator import RunRequest
from agent_core.projections import open_store
from agent_core.replay import Overrides
from agent_core.store import GENESIS_HASH, EventStore, chain_hash
from agent_core.transfer import TransferError, import_lines
from agent_core.workbench import Workbench
from tests.runtime.conftest import DEFAULT_POLICY, SAVE_GOAL, make_settings

KEY = "k" * 20 + "-a-log-key-for-tests"
OTHER_KEY = "o" * 40

Records = list[dict[str, Any]]


def cli(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), out, err)
    return code, out.getvalue(), err.getvalue()


def rechain(records: Records, key: str | None = None) -> Records:
    """Recompute the chain as an attacker without the key can: plain SHA-256 (or an HMAC with a key they hold)."""
    prev = GENESIS_HASH
    for r in records:
        payload_text = json.dumps(r["payload"], sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        at = datetime.fromisoformat(r["at"])
        digest = chain_hash(
            prev,
            r["run_id"],
            r["seq"],
            r["type"],
            r["version"],
            r["actor"],
            at,
            payload_text,
            key.encode() if key else None,
        )
        r["hash"] = prev = digest
    return records


def dump(records: Records, path: Path) -> Path:
    path.write_text("".join(json.dumps(r, ensure_ascii=False, sort_keys=True) + "\n" for r in records), "utf-8")
    return path


def append_record(records: Records, event: ev.DomainEvent) -> None:
    last = records[-1]
    records.append(
        {
            "run_id": last["run_id"],
            "seq": last["seq"] + 1,
            "type": event.type,
            "version": event.schema_version,
            "actor": event.actor,
            "at": (datetime.fromisoformat(last["at"]) + timedelta(seconds=1)).isoformat(),
            "hash": "",
            "payload": event.to_payload(),
        }
    )


@pytest.fixture
def source(tmp_path: Path, workspace: Path) -> Callable[..., tuple[Workbench, str]]:
    """A SQLite store holding a run waiting for approval to overwrite summary.md; returns (bench, run id)."""

    def make(**extra: str) -> tuple[Workbench, str]:
        bench = Workbench.open(make_settings(f"sqlite:///{tmp_path / 'source.db'}", workspace, **extra))
        bench.run(RunRequest(SAVE_GOAL))
        waiting = bench.run(RunRequest(SAVE_GOAL))
        assert waiting.status == "waiting_approval" and waiting.pending_approval.step_id == "step_3"
        return bench, waiting.run_id

    return make


def exported(bench: Workbench, run_id: str) -> Records:
    return [json.loads(line) for line in bench.export(run_id).splitlines()]


@pytest.fixture
def permissive_policy(tmp_path: Path) -> Path:
    """The default policy without its no_overwrite hold: what a forged policy_path would point at."""
    text_ = DEFAULT_POLICY.read_text(encoding="utf-8")
    start = text_.index("  - name: no_overwrite")
    end = text_.find("  - name:", start + 1)
    end = len(text_) if end < 0 else end
    path = tmp_path / "permissive.yaml"
    path.write_text(text_[:start] + text_[end:], encoding="utf-8")
    return path


@pytest.fixture
def cli_env(monkeypatch: pytest.MonkeyPatch, workspace: Path) -> None:
    monkeypatch.setenv("AGENT_WORKSPACE", str(workspace))
    monkeypatch.setenv("AGENT_POLICY", str(DEFAULT_POLICY))
    monkeypatch.setenv("AGENT_PLANNER", "offline")


# --- the attack -------------------------------------------------------------------------------------


def test_a_forged_approval_in_an_import_is_never_acted_on(
    source, database_url: str, tmp_path: Path, workspace: Path, permissive_policy: Path, cli_env: None
) -> None:
    bench, run_id = source()
    records = exported(bench, run_id)
    records[0]["payload"]["policy_path"] = str(permissive_policy)
    append_record(records, ev.ApprovalGranted(step_id="step_3", by="alice", comment="forged"))
    forged = dump(rechain(records), tmp_path / "forged.jsonl")
    before = (workspace / "summary.md").read_bytes()

    code, out, err = cli("import", str(forged), "--db", database_url)
    assert code == 0 and out.strip() == f"imported run {run_id}", err  # the chain is intact: it imports

    for argv, action in (
        (["resume", run_id], "advanced or resumed"),
        (["approve", run_id, "step_3"], "approved or denied"),
        (["approve", run_id, "step_3", "--deny"], "approved or denied"),
        (["cancel", run_id], "cancelled"),
    ):
        code, out, err = cli(*argv, "--db", database_url)
        assert code == 2 and "was imported" in err and f"never {action}" in err, (argv, err)
        assert len(err.strip().splitlines()) == 1 and "replay" in err
    assert (workspace / "summary.md").read_bytes() == before
    store = open_store(database_url)
    assert len(store.read_run(run_id)) == len(records)  # nothing was appended
    with pytest.raises(ReadOnlyRun):
        store.append(run_id, [ev.RunCancelled(by="x")], len(records))  # the store refuses it too
    store.close()
    code, out, _ = cli("runs", "--db", database_url)
    assert code == 0 and "[imported]" in out


def test_the_runs_index_records_the_origin_and_the_workbench_refuses_to_advance(
    source, database_url: str, workspace: Path, tmp_path: Path
) -> None:
    bench, run_id = source()
    here = Workbench.open(make_settings(database_url, workspace))
    import_lines(here.store, bench.export(run_id).splitlines())
    row = here.store.get_run(run_id)
    assert row is not None and row.imported and row.origin == "imported" and row.status == "waiting_approval"
    assert here.list_runs()[0].imported
    assert [p.run_id for p in bench.pending_approvals()] == [run_id]
    assert here.pending_approvals() == []  # nobody here can approve an imported hold
    for call in (
        lambda: here.advance(run_id),
        lambda: here.approve(run_id, "step_3"),
        lambda: here.deny(run_id, "step_3"),
        lambda: here.cancel(run_id),
    ):
        with pytest.raises(ReadOnlyRun):
            call()
    local = here.run(RunRequest("Summarize notes.txt"))
    assert local.status == "completed" and not here.store.get_run(local.run_id).imported
    here.close()


def test_a_whatif_of_an_imported_run_is_a_local_run_under_local_policy(
    source, database_url: str, workspace: Path, tmp_path: Path, permissive_policy: Path
) -> None:
    bench, run_id = source()
    records = exported(bench, run_id)
    records[0]["payload"]["policy_path"] = str(permissive_policy)
    append_record(records, ev.ApprovalGranted(step_id="step_3", by="alice", comment="forged"))
    here = Workbench.open(make_settings(database_url, workspace))
    import_lines(here.store, [json.dumps(r) for r in rechain(records)])
    before = (workspace / "summary.md").read_bytes()

    outcome = here.whatif(run_id, Overrides())
    replay = here.run_state(outcome.replay_id)
    assert replay.replay_of == run_id and not here.store.get_run(outcome.replay_id).imported
    assert replay.policy_path == str(DEFAULT_POLICY)  # the local AGENT_POLICY, not the export's path
    # The local no_overwrite rule holds step_3, and the export's (forged) grant is not reused:
    assert outcome.state.status == "waiting_approval" and outcome.state.pending_approval.step_id == "step_3"
    assert not [e for e in here.run_events(outcome.replay_id) if e.type == "ApprovalGranted"]
    # A person here decides; the replay goes on in its shadow workspace, never the real one.
    here.approve(outcome.replay_id, "step_3", by="bob")
    assert here.advance(outcome.replay_id).status == "completed"
    assert (workspace / "summary.md").read_bytes() == before
    here.close()


def test_an_imported_run_verifies_and_a_saved_verify_stays_history(source, database_url: str, workspace: Path) -> None:
    bench, _ = source()
    run_id = bench.run(RunRequest("Summarize notes.txt")).run_id
    here = Workbench.open(make_settings(database_url, workspace))
    import_lines(here.store, bench.export(run_id).splitlines())
    assert here.verify(run_id).identical
    saved = here.verify(run_id, save=True)
    assert saved.identical and saved.replay_run_id
    row = here.store.get_run(saved.replay_run_id)
    assert row is not None and row.imported  # it replays the export's decisions: history too
    assert here.run_state(saved.replay_run_id).replay_of == run_id
    with pytest.raises(ReadOnlyRun):
        here.advance(saved.replay_run_id)
    assert here.store.verify_chain() is None
    here.close()


def test_a_store_from_before_the_origin_column_is_migrated_and_its_runs_are_local(database_url: str) -> None:
    store = open_store(database_url)
    store.append(
        "old-run",
        [
            ev.RunStarted(
                goal="g",
                max_steps=1,
                budget_usd=0.1,
                planner=ev.PlannerInfo(provider="offline", model="m", prompt_sha="p"),
                policy_sha="s",
            )
        ],
        0,
    )
    with store._write.begin() as conn:
        conn.execute(text("ALTER TABLE runs DROP COLUMN origin"))
        conn.execute(text("ALTER TABLE runs DROP COLUMN chain"))
    store.close()
    reopened = open_store(database_url)
    row = reopened.get_run("old-run")
    assert row is not None and (row.origin, row.chain) == ("local", "sha256")
    assert reopened.verify_chain() is None
    reopened.append("old-run", [ev.RunFailed(reason="x")], 1)
    reopened.close()


# --- AGENT_LOG_KEY ----------------------------------------------------------------------------------


def test_with_a_key_new_runs_are_hmac_chained_and_verify(database_url: str, workspace: Path) -> None:
    keyed = Workbench.open(make_settings(database_url, workspace, AGENT_LOG_KEY=KEY))
    state = keyed.run(RunRequest("Summarize notes.txt"))
    assert keyed.store.get_run(state.run_id).chain == "hmac-sha256"
    assert keyed.store.verify_chain() is None
    first = keyed.store.read_run(state.run_id)[0]
    payload_text = json.dumps(first.payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    plain = chain_hash(GENESIS_HASH, first.run_id, 1, first.type, first.version, first.actor, first.at, payload_text)
    assert first.hash != plain  # not recomputable without the key
    keyed.close()


def test_keyed_exports_need_the_key_and_detect_edits(
    database_url: str, workspace: Path, tmp_path: Path, cli_env: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    source_url = f"sqlite:///{tmp_path / 'keyed.db'}"
    keyed = Workbench.open(make_settings(source_url, workspace, AGENT_LOG_KEY=KEY))
    run_id = keyed.run(RunRequest("Summarize notes.txt")).run_id
    records = exported(keyed, run_id)
    keyed.close()
    assert {r["chain"] for r in records} == {"hmac-sha256"}
    good = dump(records, tmp_path / "good.jsonl")

    code, _, err = cli("import", str(good), "--db", database_url)  # no key here
    assert code == 2 and "set AGENT_LOG_KEY" in err and len(err.strip().splitlines()) == 1
    monkeypatch.setenv("AGENT_LOG_KEY", OTHER_KEY)
    code, _, err = cli("import", str(good), "--db", database_url)
    assert code == 2 and "another AGENT_LOG_KEY" in err

    monkeypatch.setenv("AGENT_LOG_KEY", KEY)
    edited = json.loads(json.dumps(records))
    edited[-2]["payload"]["summary"] = "forged"
    code, _, err = cli("import", str(dump(edited, tmp_path / "edited.jsonl")), "--db", database_url)
    assert code == 2 and "altered after export" in err  # the HMAC chain cannot be recomputed without the key

    downgraded = rechain([{k: v for k, v in r.items() if k != "chain"} for r in edited])  # a plain chain instead
    code, _, err = cli("import", str(dump(downgraded, tmp_path / "downgraded.jsonl")), "--db", database_url)
    assert code == 0 and "cannot vouch" in err  # imported as history, with a note...
    code, out, _ = cli("verify-log", "--db", database_url)
    assert code == 1 and out.startswith(f"unkeyed: run {run_id} seq 1") and "plain SHA-256" in out  # ...detected

    other_url = f"sqlite:///{tmp_path / 'other.db'}"
    assert cli("import", str(good), "--db", other_url)[0] == 0
    assert cli("verify-log", "--db", other_url)[:2] == (0, "ok: the hash chain of every run verifies\n")
    assert cli("export", run_id, "--db", other_url)[1] == good.read_text(encoding="utf-8")


def test_runs_written_without_a_key_still_verify_and_keep_their_chain(
    source, tmp_path: Path, workspace: Path, cli_env: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    bench, run_id = source()
    bench.close()
    url = f"sqlite:///{tmp_path / 'source.db'}"
    assert cli("verify-log", "--db", url)[0] == 0
    monkeypatch.setenv("AGENT_LOG_KEY", KEY)
    code, out, _ = cli("approve", run_id, "step_3", "--db", url)  # an old run goes on with its own algorithm
    assert code == 0 and out.splitlines()[-1].endswith(": completed")
    store = open_store(url)
    assert store.get_run(run_id).chain == "sha256"
    code, out, _ = cli("verify-log", "--db", url)
    assert code == 1 and "AGENT_LOG_KEY cannot vouch for it" in out  # with the key: it is not vouched for
    monkeypatch.delenv("AGENT_LOG_KEY")
    assert cli("verify-log", "--db", url)[:2] == (0, "ok: the hash chain of every run verifies\n")


def test_a_keyed_chain_without_the_key_can_be_read_but_not_verified_or_extended(
    source, tmp_path: Path, cli_env: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    bench, run_id = source(AGENT_LOG_KEY=KEY)
    bench.close()
    url = f"sqlite:///{tmp_path / 'source.db'}"
    assert cli("events", run_id, "--db", url)[0] == 0
    for argv in (["verify-log"], ["approve", run_id, "step_3"]):
        code, _, err = cli(*argv, "--db", url)
        assert code == 2 and "set AGENT_LOG_KEY" in err and len(err.strip().splitlines()) == 1, err
    monkeypatch.setenv("AGENT_LOG_KEY", KEY)
    assert cli("verify-log", "--db", url)[0] == 0
    assert cli("approve", run_id, "step_3", "--db", url)[0] == 0
    assert cli("verify-log", "--db", url)[0] == 0


def test_database_tampering_is_detected_with_the_key(database_url: str, workspace: Path) -> None:
    keyed = Workbench.open(make_settings(database_url, workspace, AGENT_LOG_KEY=KEY))
    run_id = keyed.run(RunRequest("Summarize notes.txt")).run_id
    store = keyed.store
    rows = store.read_run(run_id)
    # Someone with database access but without the key rewrites the run as a plain chain.
    prev, hashes = GENESIS_HASH, []
    for row in rows:
        payload = dict(row.payload, **({"summary": "forged"} if row.type == "ResponseFinalized" else {}))
        text_ = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        prev = chain_hash(prev, run_id, row.seq, row.type, row.version, row.actor, row.at, text_)
        hashes.append((row.seq, text_, prev))
    with store._write.begin() as conn:
        if store.dialect == "sqlite":
            conn.execute(text("DROP TRIGGER events_no_update"))
        else:
            conn.execute(text("ALTER TABLE events DISABLE TRIGGER events_no_change"))
        for seq, text_, digest in hashes:
            conn.execute(
                text("UPDATE events SET payload = :p, hash = :h WHERE run_id = :r AND seq = :s"),
                {"p": text_, "h": digest, "r": run_id, "s": seq},
            )
        conn.execute(
            text("UPDATE runs SET chain = 'sha256', last_hash = :h WHERE run_id = :r"), {"h": prev, "r": run_id}
        )
    problem = store.verify_chain()
    assert problem is not None and problem.run_id == run_id and "plain SHA-256" in problem.reason
    keyed.close()
    unkeyed = open_store(database_url)
    assert unkeyed.verify_chain() is None  # without the key, the rewrite is indistinguishable: hence the key
    unkeyed.close()


@pytest.mark.parametrize("value", ["short", "x" * 15])
def test_a_short_key_is_refused_in_one_line(value: str, cli_env: None, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("AGENT_LOG_KEY", value)
    code, _, err = cli("runs", "--db", f"sqlite:///{tmp_path / 'x.db'}")
    assert code == 2 and "AGENT_LOG_KEY must have at least 16 characters" in err and value not in err
    with pytest.raises(ConfigError):
        EventStore(f"sqlite:///{tmp_path / 'y.db'}", log_key=value)


# --- property: an export edited without the key never passes for the original ----------------------


@pytest.fixture(scope="module")
def keyed_export(tmp_path_factory: pytest.TempPathFactory) -> Records:
    folder = tmp_path_factory.mktemp("keyed")
    from agent_core.workspace import seed_workspace

    seed_workspace(folder / "ws")
    bench = Workbench.open(make_settings(f"sqlite:///{folder / 'k.db'}", folder / "ws", AGENT_LOG_KEY=KEY))
    run_id = bench.run(RunRequest("Summarize notes.txt")).run_id
    records = exported(bench, run_id)
    bench.close()
    return records


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_an_edited_keyed_export_fails_import_or_verify_log(
    keyed_export: Records, tmp_path: Path, data: st.DataObject
) -> None:
    records = json.loads(json.dumps(keyed_export))
    index = data.draw(st.integers(0, len(records) - 1), label="event")
    field = data.draw(st.sampled_from(["payload", "actor", "at"]), label="field")
    if field == "payload":
        records[index]["payload"][data.draw(st.sampled_from(sorted(records[index]["payload"])))] = data.draw(
            st.text(max_size=8) | st.integers() | st.booleans()
        )
    elif field == "actor":
        records[index]["actor"] = data.draw(st.sampled_from(["human", "planner", "orchestrator", "policy_guard"]))
    else:
        records[index]["at"] = (datetime.fromisoformat(records[index]["at"]) + timedelta(seconds=1)).isoformat()
    if records == keyed_export:
        return  # the draw changed nothing
    how = data.draw(st.sampled_from(["as is", "plain chain", "plain chain marked keyed"]), label="rechain")
    if how != "as is":
        rechain(records)
    if how == "plain chain":
        for r in records:
            r.pop("chain", None)
    store = open_store(f"sqlite:///{tmp_path / f'p{data.draw(st.integers(0, 10**9))}.db'}", log_key=KEY)
    try:
        import_lines(store, [json.dumps(r) for r in records])
        problem = store.verify_chain()
    except TransferError:
        problem = None  # refused at import
    else:
        assert problem is not None  # imported, but verify-log with the key reports it
    finally:
        store.close()
