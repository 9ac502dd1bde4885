"""How long `asyncorders orders patch` takes to correct 500 orders.

    .venv/bin/python bench/bulk_patch.py [--orders 500] [--concurrency 8]

Starts the embedded service (`asyncorders serve`: SQLite, one process with its
worker, the default rate limit of 100 requests per second with a burst of
200), creates a platform and 500 one-line orders through the client, waits for
the rate-limit bucket to refill, then times the command on a file that
corrects every order (a GET and a PATCH each): once paced at the default
`--rate 100`, and once unpaced (`--rate 0`), leaning on 429 and Retry-After.
Each run corrects all orders afresh. Exit status 1 unless every row is ok.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import os
import re
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.servers import free_port, wait_until_healthy

from asyncorders.client import AsyncClient

CUSTOMER, ACCOUNT = "bench-customer", "bench-account"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--orders", type=int, default=500)
    parser.add_argument("--concurrency", type=int, default=8)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="asyncorders-bulk-") as tmp:
        return run(args, Path(tmp))


def run(args: argparse.Namespace, tmp: Path) -> int:
    env = {
        **os.environ,
        "ASYNCORDERS_DATA_DIR": str(tmp),
        "ASYNCORDERS_SECRET_KEY": "bench-secret",
        "ASYNCORDERS_SEED_DEMO": "false",
        "ASYNCORDERS_LOG_LEVEL": "WARNING",
    }
    for name in ("RATE_LIMIT_PER_SECOND", "RATE_LIMIT_BURST", "DATABASE_URL"):
        env.pop(f"ASYNCORDERS_{name}", None)
    key = operator_setup(env)
    env |= {"ASYNCORDERS_PLATFORM": "bench", "ASYNCORDERS_API_KEY": key}

    port = free_port()
    base = f"http://127.0.0.1:{port}"
    log = tmp / "server.log"
    with log.open("wb") as output:
        server = subprocess.Popen(
            [sys.executable, "-m", "asyncorders", "serve", "--port", str(port)],
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    try:
        wait_until_healthy(base, server, log)
        env["ASYNCORDERS_BASE_URL"] = f"{base}/raas/v2"
        asyncio.run(create_orders(f"{base}/raas/v2", key, args.orders))
        outcomes = [
            timed_run(env, tmp, args, rate, f"round {n}")
            for n, rate in enumerate(("100", "0"))
        ]
    finally:
        server.terminate()
        server.wait(timeout=20)
    return 0 if all(outcomes) else 1


def operator_setup(env: dict[str, str]) -> str:
    def cli(*args: str) -> str:
        done = subprocess.run(
            [sys.executable, "-m", "asyncorders", *args],
            env=env,
            check=True,
            capture_output=True,
            text=True,
        )
        return done.stdout

    issued = cli("platform", "create", "bench")
    found = re.search(r"^api key:\s+(\S+)$", issued, re.MULTILINE)
    assert found is not None, issued
    cli("customer", "create", "bench", CUSTOMER, "--name", "Bench HQ")
    cli(
        "account", "create", "bench", CUSTOMER, ACCOUNT,
        "--name", "Bench main", "--email", "ops@bench.example",
    )  # fmt: skip
    cli("account", "fund", "bench", ACCOUNT, "100000.00")
    return found.group(1)


async def create_orders(url: str, key: str, count: int) -> None:
    started = time.monotonic()
    limits = httpx.Limits(max_connections=8)
    async with AsyncClient(url, auth=("bench", key), limits=limits) as client:
        gate = asyncio.Semaphore(8)

        async def create(n: int) -> None:
            async with gate:
                await client.create_order(
                    {
                        "externalRefID": f"bench-{n:04d}",
                        "customerIdentifier": CUSTOMER,
                        "accountIdentifier": ACCOUNT,
                        "campaign": "spring",
                        "notes": f"note {n}",
                        "lineItems": [
                            {
                                "externalRefLineItemID": "line-1",
                                "utid": "U000002",
                                "amount": 5,
                                "deliveryMethod": "NONE",
                                "recipient": {"firstName": "Ada"},
                            }
                        ],
                    }
                )

        await asyncio.gather(*(create(n) for n in range(count)))
    print(f"created {count} orders in {time.monotonic() - started:.1f} s")


def timed_run(
    env: dict[str, str], tmp: Path, args: argparse.Namespace, rate: str, tag: str
) -> bool:
    source = tmp / f"{tag.replace(' ', '-')}.csv"
    with source.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(
            ["customerIdentifier", "accountIdentifier", "externalRefID", "campaign"]
        )
        for n in range(args.orders):
            writer.writerow([CUSTOMER, ACCOUNT, f"bench-{n:04d}", f"autumn-{tag}"])
    time.sleep(2.5)  # let the platform's bucket refill to its burst
    started = time.monotonic()
    done = subprocess.run(
        [
            sys.executable, "-m", "asyncorders", "orders", "patch",
            "--from", str(source), "--rate", rate,
            "--concurrency", str(args.concurrency),
        ],
        env=env,
        capture_output=True,
        text=True,
    )  # fmt: skip
    elapsed = time.monotonic() - started
    with source.with_name(f"{source.stem}.results.csv").open(newline="") as handle:
        outcomes = Counter(row["result"] for row in csv.DictReader(handle))
    retries = done.stderr.count("client.retry")
    print(
        f"--rate {rate:>3}: {args.orders} corrections ({2 * args.orders} requests) "
        f"in {elapsed:.1f} s = {args.orders / elapsed:.0f} orders/s; "
        f"{dict(outcomes)}; {retries} retries after 429; exit {done.returncode}"
    )
    return done.returncode == 0 and outcomes == Counter({"ok": args.orders})


if __name__ == "__main__":
    sys.exit(main())
