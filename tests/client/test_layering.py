"""The client is a library layer of its own: it imports nothing of the server."""

from __future__ import annotations

import subprocess
import sys

import pytest

SERVER_SIDE = ("api", "storage", "orders", "accounts", "catalog", "platforms")


@pytest.mark.parametrize(
    "module", ["asyncorders.client", "asyncorders.corrections.apply"]
)
def test_importing_the_client_loads_no_server_module(module: str) -> None:
    probe = f"import sys, {module}; print(*sorted(sys.modules), sep='\\n')"
    loaded = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    ).stdout.split()

    ours = [name for name in loaded if name.startswith("asyncorders.")]
    assert ours
    assert not [n for n in ours if n.split(".")[1] in SERVER_SIDE], ours
    assert "sqlalchemy" not in loaded
    assert "fastapi" not in loaded
