"""Settings derive the database URL and the keys from their own values."""

from __future__ import annotations

from pathlib import Path

from asyncorders.settings import Settings


def test_a_copy_derives_its_url_and_keys_from_its_own_values(tmp_path: Path) -> None:
    first = Settings(data_dir=tmp_path / "a", seed_demo=False)
    derived = (
        first.resolved_database_url,
        first.resolved_secret_key,
        first.resolved_credentials_key,
    )

    copy = first.model_copy(update={"data_dir": tmp_path / "b"})

    assert copy.resolved_database_url.endswith(f"{tmp_path / 'b'}/asyncorders.db")
    assert copy.resolved_secret_key == (tmp_path / "b/secret.key").read_bytes()
    assert copy.resolved_credentials_key != derived[2]  # generated anew in b
    assert (
        first.resolved_database_url,
        first.resolved_secret_key,
        first.resolved_credentials_key,
    ) == derived


def test_a_copy_keeps_what_it_was_given(tmp_path: Path) -> None:
    first = Settings(data_dir=tmp_path, secret_key="given", seed_demo=False)
    assert first.resolved_secret_key == b"given"

    copy = first.model_copy(update={"database_url": "sqlite+aiosqlite:///x.db"})

    assert copy.resolved_database_url == "sqlite+aiosqlite:///x.db"
    assert copy.resolved_secret_key == b"given"
