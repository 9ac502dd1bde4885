"""One typed settings object, read from `ASYNCORDERS_*` environment variables.

Every value has a safe embedded default: a SQLite file and a generated secret under
`data_dir`, sandbox mode, loopback only.
"""

from __future__ import annotations

import secrets
from enum import StrEnum
from functools import cached_property
from pathlib import Path

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
    seed_demo: bool = Field(
        default=True, description="Create the demo data on the first sandbox start."
    )

    @model_validator(mode="after")
    def _production_needs_a_secret(self) -> Settings:
        # A generated secret lives in one machine's data_dir; processes on other
        # machines would hash keys differently and refuse every request.
        if self.mode is Mode.PRODUCTION and self.secret_key is None:
            raise ValueError(
                "ASYNCORDERS_SECRET_KEY must be set in production mode "
                "(the same value on every process)"
            )
        return self

    @property
    def sandbox(self) -> bool:
        return self.mode is Mode.SANDBOX

    @cached_property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{self.data_dir / 'asyncorders.db'}"

    @cached_property
    def resolved_secret_key(self) -> bytes:
        """The secret that keys API-key hashes; generated once into data_dir."""
        if self.secret_key is not None:
            return self.secret_key.get_secret_value().encode()
        return read_or_create_secret_file(self.data_dir / "secret.key")


def read_or_create_secret_file(path: Path) -> bytes:
    """Return the secret kept in `path`, creating it (mode 0600) on first use."""
    if path.exists():
        return path.read_bytes().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    secret = secrets.token_urlsafe(32).encode()
    try:
        with open(path, "xb", opener=_private_opener) as handle:
            handle.write(secret)
    except FileExistsError:  # another process won the race; use its secret
        return path.read_bytes().strip()
    return secret


def _private_opener(path: str, flags: int) -> int:
    import os

    return os.open(path, flags, 0o600)
