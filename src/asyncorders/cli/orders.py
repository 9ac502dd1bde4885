"""`asyncorders orders ...`: bulk corrections and exports, over HTTP.

These commands are clients: they talk to a server (asyncorders, or Tango) at
`--base-url` with a platform's credentials, never to a database.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

import typer

if TYPE_CHECKING:
    from rich.console import Console
    from rich.table import Table

    from asyncorders.client import AsyncClient, AsyncOrderSummary
    from asyncorders.corrections.apply import Preview
    from asyncorders.corrections.results import Result
    from asyncorders.corrections.rows import Correction

app = typer.Typer(
    no_args_is_help=True, help="Async orders over HTTP: corrections and exports."
)

LOCAL_URL = "http://127.0.0.1:8000/raas/v2"
BASE_URL = typer.Option(
    LOCAL_URL, "--base-url", envvar="ASYNCORDERS_BASE_URL", help="The API's base URL."
)
PLATFORM = typer.Option(
    ..., "--platform", envvar="ASYNCORDERS_PLATFORM", help="Platform name."
)
KEY = typer.Option(
    ...,
    "--key",
    envvar="ASYNCORDERS_API_KEY",
    help="API key; better from the environment. Never printed.",
    show_default=False,
)

# Exit statuses of `patch`.
ALL_DONE, SOME_FAILED, BAD_INPUT = 0, 1, 2


@app.command("patch")
def patch(
    source: Path = typer.Option(
        ..., "--from", help="CSV or JSON lines file of corrections."
    ),
    results: Path | None = typer.Option(
        None,
        "--results",
        help="Result file (default: INPUT.results.csv beside the input).",
    ),
    dry_run: bool = typer.Option(
        False, "--dry-run", help="Show current and new values; change nothing."
    ),
    concurrency: int = typer.Option(8, "--concurrency", min=1, max=64),
    rate: float = typer.Option(
        100.0, "--rate", min=0, help="Requests per second at most (0: unpaced)."
    ),
    max_attempts: int = typer.Option(4, "--max-attempts", min=1),
    base_url: str = BASE_URL,
    platform: str = PLATFORM,
    key: str = KEY,
) -> None:
    """Correct campaign, purchaseOrderNumber and notes of many orders from a file.

    Every row is checked before anything is sent. Each order is read, then
    patched with If-Match: one changed meanwhile is a conflict, not
    overwritten. A re-run skips the rows the result file says are done.
    Exit status: 0 all ok or unchanged, 1 some not, 2 the file was refused.
    """
    import asyncio

    from asyncorders.corrections import results as result_file

    corrections = _read_or_exit(source)
    target = results or result_file.default_path(source)
    if not target.parent.is_dir():
        typer.secho(f"error: no folder {target.parent} for the results", err=True)
        raise typer.Exit(BAD_INPUT)
    previous = result_file.read_previous(target)
    todo: list[Correction] = []
    kept: list[Result] = []
    for correction in corrections:
        earlier = previous.get(correction.key)
        finished = result_file.carried(correction, earlier) if earlier else None
        if finished is None:
            todo.append(correction)
        else:
            kept.append(finished)
    if kept:
        typer.echo(f"{len(kept)} rows already done in {target}; skipped", err=True)

    async def run() -> int:
        async with _client(base_url, platform, key, concurrency, max_attempts) as api:
            if dry_run:
                return await _dry_run(api, todo, concurrency, rate)
            done = await _apply(api, todo, concurrency, rate)
        everything = kept + done
        result_file.write(target, everything)
        _summarise(everything, target)
        return ALL_DONE if all(r.done for r in everything) else SOME_FAILED

    _log_retries()
    raise typer.Exit(asyncio.run(run()))


@app.command("export")
def export(
    output: Path | None = typer.Option(
        None, "--output", help="File to write [default: standard output]."
    ),
    output_format: str = typer.Option(
        "csv", "--format", help="csv or jsonl (jsonl keeps every field)."
    ),
    account: str | None = typer.Option(None, "--account"),
    customer: str | None = typer.Option(None, "--customer"),
    external_ref_id: str | None = typer.Option(None, "--external-ref-id"),
    start_date: str | None = typer.Option(None, "--start-date", help="RFC 3339."),
    end_date: str | None = typer.Option(None, "--end-date", help="RFC 3339."),
    order_status: str | None = typer.Option(None, "--order-status"),
    campaign: str | None = typer.Option(None, "--campaign"),
    purchase_order_number: str | None = typer.Option(None, "--purchase-order-number"),
    page_size: int = typer.Option(100, "--page-size", min=1, max=200),
    base_url: str = BASE_URL,
    platform: str = PLATFORM,
    key: str = KEY,
) -> None:
    """Write orders with their metadata and status, page by page, as CSV or JSON lines.

    Filters are those of GET /asyncOrders; as there, FAILED orders are left
    out unless --order-status FAILED asks for them.
    """
    import sys

    from asyncorders.client import Client, ClientError, OrderFilters

    if output_format not in ("csv", "jsonl"):
        typer.secho("error: --format is csv or jsonl", err=True, fg="red")
        raise typer.Exit(BAD_INPUT)
    filters = OrderFilters(
        account_identifier=account,
        customer_identifier=customer,
        external_ref_id=external_ref_id,
        start_date=start_date,
        end_date=end_date,
        order_status=order_status,
        campaign=campaign,
        purchase_order_number=purchase_order_number,
    )
    _log_retries()
    handle = output.open("w", newline="", encoding="utf-8") if output else sys.stdout
    try:
        with Client(base_url, auth=(platform, key)) as api:
            orders = api.iter_orders(filters, page_size=page_size)
            count = _write_orders(handle, orders, output_format)
    except ClientError as error:
        typer.secho(f"error: {error}", err=True, fg="red")
        raise typer.Exit(SOME_FAILED) from None
    finally:
        if output:
            handle.close()
    typer.echo(f"{count} orders exported", err=True)


# ---- patch, step by step --------------------------------------------------------


def _read_or_exit(source: Path) -> list[Correction]:
    from asyncorders.corrections import rows

    try:
        parsed = rows.read(source)
    except rows.InputError as error:
        typer.secho(f"error: {error}", err=True, fg="red")
        raise typer.Exit(BAD_INPUT) from None
    for problem in parsed.problems:
        typer.secho(f"line {problem.line}: {problem.message}", err=True, fg="red")
    if parsed.problems:
        bad = len({problem.line for problem in parsed.problems})
        typer.secho(f"error: {bad} rows refused; nothing was sent", err=True, fg="red")
        raise typer.Exit(BAD_INPUT)
    return parsed.corrections


def _client(
    base_url: str, platform: str, key: str, concurrency: int, max_attempts: int
) -> AsyncClient:
    import httpx

    from asyncorders.client import AsyncClient, RetryPolicy

    return AsyncClient(
        base_url,
        auth=(platform, key),
        retry=RetryPolicy(max_attempts=max_attempts),
        limits=httpx.Limits(max_connections=concurrency),
    )


async def _apply(
    api: AsyncClient, todo: list[Correction], concurrency: int, rate: float
) -> list[Result]:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    from asyncorders.corrections.apply import Pacer, apply

    progress = Progress(
        TextColumn("correcting"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[failed]} not done"),
        console=_stderr(),
    )
    failed = 0
    with progress:
        task = progress.add_task("orders", total=len(todo), failed=0)

        def advance(result: Result) -> None:
            nonlocal failed
            failed += 0 if result.done else 1
            progress.update(task, advance=1, failed=failed)

        pacer = Pacer(rate or None)
        return await apply(
            api, todo, concurrency=concurrency, pacer=pacer, done=advance
        )


async def _dry_run(
    api: AsyncClient, todo: list[Correction], concurrency: int, rate: float
) -> int:
    from rich.table import Table

    from asyncorders.corrections.apply import Pacer, preview
    from asyncorders.corrections.results import Outcome

    previews = await preview(
        api, todo, concurrency=concurrency, pacer=Pacer(rate or None)
    )
    table = Table("line", "order", "field", "current", "new", "outcome")
    for found in sorted(previews, key=lambda p: p.correction.line):
        _preview_rows(table, found)
    console = _stdout()
    console.print(table)
    counts = _count(p.outcome.value for p in previews)
    console.print(f"dry run, nothing changed: {counts}")
    fine = {Outcome.OK, Outcome.UNCHANGED}
    return ALL_DONE if all(p.outcome in fine for p in previews) else SOME_FAILED


def _preview_rows(table: Table, found: Preview) -> None:
    from asyncorders.corrections.results import Outcome

    c = found.correction
    if found.outcome not in (Outcome.OK, Outcome.UNCHANGED):
        table.add_row(str(c.line), str(c.key), "", "", "", found.outcome.value)
        return
    for n, (name, new) in enumerate(c.changes.items()):
        label = "would change" if found.outcome is Outcome.OK else "unchanged"
        table.add_row(
            str(c.line) if n == 0 else "",
            str(c.key) if n == 0 else "",
            name,
            _shown(found.current.get(name)),
            _shown(new),
            label if n == 0 else "",
        )


def _shown(value: str | None) -> str:
    from rich.markup import escape

    return "(none)" if value is None else escape(value)


def _summarise(results: list[Result], target: Path) -> None:
    counts = _count(result.outcome.value for result in results)
    typer.echo(f"{counts}; results in {target}", err=True)


def _count(outcomes: Iterable[str]) -> str:
    from collections import Counter

    counted = Counter(outcomes)
    return ", ".join(f"{n} {name}" for name, n in sorted(counted.items())) or "0 rows"


# ---- export ---------------------------------------------------------------------

EXPORT_COLUMNS = (
    "referenceOrderID",
    "customerIdentifier",
    "accountIdentifier",
    "externalRefID",
    "accountNumber",
    "createdAt",
    "orderStatus",
    "campaign",
    "purchaseOrderNumber",
    "notes",
    "totalLineItemsRows",
    "amountCharged",
    "currencyCode",
)


def _write_orders(
    handle: TextIO, orders: Iterable[AsyncOrderSummary], output_format: str
) -> int:
    import csv

    writer = csv.DictWriter(handle, fieldnames=EXPORT_COLUMNS)
    if output_format == "csv":
        writer.writeheader()
    count = 0
    for order in orders:
        if output_format == "csv":
            writer.writerow(_csv_row(order))
        else:
            handle.write(order.model_dump_json() + "\n")
        count += 1
    return count


def _csv_row(order: AsyncOrderSummary) -> dict[str, str]:
    charged = order.amountCharged
    plain = EXPORT_COLUMNS[: EXPORT_COLUMNS.index("amountCharged")]
    values: dict[str, object] = {
        **{name: getattr(order, name) for name in plain},
        "createdAt": order.createdAt.isoformat() if order.createdAt else None,
        # Every account currency has cents; the Decimal prints exactly.
        "amountCharged": (
            f"{charged.total:.2f}" if charged and charged.total is not None else None
        ),
        "currencyCode": charged.currencyCode if charged else None,
    }
    return {name: "" if value is None else str(value) for name, value in values.items()}


# ---- output ---------------------------------------------------------------------


def _stderr() -> Console:
    from rich.console import Console

    return Console(stderr=True)


def _stdout() -> Console:
    from rich.console import Console

    return Console(width=160)


def _log_retries() -> None:
    """Show the client's retry events on stderr (they hold no secrets)."""
    import logging
    import sys

    class CurrentStderr(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            print(self.format(record), file=sys.stderr, flush=True)

    client_log = logging.getLogger("asyncorders.client")
    if not any(type(h).__name__ == "CurrentStderr" for h in client_log.handlers):
        client_log.addHandler(CurrentStderr())
    client_log.setLevel(logging.WARNING)
