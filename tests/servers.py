"""Real `asyncorders serve` processes on loopback, for tests across processes."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from asyncorders.settings import Settings


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def server_env(settings: Settings, **env: str) -> dict[str, str]:
    """The environment for a process on the same database and keys as `settings`."""
    assert settings.secret_key is not None
    return {
        **os.environ,
        "ASYNCORDERS_DATA_DIR": str(settings.data_dir),
        "ASYNCORDERS_DATABASE_URL": settings.resolved_database_url,
        "ASYNCORDERS_SECRET_KEY": settings.secret_key.get_secret_value(),
        "ASYNCORDERS_SEED_DEMO": "false",
        "ASYNCORDERS_EMBEDDED_WORKER": "false",
        **{f"ASYNCORDERS_{name.upper()}": value for name, value in env.items()},
    }


@contextmanager
def serving(settings: Settings, log: Path, *args: str, **env: str) -> Iterator[str]:
    """Run `asyncorders serve` until the block ends; yields its base URL."""
    port = free_port()
    command = [sys.executable, "-m", "asyncorders", "serve", "--port", str(port)]
    with log.open("ab") as output:
        process = subprocess.Popen(
            [*command, *args],
            env=server_env(settings, **env),
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until_healthy(base, process, log)
        yield base
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def wait_until_healthy(
    base: str, process: subprocess.Popen[bytes], log: Path, within: float = 30
) -> None:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited early:\n{log.read_text()}")
        try:
            if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise TimeoutError(f"server did not start:\n{log.read_text()}")
