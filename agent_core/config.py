"""Settings: one object read from the environment and ``.env``, passed explicitly.

Nothing in agent_core reads ``os.environ`` on its own (except the redactor, which must know
every secret present); callers build a ``Settings`` once and hand it down.
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
from pathlib import Path
from typing import Any

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic.fields import FieldInfo
from pydantic_settings import (
    BaseSettings,
    EnvSettingsSource,
    InitSettingsSource,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError

from agent_core.errors import ConfigError

DEFAULT_DATABASE_URL = "sqlite:///data/agent.db"
MIN_LOG_KEY_CHARS = 16
SHIPPED_POLICY = Path(__file__).resolve().parent.parent / "policies" / "default.yaml"
DASHBOARD_PASSWORD_MIN_CHARS = 12
API_TOKEN_MIN_CHARS = 16
MAX_ACTIVE_RUNS_RANGE = (1, 32)
MAX_QUEUED_RUNS_RANGE = (0, 256)
QUEUE_CHOICES = ("procrastinate",)


class Settings(BaseSettings):
    """Everything configurable, with the defaults of DESIGN.md's Configuration section."""

    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore", frozen=True)

    database_url: str = Field(default=DEFAULT_DATABASE_URL, validation_alias="DATABASE_URL")
    agent_planner: str = Field(default="auto", validation_alias="AGENT_PLANNER")
    agent_model: str | None = Field(default=None, validation_alias="AGENT_MODEL")
    agent_workspace: Path = Field(default=Path("workspace"), validation_alias="AGENT_WORKSPACE")
    agent_policy: Path = Field(default=SHIPPED_POLICY, validation_alias="AGENT_POLICY")  # works from any folder
    provider_credentials: dict[str, SecretStr] = Field(default_factory=dict, exclude=True)
    """``ANTHROPIC_API_KEY``, ``OPENAI_BASE_URL``...: the variables registered providers name (``credential``)."""
    brave_api_key: SecretStr | None = Field(default=None, validation_alias="BRAVE_API_KEY")
    llm_timeout_s: float = Field(default=60.0, validation_alias="AGENT_LLM_TIMEOUT")
    # The dashboard (README, "Serving the dashboard to a team"): who may use it, and how much it runs at once.
    dashboard_password: SecretStr | None = Field(default=None, validation_alias="AGENT_DASHBOARD_PASSWORD")
    dashboard_user_header: str | None = Field(default=None, validation_alias="AGENT_DASHBOARD_USER_HEADER")
    max_active_runs: int = Field(
        default=4, ge=MAX_ACTIVE_RUNS_RANGE[0], le=MAX_ACTIVE_RUNS_RANGE[1], validation_alias="AGENT_MAX_ACTIVE_RUNS"
    )
    max_queued_runs: int = Field(
        default=8, ge=MAX_QUEUED_RUNS_RANGE[0], le=MAX_QUEUED_RUNS_RANGE[1], validation_alias="AGENT_MAX_QUEUED_RUNS"
    )
    api_token: SecretStr | None = Field(default=None, validation_alias="AGENT_API_TOKEN")
    """The HTTP API's bearer token: required on every request when set, and to listen beyond loopback."""
    otel_exporter_otlp_endpoint: str | None = Field(default=None, validation_alias="OTEL_EXPORTER_OTLP_ENDPOINT")
    # Scale-out (README, "Several machines"): who drives runs, and how workers notice each other die.
    agent_queue: str | None = Field(default=None, validation_alias="AGENT_QUEUE")
    """Unset: runs execute in the process that starts them; ``procrastinate``: Procrastinate workers (PostgreSQL)."""
    worker_heartbeat_s: float = Field(default=5.0, gt=0, le=300, validation_alias="AGENT_WORKER_HEARTBEAT")
    """How often a worker records that it is alive."""
    worker_stalled_s: float = Field(default=30.0, gt=0, le=3600, validation_alias="AGENT_WORKER_STALLED_AFTER")
    """A worker silent this long is dead: the stalled-job sweep hands its runs to another worker."""

    @field_validator("agent_queue")
    @classmethod
    def _a_known_queue(cls, value: str | None) -> str | None:
        if value in (None, ""):
            return None
        if value not in QUEUE_CHOICES:
            raise ValueError(f"unknown queue {value!r}; leave AGENT_QUEUE unset (in-process) or use 'procrastinate'")
        return value

    agent_log_key: SecretStr | None = Field(default=None, validation_alias="AGENT_LOG_KEY")
    """When set, runs created from now on chain their events with HMAC-SHA256 under this key."""

    @field_validator("agent_log_key")
    @classmethod
    def _a_long_enough_key(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and len(value.get_secret_value()) < MIN_LOG_KEY_CHARS:
            raise ValueError(
                f"AGENT_LOG_KEY must have at least {MIN_LOG_KEY_CHARS} characters "
                "(e.g. python -c 'import secrets; print(secrets.token_hex(32))')"
            )
        return value

    def log_key(self) -> str | None:
        """``AGENT_LOG_KEY``'s value, or None."""
        return self.agent_log_key.get_secret_value() if self.agent_log_key else None

    max_interruptions: int = Field(default=3, ge=1, le=100, validation_alias="AGENT_MAX_INTERRUPTIONS")
    """How many times one step may be interrupted (the process died inside its tool) before resume fails the run."""
    read_max_bytes: int = Field(default=200_000, ge=1, validation_alias="AGENT_READ_MAX_BYTES")
    search_max_files: int = Field(default=20_000, ge=1, validation_alias="AGENT_SEARCH_MAX_FILES")
    search_max_file_bytes: int = Field(default=10_000_000, ge=1, validation_alias="AGENT_SEARCH_MAX_FILE_BYTES")
    index_dir: Path | None = Field(default=None, validation_alias="AGENT_INDEX_DIR")
    """Where the offline search keeps its index; default: see ``search_index_dir``."""
    xdg_cache_home: Path | None = Field(default=None, validation_alias="XDG_CACHE_HOME")

    @field_validator("agent_planner")
    @classmethod
    def _a_registered_planner(cls, value: str) -> str:
        from agent_core.providers.registry import planner_choices  # the registry imports this module

        choices = planner_choices()
        if value not in choices:
            raise ValueError(f"unknown planner {value!r}; choose one of {', '.join(choices)}")
        return value

    @field_validator("dashboard_password", "dashboard_user_header", "api_token", mode="before")
    @classmethod
    def _empty_is_unset(cls, value: Any) -> Any:
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("dashboard_password")
    @classmethod
    def _a_real_password(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and len(value.get_secret_value()) < DASHBOARD_PASSWORD_MIN_CHARS:
            raise ValueError(f"use at least {DASHBOARD_PASSWORD_MIN_CHARS} characters")
        return value

    @field_validator("api_token")
    @classmethod
    def _a_real_token(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and not re.fullmatch(r"[\x21-\x7e]+", value.get_secret_value()):
            raise ValueError("use printable ASCII without spaces: the token travels in an HTTP header")
        if value is not None and len(value.get_secret_value()) < API_TOKEN_MIN_CHARS:
            raise ValueError(
                f"use at least {API_TOKEN_MIN_CHARS} characters "
                "(e.g. python -c 'import secrets; print(secrets.token_urlsafe(32))')"
            )
        return value

    @field_validator("dashboard_user_header")
    @classmethod
    def _a_header_name(cls, value: str | None) -> str | None:
        if value is not None and not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9-]{0,63}", value.strip()):
            raise ValueError("an HTTP header name, like X-Forwarded-User")
        return value.strip() if value is not None else None

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Arguments, then the environment, then .env, then the providers' credentials from the registry."""
        credentials = _ProviderCredentials(settings_cls, init_settings, env_settings, dotenv_settings)
        return credentials, init_settings, env_settings, dotenv_settings, file_secret_settings

    def credential(self, name: str) -> str | None:
        """A provider's key or base URL by its variable's name (``OPENAI_BASE_URL``); None when unset."""
        value = self.provider_credentials.get(name)
        return value.get_secret_value() if value else None

    def resolved_planner(self) -> str:
        """The provider ``AGENT_PLANNER`` names; ``auto`` resolved by ``providers.registry.resolve_auto``.

        As shipped, ``auto`` is Anthropic if its key is set, else OpenAI if its key or base URL is set,
        else offline.
        """
        if self.agent_planner != "auto":
            return self.agent_planner
        from agent_core.providers.registry import resolve_auto  # the registry imports this module

        return resolve_auto(self)

    def search_index_dir(self) -> Path:
        """Where the offline search's index lives: ``AGENT_INDEX_DIR``, else beside a SQLite event store
        (``data/agent.db`` -> ``data/agent.db.search/``), else a cache folder named after the database URL
        (``$XDG_CACHE_HOME`` or ``~/.cache``, ``agent-workbench/search/<hash>``). Never the workspace: the
        search keeps its index in memory when this folder is inside it."""
        if self.index_dir is not None:
            return Path(os.path.abspath(self.index_dir))
        try:
            url = make_url(self.database_url)
        except ArgumentError:
            url = None
        if url is not None and url.get_backend_name() == "sqlite" and url.database not in (None, "", ":memory:"):
            return Path(os.path.abspath(str(url.database) + ".search"))
        try:
            cache = self.xdg_cache_home or Path.home() / ".cache"
        except RuntimeError:  # no home folder to speak of (a bare container user)
            cache = Path(tempfile.gettempdir())
        key = hashlib.sha256(masked_url(self.database_url).encode("utf-8")).hexdigest()[:16]
        return Path(os.path.abspath(cache)) / "agent-workbench" / "search" / key


class _ProviderCredentials(PydanticBaseSettingsSource):
    """The variables registered providers are reached with, read like a field: arguments, environment, ``.env``.

    They have no fields of their own because providers are declared in ``providers.registry``, not
    here: a new provider's ``{ENV}_API_KEY`` is read without a change to this module.
    """

    def __init__(self, settings_cls: type[BaseSettings], *sources: PydanticBaseSettingsSource) -> None:
        super().__init__(settings_cls)
        self._sources = sources  # first wins, as for the fields

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False  # __call__ fills the one field this source serves

    def __call__(self) -> dict[str, Any]:
        from agent_core.providers.registry import credential_names  # the registry imports this module

        found: dict[str, Any] = {}
        for name in credential_names():
            value = next((v for source in self._sources if (v := _lookup(source, name))), None)
            if value:
                found[name] = value
        return {"provider_credentials": found}


def _lookup(source: PydanticBaseSettingsSource, name: str) -> Any:
    if isinstance(source, InitSettingsSource):
        return source.init_kwargs.get(name)
    if isinstance(source, EnvSettingsSource):  # the environment, and .env (a subclass)
        return source.env_vars.get(name if source.case_sensitive else name.lower())
    return None


def load_settings(**values: Any) -> Settings:
    """``Settings(**values)``; invalid settings become one ``ConfigError`` naming each bad variable and why."""
    try:
        return Settings(**values)
    except ValidationError as error:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in error.errors())
        raise ConfigError(f"the settings in the environment or .env are invalid: {problems}") from error


def masked_url(url: str) -> str:
    """The URL as it may be shown to people: the password replaced by ``***``."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return "<unparseable database URL>"


def describe_database(url: str) -> str:
    """Where the data lives, for the sidebar and the CLI: a file path or host/database, never a password."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        return "<unparseable database URL>"
    if parsed.get_backend_name() == "sqlite":
        try:
            path = sqlite_file(url)
        except ConfigError:
            return "<invalid SQLite URL>"
        return f"SQLite file {path}" if path is not None else "SQLite in memory (nothing is kept)"
    return f"PostgreSQL {parsed.host or 'localhost'}:{parsed.port or 5432}/{parsed.database}"


# --- where a SQLite URL really points -----------------------------------------------------------

_MEMORY_VFS = ("memdb",)


def sqlite_file(url: str) -> Path | None:
    """The file a ``sqlite://`` URL opens, resolved the way SQLAlchemy and SQLite will resolve it.

    Every accepted form is covered: ``sqlite:///relative.db``, ``sqlite:////absolute.db``,
    percent-escapes, and URI filenames with ``?uri=true`` (``file:data/x.db``, ``file:///abs/x.db``,
    ``file://localhost/abs/x.db``, ``%HH`` escapes, ``#fragment``, query parameters such as
    ``mode=rwc``). The result is the real path (links resolved, absolute) whether or not the
    file exists yet. None for a URL of another backend and for a database that is no file (in
    memory: ``sqlite://``, ``:memory:``, ``mode=memory``; temporary: ``file:`` with an empty path).
    ``ConfigError`` when the URL cannot be parsed or SQLite would refuse it.
    """
    try:
        parsed = make_url(url)
    except ArgumentError as error:
        raise ConfigError(f"the database URL {url!r} cannot be parsed: {error}") from None
    if parsed.get_backend_name() != "sqlite":
        return None
    filename, uri = _sqlite_connect_filename(parsed)
    if uri and filename.startswith("file:"):
        path, params = _parse_sqlite_uri(filename)
        if params.get("mode") == "memory" or params.get("vfs") in _MEMORY_VFS:
            return None
    else:
        path = os.fsencode(filename)
    if path in (b"", b":memory:"):
        return None
    return Path(os.path.realpath(os.fsdecode(path)))


def _sqlite_connect_filename(parsed: URL) -> tuple[str, bool]:
    """The filename and ``uri`` flag SQLAlchemy's pysqlite dialect hands to ``sqlite3.connect``.

    Asked of the dialect itself rather than copied, so that the two can never disagree.
    """
    try:
        dialect = parsed.get_dialect()()
        args, options = dialect.create_connect_args(parsed)
    except ArgumentError as error:
        message = str(error).strip().splitlines()[0]
        raise ConfigError(f"the SQLite URL is invalid: {message}; use sqlite:///PATH") from None
    except Exception as error:  # a driver option SQLAlchemy could not coerce (uri=maybe)
        raise ConfigError(f"the SQLite URL is invalid: {error}; use sqlite:///PATH") from None
    filename = args[0] if args else ":memory:"
    return str(filename), bool(options.get("uri"))


def _parse_sqlite_uri(uri: str) -> tuple[bytes, dict[str, str]]:
    """(path, query parameters) of a SQLite URI filename, by the rules of SQLite's own parser.

    See https://www.sqlite.org/uri.html: an authority must be empty or ``localhost``; ``%HH``
    escapes are decoded (``%00`` ends the current part); ``#`` ends everything; the path ends at
    ``?``; parameters are ``name=value`` pairs joined by ``&``.
    """
    rest = uri[5:]
    if rest.startswith("//"):
        end = rest.find("/", 2)
        authority = rest[2:] if end < 0 else rest[2:end]
        if authority not in ("", "localhost"):
            raise ConfigError(
                f"the SQLite URI {uri!r} names the host {authority!r}; SQLite opens local files only "
                "(write file:///absolute/path or file:relative/path)"
            )
        rest = "" if end < 0 else rest[end:]
    data = rest.split("#", 1)[0].encode("utf-8", "surrogateescape")
    path, _, query = data.partition(b"?")
    params: dict[str, str] = {}
    for pair in query.split(b"&"):
        name, _, value = pair.partition(b"=")
        if name:
            params[_unescape(name).decode("utf-8", "replace")] = _unescape(value).decode("utf-8", "replace")
    return _unescape(path), params


_HEX = b"0123456789abcdefABCDEF"


def _unescape(part: bytes) -> bytes:
    out = bytearray()
    i = 0
    while i < len(part):
        c = part[i]
        if c == 0x25 and i + 2 < len(part) and part[i + 1] in _HEX and part[i + 2] in _HEX:
            octet = int(part[i + 1 : i + 3], 16)
            if octet == 0:
                break  # SQLite ignores the rest of the part after %00
            out.append(octet)
            i += 3
            continue
        out.append(c)
        i += 1
    return bytes(out)
