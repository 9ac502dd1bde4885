"""A steady mixed load for a fixed time, and a check that nothing answered 5xx.

    .venv/bin/python bench/load.py [--rate 200] [--seconds 60] [--postgres]

Starts `asyncorders serve` on 127.0.0.1 (embedded SQLite with its worker, or
PostgreSQL with --postgres), creates a platform, then sends an open-loop stream
of requests at a constant rate: 20 % creates (10 line items each), 50 % GETs of
an order's summary, 30 % PATCHes of its metadata. It stops by itself after the
given time and prints what was sent, answers by status, latency percentiles
and the rate achieved. Exit status 1 if any answer was a 5xx.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.servers import free_port, wait_until_healthy

POSTGRES_ADMIN = "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rate", type=float, default=200.0)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--postgres", action="store_true")
    args = parser.parse_args()
    return asyncio.run(run(args))


async def run(args: argparse.Namespace) -> int:
    with tempfile.TemporaryDirectory(prefix="asyncorders-load-") as tmp:
        env = {
            **os.environ,
            "ASYNCORDERS_DATA_DIR": tmp,
            "ASYNCORDERS_SECRET_KEY": "load-secret",
            "ASYNCORDERS_LOG_LEVEL": "WARNING",
            "ASYNCORDERS_RATE_LIMIT_PER_SECOND": str(args.rate * 2),
            "ASYNCORDERS_RATE_LIMIT_BURST": str(int(args.rate * 2)),
        }
        database = None
        if args.postgres:
            database = f"asyncorders_load_{uuid.uuid4().hex[:8]}"
            psql(f'CREATE DATABASE "{database}"')
            env["ASYNCORDERS_DATABASE_URL"] = POSTGRES_ADMIN.rsplit("/", 1)[0] + (
                f"/{database}"
            )
        try:
            return await drive(args, env, Path(tmp))
        finally:
            if database:
                psql(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')


async def drive(args: argparse.Namespace, env: dict[str, str], tmp: Path) -> int:
    port = free_port()
    log = tmp / "server.log"
    with log.open("wb") as output:
        server = subprocess.Popen(
            [sys.executable, "-m", "asyncorders", "serve", "--port", str(port)],
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    base = f"http://127.0.0.1:{port}/raas/v2"
    try:
        wait_until_healthy(f"http://127.0.0.1:{port}", server, log)
        key = (tmp / "demo.key").read_text().strip()
        async with httpx.AsyncClient(
            base_url=base, auth=("demo", key), timeout=30
        ) as http:
            results = await steady(http, args.rate, args.seconds)
    finally:
        server.terminate()
        server.wait(timeout=30)
    return report(results, args)


async def steady(
    http: httpx.AsyncClient, rate: float, seconds: float
) -> list[tuple[str, int, float]]:
    """Send at a constant rate (open loop) and collect (kind, status, latency)."""
    results: list[tuple[str, int, float]] = []
    orders = ["demo-order-1"]
    tasks: set[asyncio.Task[None]] = set()
    started = time.perf_counter()
    sent = 0
    while (elapsed := time.perf_counter() - started) < seconds:
        due = int(elapsed * rate) + 1
        for _ in range(due - sent):
            task = asyncio.create_task(one(http, orders, results))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
        sent = max(sent, due)
        await asyncio.sleep(1 / rate)
    await asyncio.gather(*tasks)
    return results


async def one(
    http: httpx.AsyncClient, orders: list[str], results: list[tuple[str, int, float]]
) -> None:
    kind = random.choices(["create", "get", "patch"], weights=[2, 5, 3])[0]
    ref = random.choice(orders)
    url = f"/asyncOrders/customers/demo-customer/accounts/demo-account/{ref}"
    started = time.perf_counter()
    try:
        if kind == "create":
            ref = f"load-{uuid.uuid4().hex[:16]}"
            response = await http.post("/asyncOrders", json=order(ref))
            if response.status_code == 202:
                orders.append(ref)
        elif kind == "get":
            response = await http.get(url)
        else:
            response = await http.patch(
                url, json={"campaign": f"c-{random.randrange(1000)}"}
            )
        status = response.status_code
    except httpx.HTTPError:
        status = 0  # no answer at all
    results.append((kind, status, time.perf_counter() - started))


def order(ref: str) -> dict[str, Any]:
    return {
        "externalRefID": ref,
        "customerIdentifier": "demo-customer",
        "accountIdentifier": "demo-account",
        "lineItems": [
            {
                "externalRefLineItemID": f"l{i}",
                "utid": "U000002",
                "amount": 1,
                "deliveryMethod": "NONE",
                "recipient": {},
            }
            for i in range(10)
        ],
    }


def report(results: list[tuple[str, int, float]], args: argparse.Namespace) -> int:
    statuses = Counter(status for _, status, _ in results)
    latencies = sorted(latency for _, _, latency in results)
    cut = statistics.quantiles(latencies, n=100)
    by_kind = Counter(kind for kind, _, _ in results)
    print(
        f"sent {len(results)} requests in {args.seconds:.0f} s "
        f"({len(results) / args.seconds:.0f}/s, target {args.rate:.0f}/s)"
    )
    print("by kind:   " + ", ".join(f"{k} {n}" for k, n in sorted(by_kind.items())))
    print("by status: " + ", ".join(f"{s} {n}" for s, n in sorted(statuses.items())))
    print(
        f"latency:   p50 {cut[49] * 1000:.1f} ms, p99 {cut[98] * 1000:.1f} ms, "
        f"max {latencies[-1] * 1000:.1f} ms"
    )
    failures = sum(n for status, n in statuses.items() if status >= 500 or status == 0)
    print("5xx or no answer: " + str(failures))
    return 1 if failures else 0


def psql(statement: str) -> None:
    command = ["psql", "-h", "127.0.0.1", "-U", "postgres", "-d", "postgres"]
    subprocess.run([*command, "-c", statement], check=True, capture_output=True)


if __name__ == "__main__":
    sys.exit(main())
