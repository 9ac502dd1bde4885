"""A steady mixed load for a fixed time, and a check that nothing answered 5xx.

    .venv/bin/python bench/load.py [--rate 100] [--seconds 60] [--in-flight 64]
                                   [--postgres]

Starts `asyncorders serve` on 127.0.0.1 (embedded SQLite with its worker, or
PostgreSQL with --postgres), then sends requests on a fixed schedule at a
constant rate, at most --in-flight at once: 20 % creates (10 line items each),
50 % GETs of an order's summary, 30 % PATCHes of its metadata. Latency counts
from each request's scheduled start. It stops by itself after the given time
and prints what was sent, answers by status, latency percentiles and the rate
achieved. Exit status 1 if any answer was a 5xx or none came, or if the rate
was not held.
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
    parser.add_argument("--rate", type=float, default=100.0)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--in-flight", type=int, default=64)
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
        limits = httpx.Limits(max_connections=args.in_flight)
        async with httpx.AsyncClient(
            base_url=base, auth=("demo", key), timeout=30, limits=limits
        ) as http:
            started = time.perf_counter()
            results = await steady(http, args.rate, args.seconds, args.in_flight)
            elapsed = time.perf_counter() - started
    finally:
        server.terminate()
        server.wait(timeout=30)
    return report(results, elapsed, args)


async def steady(
    http: httpx.AsyncClient, rate: float, seconds: float, in_flight: int
) -> list[tuple[str, int, float]]:
    """Send at a constant rate and collect (kind, status, latency).

    Requests leave on a fixed schedule, at most `in_flight` at a time; latency
    counts from the scheduled start, so a server that falls behind shows it in
    the percentiles instead of hiding it by slowing the sender.
    """
    results: list[tuple[str, int, float]] = []
    orders = ["demo-order-1"]
    slots = asyncio.Semaphore(in_flight)
    tasks: set[asyncio.Task[None]] = set()
    started = time.perf_counter()
    for n in range(int(rate * seconds)):
        due = started + n / rate
        if (wait := due - time.perf_counter()) > 0:
            await asyncio.sleep(wait)
        await slots.acquire()
        task = asyncio.create_task(one(http, orders, results, due))
        tasks.add(task)
        task.add_done_callback(tasks.discard)
        task.add_done_callback(lambda _: slots.release())
    await asyncio.gather(*tasks)
    return results


async def one(
    http: httpx.AsyncClient,
    orders: list[str],
    results: list[tuple[str, int, float]],
    due: float,
) -> None:
    kind = random.choices(["create", "get", "patch"], weights=[2, 5, 3])[0]
    ref = random.choice(orders)
    url = f"/asyncOrders/customers/demo-customer/accounts/demo-account/{ref}"
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
    results.append((kind, status, time.perf_counter() - due))


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


def report(
    results: list[tuple[str, int, float]], elapsed: float, args: argparse.Namespace
) -> int:
    statuses = Counter(status for _, status, _ in results)
    latencies = sorted(latency for _, _, latency in results)
    cut = statistics.quantiles(latencies, n=100)
    by_kind = Counter(kind for kind, _, _ in results)
    achieved = len(results) / elapsed
    print(
        f"sent {len(results)} requests in {elapsed:.1f} s "
        f"({achieved:.0f}/s, target {args.rate:.0f}/s)"
    )
    print("by kind:   " + ", ".join(f"{k} {n}" for k, n in sorted(by_kind.items())))
    print("by status: " + ", ".join(f"{s} {n}" for s, n in sorted(statuses.items())))
    print(
        f"latency:   p50 {cut[49] * 1000:.1f} ms, p99 {cut[98] * 1000:.1f} ms, "
        f"max {latencies[-1] * 1000:.1f} ms"
    )
    failures = sum(n for status, n in statuses.items() if status >= 500 or status == 0)
    print("5xx or no answer: " + str(failures))
    held = achieved >= 0.95 * args.rate
    if not held:
        print("the rate was not held: the server fell behind the schedule")
    return 0 if held and not failures else 1


def psql(statement: str) -> None:
    command = ["psql", "-h", "127.0.0.1", "-U", "postgres", "-d", "postgres"]
    subprocess.run([*command, "-c", statement], check=True, capture_output=True)


if __name__ == "__main__":
    sys.exit(main())
