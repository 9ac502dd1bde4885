"""`asyncorders orders patch` against a real server: 500 orders corrected from a
file with valid rows, refused rows, unknown orders and orders changed between
the read and the PATCH; re-runs; the dry run; JSON lines; the export."""

from __future__ import annotations

import csv
import json
from collections import defaultdict
from collections.abc import Iterator
from functools import partial
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
from sqlalchemy import select
from typer.testing import CliRunner, Result

from asyncorders.cli.main import app
from asyncorders.orders import service as orders
from asyncorders.orders.schemas import CreateAsyncOrderCriteria
from asyncorders.platforms import service as platforms
from asyncorders.storage.tables import AsyncOrder, OrderEvent
from tests.client.proxy import Plan, Seen, fault_proxy
from tests.conftest import Api
from tests.factories import Tenant, line, order_body

pytestmark = pytest.mark.anyio

runner = CliRunner()
ORDERS = 500
INITIAL = {"campaign": "spring", "purchaseOrderNumber": "PO-{n}", "notes": "note {n}"}
COLUMNS = [
    "customerIdentifier",
    "accountIdentifier",
    "externalRefID",
    "campaign",
    "purchaseOrderNumber",
    "notes",
]


def ref(n: int) -> str:
    return f"wk-{n:03d}"


async def seed_orders(api: Api, tenant: Tenant, count: int = ORDERS) -> None:
    """`count` orders straight through the service, in one transaction."""
    async with api.runtime.database.sessions() as session:
        caller = await platforms.authenticate(
            session, api.runtime.secret, tenant.platform, tenant.key
        )
        assert caller is not None
        for n in range(count):
            body = order_body(
                tenant,
                ref(n),
                lineItems=[line(amount=1)],
                **{k: v.format(n=n) for k, v in INITIAL.items()},
            )
            await orders.create(
                session,
                caller,
                CreateAsyncOrderCriteria.model_validate(body),
                request_id=f"seed-{n:06d}",
                max_line_items=10,
            )
        await session.commit()


async def events_by_order(api: Api) -> dict[str, list[tuple[str, list[Any]]]]:
    """Every order's audit events, oldest first, straight from the database."""
    async with api.runtime.database.sessions() as session:
        rows = await session.execute(
            select(AsyncOrder.external_ref_id, OrderEvent.kind, OrderEvent.changes)
            .join(AsyncOrder, AsyncOrder.id == OrderEvent.order_id)
            .order_by(OrderEvent.id)
        )
        found: dict[str, list[tuple[str, list[Any]]]] = defaultdict(list)
        for external_ref_id, kind, changes in rows:
            found[external_ref_id].append((kind, changes))
        return found


def write_csv(path: Path, rows: list[dict[str, str]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
    return path


def read_results(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


async def cli(tenant: Tenant, base_url: str, *args: str) -> Result:
    """Run `asyncorders` in a thread (it runs its own event loop)."""
    env = {
        "ASYNCORDERS_PLATFORM": tenant.platform,
        "ASYNCORDERS_API_KEY": tenant.key,
        "ASYNCORDERS_BASE_URL": base_url,
    }
    invoke = partial(runner.invoke, app, list(args), env=env)
    result: Result = await anyio.to_thread.run_sync(invoke)
    assert tenant.key not in result.output, "the key is never printed"
    return result


def row(tenant: Tenant, external_ref_id: str, **cells: str) -> dict[str, str]:
    return {
        "customerIdentifier": tenant.customer,
        "accountIdentifier": tenant.account,
        "externalRefID": external_ref_id,
        **cells,
    }


# ---- the plan of the big test ---------------------------------------------------
#   wk-000 .. wk-399  corrections (a third each: campaign; PO and clear notes; notes)
#   wk-400 .. wk-419  ask for the values they already have: unchanged
#   wk-420 .. wk-439  changed by someone else between our GET and PATCH: conflict
#   wk-440 .. wk-499  not in the file
#   nope-000 .. 029   no such order: not_found

CORRECTED = range(400)
SAME = range(400, 420)
RACED = range(420, 440)
UNKNOWN = [f"nope-{n:03d}" for n in range(30)]


def wanted(n: int) -> dict[str, str]:
    if n % 3 == 0:
        return {"campaign": "autumn"}
    if n % 3 == 1:
        return {"purchaseOrderNumber": f"PO-{n}-fixed", "notes": "<clear>"}
    return {"notes": f"corrected {n}"}


def expected_changes(n: int) -> list[dict[str, Any]]:
    current = {k: v.format(n=n) for k, v in INITIAL.items()}
    return sorted(
        (
            {
                "field": name,
                "old": current[name],
                "new": None if value == "<clear>" else value,
            }
            for name, value in wanted(n).items()
        ),
        key=lambda change: change["field"],
    )


def good_rows(tenant: Tenant) -> list[dict[str, str]]:
    rows = [row(tenant, ref(n), **wanted(n)) for n in CORRECTED]
    rows += [row(tenant, ref(n), campaign="spring") for n in SAME]
    rows += [row(tenant, ref(n), campaign="autumn") for n in RACED]
    rows += [row(tenant, name, notes="lost") for name in UNKNOWN]
    return rows


def bad_rows(tenant: Tenant) -> list[dict[str, str]]:
    return [
        row(tenant, ref(440), notes="x" * 151),
        row(tenant, ref(441), campaign="x" * 1025),
        row(tenant, ref(442), purchaseOrderNumber="x" * 256),
        row(tenant, "", notes="no order named"),
        row(tenant, ref(443)),
        row(tenant, ref(0), campaign="twice"),
    ]


class Meddler:
    """Changes the RACED orders right after our GET of them is answered."""

    def __init__(self, upstream: str, tenant: Tenant) -> None:
        self.http = httpx.Client(base_url=upstream, auth=tenant.auth)
        self.tenant = tenant
        self.targets = {ref(n) for n in RACED}
        self.done: set[str] = set()

    def __call__(self, seen: Seen) -> None:
        name = seen.path.split("?")[0].rsplit("/", 1)[-1]
        if seen.method != "GET" or name not in self.targets - self.done:
            return
        self.done.add(name)
        answer = self.http.patch(
            self.tenant.order_url(name).lstrip("/"), json={"notes": "someone else"}
        )
        assert answer.status_code == 200, answer.text


def patches(plan: Plan) -> list[str]:
    return [seen.path for seen in plan.seen if seen.method == "PATCH"]


@pytest.fixture
def proxy(live_url: str) -> Iterator[tuple[str, Plan]]:
    with fault_proxy(live_url) as found:
        yield found


async def test_500_corrections_are_classified_recorded_and_never_repeated(
    api: Api, tenant: Tenant, live_url: str, proxy: tuple[str, Plan], tmp_path: Path
) -> None:
    url, plan = proxy
    await seed_orders(api, tenant)
    before = await events_by_order(api)

    # 1. A file with bad rows is refused whole: nothing sent, no result file.
    refused = write_csv(tmp_path / "bad.csv", good_rows(tenant) + bad_rows(tenant))
    first = await cli(tenant, url, "orders", "patch", "--from", str(refused))
    assert first.exit_code == 2, first.output
    bad_lines = [len(good_rows(tenant)) + 2 + n for n in range(6)]
    for line_number in bad_lines:
        assert f"line {line_number}:" in first.stderr
    assert "line 2:" in first.stderr, "the first row names the duplicate too"
    assert "7 rows refused; nothing was sent" in first.stderr
    assert plan.seen == []
    assert not (tmp_path / "bad.results.csv").exists()

    # 2. The good rows, while someone else changes 20 of the orders.
    source = write_csv(tmp_path / "week.csv", good_rows(tenant))
    plan.meddle = Meddler(live_url, tenant)
    run = await cli(tenant, url, "orders", "patch", "--from", str(source))
    plan.meddle = None
    assert run.exit_code == 1, run.output

    results = read_results(tmp_path / "week.results.csv")
    by_ref = {r["externalRefID"]: r for r in results}
    assert len(results) == len(by_ref) == 470
    assert {by_ref[ref(n)]["result"] for n in CORRECTED} == {"ok"}
    assert {by_ref[ref(n)]["result"] for n in SAME} == {"unchanged"}
    assert {by_ref[ref(n)]["result"] for n in RACED} == {"conflict"}
    assert {by_ref[name]["result"] for name in UNKNOWN} == {"not_found"}
    assert all(r["requestId"] for r in results)
    assert by_ref[ref(1)]["notes"] == "<clear>"
    assert by_ref[ref(0)]["line"] == "2"
    assert "changed after it was read" in by_ref[ref(420)]["message"]

    # The history holds exactly the intended changes, and nothing for the rest.
    after = await events_by_order(api)
    for n in CORRECTED:
        events = after[ref(n)]
        assert events[:-1] == before[ref(n)]
        kind, changes = events[-1]
        assert kind == "METADATA_UPDATED"
        assert sorted(changes, key=lambda c: c["field"]) == expected_changes(n)
    for n in [*SAME, *range(440, ORDERS)]:
        assert after[ref(n)] == before[ref(n)]
    for n in RACED:
        assert after[ref(n)][1:] == [
            (
                "METADATA_UPDATED",
                [{"field": "notes", "old": f"note {n}", "new": "someone else"}],
            )
        ], "the other writer's change only: ours was not applied over it"
    unchanged_paths = [p for p in patches(plan) for n in SAME if ref(n) in p]
    assert unchanged_paths == [], "no PATCH for an order that has the values"

    # 3. The same file again: only conflicts and unknown orders are retried.
    plan.seen.clear()
    again = await cli(tenant, url, "orders", "patch", "--from", str(source))
    assert again.exit_code == 1, again.output
    retried = {seen.path.split("?")[0].rsplit("/", 1)[-1] for seen in plan.seen}
    assert retried == {ref(n) for n in RACED} | set(UNKNOWN)
    second = {
        r["externalRefID"]: r["result"]
        for r in read_results(source.with_name("week.results.csv"))
    }
    assert {second[ref(n)] for n in RACED} == {"ok"}
    assert {second[ref(n)] for n in CORRECTED} == {"ok"}
    assert {second[name] for name in UNKNOWN} == {"not_found"}
    settled = await events_by_order(api)
    assert {k: v for k, v in settled.items() if k not in {ref(n) for n in RACED}} == {
        k: v for k, v in after.items() if k not in {ref(n) for n in RACED}
    }

    # 4. And once more: nothing left to change, no PATCH at all.
    plan.seen.clear()
    last = await cli(tenant, url, "orders", "patch", "--from", str(source))
    assert last.exit_code == 1, last.output
    assert patches(plan) == []
    assert await events_by_order(api) == settled

    # The audit trail through the API says the same as the database.
    async with httpx.AsyncClient(base_url=live_url, auth=tenant.auth) as http:
        answer = await http.get(tenant.order_url(ref(1)).lstrip("/") + "/history")
    history = answer.json()
    assert [e["type"] for e in history["events"]] == [
        "METADATA_UPDATED",
        "ORDER_CREATED",
    ]
    assert history["events"][0]["requestId"] == by_ref[ref(1)]["requestId"]


async def test_all_done_exits_0_and_a_rerun_sends_nothing(
    api: Api, tenant: Tenant, proxy: tuple[str, Plan], tmp_path: Path
) -> None:
    url, plan = proxy
    await seed_orders(api, tenant, 3)
    source = write_csv(
        tmp_path / "fix.csv",
        [row(tenant, ref(0), campaign="x"), row(tenant, ref(1), notes="note 1")],
    )
    results = tmp_path / "out" / "r.csv"
    results.parent.mkdir()

    first = await cli(
        tenant, url, "orders", "patch", "--from", str(source), "--results", str(results)
    )
    plan.seen.clear()
    second = await cli(
        tenant, url, "orders", "patch", "--from", str(source), "--results", str(results)
    )

    assert first.exit_code == 0, first.output
    assert [r["result"] for r in read_results(results)] == ["ok", "unchanged"]
    assert second.exit_code == 0, second.output
    assert plan.seen == []
    assert "2 rows already done" in second.stderr


async def test_an_edited_row_is_sent_again_even_if_its_order_was_done(
    api: Api, tenant: Tenant, proxy: tuple[str, Plan], tmp_path: Path
) -> None:
    url, _ = proxy
    await seed_orders(api, tenant, 1)
    source = tmp_path / "fix.csv"
    write_csv(source, [row(tenant, ref(0), campaign="x")])
    await cli(tenant, url, "orders", "patch", "--from", str(source))
    write_csv(source, [row(tenant, ref(0), campaign="y")])

    run = await cli(tenant, url, "orders", "patch", "--from", str(source))

    assert run.exit_code == 0, run.output
    assert read_results(tmp_path / "fix.results.csv")[0]["campaign"] == "y"
    events = (await events_by_order(api))[ref(0)]
    assert [c["new"] for _, changes in events[1:] for c in changes] == ["x", "y"]


async def test_dry_run_shows_current_and_new_values_and_changes_nothing(
    api: Api, tenant: Tenant, proxy: tuple[str, Plan], tmp_path: Path
) -> None:
    url, plan = proxy
    await seed_orders(api, tenant, 2)
    source = write_csv(
        tmp_path / "fix.csv",
        [
            row(tenant, ref(0), campaign="autumn", notes="<clear>"),
            row(tenant, ref(1), campaign="spring"),
            row(tenant, "nope-1", notes="x"),
        ],
    )
    before = await events_by_order(api)

    run = await cli(tenant, url, "orders", "patch", "--from", str(source), "--dry-run")

    assert run.exit_code == 1, run.output
    text = run.stdout
    assert "spring" in text
    assert "autumn" in text
    assert "note 0" in text
    assert "(none)" in text
    assert "would change" in text
    assert "unchanged" in text
    assert "not_found" in text
    assert "1 not_found, 1 ok, 1 unchanged" in text
    assert patches(plan) == []
    assert await events_by_order(api) == before
    assert not (tmp_path / "fix.results.csv").exists()


async def test_json_lines_are_read_and_null_is_refused(
    api: Api, tenant: Tenant, proxy: tuple[str, Plan], tmp_path: Path
) -> None:
    url, plan = proxy
    await seed_orders(api, tenant, 2)
    good = tmp_path / "fix.jsonl"
    good.write_text(
        json.dumps(row(tenant, ref(0), purchaseOrderNumber="PO-new"))
        + "\n\n"
        + json.dumps(row(tenant, ref(1), notes="<clear>", campaign=""))
        + "\n"
    )
    bad = tmp_path / "bad.jsonl"
    bad.write_text(
        json.dumps({**row(tenant, ref(0)), "notes": None})
        + "\n"
        + json.dumps({**row(tenant, ref(1)), "amount": "5"})
        + "\n[1]\n{nope\n"
    )

    refused = await cli(tenant, url, "orders", "patch", "--from", str(bad))
    done = await cli(tenant, url, "orders", "patch", "--from", str(good))

    assert refused.exit_code == 2
    assert "line 1: notes is null" in refused.stderr
    assert "line 2: unknown member 'amount'" in refused.stderr
    assert "line 3: not a JSON object" in refused.stderr
    assert "line 4: not valid JSON" in refused.stderr
    assert done.exit_code == 0, done.output
    results = read_results(tmp_path / "fix.results.csv")
    assert [(r["line"], r["result"]) for r in results] == [("1", "ok"), ("3", "ok")]
    events = await events_by_order(api)
    assert events[ref(1)][-1][1] == [{"field": "notes", "old": "note 1", "new": None}]
    assert len(patches(plan)) == 2


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("customerIdentifier,accountIdentifier,externalRefID,campain\n", "unknown"),
        ("customerIdentifier,externalRefID,notes\n", "missing columns"),
        ("customerIdentifier,accountIdentifier,externalRefID\n", "no column"),
        ("", "no rows"),
    ],
)
async def test_a_file_without_the_columns_is_refused(
    tenant: Tenant, tmp_path: Path, content: str, message: str
) -> None:
    source = tmp_path / "fix.csv"
    source.write_text(content)

    run = await cli(
        tenant, "http://127.0.0.1:9/raas/v2", "orders", "patch", "--from", str(source)
    )

    assert run.exit_code == 2
    assert message in run.stderr


async def test_a_results_folder_that_does_not_exist_is_refused_before_sending(
    tenant: Tenant, proxy: tuple[str, Plan], tmp_path: Path
) -> None:
    url, plan = proxy
    source = write_csv(tmp_path / "fix.csv", [row(tenant, ref(0), notes="x")])
    nowhere = tmp_path / "missing" / "r.csv"

    run = await cli(
        tenant, url, "orders", "patch", "--from", str(source), "--results", str(nowhere)
    )

    assert run.exit_code == 2
    assert "no folder" in run.stderr
    assert plan.seen == []


async def test_export_streams_every_order_as_csv_or_json_lines(
    api: Api, tenant: Tenant, live_url: str, tmp_path: Path
) -> None:
    await seed_orders(api, tenant, 7)
    csv_file, jsonl_file = tmp_path / "orders.csv", tmp_path / "orders.jsonl"

    as_csv = await cli(
        tenant,
        live_url,
        "orders",
        "export",
        "--output",
        str(csv_file),
        "--page-size",
        "3",
    )
    as_jsonl = await cli(
        tenant,
        live_url,
        "orders",
        "export",
        "--format",
        "jsonl",
        "--output",
        str(jsonl_file),
        "--campaign",
        "spring",
        "--account",
        tenant.account,
    )
    filtered = await cli(
        tenant, live_url, "orders", "export", "--external-ref-id", ref(3)
    )

    assert as_csv.exit_code == 0, as_csv.output
    rows = read_results(csv_file)
    assert sorted(r["externalRefID"] for r in rows) == [ref(n) for n in range(7)]
    first = next(r for r in rows if r["externalRefID"] == ref(3))
    assert first["purchaseOrderNumber"] == "PO-3"
    assert first["notes"] == "note 3"
    assert first["orderStatus"] == "PENDING"
    assert first["amountCharged"] == "1.00"
    assert as_jsonl.exit_code == 0, as_jsonl.output
    lines = [json.loads(text) for text in jsonl_file.read_text().splitlines()]
    assert len(lines) == 7
    assert all(order["campaign"] == "spring" for order in lines)
    assert filtered.exit_code == 0
    assert [
        r["externalRefID"] for r in csv.DictReader(filtered.stdout.splitlines())
    ] == [ref(3)]
    assert "7 orders exported" in as_csv.stderr


async def test_an_exported_file_can_be_edited_and_fed_back(
    api: Api, tenant: Tenant, live_url: str, tmp_path: Path
) -> None:
    await seed_orders(api, tenant, 3)
    exported = tmp_path / "orders.csv"
    await cli(tenant, live_url, "orders", "export", "--output", str(exported))
    rows = read_results(exported)
    for r in rows:
        if r["externalRefID"] == ref(2):
            r["campaign"] = "edited"
    with exported.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)

    run = await cli(tenant, live_url, "orders", "patch", "--from", str(exported))

    assert run.exit_code == 0, run.output
    results = {
        r["externalRefID"]: r["result"]
        for r in read_results(tmp_path / "orders.results.csv")
    }
    assert results == {ref(0): "unchanged", ref(1): "unchanged", ref(2): "ok"}


async def test_a_wrong_key_is_an_error_per_row_and_never_printed(
    api: Api, tenant: Tenant, live_url: str, tmp_path: Path
) -> None:
    await seed_orders(api, tenant, 1)
    source = write_csv(tmp_path / "fix.csv", [row(tenant, ref(0), notes="x")])
    wrong = Tenant(tenant.platform, "wrong-key-123", tenant.customer, tenant.account)

    run = await cli(wrong, live_url, "orders", "patch", "--from", str(source))

    assert run.exit_code == 1
    result = read_results(tmp_path / "fix.results.csv")[0]
    assert result["result"] == "error"
    assert "401" in result["message"]
    assert "wrong-key-123" not in (tmp_path / "fix.results.csv").read_text()
