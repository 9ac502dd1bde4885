"""Run real `asyncorders worker` processes against a test database."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

from asyncorders.settings import Settings


def start_worker(settings: Settings, log: Path, **env: str) -> subprocess.Popen[bytes]:
    """An `asyncorders worker` process on the same database and keys as `settings`."""
    assert settings.secret_key is not None
    environment = {
        **os.environ,
        "ASYNCORDERS_DATA_DIR": str(settings.data_dir),
        "ASYNCORDERS_DATABASE_URL": settings.resolved_database_url,
        "ASYNCORDERS_SECRET_KEY": settings.secret_key.get_secret_value(),
        "ASYNCORDERS_POLL_INTERVAL": "0.05",
        **{f"ASYNCORDERS_{name.upper()}": value for name, value in env.items()},
    }
    with log.open("ab") as output:
        return subprocess.Popen(
            [sys.executable, "-m", "asyncorders", "worker"],
            env=environment,
            stdout=output,
            stderr=subprocess.STDOUT,
        )


async def wait_for(
    check: Callable[[], Awaitable[bool]], within: float = 60, every: float = 0.05
) -> None:
    deadline = time.monotonic() + within
    while not await check():
        if time.monotonic() > deadline:
            raise TimeoutError("condition not reached in time")
        await asyncio.sleep(every)


def stop(process: subprocess.Popen[bytes], timeout: float = 30) -> int:
    """SIGTERM, then wait for a clean exit."""
    process.terminate()
    return process.wait(timeout=timeout)


def batches_logged(log: Path) -> int:
    """How many batches a worker has committed, read from its log.

    Progress is read from the log, not the database: on SQLite a reader from
    another process would queue behind the worker's write transactions.
    """
    return log.read_text().count("fulfilment.batch_done") if log.exists() else 0
