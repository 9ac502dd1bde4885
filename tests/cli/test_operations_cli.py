"""`asyncorders maintenance`, `platform rate-limit` and `serve --processes`."""

from __future__ import annotations

import asyncio
from pathlib import Path

from asyncorders.platforms import repository
from asyncorders.settings import Settings
from asyncorders.storage.engine import connect
from tests.cli.test_cli import data_dir, failed, ok, run

__all__ = ["data_dir"]  # the fixture, shared with test_cli


def platform_limits(name: str) -> tuple[float | None, int | None]:
    async def read() -> tuple[float | None, int | None]:
        database = connect(Settings())
        try:
            async with database.sessions() as session:
                platform = await repository.get_by_name(session, name)
                assert platform is not None
                return platform.rate_limit_per_second, platform.rate_limit_burst
        finally:
            await database.dispose()

    return asyncio.run(read())


def test_maintenance_on_off_and_status(data_dir: Path) -> None:
    assert "off" in ok("maintenance", "status").output
    assert "on" in ok("maintenance", "on", "--message", "Upgrading").output
    assert "maintenance mode on" in ok("maintenance", "status").output
    ok("maintenance", "off")
    assert "maintenance mode off" in ok("maintenance", "status").output


def test_platform_rate_limit_is_set_and_reset(data_dir: Path) -> None:
    ok("platform", "create", "acme")

    ok("platform", "rate-limit", "acme", "--per-second", "1", "--burst", "1")
    assert platform_limits("acme") == (1.0, 1)
    ok("platform", "rate-limit", "acme", "--default")
    assert platform_limits("acme") == (None, None)


def test_platform_rate_limit_needs_values_or_default(data_dir: Path) -> None:
    ok("platform", "create", "acme")
    failed("platform", "rate-limit", "acme")
    failed("platform", "rate-limit", "acme", "--default", "--burst", "3")


def test_serve_refuses_several_processes_on_sqlite(data_dir: Path) -> None:
    result = run("serve", "--processes", "2")

    assert result.exit_code == 2
    assert "--processes needs PostgreSQL" in result.output
