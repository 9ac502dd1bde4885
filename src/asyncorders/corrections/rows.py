"""Reading a corrections file and checking every row before anything is sent.

A file is CSV with a header row, or JSON lines (one object per line). Columns:
`customerIdentifier`, `accountIdentifier`, `externalRefID` name the order;
`campaign`, `purchaseOrderNumber` and `notes` say what to change. An empty
cell (or a member left out) leaves the field alone; `<clear>` clears it.
The other columns of `asyncorders orders export` are allowed and ignored, so
an export can be edited and fed back.
"""

from __future__ import annotations

import csv
import io
import json
from collections import defaultdict
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

IDENTITY = ("customerIdentifier", "accountIdentifier", "externalRefID")
FIELDS = ("campaign", "purchaseOrderNumber", "notes")
LIMITS = {"campaign": 1024, "purchaseOrderNumber": 255, "notes": 150}
MAX_IDENTIFIER = 100
CLEAR = "<clear>"
# Columns an export writes besides the ones above; a file may carry them.
EXPORT_COLUMNS = frozenset(
    {
        "referenceOrderID",
        "accountNumber",
        "createdAt",
        "orderStatus",
        "totalLineItemsRows",
        "amountCharged",
        "currencyCode",
    }
)


class InputError(Exception):
    """The file as a whole cannot be read as corrections."""


@dataclass(frozen=True, slots=True, order=True)
class OrderKey:
    customer: str
    account: str
    external_ref_id: str

    def __str__(self) -> str:
        return f"{self.customer}/{self.account}/{self.external_ref_id}"


@dataclass(frozen=True, slots=True)
class Correction:
    """One row: which order, and the fields to set (None clears)."""

    line: int
    key: OrderKey
    changes: Mapping[str, str | None]

    def cells(self) -> dict[str, str]:
        """The requested values as the file writes them."""
        return {
            name: CLEAR if value is None else value
            for name, value in self.changes.items()
        }

    def satisfied_by(self, current: Mapping[str, str | None]) -> bool:
        """Whether an order with these values already has what the row asks."""
        return all(current.get(name) == value for name, value in self.changes.items())


@dataclass(frozen=True, slots=True)
class Problem:
    line: int
    message: str


@dataclass
class Parsed:
    corrections: list[Correction] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)


Row = tuple[int, dict[str, Any], list[str]]  # line, cells, problems found reading


def read(path: Path) -> Parsed:
    """Every row of the file checked; problems are collected, not raised."""
    parsed = Parsed()
    for line, cells, found in _rows(path):
        if found:
            parsed.problems.extend(Problem(line, message) for message in found)
            continue
        correction, problems = _check(line, cells)
        parsed.problems.extend(problems)
        if correction is not None:
            parsed.corrections.append(correction)
    parsed.problems.extend(_duplicates(parsed.corrections))
    parsed.problems.sort(key=lambda problem: problem.line)
    return parsed


def _rows(path: Path) -> list[Row]:
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as error:
        raise InputError(f"cannot read {path}: {error}") from None
    if not text.strip():
        raise InputError(f"{path} holds no rows")
    rows = list(_json_lines(text) if _is_json_lines(path, text) else _csv_rows(text))
    if not rows:
        raise InputError(f"{path} holds no rows")
    return rows


def _is_json_lines(path: Path, text: str) -> bool:
    if path.suffix.lower() in {".jsonl", ".ndjson", ".json"}:
        return True
    return path.suffix.lower() != ".csv" and text.lstrip().startswith("{")


def _csv_rows(text: str) -> Iterator[Row]:
    # newline="" keeps a line break inside a quoted cell, as csv expects.
    reader = csv.DictReader(io.StringIO(text, newline=""), restkey=_EXTRA)
    _check_columns(list(reader.fieldnames or []))
    for cells in reader:
        found = ["more cells than columns"] if _EXTRA in cells else []
        yield reader.line_num, cells, found


def _json_lines(text: str) -> Iterator[Row]:
    for number, raw in enumerate(text.splitlines(), start=1):
        if not raw.strip():
            continue
        try:
            cells = json.loads(raw)
        except json.JSONDecodeError as error:
            yield number, {}, [f"not valid JSON ({error.msg})"]
            continue
        if not isinstance(cells, dict):
            yield number, {}, ["not a JSON object"]
            continue
        found = [f"unknown member {name!r}" for name in cells if name not in _ALLOWED]
        found += [
            f"{name} is null: leave it out to keep it, or write {CLEAR} to clear it"
            for name in FIELDS
            if name in cells and cells[name] is None
        ]
        yield number, cells, found


_EXTRA = "\x00extra"
_ALLOWED = frozenset({*IDENTITY, *FIELDS, *EXPORT_COLUMNS})


def _check_columns(columns: list[str]) -> None:
    if not columns:
        raise InputError("the file holds no header row")
    unknown = [c for c in columns if c not in _ALLOWED]
    if unknown:
        raise InputError(
            f"unknown columns {unknown}; the columns are {', '.join(IDENTITY)} "
            f"and any of {', '.join(FIELDS)}"
        )
    missing = [c for c in IDENTITY if c not in columns]
    if missing:
        raise InputError(f"missing columns {missing}")
    if not any(c in columns for c in FIELDS):
        raise InputError(f"no column to change: give any of {', '.join(FIELDS)}")


def _check(
    line: int, cells: Mapping[str, Any]
) -> tuple[Correction | None, list[Problem]]:
    problems: list[Problem] = []
    for name in IDENTITY:
        problems.extend(_identifier_problems(line, name, cells.get(name)))
    changes: dict[str, str | None] = {}
    for name in FIELDS:
        value = cells.get(name)
        problems.extend(_field_problems(line, name, value))
        if isinstance(value, str) and value != "":
            changes[name] = None if value == CLEAR else value
    if not changes and not problems:
        problems.append(Problem(line, "the row changes nothing"))
    if problems:
        return None, problems
    key = OrderKey(*(str(cells[name]) for name in IDENTITY))
    return Correction(line, key, changes), []


def _identifier_problems(line: int, name: str, value: Any) -> list[Problem]:
    if value is None or value == "":
        return [Problem(line, f"{name} is missing")]
    if not isinstance(value, str):
        return [Problem(line, f"{name} must be text")]
    if len(value) > MAX_IDENTIFIER:
        return [Problem(line, f"{name} is longer than {MAX_IDENTIFIER} characters")]
    if "\x00" in value:
        return [Problem(line, f"{name} holds the NUL character")]
    return []


def _field_problems(line: int, name: str, value: Any) -> list[Problem]:
    if value is None or value in ("", CLEAR):
        return []
    if not isinstance(value, str):
        return [Problem(line, f"{name} must be text (write {CLEAR} to clear it)")]
    if len(value) > LIMITS[name]:
        return [
            Problem(
                line, f"{name} is {len(value)} characters long; at most {LIMITS[name]}"
            )
        ]
    if "\x00" in value:
        return [Problem(line, f"{name} holds the NUL character")]
    return []


def _duplicates(corrections: list[Correction]) -> list[Problem]:
    lines: dict[OrderKey, list[int]] = defaultdict(list)
    for correction in corrections:
        lines[correction.key].append(correction.line)
    return [
        Problem(
            line,
            f"order {key} is also on line "
            + ", ".join(str(other) for other in found if other != line),
        )
        for key, found in lines.items()
        if len(found) > 1
        for line in found
    ]
