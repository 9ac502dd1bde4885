"""One typed settings object, read from `ASYNCORDERS_*` environment variables.

Every value has a safe embedded default: a SQLite file and a generated secret under
`data_dir`, sandbox mode, loopback only.
"""

from __future__ import annotations

import base64
import secrets
from collections.abc import Callable, Mapping
from enum import StrEnum
from functools import cached_property
from pathlib import Path
from typing import Any, Self

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Mode(StrEnum):
    SANDBOX = "sandbox"
    PRODUCTION = "production"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="ASYNCORDERS_", frozen=True)

    mode: Mode = Mode.SANDBOX
    data_dir: Path = Path("var")
    database_url: str | None = Field(
        default=None,
        description="SQLAlchemy URL; the default is a SQLite file in data_dir.",
    )
    secret_key: SecretStr | None = Field(
        default=None,
        description="Keys the API-key hashes. Generated into data_dir when unset.",
    )
    max_body_bytes: int = Field(default=8 * 1024 * 1024, ge=1024)
    max_line_items: int = Field(default=5000, ge=1)
    db_pool_size: int = Field(default=10, ge=1)
    db_pool_timeout: float = Field(default=5.0, gt=0)
    sqlite_busy_timeout_ms: int = Field(default=5000, ge=0)
    log_level: str = "INFO"

    # Operations.
    rate_limit_per_second: float = Field(
        default=100.0,
        gt=0,
        description="Requests per second per platform (Tango's public figure is 1).",
    )
    rate_limit_burst: int = Field(default=200, ge=1)
    redis_url: str | None = Field(
        default=None,
        description="redis://host:port/db: rate-limit buckets shared by every "
        "process; unset, each process keeps its own.",
    )
    flags_poll_seconds: float = Field(
        default=1.0, gt=0, description="How often a process re-reads maintenance mode."
    )

    # Fulfilment.
    credentials_key: SecretStr | None = Field(
        default=None,
        description="Fernet key for reward credentials at rest; generated into "
        "data_dir when unset.",
    )
    embedded_worker: bool = Field(
        default=True, description="Run one fulfilment worker inside `serve`."
    )
    batch_size: int = Field(
        default=100,
        ge=1,
        le=10_000,
        description="Rewards issued per batch transaction; whole line items only, "
        "at least one.",
    )
    lease_seconds: float = Field(default=30.0, gt=0)
    poll_interval: float = Field(default=0.5, gt=0)
    fulfilment_delay_ms: int = Field(
        default=0, ge=0, description="Testing aid: pause this long per line item."
    )
    smtp_url: str | None = Field(
        default=None,
        description="smtp://[user:password@]host:port; unset, emails are recorded "
        "in the outbox and not sent.",
    )
    mail_from: str = "rewards@asyncorders.invalid"
    seed_demo: bool = Field(
        default=True, description="Create the demo data on the first sandbox start."
    )

    @model_validator(mode="after")
    def _production_needs_secrets(self) -> Settings:
        # A generated secret lives in one machine's data_dir; processes elsewhere
        # would hash keys differently and could not read each other's credentials.
        if self.mode is Mode.PRODUCTION:
            missing = [
                f"ASYNCORDERS_{name.upper()}"
                for name in ("secret_key", "credentials_key")
                if getattr(self, name) is None
            ]
            if missing:
                raise ValueError(
                    f"{' and '.join(missing)} must be set in production mode "
                    "(the same value on every process)"
                )
        return self

    @property
    def sandbox(self) -> bool:
        return self.mode is Mode.SANDBOX

    def model_copy(
        self, *, update: Mapping[str, Any] | None = None, deep: bool = False
    ) -> Self:
        """A copy with some values changed, whose derived values (URL, keys) are
        derived again from the copy's own values, not carried over."""
        copy = super().model_copy(update=update, deep=deep)
        for name in _DERIVED:
            copy.__dict__.pop(name, None)
        return copy

    @cached_property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{self.data_dir / 'asyncorders.db'}"

    @cached_property
    def resolved_credentials_key(self) -> bytes:
        """The Fernet key for credentials at rest; generated once into data_dir."""
        if self.credentials_key is not None:
            return self.credentials_key.get_secret_value().encode()
        return read_or_create_secret_file(
            self.data_dir / "credentials.key", make=_fernet_key
        )

    @cached_property
    def resolved_secret_key(self) -> bytes:
        """The secret that keys API-key hashes; generated once into data_dir."""
        if self.secret_key is not None:
            return self.secret_key.get_secret_value().encode()
        return read_or_create_secret_file(self.data_dir / "secret.key")


_DERIVED = [
    name for name, value in vars(Settings).items() if isinstance(value, cached_property)
]


def read_or_create_secret_file(
    path: Path, make: Callable[[], bytes] | None = None
) -> bytes:
    """Return the secret kept in `path`, creating it (mode 0600) on first use."""
    if path.exists():
        return path.read_bytes().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    secret = make() if make else secrets.token_urlsafe(32).encode()
    try:
        with open(path, "xb", opener=_private_opener) as handle:
            handle.write(secret)
    except FileExistsError:  # another process won the race; use its secret
        return path.read_bytes().strip()
    return secret


def _fernet_key() -> bytes:
    return base64.urlsafe_b64encode(secrets.token_bytes(32))


def _private_opener(path: str, flags: int) -> int:
    import os

    return os.open(path, flags, 0o600)
