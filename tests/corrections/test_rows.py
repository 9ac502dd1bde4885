"""Reading and checking a corrections file, and the result file a re-run reads."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from asyncorders.corrections import results, rows
from asyncorders.corrections.results import Outcome, Result
from asyncorders.corrections.rows import Correction, OrderKey

HEADER = ",".join([*rows.IDENTITY, *rows.FIELDS]) + "\n"
KEY = OrderKey("acme-hq", "acme-main", "wk-1")


def parse(tmp_path: Path, body: str, name: str = "fix.csv") -> rows.Parsed:
    source = tmp_path / name
    source.write_text(body, encoding="utf-8")
    return rows.read(source)


def messages(parsed: rows.Parsed) -> list[tuple[int, str]]:
    return [(p.line, p.message) for p in parsed.problems]


def test_cells_set_clear_or_leave_each_field(tmp_path: Path) -> None:
    parsed = parse(tmp_path, HEADER + "acme-hq,acme-main,wk-1,autumn,,<clear>\n")

    assert parsed.problems == []
    assert parsed.corrections == [
        Correction(2, KEY, {"campaign": "autumn", "notes": None})
    ]


def test_a_quoted_cell_keeps_its_line_break_and_a_bom_is_ignored(
    tmp_path: Path,
) -> None:
    body = "\ufeff" + HEADER + 'acme-hq,acme-main,wk-1,,,"two\nlines"\n'

    parsed = parse(tmp_path, body)

    assert parsed.corrections[0].changes == {"notes": "two\nlines"}


@pytest.mark.parametrize(
    ("name", "limit"),
    [("campaign", 1024), ("purchaseOrderNumber", 255), ("notes", 150)],
)
def test_each_field_may_be_as_long_as_the_contract_allows_and_no_longer(
    tmp_path: Path, name: str, limit: int
) -> None:
    lines = [
        {"customerIdentifier": "acme-hq", "accountIdentifier": "acme-main",
         "externalRefID": f"wk-{n}", name: "x" * length}
        for n, length in enumerate((limit, limit + 1))
    ]  # fmt: skip
    body = "".join(json.dumps(line) + "\n" for line in lines)

    parsed = parse(tmp_path, body, "fix.jsonl")

    assert [c.line for c in parsed.corrections] == [1]
    assert messages(parsed) == [
        (2, f"{name} is {limit + 1} characters long; at most {limit}")
    ]


def test_every_bad_row_is_reported_at_once(tmp_path: Path) -> None:
    body = HEADER + "\n".join(
        [
            "acme-hq,acme-main,wk-1,a,,",
            ",acme-main,wk-2,a,,",
            "acme-hq,acme-main,wk-3,,,",
            "acme-hq,acme-main,wk-1,b,,",
            "acme-hq,acme-main,wk-4,a,,,extra",
            "acme-hq,acme-main,wk-5,bad\x00,,",
        ]
    )

    parsed = parse(tmp_path, body)

    assert messages(parsed) == [
        (2, "order acme-hq/acme-main/wk-1 is also on line 5"),
        (3, "customerIdentifier is missing"),
        (4, "the row changes nothing"),
        (5, "order acme-hq/acme-main/wk-1 is also on line 2"),
        (6, "more cells than columns"),
        (7, "campaign holds the NUL character"),
    ]


def test_json_values_must_be_text(tmp_path: Path) -> None:
    line = {"customerIdentifier": "acme-hq", "accountIdentifier": "acme-main",
            "externalRefID": "wk-1", "purchaseOrderNumber": 7731}  # fmt: skip

    parsed = parse(tmp_path, json.dumps(line) + "\n", "fix.jsonl")

    assert messages(parsed) == [
        (1, "purchaseOrderNumber must be text (write <clear> to clear it)")
    ]


def test_the_other_columns_of_an_export_are_ignored(tmp_path: Path) -> None:
    body = (
        "referenceOrderID,orderStatus,"
        + HEADER
        + "AA1,PENDING,acme-hq,acme-main,wk-1,x,,\n"
    )

    parsed = parse(tmp_path, body)

    assert parsed.corrections[0].changes == {"campaign": "x"}


def test_a_rerun_skips_only_finished_rows_that_ask_for_the_same(
    tmp_path: Path,
) -> None:
    done = Correction(2, KEY, {"campaign": "x", "notes": None})
    other = OrderKey("acme-hq", "acme-main", "wk-2")
    target = tmp_path / "fix.results.csv"
    results.write(
        target,
        [
            Result(done, Outcome.OK, "rid-1", "set campaign, notes"),
            Result(Correction(3, other, {"notes": "y"}), Outcome.CONFLICT, "rid-2", ""),
        ],
    )

    previous = results.read_previous(target)
    same = results.carried(done, previous[KEY])
    edited = results.carried(Correction(2, KEY, {"campaign": "z"}), previous[KEY])

    assert set(previous) == {KEY}, "a conflict is not finished"
    assert same is not None
    assert (same.outcome, same.request_id) == (Outcome.OK, "rid-1")
    assert same.message == "set campaign, notes (earlier run)"
    assert edited is None
    assert results.default_path(tmp_path / "week.csv") == tmp_path / "week.results.csv"
