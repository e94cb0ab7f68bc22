"""Redaction is precise: ordinary data passes unchanged, real key shapes and configured secrets never reach
the store (SQLite and PostgreSQL), in any of their encodings, and a redacted payload says how many."""

from __future__ import annotations

import base64
import hashlib
import json
import re
from typing import Any
from urllib.parse import quote, quote_plus

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from sqlalchemy import text

from agent_core import events as ev
from agent_core.describe import summarize_event
from agent_core.jsontext import TooDeep, too_deep
from agent_core.normalize import normalize_event
from agent_core.projections import decode
from agent_core.redaction import MARK, REDACTIONS_FIELD, Redactor, encoded_forms
from agent_core.store import EventStore
from tests.store.helpers import new_run_id, run_started

GOOGLE_KEY_FORMAT = re.compile(r"AIza[A-Za-z0-9_-]{35}")
ALNUM = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
B64URL = ALNUM + "-_"
STORE_SETTINGS = settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
)

# --- ordinary data --------------------------------------------------------------------------------

NAMED_ORDINARY = [
    "risk-management-strategies.md",
    "reports/task-orchestration-frameworks.md",
    "desk-reference-for-on-call-engineers",
    "sk-learn-classification-tutorial-notes.md",
    "ask-me-anything_transcript-2024.txt",
    "AKIA-style ids are described in aws-docs.md",
    "QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVo+BSAbcdefghijklmnopqrstuvwxyz0123/BSAxyz==",
    "BSA" + "x" * 28,
    "github_pat_notes.md and ghp_readme.txt",
    "[REDACTED] in a declassified memo stays as it is",
]
TRICKY_WORDS = ["risk", "task", "desk", "sk", "ask", "ant", "proj", "ghp", "gho", "github", "pat", "AKIA", "ASIA"]
TRICKY_WORDS += ["BSA", "xoxb", "AIza", "live", "test", "BEGIN", "PRIVATE", "KEY", "management", "orchestration"]
words = st.one_of(st.sampled_from(TRICKY_WORDS), st.from_regex(r"[A-Za-z]{1,12}", fullmatch=True))
hyphenated = st.lists(words, min_size=1, max_size=10).flatmap(
    lambda parts: st.sampled_from(["-", "_", "", "."]).map(lambda sep: sep.join(parts))
)
paths = st.lists(hyphenated, min_size=1, max_size=5).flatmap(
    lambda parts: st.sampled_from([".md", ".txt", ".json", ""]).map(lambda ext: "/".join(parts) + ext)
)
hex_hashes = st.binary(max_size=64).map(lambda data: hashlib.sha256(data).hexdigest())
uuids = st.uuids().map(str) | st.uuids().map(lambda u: u.hex)
base64_data = st.tuples(st.binary(min_size=1, max_size=600), st.booleans(), st.booleans()).map(
    lambda t: (base64.urlsafe_b64encode if t[1] else base64.b64encode)(t[0]).decode().rstrip("=" if t[2] else "")
)
plain_text = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=300)
# "AIza" + 35 of [A-Za-z0-9_-] (the generator found "AIza-risk-risk-risk-risk-risk-risk-risk") is exactly
# Google's key format: no rule that goes by shape can call such text ordinary, so it is not generated as such.
ordinary = st.one_of(
    st.sampled_from(NAMED_ORDINARY), hyphenated, paths, hex_hashes, uuids, base64_data, plain_text
).filter(lambda value: not GOOGLE_KEY_FORMAT.search(value))
ordinary_payloads = st.recursive(
    ordinary | st.integers() | st.booleans() | st.none(),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(ordinary, children, max_size=4),
    max_leaves=12,
)
secret_values = st.text(st.characters(min_codepoint=33, max_codepoint=126), min_size=10, max_size=40).filter(
    lambda s: any(c.isdigit() for c in s) and any(c.isalpha() for c in s)
)


@given(value=ordinary)
@settings(max_examples=300)
def test_ordinary_text_paths_hashes_uuids_and_base64_pass_unchanged(value: str) -> None:
    assert Redactor(secrets=()).redact_text(value) == (value, 0)


@pytest.mark.parametrize("value", NAMED_ORDINARY)
def test_the_names_the_old_patterns_broke_pass_unchanged(value: str) -> None:
    assert Redactor(secrets=()).redact_text(value) == (value, 0)


@given(payload=ordinary_payloads, secret=secret_values)
@settings(max_examples=100)
def test_ordinary_payloads_are_unchanged_beside_configured_secrets(payload: Any, secret: str) -> None:
    dumped = json.dumps(payload)
    assume(not any(form in dumped or form in repr(payload) for form in encoded_forms(secret)))
    assert Redactor({"MY_SERVICE_TOKEN": secret}).redact(payload) == (payload, 0)


@given(payload=st.dictionaries(ordinary, ordinary_payloads, max_size=4))
@STORE_SETTINGS
def test_ordinary_payloads_round_trip_through_the_store_unchanged(store: EventStore, payload: dict[str, Any]) -> None:
    assume(REDACTIONS_FIELD not in payload)
    run = new_run_id()
    store.append(run, [_Raw(payload)], 0)
    [stored] = store.read_run(run)
    assert stored.payload == json.loads(json.dumps(payload))  # tuples are lists in JSON, nothing else differs
    assert store.verify_chain(run) is None


# --- real key shapes ------------------------------------------------------------------------------


def _text_of(alphabet: str, size: int) -> st.SearchStrategy[str]:
    return st.text(st.sampled_from(alphabet), min_size=size, max_size=size)


def _random_body(alphabet: str, size: int) -> st.SearchStrategy[str]:
    """A body with an upper case letter, a lower case letter and a digit, as a random key has."""
    return _text_of(alphabet, size - 3).flatmap(
        lambda rest: st.integers(0, size - 3).map(lambda at: rest[:at] + "aZ7" + rest[at:])
    )


KEYS: dict[str, st.SearchStrategy[str]] = {
    "anthropic-key": _text_of(B64URL, 93).map(lambda b: f"sk-ant-api03-{b}AA"),
    "openai-key": st.tuples(_text_of(B64URL, 74), _text_of(B64URL, 74)).map(lambda t: f"sk-proj-{t[0]}T3BlbkFJ{t[1]}"),
    "api-key": st.one_of(
        st.tuples(_text_of(ALNUM, 20), _text_of(ALNUM, 20)).map(lambda t: f"sk-{t[0]}T3BlbkFJ{t[1]}"),
        _text_of("0123456789abcdef", 30).map(lambda b: f"sk-a1{b}"),
    ),
    "github-token": st.one_of(
        st.tuples(st.sampled_from("pousr"), _text_of(ALNUM, 36)).map(lambda t: f"gh{t[0]}_{t[1]}"),
        st.tuples(_text_of(ALNUM, 22), _text_of(ALNUM, 59)).map(lambda t: f"github_pat_{t[0]}_{t[1]}"),
    ),
    "aws-access-key-id": st.tuples(
        st.sampled_from(["AKIA", "ASIA"]), _text_of("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", 16)
    ).map("".join),
    "slack-token": st.tuples(_text_of("0123456789", 11), _text_of("0123456789", 12), _text_of(ALNUM, 24)).map(
        lambda t: f"xoxb-{t[0]}-{t[1]}-{t[2]}"
    ),
    "google-api-key": _text_of(B64URL, 35).map(lambda b: f"AIza{b}"),
    "stripe-key": _text_of(ALNUM, 22).map(lambda b: f"sk_live_a1{b}"),
    "brave-key": _random_body(B64URL, 28).map(lambda b: f"BSA{b}"),
    "private-key": _text_of(ALNUM + "+/\n", 120).map(
        lambda b: f"-----BEGIN OPENSSH PRIVATE KEY-----\n{b}\n-----END OPENSSH PRIVATE KEY-----"
    ),
}
BEFORE = ["", "key=", "token: ", '"', "'", "\n", "(", "<", "`", "Bearer ", "x-api-key:"]
AFTER = ["", ".", ",", '"', "'", "\n", ")", ">", "`", "&page=2", ";"]


@st.composite
def leaks(draw: st.DrawFn) -> tuple[str, str, str]:
    """(label, key, text holding it as a token) for a generated key of every known format."""
    label = draw(st.sampled_from(sorted(KEYS)))
    key = draw(KEYS[label])
    before, after = draw(st.sampled_from(BEFORE)), draw(st.sampled_from(AFTER))
    if label != "brave-key":  # a short prefix: inside base64 ('/' or '+') it is not a token
        before = draw(st.sampled_from([before, "https://", "s3://bucket/"]))
        after = draw(st.sampled_from([after, "@github.com/x"]))
    left, right = draw(plain_text), draw(plain_text)
    return label, key, f"{left} {before}{key}{after} {right}"


@given(leak=leaks())
@settings(max_examples=300)
def test_generated_keys_of_every_format_are_replaced_by_their_named_mark(leak: tuple[str, str, str]) -> None:
    label, key, text_with_key = leak
    cleaned, count = Redactor(secrets=()).redact_text(text_with_key)
    assert key not in cleaned and f"[REDACTED:{label}]" in cleaned and count >= 1


@given(leak=leaks())
@STORE_SETTINGS
def test_generated_keys_never_reach_the_store(store: EventStore, leak: tuple[str, str, str]) -> None:
    label, key, text_with_key = leak
    run = new_run_id()
    store.append(run, [run_started(goal=text_with_key), _Raw({"deep": [{"text": text_with_key}]})], 0)
    raw = _raw_payloads(store, run)
    assert key not in raw and json.dumps(key)[1:-1] not in raw
    stored = store.read_run(run)
    assert [e.payload.get(REDACTIONS_FIELD, 0) >= 1 for e in stored] == [True, True]
    assert f"[REDACTED:{label}]" in stored[0].payload["goal"]
    assert store.verify_chain(run) is None


# --- configured secrets and their encodings ---------------------------------------------------------


@st.composite
def encoded_leaks(draw: st.DrawFn) -> tuple[str, str]:
    """(secret, text holding it raw or encoded: base64 alone or inside a longer encoding, URL, JSON)."""
    secret = draw(secret_values)
    prefix, suffix = draw(st.text(ALNUM + ":", max_size=6)), draw(st.text(ALNUM, max_size=6))
    data = (prefix + secret + suffix).encode()
    form = draw(
        st.sampled_from(
            [
                secret,
                base64.b64encode(secret.encode()).decode(),
                base64.b64encode(data).decode(),
                base64.urlsafe_b64encode(data).decode().rstrip("="),
                quote(secret, safe=""),
                quote_plus(secret),
                json.dumps(secret)[1:-1],
                json.dumps({"password": secret}),
            ]
        )
    )
    left, right = draw(plain_text), draw(plain_text)
    return secret, f"{left} {form} {right}"


@given(leak=encoded_leaks())
@settings(max_examples=300)
def test_configured_secrets_are_replaced_in_every_encoding(leak: tuple[str, str]) -> None:
    secret, text_with_secret = leak
    cleaned, count = Redactor({"MY_SERVICE_TOKEN": secret}).redact_text(text_with_secret)
    assert "[REDACTED:env:MY_SERVICE_TOKEN]" in cleaned and count >= 1
    assert secret not in cleaned
    assert base64.b64encode(secret.encode()).decode().rstrip("=") not in cleaned


@given(leak=encoded_leaks())
@STORE_SETTINGS
def test_configured_secrets_never_reach_the_store(database_url: str, leak: tuple[str, str]) -> None:
    secret, text_with_secret = leak
    redacting = EventStore(database_url, redactor=Redactor({"MY_SERVICE_TOKEN": secret}))
    try:
        run = new_run_id()
        redacting.append(run, [_Raw({"text": text_with_secret, text_with_secret: [text_with_secret]})], 0)
        raw = _raw_payloads(redacting, run)
        for form in (secret, json.dumps(secret)[1:-1], base64.b64encode(secret.encode()).decode().rstrip("=")):
            assert form not in raw
        assert json.loads(raw)[REDACTIONS_FIELD] >= 3
    finally:
        redacting.close()


# --- saying so ------------------------------------------------------------------------------------


def test_a_payload_without_secrets_is_stored_exactly_as_before_the_count_existed() -> None:
    assert ev.RunCompleted().to_payload() == {"status": "completed"}
    assert Redactor(secrets=()).payload({"status": "completed"}) == {"status": "completed"}


def test_the_count_is_read_back_shown_in_the_summary_and_left_out_of_the_comparison(store: EventStore) -> None:
    key = "ghp_" + "aB3" * 12
    run = new_run_id()
    store.append(run, [ev.RunFailed(reason=f"the key {key} was refused"), ev.RunFailed(reason="no key")], 0)
    leaked, clean = [decode(e) for e in store.read_run(run)]
    assert leaked.event.redactions == 1 and leaked.event.reason == "the key [REDACTED:github-token] was refused"
    assert clean.event.redactions == 0 and REDACTIONS_FIELD not in store.read_run(run)[1].payload
    assert summarize_event(leaked).startswith("(1 secret redacted) the key [REDACTED:github-token]")
    assert normalize_event(leaked) == {
        "type": "RunFailed",
        "actor": "orchestrator",
        "payload": {"reason": "the key [REDACTED:github-token] was refused"},
    }


def test_a_count_already_in_the_payload_is_added_to() -> None:
    payload = Redactor(secrets=()).payload({"goal": "ghp_" + "aB3" * 12, REDACTIONS_FIELD: 2})
    assert payload == {"goal": "[REDACTED:github-token]", REDACTIONS_FIELD: 3}


def test_secrets_in_names_live_secrets_and_marks_already_there() -> None:
    redactor = Redactor({"MY_SERVICE_TOKEN": "s3cret-value-42"})
    assert redactor.secrets_in({"content": "x s3cret-value-42 y", "path": "[REDACTED:brave-key].md"}) == [
        "brave-key",
        "env:MY_SERVICE_TOKEN",
    ]
    assert redactor.secrets_in({"content": "[REDACTED] in an old run", "path": "risk-management.md"}) == []
    assert MARK.fullmatch("[REDACTED:env:MY_SERVICE_TOKEN]")


class _Raw:
    """An opaque payload of no catalogue type: the store redacts whatever it is given."""

    type, schema_version, actor = "Opaque", 1, "orchestrator"

    def __init__(self, payload: dict[str, Any]) -> None:
        self._payload = payload

    def to_payload(self) -> dict[str, Any]:
        return self._payload


def _raw_payloads(store: EventStore, run_id: str) -> str:
    with store._read.connect() as conn:
        rows = conn.execute(text("SELECT payload FROM events WHERE run_id = :r ORDER BY seq"), {"r": run_id})
        return "\n".join(row.payload for row in rows)


# --- a redactor remembers what it scanned -----------------------------------------------------------

SECRET = "s3cr3t-Pa55word-0123456789"


@settings(max_examples=100, deadline=None)
@given(
    texts=st.lists(
        st.one_of(
            st.text(max_size=40),
            st.builds(lambda a, b: a + SECRET + b, st.text(max_size=10), st.text(max_size=10)),
            st.sampled_from(["ghp_" + "a1B2" * 9, "step_id", "input", "notes.txt"]),
        ),
        max_size=30,
    )
)
def test_a_redactor_that_remembers_its_scans_answers_as_a_fresh_one(texts: list[str]) -> None:
    """Remembering (and forgetting once the memo is full) never changes an answer, also for repeated texts."""
    remembering = Redactor({"DB_PASSWORD": SECRET})
    for value in texts + texts:
        assert remembering.redact_text(value) == Redactor({"DB_PASSWORD": SECRET}).redact_text(value)


def test_the_memo_of_scanned_text_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("agent_core.redaction._MEMO_CHARS", 100)
    redactor = Redactor({"DB_PASSWORD": SECRET})
    for i in range(50):
        assert redactor.redact_text(f"{i:03d} {SECRET} " + "x" * 20) == (
            f"{i:03d} [REDACTED:env:DB_PASSWORD] " + "x" * 20,
            1,
        )
    assert sum(len(text) for text in redactor._memo) <= 100  # forgotten at once when full, never more


# --- the depth limit, checked in the redaction's own walk --------------------------------------------

json_like = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=3) | st.tuples(inner, inner) | st.dictionaries(st.text(max_size=4), inner, max_size=3)
    ),
    max_leaves=30,
)


@given(value=json_like, limit=st.integers(1, 8))
def test_the_redaction_walk_refuses_exactly_what_too_deep_refuses(value: Any, limit: int) -> None:
    """The store checks the depth limit while redacting (one walk of a payload, not two), as ``too_deep`` does."""
    redactor = Redactor({})
    try:
        limited = redactor.redact(value, max_depth=limit)
    except TooDeep as refused:
        assert too_deep(value, limit) and refused.limit == limit
    else:
        assert not too_deep(value, limit)
        assert limited == redactor.redact(value)
