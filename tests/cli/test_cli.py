"""The operator command line, on the default SQLite database under a temp data dir."""

from __future__ import annotations

import asyncio
import json
import re
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner, Result

from asyncorders.api.app import create_app
from asyncorders.api.deps import Runtime
from asyncorders.cli.main import app
from asyncorders.platforms import service as platforms
from asyncorders.settings import Settings
from asyncorders.storage import migrate
from asyncorders.storage.engine import connect

runner = CliRunner()


@pytest.fixture(autouse=True)
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every command of a test works on one fresh data dir with the default URL."""
    for name in ("DATABASE_URL", "SECRET_KEY", "MODE", "SEED_DEMO"):
        monkeypatch.delenv(f"ASYNCORDERS_{name}", raising=False)
    monkeypatch.setenv("ASYNCORDERS_DATA_DIR", str(tmp_path))
    return tmp_path


def run(*args: str) -> Result:
    return runner.invoke(app, list(args))


def ok(*args: str) -> Result:
    result = run(*args)
    assert result.exit_code == 0, (result.output, result.exception)
    return result


def failed(*args: str) -> Result:
    """Run a command that must fail cleanly: status 1, a message, no traceback."""
    result = run(*args)
    assert result.exit_code == 1, (result.output, result.exception)
    assert isinstance(result.exception, SystemExit), repr(result.exception)
    assert "Traceback" not in result.output
    assert "error" in result.stderr.lower(), result.output
    return result


def issued(result: Result) -> tuple[str, str]:
    """(key id, api key) from the output of a command that issues a key."""
    key_id = re.search(r"^key id:\s+(\S+)$", result.stdout, re.MULTILINE)
    key = re.search(r"^api key:\s+(\S+)$", result.stdout, re.MULTILINE)
    assert key_id is not None, result.output
    assert key is not None, result.output
    return key_id.group(1), key.group(1)


def authenticates(platform: str, key: str) -> bool:
    settings = Settings()

    async def check() -> bool:
        database = connect(settings)
        try:
            async with database.sessions() as session:
                caller = await platforms.authenticate(
                    session, settings.resolved_secret_key, platform, key
                )
            return caller is not None
        finally:
            await database.dispose()

    return asyncio.run(check())


def call_api(platform: str, key: str, path: str) -> httpx.Response:
    """One GET on an app started on the CLI's data dir."""
    settings = Settings()

    async def call() -> httpx.Response:
        database = connect(settings)
        service = create_app(settings)
        service.state.runtime = Runtime(
            settings, database, settings.resolved_secret_key
        )
        transport = httpx.ASGITransport(app=service)
        try:
            async with httpx.AsyncClient(
                transport=transport, base_url="http://testserver/raas/v2"
            ) as http:
                return await http.get(path, auth=httpx.BasicAuth(platform, key))
        finally:
            await database.dispose()

    return asyncio.run(call())


def write_json(path: Path, content: Any) -> Path:
    path.write_text(json.dumps(content))
    return path


def catalog_file(**item_overrides: Any) -> dict[str, Any]:
    return {
        "brands": [
            {
                "brandKey": "B100",
                "brandName": "Test Brand",
                "items": [
                    {
                        "utid": "U100",
                        "rewardName": "Test reward",
                        "currencyCode": "USD",
                        "valueType": "FIXED_VALUE",
                        "faceValue": 10,
                        **item_overrides,
                    }
                ],
            }
        ]
    }


def make_account(platform: str = "acme") -> None:
    ok("platform", "create", platform)
    ok("customer", "create", platform, "cust-1", "--name", "Customer One")
    ok(
        "account",
        "create",
        platform,
        "cust-1",
        "acct-1",
        "--name",
        "Account One",
        "--email",
        "ops@example.com",
    )


# ---- platforms and keys --------------------------------------------------------------


def test_platform_create_prints_a_key_once_and_it_authenticates(
    data_dir: Path,
) -> None:
    result = ok("platform", "create", "acme")

    key_id, key = issued(result)
    assert result.output.count(key) == 1
    assert key_id.startswith("key_")
    assert "only this once" in result.stderr
    assert authenticates("acme", key)
    assert not authenticates("acme", key + "x")
    assert (data_dir / "asyncorders.db").exists()
    assert (data_dir / "secret.key").exists()


def test_key_from_the_cli_opens_the_api(data_dir: Path) -> None:
    _, key = issued(ok("platform", "create", "acme"))

    good = call_api("acme", key, "/customers")
    bad = call_api("acme", "wrong", "/customers")

    assert good.status_code == 200, good.text
    assert good.json() == []
    assert bad.status_code == 401


def test_platform_create_twice_exits_1(data_dir: Path) -> None:
    ok("platform", "create", "acme")

    result = failed("platform", "create", "acme")

    assert "acme" in result.stderr


@pytest.mark.parametrize("name", ["acme:corp", ""])
def test_platform_create_refuses_a_name_http_basic_cannot_carry(
    data_dir: Path, name: str
) -> None:
    # The user part of HTTP Basic credentials cannot contain ':' or be empty,
    # so such a platform's key could never authenticate (RFC 7617).
    failed("platform", "create", name)


def test_platform_keys_lists_ids_and_never_keys(data_dir: Path) -> None:
    key_id, key = issued(ok("platform", "create", "acme"))

    result = ok("platform", "keys", "acme")

    assert key_id in result.stdout
    assert "active" in result.stdout
    assert key not in result.output


def test_add_key_gives_a_second_working_key_and_refuses_a_third(
    data_dir: Path,
) -> None:
    first_id, first = issued(ok("platform", "create", "acme"))

    second_id, second = issued(ok("platform", "add-key", "acme"))
    result = failed("platform", "add-key", "acme")

    assert second_id != first_id
    assert authenticates("acme", first)
    assert authenticates("acme", second)
    assert "two active keys" in result.stderr
    assert "api key" not in result.stdout
    listed = ok("platform", "keys", "acme").stdout.splitlines()
    assert len(listed) == 2


def test_rotate_key_revokes_the_oldest_of_two(data_dir: Path) -> None:
    first_id, first = issued(ok("platform", "create", "acme"))
    _, second = issued(ok("platform", "add-key", "acme"))

    result = ok("platform", "rotate-key", "acme")

    third_id, third = issued(result)
    assert re.search(rf"^revoked:\s+{first_id}$", result.stdout, re.MULTILINE)
    assert not authenticates("acme", first)
    assert authenticates("acme", second)
    assert authenticates("acme", third)
    keys = ok("platform", "keys", "acme").stdout
    first_line = next(line for line in keys.splitlines() if first_id in line)
    assert "active" not in first_line
    third_line = next(line for line in keys.splitlines() if third_id in line)
    assert third_line.endswith("active")


def test_rotate_key_with_one_key_revokes_nothing(data_dir: Path) -> None:
    _, first = issued(ok("platform", "create", "acme"))

    result = ok("platform", "rotate-key", "acme")

    _, second = issued(result)
    assert "revoked" not in result.stdout
    assert authenticates("acme", first)
    assert authenticates("acme", second)


def test_revoke_key_stops_it_at_once(data_dir: Path) -> None:
    first_id, first = issued(ok("platform", "create", "acme"))
    _, second = issued(ok("platform", "add-key", "acme"))

    result = ok("platform", "revoke-key", "acme", first_id)

    assert first_id in result.stdout
    assert not authenticates("acme", first)
    assert authenticates("acme", second)
    assert call_api("acme", first, "/customers").status_code == 401


def test_revoke_key_twice_or_unknown_exits_1(data_dir: Path) -> None:
    first_id, _ = issued(ok("platform", "create", "acme"))
    ok("platform", "revoke-key", "acme", first_id)

    failed("platform", "revoke-key", "acme", first_id)
    failed("platform", "revoke-key", "acme", "key_0000000000000000")


@pytest.mark.parametrize(
    "command",
    [
        ["platform", "add-key", "ghost"],
        ["platform", "rotate-key", "ghost"],
        ["platform", "revoke-key", "ghost", "key_0000000000000000"],
        ["platform", "keys", "ghost"],
        ["customer", "create", "ghost", "cust-1", "--name", "Customer One"],
        [
            "account",
            "create",
            "ghost",
            "cust-1",
            "acct-1",
            "--name",
            "Account One",
            "--email",
            "ops@example.com",
        ],
        ["account", "fund", "ghost", "acct-1", "10"],
        ["account", "balance", "ghost", "acct-1"],
    ],
)
def test_commands_on_an_unknown_platform_exit_1(
    data_dir: Path, command: list[str]
) -> None:
    result = failed(*command)

    assert "ghost" in result.stderr


# ---- customers and accounts ----------------------------------------------------------


def test_customer_and_account_create(data_dir: Path) -> None:
    _, key = issued(ok("platform", "create", "acme"))

    made_customer = ok("customer", "create", "acme", "cust-1", "--name", "Customer One")
    made_account = ok(
        "account",
        "create",
        "acme",
        "cust-1",
        "acct-1",
        "--name",
        "Account One",
        "--email",
        "ops@example.com",
        "--currency",
        "EUR",
    )

    assert "cust-1" in made_customer.stdout
    assert "acct-1" in made_account.stdout
    response = call_api("acme", key, "/accounts/acct-1")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["customerIdentifier"] == "cust-1"
    assert body["currencyCode"] == "EUR"
    assert body["currentBalance"] == 0
    assert body["accountNumber"] in made_account.stdout


def test_duplicate_customer_and_account_exit_1(data_dir: Path) -> None:
    make_account()

    failed("customer", "create", "acme", "cust-1", "--name", "Customer One")
    failed(
        "account",
        "create",
        "acme",
        "cust-1",
        "acct-1",
        "--name",
        "Account One",
        "--email",
        "ops@example.com",
    )


@pytest.mark.parametrize(
    "command",
    [
        ["customer", "create", "acme", "bad id", "--name", "Customer One"],
        ["customer", "create", "acme", "cust-2", "--name", "abc"],
        [
            "account",
            "create",
            "acme",
            "cust-1",
            "acct-2",
            "--name",
            "Account Two",
            "--email",
            "not-an-email",
        ],
        [
            "account",
            "create",
            "acme",
            "cust-1",
            "acct-2",
            "--name",
            "Account Two",
            "--email",
            "ops@example.com",
            "--currency",
            "XYZ",
        ],
        [
            "account",
            "create",
            "acme",
            "ghost-customer",
            "acct-2",
            "--name",
            "Account Two",
            "--email",
            "ops@example.com",
        ],
    ],
)
def test_invalid_customer_or_account_exits_1(
    data_dir: Path, command: list[str]
) -> None:
    make_account()

    failed(*command)


def test_account_fund_prints_the_new_balance(data_dir: Path) -> None:
    make_account()

    first = ok("account", "fund", "acme", "acct-1", "10.50", "--note", "first")
    second = ok("account", "fund", "acme", "acct-1", "0.10")

    assert "10.50 USD" in first.stdout
    assert "10.60 USD" in second.stdout


def test_account_fund_adds_up_exactly(data_dir: Path) -> None:
    make_account()
    for _ in range(10):
        ok("account", "fund", "acme", "acct-1", "0.10")

    result = ok("account", "balance", "acme", "acct-1")

    lines = dict(line.split(None, 1) for line in result.stdout.splitlines())
    assert Decimal(lines["balance"].split()[0]) == Decimal("1.00")
    assert lines["balance"].split()[1] == "USD"
    assert Decimal(lines["funded"]) == Decimal("1.00")
    assert Decimal(lines["charged"]) == Decimal("0")
    assert Decimal(lines["refunded"]) == Decimal("0")


@pytest.mark.parametrize(
    "amount",
    [
        "abc",
        "",
        "-5",
        "-0.01",
        "0",
        "0.00",
        "1.234",
        "NaN",
        "sNaN",
        "Infinity",
        "1e20",
        "1,50",
    ],
)
def test_account_fund_with_a_bad_amount_exits_1(data_dir: Path, amount: str) -> None:
    make_account()

    failed("account", "fund", "acme", "acct-1", "--", amount)

    balance = ok("account", "balance", "acme", "acct-1").stdout
    assert re.search(r"^balance\s+0\.00 USD$", balance, re.MULTILINE), balance


def test_account_fund_and_balance_of_an_unknown_account_exit_1(
    data_dir: Path,
) -> None:
    make_account()

    failed("account", "fund", "acme", "ghost-account", "10")
    failed("account", "balance", "acme", "ghost-account")


def test_account_of_another_platform_cannot_be_funded(data_dir: Path) -> None:
    make_account("acme")
    ok("platform", "create", "globex")

    failed("account", "fund", "globex", "acct-1", "10")


# ---- catalog -------------------------------------------------------------------------


def test_catalog_load_adds_then_updates(data_dir: Path, tmp_path: Path) -> None:
    _, key = issued(ok("platform", "create", "acme"))
    source = write_json(tmp_path / "catalog.json", catalog_file())

    first = ok("catalog", "load", str(source))
    write_json(source, catalog_file(rewardName="Renamed reward"))
    second = ok("catalog", "load", str(source))

    assert "1 brands; 1 items added, 0 updated" in first.stdout
    assert "1 brands; 0 items added, 1 updated" in second.stdout
    response = call_api("acme", key, "/catalogs")
    (brand,) = response.json()["brands"]
    (item,) = brand["items"]
    assert item["rewardName"] == "Renamed reward"


def test_catalog_load_of_the_demo_catalog(data_dir: Path) -> None:
    source = Path(__file__).parents[2] / "src/asyncorders/demo/catalog.json"

    result = ok("catalog", "load", str(source))

    assert "3 brands; 6 items added, 0 updated" in result.stdout


def test_catalog_load_of_a_missing_file_exits_1(data_dir: Path) -> None:
    result = failed("catalog", "load", str(data_dir / "missing.json"))

    assert "missing.json" in result.stderr


def test_catalog_load_of_a_directory_exits_1(data_dir: Path) -> None:
    failed("catalog", "load", str(data_dir))


def test_catalog_load_of_bad_json_exits_1(data_dir: Path) -> None:
    source = data_dir / "bad.json"
    source.write_text('{"brands": [')

    failed("catalog", "load", str(source))


def test_catalog_load_of_a_file_that_is_not_utf8_exits_1(data_dir: Path) -> None:
    source = data_dir / "latin1.json"
    source.write_bytes('{"brands": [], "catalogName": "caf\xe9"}'.encode("latin-1"))

    failed("catalog", "load", str(source))


@pytest.mark.parametrize(
    "content",
    [
        [],
        {"brands": "none"},
        catalog_file(faceValue=None),
        catalog_file(utid="X100"),
        catalog_file(currencyCode="XYZ"),
        catalog_file(valueType="VARIABLE_VALUE", minValue=10, maxValue=5),
    ],
    ids=[
        "list",
        "brands-not-list",
        "no-face-value",
        "bad-utid",
        "bad-currency",
        "range",
    ],
)
def test_catalog_load_of_an_invalid_file_exits_1_with_a_message(
    data_dir: Path, content: Any
) -> None:
    source = write_json(data_dir / "invalid.json", content)

    result = failed("catalog", "load", str(source))

    assert "error:" in result.stderr


def test_catalog_load_of_an_invalid_file_stores_nothing(data_dir: Path) -> None:
    _, key = issued(ok("platform", "create", "acme"))
    content = catalog_file()
    content["brands"].append(
        {
            "brandKey": "B200",
            "brandName": "Broken",
            "items": [{"utid": "U200", "rewardName": "x"}],
        }
    )
    source = write_json(data_dir / "partly.json", content)

    failed("catalog", "load", str(source))

    assert call_api("acme", key, "/catalogs").json()["brands"] == []


def test_catalog_with_a_repeated_brand_key_fails_cleanly_or_merges(
    data_dir: Path,
) -> None:
    _, key = issued(ok("platform", "create", "acme"))
    content = catalog_file()
    content["brands"].append(
        {
            **content["brands"][0],
            "items": [{**content["brands"][0]["items"][0], "utid": "U101"}],
        }
    )
    source = write_json(data_dir / "repeated.json", content)

    result = run("catalog", "load", str(source))

    assert result.exit_code in (0, 1), result.output
    assert isinstance(result.exception, SystemExit | None), repr(result.exception)
    assert "Traceback" not in result.output
    brands = call_api("acme", key, "/catalogs").json()["brands"]
    if result.exit_code == 0:
        assert [brand["brandKey"] for brand in brands] == ["B100"]
        assert [item["utid"] for item in brands[0]["items"]] == ["U100", "U101"]
    else:
        assert "error" in result.stderr.lower()
        assert brands == []


# ---- migrate -------------------------------------------------------------------------


def test_migrate_brings_the_schema_to_the_newest_revision(data_dir: Path) -> None:
    first = ok("migrate")
    second = ok("migrate")

    assert "schema is current" in first.stdout
    assert "schema is current" in second.stdout
    settings = Settings()

    async def current() -> bool:
        database = connect(settings)
        try:
            return await migrate.is_current(database)
        finally:
            await database.dispose()

    assert asyncio.run(current())


def test_help_lists_the_command_groups() -> None:
    result = ok("--help")

    for group in ("platform", "customer", "account", "catalog", "migrate", "serve"):
        assert group in result.stdout
