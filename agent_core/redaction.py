"""Secret redaction applied to every payload before it reaches the database.

Two sources of secrets: the values of secret-looking environment variables present right now
(``*_API_KEY``, ``*_TOKEN``, ``*_SECRET``, ``*PASSWORD*``), and well-known key shapes
(``sk-...``, ``sk-ant-...``, GitHub and AWS keys). Values are replaced anywhere in a payload, at
any depth, dict keys included.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from typing import Any

REDACTED = "[REDACTED]"

KEY_SHAPES = re.compile(
    r"sk-ant-[A-Za-z0-9_\-]{8,}"
    r"|sk-(?:proj-)?[A-Za-z0-9_\-]{16,}"
    r"|gh[pousr]_[A-Za-z0-9]{20,}"
    r"|AKIA[0-9A-Z]{16}"
    r"|xox[abprs]-[A-Za-z0-9\-]{10,}"
    r"|BSA[A-Za-z0-9_\-]{20,}"
)
SECRET_ENV_NAME = re.compile(r"(_API_KEY|_TOKEN|_SECRET|PASSWORD|_KEY)$|^(PASSWORD|SECRET)", re.IGNORECASE)
MIN_SECRET_LENGTH = 8


def secrets_from_environment(environ: Mapping[str, str] | None = None) -> tuple[str, ...]:
    """Values of secret-named variables, longest first (so a key is never half-replaced)."""
    env = os.environ if environ is None else environ
    values = {value for name, value in env.items() if SECRET_ENV_NAME.search(name) and len(value) >= MIN_SECRET_LENGTH}
    return tuple(sorted(values, key=len, reverse=True))


class Redactor:
    """Replaces known secret values and key-shaped strings with ``[REDACTED]``."""

    def __init__(self, secrets: tuple[str, ...] | None = None) -> None:
        self._secrets = secrets_from_environment() if secrets is None else secrets

    def text(self, value: str) -> str:
        """``value`` with every known secret and key-shaped substring replaced by ``[REDACTED]``."""
        for secret in self._secrets:
            if secret in value:
                value = value.replace(secret, REDACTED)
        return KEY_SHAPES.sub(REDACTED, value)

    def value(self, value: Any) -> Any:
        """A JSON-like value redacted at any depth, dict keys included (tuples come back as lists)."""
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, dict):
            return {self.text(str(key)): self.value(item) for key, item in value.items()}
        if isinstance(value, list | tuple):
            return [self.value(item) for item in value]
        return value
