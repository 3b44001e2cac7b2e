"""Settings from environment variables, validated once at start (workers and operator).

Every worker kind subclasses :class:`RuntimeSettings`; the field names are the
contract the operator's renderer writes into each Deployment (``TS_`` + upper-case
field name), so they are defined here once and nowhere else. The operator's own
settings (``TS_OPERATOR_*``) use the same :class:`EnvSettings` base and loader.

The models are plain pydantic models and :func:`load_settings` is their only source:
it reads exactly the mapping it is given (``os.environ`` by default), refuses unknown
variables under the prefix, and words every error as ``NAME=value: problem``.
pydantic-settings is not used: it has no mode that refuses unknown prefixed variables,
and a ``BaseSettings`` also reads ``os.environ`` on its own, so a stray variable
would change a test's outcome.
"""

from __future__ import annotations

import difflib
import os
import socket
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, ClassVar, Literal, Self, TypeVar
from urllib.parse import urlsplit

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    model_validator,
)

from ..password import PasswordError, read_password

ENV_PREFIX = "TS_"


class SettingsError(Exception):
    """A bad environment: the message names every offending variable, on one line."""


def _parse_host_port(text: str) -> tuple[str, int]:
    host, sep, port_text = text.strip().rpartition(":")
    host = host.strip("[]")
    if not sep or not host:
        raise ValueError(f"{text.strip()!r} is not host:port")
    try:
        port = int(port_text)
    except ValueError:
        raise ValueError(f"{text.strip()!r} has a port that is not a number") from None
    if not 0 < port < 65536:
        raise ValueError(f"{text.strip()!r} has a port outside 1..65535")
    return host, port


def _parse_addresses(value: object) -> object:
    if isinstance(value, str):
        parts = [p for p in value.split(",") if p.strip()]
        if not parts:
            raise ValueError("needs at least one host:port")
        return tuple(_parse_host_port(p) for p in parts)
    return value


def _parse_list(value: object) -> object:
    if isinstance(value, str):
        return tuple(part.strip() for part in value.split(",") if part.strip())
    return value


#: Schemes redis-py's ``Redis.from_url`` accepts.
REDIS_URL_SCHEMES = ("redis", "rediss", "unix")


def _check_redis_url(value: object) -> object:
    """A URL ``redis.Redis.from_url`` can use, refused at start rather than in the loop.

    The messages never repeat the URL: it may carry the password (``redis://:pw@host``).
    """
    if not isinstance(value, str):
        return value
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018  (raises on a port that is not a number in 0..65535)
    except ValueError:
        raise ValueError("not a URL with a numeric port (redis://host:port/db)") from None
    if parts.scheme not in REDIS_URL_SCHEMES:
        raise ValueError("the scheme must be redis://, rediss:// or unix://")
    return value


def redact_url(text: str) -> str:
    """``text`` with the password of its user part replaced by ``***``."""
    try:
        parts = urlsplit(text)
        password = parts.password
    except ValueError:
        password = None
    if password is None:
        return text if "@" not in text else "<a URL with credentials>"
    user, _, host = parts.netloc.rpartition("@")
    name = user.split(":", 1)[0]
    return parts._replace(netloc=f"{name}:***@{host}").geturl()


RedisUrl = Annotated[str, BeforeValidator(_check_redis_url)]
HostPorts = Annotated[tuple[tuple[str, int], ...], BeforeValidator(_parse_addresses)]
#: A comma-separated list in the environment, e.g. ``TS_SYMBOLS=BTCUSDT,ETHUSDT``.
CommaList = Annotated[tuple[str, ...], BeforeValidator(_parse_list)]
PositiveSeconds = Annotated[float, Field(gt=0)]


class EnvSettings(BaseModel):
    """Settings read from ``<env_prefix><FIELD>`` variables by :func:`load_settings`."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    env_prefix: ClassVar[str] = ENV_PREFIX
    #: Who the settings belong to, for messages ("the gate worker", "the operator").
    owner: ClassVar[str] = "this program"

    @classmethod
    def env_name(cls, field: str) -> str:
        """The environment variable that sets ``field``."""
        return cls.env_prefix + field.upper()


class RuntimeSettings(EnvSettings):
    """What every worker needs: Redis, HTTP, heartbeat, shutdown, logging."""

    #: Set by each worker kind; used for logs, metric labels and consumer names.
    kind: ClassVar[str] = "worker"

    def check_inputs(self, now: float) -> None:
        """Read what the settings name beyond the environment (a file of input data) as
        the worker does at start, ``now`` in epoch seconds: for a supervisor that checks
        a worker before it starts one (``tradingstack up``) rather than restarting it.
        Raises :class:`SettingsError` naming the variable; reads nothing by default."""

    redis_url: RedisUrl | None = Field(
        default=None, description="Direct Redis URL (redis://host:port/db); unused with sentinels"
    )
    redis_sentinels: HostPorts | None = Field(
        default=None, description="Sentinel addresses, comma-separated host:port"
    )
    redis_master_name: str = Field(default="mymaster", min_length=1)
    redis_sentinel_quorum: int | None = Field(
        default=None,
        ge=1,
        description="Sentinels that must name the same master before it is trusted "
        "(default: a majority of TS_REDIS_SENTINELS)",
    )
    redis_username: str | None = Field(
        default=None, min_length=1, description="ACL user (default: Redis' default user)"
    )
    redis_password: SecretStr | None = None
    redis_password_file: Path | None = Field(
        default=None, description="File holding the Redis password (a mounted Secret)"
    )
    redis_tls_ca_file: Path | None = Field(
        default=None, description="CA bundle: set, Redis and Sentinel are reached over TLS"
    )
    redis_db: int = Field(default=0, ge=0, le=15)
    redis_socket_timeout_seconds: PositiveSeconds = 2.0
    redis_retry_budget_seconds: PositiveSeconds = Field(
        default=30.0, description="How long a call keeps retrying; longer than a failover"
    )
    redis_write_replicas: int | None = Field(
        default=None,
        ge=0,
        description="Replicas that must hold a write before it counts (default 1 with sentinels)",
    )
    redis_write_replica_timeout_ms: int = Field(default=500, gt=0)
    key_prefix: str = Field(default="quantum", pattern=r"^[A-Za-z0-9_.-]+$")
    http_host: str = "0.0.0.0"  # a pod is probed on its pod IP
    http_port: int = Field(default=8080, ge=0, le=65535)
    heartbeat_interval_seconds: PositiveSeconds = 5.0
    liveness_timeout_seconds: PositiveSeconds | None = Field(
        default=None, description="Heartbeat age that fails /healthz (default 1.5 intervals)"
    )
    shutdown_grace_seconds: PositiveSeconds = 25.0
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    instance: str = Field(default_factory=socket.gethostname, min_length=1)

    @model_validator(mode="after")
    def _check_coherent(self) -> Self:
        if self.redis_url and self.redis_sentinels:
            raise ValueError(
                "TS_REDIS_URL and TS_REDIS_SENTINELS are both set: choose one way to reach Redis"
            )
        if self.redis_password is not None and self.redis_password_file is not None:
            raise ValueError("TS_REDIS_PASSWORD and TS_REDIS_PASSWORD_FILE are both set")
        sentinels, quorum = self.redis_sentinels, self.redis_sentinel_quorum
        if quorum is not None and quorum > len(sentinels or ()):
            raise ValueError(
                f"TS_REDIS_SENTINEL_QUORUM: {quorum} is more than the"
                f" {len(sentinels or ())} sentinels in TS_REDIS_SENTINELS"
            )
        timeout = self.liveness_timeout_seconds
        if timeout is not None and timeout <= self.heartbeat_interval_seconds:
            raise ValueError(
                f"TS_LIVENESS_TIMEOUT_SECONDS: {timeout} must exceed "
                f"TS_HEARTBEAT_INTERVAL_SECONDS ({self.heartbeat_interval_seconds})"
            )
        return self

    @property
    def liveness_timeout(self) -> float:
        return self.liveness_timeout_seconds or 1.5 * self.heartbeat_interval_seconds

    @property
    def sentinel_quorum(self) -> int:
        """How many sentinels must agree on a master: the setting, or a majority."""
        if self.redis_sentinel_quorum is not None:
            return self.redis_sentinel_quorum
        return len(self.redis_sentinels or ()) // 2 + 1

    @property
    def write_replicas(self) -> int:
        if self.redis_write_replicas is not None:
            return self.redis_write_replicas
        return 1 if self.redis_sentinels else 0

    def password(self) -> str | None:
        """The Redis password, read from the mounted file (by the one password rule).

        Raises OSError when the file is unreadable, PasswordError when it breaks the rule.
        """
        if self.redis_password is not None:
            return self.redis_password.get_secret_value()
        if self.redis_password_file is not None:
            return read_password(self.redis_password_file)
        return None


def env_name(field: str) -> str:
    """The environment variable that sets a worker settings field."""
    return RuntimeSettings.env_name(field)


def _describe(cls: type[EnvSettings], err: Mapping[str, Any]) -> str:
    loc = err.get("loc") or ()
    message = str(err.get("msg", "invalid")).removeprefix("Value error, ")
    if not loc:
        return message
    field = str(loc[0])
    name = cls.env_name(field)
    secret = cls.model_fields[field].annotation in (SecretStr, SecretStr | None)
    given = err.get("input")
    if secret or given is None or isinstance(given, dict):
        return f"{name}: {message}"
    if given == "":
        return f"{name} (empty): {message}"
    if field.endswith("_url"):  # a URL may carry a password: never repeat it
        given = redact_url(str(given))
    return f"{name}={given!s}: {message}"


def _unknown_variables(cls: type[EnvSettings], environ: Mapping[str, str]) -> list[str]:
    known = {cls.env_name(f) for f in cls.model_fields}
    problems = []
    for name in sorted(environ):
        if name.startswith(cls.env_prefix) and name not in known:
            close = difflib.get_close_matches(name, known, n=1)
            hint = f" (did you mean {close[0]}?)" if close else ""
            problems.append(f"{name}: not a setting of {_owner(cls)}{hint}")
    return problems


def _owner(cls: type[EnvSettings]) -> str:
    kind = getattr(cls, "kind", None)
    return f"the {kind} worker" if isinstance(kind, str) else cls.owner


S = TypeVar("S", bound=EnvSettings)


def _validate(cls: type[S], env: Mapping[str, str]) -> tuple[S | None, list[str]]:
    """The model built from ``env``, and every problem found (unknown names, bad values)."""
    problems = _unknown_variables(cls, env)
    try:
        settings = cls.model_validate(
            {f: env[cls.env_name(f)] for f in cls.model_fields if cls.env_name(f) in env}
        )
    except ValidationError as exc:
        problems += [_describe(cls, e) for e in exc.errors()]
        return None, problems
    return settings, problems


def check_settings(cls: type[S], environ: Mapping[str, str]) -> S:
    """:func:`load_settings` without reading any file: for a supervisor that checks a
    child's environment before the files it names exist (``tradingstack up``)."""
    settings, problems = _validate(cls, environ)
    if problems or settings is None:
        raise SettingsError("; ".join(problems))
    return settings


def load_settings(cls: type[S], environ: Mapping[str, str] | None = None) -> S:
    """Build settings from the environment or raise :class:`SettingsError`.

    Unknown variables under the prefix are errors too: a mistyped risk limit that is
    silently ignored is worse than a pod that refuses to start. Only ``environ`` is
    read (``os.environ`` when None).
    """
    settings, problems = _validate(cls, dict(os.environ if environ is None else environ))
    if isinstance(settings, RuntimeSettings) and settings.redis_password_file is not None:
        try:
            settings.password()
        except OSError as exc:
            problems.append(f"TS_REDIS_PASSWORD_FILE: cannot read: {exc.strerror}")
        except PasswordError as exc:
            problems.append(f"TS_REDIS_PASSWORD_FILE: {exc}")
    if problems or settings is None:
        raise SettingsError("; ".join(problems))
    return settings
