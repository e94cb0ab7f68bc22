"""Secret redaction: applied to every payload before it reaches the database, precise by design.

Two sources of secrets, each replaced by a mark that names it (``[REDACTED:github-token]``,
``[REDACTED:env:BRAVE_API_KEY]``):

* **Key shapes**, in their real formats (prefix, charset, length) and only as whole tokens: a key
  glued to letters or digits is not one, so ``risk-management-strategies.md``, ``desk-reference``
  and base64 data pass untouched. See ``KEY_SHAPES``.
* **Configured secrets**: the values of secret-named variables of the environment and ``.env``
  (a name with a part KEY, TOKEN, SECRET, PASS, PASSWORD, PAT, DSN, CREDENTIAL(S), BEARER, AUTH
  or PRIVATE) and the password of any URL-valued variable. A value is replaced exactly, and so
  are its encoded forms: base64 (standard and URL-safe, alone or inside a longer encoding),
  URL-encoded and JSON-escaped. Values that are obviously not secrets are left out: shorter than
  ``MIN_SECRET_LENGTH``, booleans, numbers, paths, URLs without a password, and variables whose
  name ends in a word like FILE, PATH, URL or USER (``NOT_SECRET_LAST_PARTS``). A value that is
  a single word of letters (``postgres``) is replaced only where it stands as a word, never
  inside a longer one (``postgresql``).

``Redactor.payload`` also says so: it adds the number of replacements to the payload as
``redactions`` (see ``events.DomainEvent.redactions``). The policy guard's ``no_secrets`` rule
uses ``Redactor.secrets_in`` to refuse a step whose input holds a secret or a mark, because the
stored input is not what the step was planned with.
"""

from __future__ import annotations

import base64
import json
import os
import re
import sys
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any
from urllib.parse import quote, quote_plus, unquote, urlsplit

from dotenv import dotenv_values

from agent_core.jsontext import TooDeep, canonical_json, plain_scalar

REDACTIONS_FIELD = "redactions"
"""The payload key ``Redactor.payload`` adds: how many secrets it replaced in that payload."""
MIN_SECRET_LENGTH = 8
MIN_ENCODED_LENGTH = 8
MARK = re.compile(r"\[REDACTED:([A-Za-z0-9_.:$-]+)\]")
"""A mark left where a secret was: its group names the key shape or the variable."""


def mark(label: str) -> str:
    """The text that replaces a secret: ``[REDACTED:<label>]``."""
    return f"[REDACTED:{label}]"


# --- key shapes -------------------------------------------------------------------------------

# A key is a whole token: not glued to letters, digits, '_' or '-' (the characters keys are made
# of). Brave's prefix is short, so its key must also not touch base64's '+' and '/' (nor a '='
# after it): inside a base64 blob it is never a token of its own.
_B, _E = r"(?<![A-Za-z0-9_-])", r"(?![A-Za-z0-9_-])"
_STRICT_B, _STRICT_E = r"(?<![A-Za-z0-9_+/-])", r"(?![A-Za-z0-9_+/=-])"


def _mixed(body: str) -> bool:
    """Upper case, lower case and a digit: what a random key has and a hyphenated file name has not."""
    return any(c.isupper() for c in body) and any(c.islower() for c in body) and any(c.isdigit() for c in body)


def _alnum(body: str) -> bool:
    return any(c.isdigit() for c in body) and any(c.isalpha() for c in body)


@dataclass(frozen=True, slots=True)
class KeyShape:
    """One key format: ``label`` names it in the mark; ``looks_random`` vets the ``body`` group."""

    label: str
    pattern: str
    looks_random: Callable[[str], bool] | None = None


KEY_SHAPES: tuple[KeyShape, ...] = (
    KeyShape("anthropic-key", rf"{_B}sk-ant-[a-z]+\d{{2}}-(?P<b0>[A-Za-z0-9_-]{{32,}}){_E}"),
    KeyShape(
        "openai-key", rf"{_B}sk-(?:proj|svcacct|admin)-(?P<b1>[A-Za-z0-9_-]{{20,}}T3BlbkFJ[A-Za-z0-9_-]{{20,}}){_E}"
    ),
    KeyShape("api-key", rf"{_B}sk-(?:[a-z0-9]{{1,10}}-){{0,2}}(?P<b2>[A-Za-z0-9]{{32,}}){_E}", _alnum),
    KeyShape("github-token", rf"{_B}gh[pousr]_(?P<b3>[A-Za-z0-9]{{36,251}}){_E}"),
    KeyShape("github-token", rf"{_B}github_pat_(?P<b4>[A-Za-z0-9]{{20,}}_[A-Za-z0-9]{{40,}}){_E}"),
    KeyShape("aws-access-key-id", rf"{_B}(?:AKIA|ASIA|ABIA|ACCA)(?P<b5>[A-Z0-9]{{16}}){_E}"),
    KeyShape("slack-token", rf"{_B}xox[abposr]-\d+-(?P<b6>[A-Za-z0-9-]{{20,}}){_E}"),
    KeyShape("google-api-key", rf"{_B}AIza(?P<b7>[A-Za-z0-9_-]{{35}}){_E}"),
    KeyShape("stripe-key", rf"{_B}[rs]k_(?:live|test)_(?P<b8>[A-Za-z0-9]{{24,}}){_E}", _alnum),
    KeyShape("brave-key", rf"{_STRICT_B}BSA(?P<b9>[A-Za-z0-9_-]{{28}}){_STRICT_E}", _mixed),
    KeyShape(
        "private-key",
        r"-----BEGIN (?P<b10>(?:[A-Z0-9]+ )*)PRIVATE KEY(?: BLOCK)?-----[\s\S]*?"
        r"(?:-----END (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----|\Z)",
    ),
)
_SHAPES = re.compile("|".join(f"(?:{shape.pattern})" for shape in KEY_SHAPES))
_SHAPE_OF_GROUP = {f"b{i}": shape for i, shape in enumerate(KEY_SHAPES)}
_SHAPE_PREFIXES = (
    "sk-",
    "ghp_",
    "gho_",
    "ghu_",
    "ghs_",
    "ghr_",
    "github_pat_",
    "AKIA",
    "ASIA",
    "ABIA",
    "ACCA",
    "xox",
    "AIza",
    "k_live_",
    "k_test_",
    "BSA",
    "-----BEGIN",
)
"""A text holding none of these holds no key shape: most text skips the shape scan altogether."""
_SHAPE_PREFIX = re.compile("|".join(re.escape(prefix) for prefix in _SHAPE_PREFIXES))
_MEMO_CHARS = 2_000_000
"""How many characters of text (and their redacted forms) a ``Redactor`` remembers, so that a text
scanned by the guard is not scanned again when the store writes it (then it forgets them all)."""


# --- configured secrets -----------------------------------------------------------------------

SECRET_NAME_PARTS = frozenset(
    {
        "KEY",
        "KEYS",
        "APIKEY",
        "TOKEN",
        "TOKENS",
        "SECRET",
        "SECRETS",
        "PASS",
        "PASSWD",
        "PASSWORD",
        "PASSPHRASE",
        "PAT",
        "DSN",
        "CREDENTIAL",
        "CREDENTIALS",
        "BEARER",
        "AUTH",
        "PRIVATE",
    }
)
"""A variable is secret-named when one of its ``_``-separated parts is one of these..."""
SECRET_NAME_ENDINGS = ("APIKEY", "TOKEN", "SECRET", "PASSWORD", "PASSWD")
"""...or a part ends with one of these (``GITHUBTOKEN``, ``DBPASSWORD``)."""
NOT_SECRET_LAST_PARTS = frozenset(
    {
        "FILE",
        "PATH",
        "DIR",
        "SOCK",
        "SOCKET",
        "URL",
        "URI",
        "HOST",
        "PORT",
        "USER",
        "USERNAME",
        "ID",
        "NAME",
        "TYPE",
        "MODE",
        "ENABLED",
        "TIMEOUT",
        "TTL",
    }
)
"""A name ending in one of these describes a secret without holding one (``SSH_AUTH_SOCK``, ``TOKEN_URL``)."""
_NOT_SECRET_WORDS = frozenset({"true", "false", "yes", "no", "on", "off", "none", "null", "enabled", "disabled"})
_NUMBER = re.compile(r"[+-]?\d+(?:\.\d+)?")
_URL = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://")


def is_secret_name(name: str) -> bool:
    """True for a variable name that says it holds a secret (see ``SECRET_NAME_PARTS``)."""
    parts = [p for p in re.split(r"[^A-Z0-9]+", name.upper()) if p]
    if not parts or parts[-1] in NOT_SECRET_LAST_PARTS:
        return False
    return any(p in SECRET_NAME_PARTS or p.endswith(SECRET_NAME_ENDINGS) for p in parts) or parts[0].startswith(
        ("SECRET", "PASSWORD")
    )


def _url_password(value: str) -> str | None:
    if not _URL.match(value):
        return None
    try:
        password = urlsplit(value).password
    except ValueError:
        return None
    return unquote(password) if password else None


def _obviously_not_secret(value: str) -> bool:
    if len(value) < MIN_SECRET_LENGTH or value.lower() in _NOT_SECRET_WORDS or _NUMBER.fullmatch(value):
        return True
    if _URL.match(value):
        return True  # its password, if any, is taken on its own
    if value.startswith(("~/", "./", "../")):
        return True
    return value.startswith("/") and os.path.exists(value)


def _dotenv() -> dict[str, str]:
    """The ``.env`` file of the working folder, which ``Settings`` reads too (its keys never reach ``os.environ``)."""
    try:
        return {k: v for k, v in dotenv_values(".env").items() if v} if os.path.isfile(".env") else {}
    except (OSError, UnicodeDecodeError):
        return {}


def secrets_from_environment(environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """The secrets of the environment, by variable name: secret-named values and URL passwords.

    Default: the process environment over the working folder's ``.env`` (as ``Settings`` reads
    them). See the module docstring for what counts and what is left out as obviously not a secret.
    """
    env = {**_dotenv(), **os.environ} if environ is None else environ
    found: dict[str, str] = {}
    for name, value in sorted(env.items()):
        password = _url_password(value)
        if password is not None and len(password) >= MIN_SECRET_LENGTH:
            found[name] = password
        elif is_secret_name(name) and not _obviously_not_secret(value):
            found[name] = value
    return found


def encoded_forms(secret: str) -> set[str]:
    """The secret as it may appear in text: itself, JSON-escaped, URL-encoded and base64-encoded.

    Base64 at each of the three byte alignments, keeping only the characters that depend on the
    secret alone, so the secret is found inside a longer encoding too (``Basic dXNlcjpzZWNyZXQ=``).
    """
    forms = {secret}
    for escaped in (json.dumps(secret)[1:-1], json.dumps(secret, ensure_ascii=False)[1:-1]):
        forms |= {escaped, escaped.replace("/", "\\/")}
    try:
        data = secret.encode("utf-8", "surrogateescape")  # what the environment's undecodable bytes were
    except UnicodeEncodeError:
        return forms  # not text any encoder would produce
    for encoded in (quote(data, safe=""), quote(data), quote_plus(data)):
        forms |= {encoded, re.sub(r"%[0-9A-F]{2}", lambda m: m.group(0).lower(), encoded)}
    for encode in (base64.b64encode, base64.urlsafe_b64encode):
        whole = encode(data).decode("ascii")
        forms |= {whole, whole.rstrip("=")}
        for offset in range(3):
            shifted = encode(b"\0" * offset + data).decode("ascii")
            core = shifted[-(-8 * offset // 6) : 8 * (offset + len(data)) // 6]
            if len(core) >= MIN_ENCODED_LENGTH:
                forms.add(core)
    return forms


@dataclass(frozen=True, slots=True)
class _Needles:
    """Every form of every configured secret, with the label its mark carries."""

    labels: dict[str, str]
    words: frozenset[str]
    """Needles matched only as whole words (a secret that is a single word of letters)."""
    ordered: tuple[str, ...]
    """Longest first, so a longer form wins over a shorter one at the same place."""
    any_form: re.Pattern[str] | None
    """Matches where any form occurs (one scan in C instead of one ``in`` per form); None without secrets."""


@lru_cache(maxsize=64)
def _needles(secrets: tuple[tuple[str, str], ...]) -> _Needles:
    labels: dict[str, str] = {}
    words: set[str] = set()
    for label, secret in secrets:
        for form in encoded_forms(secret):
            labels.setdefault(form, label)
        if secret.isalpha():
            words.add(secret)
    ordered = tuple(sorted(labels, key=lambda n: (-len(n), n)))
    any_form = re.compile("|".join(re.escape(n) for n in ordered)) if ordered else None
    return _Needles(labels, frozenset(words), ordered, any_form)


@lru_cache(maxsize=256)
def _needle_pattern(present: tuple[str, ...], words: frozenset[str]) -> re.Pattern[str]:
    parts = (rf"(?<![A-Za-z0-9]){re.escape(n)}(?![A-Za-z0-9])" if n in words else re.escape(n) for n in present)
    return re.compile("|".join(parts))


def _labelled(secrets: Mapping[str, str] | Iterable[str]) -> tuple[tuple[str, str], ...]:
    if isinstance(secrets, Mapping):
        pairs = [(f"env:{re.sub(r'[^A-Za-z0-9_.-]', '_', name)}", value) for name, value in secrets.items()]
    else:
        pairs = [("secret", value) for value in secrets]
    return tuple(sorted((label, value) for label, value in pairs if value))


class Redactor:
    """Replaces configured secrets (and their encoded forms) and key-shaped tokens with named marks.

    ``secrets``: name -> value (marks say ``env:<name>``) or bare values (marks say ``secret``);
    default: ``secrets_from_environment()`` now. Key shapes are always redacted.
    """

    def __init__(self, secrets: Mapping[str, str] | Iterable[str] | None = None) -> None:
        self._needles = _needles(_labelled(secrets_from_environment() if secrets is None else secrets))
        self._memo: dict[str, tuple[str, int]] = {}
        self._memo_chars = 0

    def redact_text(self, value: str) -> tuple[str, int]:
        """``value`` with every secret replaced by its mark, and how many were replaced.

        Remembered (the secrets of a redactor never change): the guard scans a step's input and
        the store then writes the same texts, and payload keys repeat in every event.
        """
        known = self._memo.get(value)
        if known is not None:
            return known
        result = self._scan(value)
        if self._memo_chars + len(value) > _MEMO_CHARS:
            self._memo.clear()
            self._memo_chars = 0
        self._memo[value] = result
        self._memo_chars += len(value)
        return result

    def _scan(self, value: str) -> tuple[str, int]:
        count = 0
        any_form = self._needles.any_form
        if any_form is not None and any_form.search(value):
            present = tuple(n for n in self._needles.ordered if n in value)
            labels = self._needles.labels
            value, count = _needle_pattern(present, self._needles.words).subn(lambda m: mark(labels[m.group(0)]), value)
        if _SHAPE_PREFIX.search(value):
            shaped = 0

            def replace(m: re.Match[str]) -> str:
                nonlocal shaped
                shape = _SHAPE_OF_GROUP[str(m.lastgroup)]
                if shape.looks_random is not None and not shape.looks_random(m.group(m.lastgroup or 0)):
                    return m.group(0)
                shaped += 1
                return mark(shape.label)

            value = _SHAPES.sub(replace, value)
            count += shaped
        return value, count

    def text(self, value: str) -> str:
        """``value`` with every secret replaced by its mark."""
        return self.redact_text(value)[0]

    def redact(self, value: Any, max_depth: int | None = None) -> tuple[Any, int]:
        """A JSON-like value redacted at any depth, dict keys included (tuples come back as lists),
        and how many secrets were replaced; ``TooDeep`` when objects or arrays nest more than
        ``max_depth`` levels (the store's limit, checked in the same walk)."""
        return self._redact(value, max_depth, [])

    def _redact(self, value: Any, max_depth: int | None, odd: list[Any]) -> tuple[Any, int]:
        return self._walk(value, 1, sys.maxsize if max_depth is None else max_depth, odd)

    def _walk(self, value: Any, depth: int, max_depth: int, odd: list[Any]) -> tuple[Any, int]:
        """``redact``'s walk; every leaf that is neither a string nor ``plain_scalar`` is added to ``odd``."""
        text = self.redact_text
        if isinstance(value, str):
            return text(value)
        if isinstance(value, dict):
            if depth > max_depth:
                raise TooDeep(max_depth)
            cleaned: dict[str, Any] = {}
            total = 0
            for key, item in value.items():
                new_key, count = text(key if isinstance(key, str) else str(key))
                if isinstance(item, str):
                    item, found = text(item)
                    count += found
                elif isinstance(item, dict | list | tuple):
                    item, found = self._walk(item, depth + 1, max_depth, odd)
                    count += found
                elif not plain_scalar(item):
                    odd.append(item)
                cleaned[new_key] = item
                total += count
            return cleaned, total
        if isinstance(value, list | tuple):
            if depth > max_depth:
                raise TooDeep(max_depth)
            items = [self._walk(item, depth + 1, max_depth, odd) for item in value]
            return [item for item, _ in items], sum(n for _, n in items)
        if not plain_scalar(value):
            odd.append(value)
        return value, 0

    def value(self, value: Any) -> Any:
        """A JSON-like value redacted at any depth, dict keys included (tuples come back as lists)."""
        return self.redact(value)[0]

    def payload(self, payload: dict[str, Any], max_depth: int | None = None) -> dict[str, Any]:
        """An event payload redacted, with ``redactions`` raised by the number of secrets replaced.

        A payload without secrets comes back equal to the one given (no ``redactions`` added).
        ``TooDeep`` as ``redact``.
        """
        return self._payload(payload, max_depth, [])

    def payload_and_text(self, payload: dict[str, Any], max_depth: int | None = None) -> tuple[dict[str, Any], str]:
        """``payload(payload)`` and the text it is stored as (``canonical_json``), in one walk: the walk
        sees whether every leaf is plain, which lets the fast encoder write the text. Raises as both."""
        odd: list[Any] = []
        cleaned = self._payload(payload, max_depth, odd)
        return cleaned, canonical_json(cleaned, plain=not odd)

    def _payload(self, payload: dict[str, Any], max_depth: int | None, odd: list[Any]) -> dict[str, Any]:
        cleaned, count = self._redact(payload, max_depth, odd)
        if count:
            before = payload.get(REDACTIONS_FIELD)
            cleaned[REDACTIONS_FIELD] = (before if isinstance(before, int) else 0) + count
        return dict(cleaned)

    def secrets_in(self, value: Any) -> list[str]:
        """The labels of the secrets ``value`` holds, and of the marks already in it, sorted; [] when none."""
        cleaned, _ = self.redact(value)
        return sorted(set(_marks(cleaned)))


def _marks(value: Any) -> Iterable[str]:
    if isinstance(value, str):
        yield from MARK.findall(value)
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _marks(key)
            yield from _marks(item)
    elif isinstance(value, list):
        for item in value:
            yield from _marks(item)


__all__ = [
    "KEY_SHAPES",
    "MARK",
    "REDACTIONS_FIELD",
    "KeyShape",
    "Redactor",
    "encoded_forms",
    "is_secret_name",
    "mark",
    "secrets_from_environment",
]
