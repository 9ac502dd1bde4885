"""Is the PATCH hot path faster than the mock server a team would pick instead?

    .venv/bin/python bench/patch.py [--quick] [--rounds 3] [--seconds 10]

Seeds 10,000 orders of 10 line items across 4 platforms and 24 accounts (bulk
inserts), then, alternating the targets in each round, drives PATCH load with
wrk (64 connections; bench/load.lua sends varied valid bodies over all seeded
orders with Basic auth) against:

- the HTTP floor: a bare ASGI app under uvicorn answering a body of the same
  size, with 1 and with 2 processes;
- asyncorders embedded: SQLite, one process (sandbox mode, its worker on);
- asyncorders on PostgreSQL: `serve --processes 2`, production mode, rate-limit
  buckets shared in Redis;
- Prism (@stoplight/prism-cli) mocking asyncorders' own OpenAPI document;
- WireMock (standalone jar from the npm package) with a stub for the PATCH.

Each platform's rate limit is raised with `asyncorders platform rate-limit NAME
--per-second 1000000 --burst 1000000`, so the benchmark sees no 429. After the
runs every 2xx that wrk counted must be in the history (METADATA_UPDATED events
in the database). Then it measures GET summary and GET list with filters at
10,000 and at 1,000,000 orders (a second pair of databases grown to that size,
served beside the first and alternated with it in every round), and
create-order throughput (10 line items).

wrk is installed with apt-get and the two mock servers with npm into
bench/.tools when missing. Load goes only to 127.0.0.1; every server is started
and stopped here, and the PostgreSQL database is created and dropped here.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from cryptography.fernet import Fernet
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH.parent))
sys.path.insert(0, str(BENCH))

from dataset import (  # noqa: E402 (after the path set-up)
    DataSet,
    Target,
    add_orders,
    audit_events,
    create_tenants,
)
from tests.servers import free_port  # noqa: E402

from asyncorders.settings import Settings  # noqa: E402
from asyncorders.storage import migrate  # noqa: E402
from asyncorders.storage.engine import connect  # noqa: E402

POSTGRES_ADMIN = os.environ.get(
    "ASYNCORDERS_BENCH_POSTGRES_URL",
    "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres",
)
REDIS_URL = os.environ.get("ASYNCORDERS_BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")
TOOLS = BENCH / ".tools"
NPM_PACKAGES = ("@stoplight/prism-cli@5.14.2", "wiremock@3.13.2")
SECRET = "bench-secret"
HIGH_LIMIT = "1000000"
CONNECTIONS = 64
LUA = BENCH / "load.lua"


@dataclass
class Run:
    requests: int
    seconds: float
    non2xx: int
    socket_errors: int
    p50_ms: float
    p99_ms: float

    @property
    def rate(self) -> float:
        return self.requests / self.seconds


@dataclass
class Server:
    name: str
    url: str
    processes: int
    targets_file: Path
    runs: list[Run] = field(default_factory=list)
    answered: int = 0  # 2xx PATCHes, warm-up included


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="a short smoke run")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--orders", type=int, default=10_000)
    parser.add_argument("--big", type=int, default=1_000_000, help="orders, GETs")
    args = parser.parse_args()
    if args.quick:
        args.rounds, args.seconds, args.orders, args.big = 1, 3.0, 2_000, 20_000
    ensure_tools()
    return asyncio.run(run(args))


# ---- tools ------------------------------------------------------------------------


def ensure_tools() -> None:
    if shutil.which("wrk") is None:
        print("installing wrk (apt-get)", flush=True)
        subprocess.run(["apt-get", "install", "-y", "-qq", "wrk"], check=True)
    if not (TOOLS / "node_modules/.bin/prism").exists() or not wiremock_jar():
        print("installing Prism and WireMock (npm, into bench/.tools)", flush=True)
        TOOLS.mkdir(exist_ok=True)
        npm = ["npm", "install", "--no-audit", "--no-fund", "--prefix", str(TOOLS)]
        subprocess.run(
            [*npm, *NPM_PACKAGES],
            check=True,
            stdout=subprocess.DEVNULL,
        )


def wiremock_jar() -> Path | None:
    return next((TOOLS / "node_modules/wiremock/build").glob("*.jar"), None)


# ---- the run ------------------------------------------------------------------------


async def run(args: argparse.Namespace) -> int:
    database_name = f"asyncorders_bench_{uuid.uuid4().hex[:10]}"
    with tempfile.TemporaryDirectory(prefix="asyncorders-patch-") as tmp_name:
        tmp = Path(tmp_name)
        await admin(f'CREATE DATABASE "{database_name}"')
        try:
            with ExitStack() as stack:
                return await measure(args, tmp, database_name, stack)
        finally:
            for name in (database_name, f"{database_name}_big"):
                await admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


async def measure(
    args: argparse.Namespace, tmp: Path, database_name: str, stack: ExitStack
) -> int:
    sqlite, postgres = _settings(tmp, database_name)
    data: dict[str, DataSet] = {}
    for name, settings in (("sqlite", sqlite), ("postgres", postgres)):
        data[name] = await seed(name, settings, args.orders)
        raise_rate_limits(settings, data[name])

    sqlite_server = stack.enter_context(start_asyncorders(sqlite, tmp, 1, "sqlite"))
    postgres_server = stack.enter_context(
        start_asyncorders(postgres, tmp, 2, "postgres")
    )
    sqlite_file = targets_file(tmp / "sqlite.targets", data["sqlite"].targets)
    postgres_file = targets_file(tmp / "postgres.targets", data["postgres"].targets)
    sample_body = one_patch_answer(sqlite_server, data["sqlite"].targets[0])
    (tmp / "answer.json").write_bytes(sample_body)
    openapi = httpx.get(f"{sqlite_server}/raas/v2/openapi.json").content  # noqa: ASYNC210
    (tmp / "openapi.json").write_bytes(openapi)

    servers = [
        Server("bare ASGI, 1 process (floor)", "", 1, sqlite_file),
        Server("bare ASGI, 2 processes (floor)", "", 2, sqlite_file),
        Server("asyncorders SQLite, 1 process", sqlite_server, 1, sqlite_file),
        Server("asyncorders PostgreSQL, 2 proc.", postgres_server, 2, postgres_file),
        Server("Prism mock", "", 1, sqlite_file),
        Server("WireMock stub", "", 1, sqlite_file),
    ]
    servers[0].url = stack.enter_context(start_floor(tmp, 1))
    servers[1].url = stack.enter_context(start_floor(tmp, 2))
    servers[4].url = stack.enter_context(start_prism(tmp))
    servers[5].url = stack.enter_context(start_wiremock(tmp, sample_body))

    before = {n: await audit_events(s) for n, s in _dbs(sqlite, postgres)}
    print(f"\nwarm-up, then {args.rounds} round(s) of {args.seconds:.0f} s", flush=True)
    for server in servers:
        warm = wrk(server.url, server.targets_file, "patch", min(5.0, args.seconds))
        server.answered += warm.requests - warm.non2xx
    for round_number in range(args.rounds):
        for server in servers:
            result = wrk(
                server.url,
                server.targets_file,
                "patch",
                args.seconds,
                f"r{round_number}",
            )
            server.runs.append(result)
            server.answered += result.requests - result.non2xx
            print(
                f"  round {round_number + 1}  {server.name:<34}{result.rate:>9,.0f}/s"
                f"  p99 {result.p99_ms:7.1f} ms",
                flush=True,
            )
    after = {n: await audit_events(s) for n, s in _dbs(sqlite, postgres)}
    audit_ok = print_patch_table(servers, before, after)

    reads = await measure_reads(
        args, tmp, database_name, data, servers, sqlite_file, stack
    )
    creates = measure_creates(args, servers, sqlite_file, postgres_file)
    print_read_table(reads, creates, data)
    errors = sum(r.non2xx + r.socket_errors for s in servers for r in s.runs)
    return 0 if audit_ok and errors == 0 else 1


def _settings(tmp: Path, database_name: str) -> tuple[Settings, Settings]:
    """An embedded SQLite and a PostgreSQL database, both under `tmp`."""
    sqlite = Settings(data_dir=tmp / "sqlite", secret_key=SECRET, seed_demo=False)
    postgres = Settings(
        data_dir=tmp / "postgres",
        secret_key=SECRET,
        seed_demo=False,
        database_url=POSTGRES_ADMIN.rsplit("/", 1)[0] + f"/{database_name}",
    )
    return sqlite, postgres


def _dbs(sqlite: Settings, postgres: Settings) -> list[tuple[str, Settings]]:
    return [("sqlite", sqlite), ("postgres", postgres)]


async def seed(name: str, settings: Settings, orders: int) -> DataSet:
    database = connect(settings)
    try:
        await migrate.upgrade(database)
        tenants = await create_tenants(database, settings.resolved_secret_key)
        data = DataSet(tenants, [])
        seconds = await add_orders(database, data, orders, line_items=10, targets=True)
    finally:
        await database.dispose()
    print(
        f"{name}: seeded {data.orders:,} orders, {data.line_items:,} line items "
        f"in {seconds:.1f} s",
        flush=True,
    )
    return data


def raise_rate_limits(settings: Settings, data: DataSet) -> None:
    """The CLI an operator would use: no 429 during the benchmark."""
    for tenant in data.tenants:
        command = [sys.executable, "-m", "asyncorders", "platform", "rate-limit"]
        subprocess.run(
            [*command, tenant.name, "--per-second", HIGH_LIMIT, "--burst", HIGH_LIMIT],
            env=server_env(settings),
            check=True,
            stdout=subprocess.DEVNULL,
        )


def targets_file(path: Path, targets: list[Target]) -> Path:
    lines = []
    for t in targets:
        auth = base64.b64encode(f"{t.platform}:{t.key}".encode()).decode()
        lines.append(f"{auth} {t.customer} {t.account} {t.external_ref_id}\n")
    path.write_text("".join(lines))
    return path


def one_patch_answer(base: str, target: Target) -> bytes:
    response = httpx.patch(
        f"{base}/raas/v2/asyncOrders/customers/{target.customer}/accounts/"
        f"{target.account}/{target.external_ref_id}",
        json={"campaign": "sample"},
        auth=(target.platform, target.key),
    )
    response.raise_for_status()
    return response.content


# ---- servers ------------------------------------------------------------------------


def server_env(settings: Settings, **extra: str) -> dict[str, str]:
    return {
        **os.environ,
        "ASYNCORDERS_DATA_DIR": str(settings.data_dir),
        "ASYNCORDERS_DATABASE_URL": settings.resolved_database_url,
        "ASYNCORDERS_SECRET_KEY": SECRET,
        "ASYNCORDERS_SEED_DEMO": "false",
        **extra,
    }


@contextmanager
def start_asyncorders(
    settings: Settings, tmp: Path, processes: int, name: str
) -> Iterator[str]:
    extra = {}
    if processes > 1:  # the production layout: shared buckets, JSON logs
        extra = {
            "ASYNCORDERS_MODE": "production",
            "ASYNCORDERS_REDIS_URL": REDIS_URL,
            "ASYNCORDERS_CREDENTIALS_KEY": Fernet.generate_key().decode(),
        }
    port = free_port()
    command = [sys.executable, "-m", "asyncorders", "serve", "--port", str(port)]
    with process(
        [*command, "--processes", str(processes)],
        tmp / f"{name}.log",
        server_env(settings, **extra),
    ):
        base = f"http://127.0.0.1:{port}"
        wait_for(f"{base}/readyz")
        yield base


@contextmanager
def start_floor(tmp: Path, processes: int) -> Iterator[str]:
    port = free_port()
    command = [sys.executable, "-m", "uvicorn", "floor:app", "--app-dir", str(BENCH)]
    command += ["--host", "127.0.0.1", "--port", str(port), "--lifespan", "off"]
    command += ["--workers", str(processes), "--loop", "uvloop", "--http", "httptools"]
    command += ["--no-access-log", "--log-level", "warning"]
    env = {**os.environ, "BENCH_FLOOR_BODY": str(tmp / "answer.json")}
    with process(command, tmp / f"floor-{processes}.log", env):
        base = f"http://127.0.0.1:{port}"
        wait_for(base)
        yield base


@contextmanager
def start_prism(tmp: Path) -> Iterator[str]:
    port = free_port()
    command = [
        str(TOOLS / "node_modules/.bin/prism"),
        "mock",
        str(tmp / "openapi.json"),
    ]
    command += ["-h", "127.0.0.1", "-p", str(port), "--verboseLevel", "error"]
    with process(command, tmp / "prism.log", dict(os.environ)):
        base = f"http://127.0.0.1:{port}"
        wait_for(base, accept_any_status=True)
        yield base


@contextmanager
def start_wiremock(tmp: Path, body: bytes) -> Iterator[str]:
    root = tmp / "wiremock"
    (root / "mappings").mkdir(parents=True)
    stub = {
        "request": {
            "method": "PATCH",
            "urlPathPattern": (
                "/raas/v2/asyncOrders/customers/[^/]+/accounts/[^/]+/[^/]+"
            ),
        },
        "response": {
            "status": 200,
            "headers": {"Content-Type": "application/json"},
            "body": body.decode(),
        },
    }
    (root / "mappings/patch.json").write_text(json.dumps(stub))
    port = free_port()
    jar = wiremock_jar()
    assert jar is not None
    command = ["java", "-jar", str(jar), "--port", str(port)]
    command += ["--bind-address", "127.0.0.1", "--root-dir", str(root)]
    command += ["--disable-banner", "--disable-request-logging", "--no-request-journal"]
    with process(command, tmp / "wiremock.log", dict(os.environ)):
        base = f"http://127.0.0.1:{port}"
        wait_for(f"{base}/__admin/health")
        yield base


@contextmanager
def process(command: list[str], log: Path, env: dict[str, str]) -> Iterator[None]:
    with log.open("ab") as output:
        child = subprocess.Popen(
            command, env=env, stdout=output, stderr=subprocess.STDOUT
        )
    try:
        yield
    finally:
        child.terminate()
        try:
            child.wait(timeout=30)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()


def wait_for(url: str, within: float = 60, accept_any_status: bool = False) -> None:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        try:
            response = httpx.get(url, timeout=2)
            if accept_any_status or response.status_code < 400:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise TimeoutError(f"{url} did not come up")


# ---- load ---------------------------------------------------------------------------


def wrk(base: str, targets: Path, mode: str, seconds: float, tag: str = "w") -> Run:
    tag = f"{tag}{uuid.uuid4().hex[:6]}"
    command = ["wrk", "-t2", f"-c{CONNECTIONS}", f"-d{seconds:.0f}s", "--latency"]
    command += ["--timeout", "10s", "-s", str(LUA), base, "--", str(targets), mode, tag]
    output = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    report = json.loads(output.strip().splitlines()[-1])
    return Run(
        requests=report["requests"],
        seconds=report["duration_us"] / 1e6,
        non2xx=report["non2xx"],
        socket_errors=sum(report[k] for k in ("connect", "read", "write", "timeout")),
        p50_ms=report["p50_us"] / 1000,
        p99_ms=report["p99_us"] / 1000,
    )


async def measure_reads(
    args: argparse.Namespace,
    tmp: Path,
    database_name: str,
    data: dict[str, DataSet],
    servers: list[Server],
    sqlite_file: Path,
    stack: ExitStack,
) -> dict[tuple[str, str, int], Run]:
    """GET summary and GET list on the seeded databases and on a second pair
    grown to `args.big` orders, alternating the two sizes in every round."""
    sqlite_big, postgres_big = _settings(tmp / "big", f"{database_name}_big")
    await admin(f'CREATE DATABASE "{database_name}_big"')
    small = {
        "sqlite": (servers[2].url, sqlite_file, data["sqlite"].orders),
        "postgres": (servers[3].url, servers[3].targets_file, data["postgres"].orders),
    }
    big = {}
    for name, settings in (("sqlite", sqlite_big), ("postgres", postgres_big)):
        grown = await seed(f"{name} (reads)", settings, args.orders)
        database = connect(settings)
        took = await add_orders(
            database, grown, args.big - grown.orders, line_items=1, targets=False
        )
        await database.dispose()
        print(f"{name}: grown to {grown.orders:,} orders in {took:.0f} s", flush=True)
        raise_rate_limits(settings, grown)
        url = stack.enter_context(
            start_asyncorders(
                settings, tmp, 1 if name == "sqlite" else 2, f"{name}-big"
            )
        )
        big[name] = (
            url,
            targets_file(tmp / f"{name}-big.targets", grown.targets),
            grown.orders,
        )

    seconds = min(args.seconds, 5.0)
    runs: dict[tuple[str, str, int], list[Run]] = {}
    for sizes in (small, big):  # warm each server's pages into its cache
        for url, file, _ in sizes.values():
            for mode in ("get", "list"):
                wrk(url, file, mode, 2)
    for _ in range(args.rounds):
        for name in ("sqlite", "postgres"):
            for mode in ("get", "list"):
                for url, file, size in (small[name], big[name]):
                    runs.setdefault((name, mode, size), []).append(
                        wrk(url, file, mode, seconds)
                    )
    return {key: median_run(found) for key, found in runs.items()}


def measure_creates(
    args: argparse.Namespace,
    servers: list[Server],
    sqlite_file: Path,
    postgres_file: Path,
) -> dict[str, Run]:
    return {
        "sqlite": wrk(servers[2].url, sqlite_file, "create", args.seconds),
        "postgres": wrk(servers[3].url, postgres_file, "create", args.seconds),
    }


def median_run(runs: list[Run]) -> Run:
    return sorted(runs, key=lambda r: r.rate)[len(runs) // 2]


# ---- report -------------------------------------------------------------------------


def print_patch_table(
    servers: list[Server], before: dict[str, int], after: dict[str, int]
) -> bool:
    floors = {1: servers[0], 2: servers[1]}
    prism = servers[4]
    prism_rate = statistics.median(r.rate for r in prism.runs)
    prism_p99 = statistics.median(r.p99_ms for r in prism.runs)
    print(
        f"\nPATCH, {CONNECTIONS} connections, {len(prism.runs)} runs each "
        "(median, min-max; p50/p99 are medians of the runs)\n"
    )
    header = (
        f"| {'target':<34} | {'req/s median':>12} | {'min-max':>15} | {'p50 ms':>7} "
        f"| {'p99 ms':>7} | {'x floor':>7} | {'x Prism':>7} | {'p99/Prism':>9} |"
    )
    print(header)
    print("|" + "|".join("-" * (len(part)) for part in header.split("|")[1:-1]) + "|")
    for server in servers:
        rates = [r.rate for r in server.runs]
        rate = statistics.median(rates)
        p50 = statistics.median(r.p50_ms for r in server.runs)
        p99 = statistics.median(r.p99_ms for r in server.runs)
        floor = statistics.median(r.rate for r in floors[server.processes].runs)
        print(
            f"| {server.name:<34} | {rate:>12,.0f} | "
            f"{f'{min(rates):,.0f}-{max(rates):,.0f}':>15} | {p50:>7.1f} | "
            f"{p99:>7.1f} | {rate / floor:>7.2f} | {rate / prism_rate:>7.2f} | "
            f"{p99 / prism_p99:>9.2f} |"
        )
    errors = {s.name: sum(r.non2xx + r.socket_errors for r in s.runs) for s in servers}
    print(
        "\nerror answers or socket errors: "
        + ", ".join(f"{name} {count}" for name, count in errors.items())
    )
    ok = True
    for server, name in ((servers[2], "sqlite"), (servers[3], "postgres")):
        events = after[name] - before[name]
        # wrk does not count the requests still in flight when it stops.
        in_flight = CONNECTIONS * (len(server.runs) + 1)
        fine = server.answered <= events <= server.answered + in_flight
        ok = ok and fine
        print(
            f"audit trail, {name}: {server.answered:,} PATCHes answered 2xx, "
            f"{events:,} METADATA_UPDATED events written "
            f"({'every answered PATCH is in the history' if fine else 'MISMATCH'})"
        )
    return ok


def print_read_table(
    reads: dict[tuple[str, str, int], Run],
    creates: dict[str, Run],
    data: dict[str, DataSet],
) -> None:
    print(f"\nreads, {CONNECTIONS} connections (median run)\n")
    print(f"| {'read':<50} | {'req/s':>8} | {'p50 ms':>7} | {'p99 ms':>7} |")
    print(f"|{'-' * 52}|{'-' * 10}|{'-' * 9}|{'-' * 9}|")
    labels = {"get": "GET summary", "list": "GET list, filtered"}
    for (name, mode, size), run in sorted(reads.items()):
        label = f"{labels[mode]}, {name}, {size:,} orders"
        print(
            f"| {label:<50} | {run.rate:>8,.0f} | {run.p50_ms:>7.1f} "
            f"| {run.p99_ms:>7.1f} |"
        )
    for name in ("sqlite", "postgres"):
        for mode in ("get", "list"):
            sizes = sorted(size for n, m, size in reads if (n, m) == (name, mode))
            small, big = reads[(name, mode, sizes[0])], reads[(name, mode, sizes[-1])]
            if not (small.requests and big.requests):
                print(f"  {labels[mode]} on {name}: no answers to compare")
                continue
            print(
                f"  {labels[mode]} on {name}: {big.rate / small.rate:.2f}x the "
                f"throughput and {big.p99_ms / small.p99_ms:.2f}x the p99 at "
                f"{sizes[-1]:,} orders vs {sizes[0]:,}"
            )
    print(f"\ncreate, 10 line items per order, {CONNECTIONS} connections\n")
    for name, run in creates.items():
        print(
            f"  {name:<9} {run.rate:>7,.0f} orders/s  p50 {run.p50_ms:.1f} ms  "
            f"p99 {run.p99_ms:.1f} ms  non-2xx {run.non2xx}"
        )


async def admin(statement: str) -> None:
    engine = create_async_engine(POSTGRES_ADMIN, isolation_level="AUTOCOMMIT")
    async with engine.connect() as connection:
        await connection.execute(text(statement))
    await engine.dispose()


if __name__ == "__main__":
    sys.exit(main())
