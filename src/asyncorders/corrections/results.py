"""The result file: one row per order, and what a re-run may skip.

A row says how the correction ended (`ok`, `unchanged`, `conflict`,
`not_found`, `invalid`, `error`), under which request id, and what the row
asked for. A re-run skips a row only if a previous result says `ok` or
`unchanged` for the same order and the same requested values.
"""

from __future__ import annotations

import csv
import os
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from asyncorders.corrections.rows import FIELDS, IDENTITY, Correction, OrderKey


class Outcome(StrEnum):
    OK = "ok"
    UNCHANGED = "unchanged"
    CONFLICT = "conflict"
    NOT_FOUND = "not_found"
    INVALID = "invalid"
    ERROR = "error"


DONE = frozenset({Outcome.OK, Outcome.UNCHANGED})
COLUMNS = ("line", *IDENTITY, "result", "requestId", "message", *FIELDS)


@dataclass(frozen=True, slots=True)
class Result:
    correction: Correction
    outcome: Outcome
    request_id: str | None
    message: str

    @property
    def done(self) -> bool:
        return self.outcome in DONE

    def row(self) -> dict[str, str]:
        key = self.correction.key
        return {
            "line": str(self.correction.line),
            "customerIdentifier": key.customer,
            "accountIdentifier": key.account,
            "externalRefID": key.external_ref_id,
            "result": self.outcome.value,
            "requestId": self.request_id or "",
            "message": self.message,
            **dict.fromkeys(FIELDS, ""),
            **self.correction.cells(),
        }


def default_path(source: Path) -> Path:
    return source.with_name(f"{source.stem}.results.csv")


@dataclass(frozen=True, slots=True)
class Previous:
    outcome: Outcome
    request_id: str | None
    message: str
    cells: dict[str, str]


def read_previous(path: Path) -> dict[OrderKey, Previous]:
    """The finished rows of an earlier result file (none if there is none)."""
    if not path.exists():
        return {}
    with path.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    found: dict[OrderKey, Previous] = {}
    for row in rows:
        try:
            outcome = Outcome(row.get("result") or "")
            key = OrderKey(*(row[name] for name in IDENTITY))
        except (ValueError, KeyError, TypeError):
            continue
        if outcome in DONE:
            cells = {name: row[name] for name in FIELDS if row.get(name)}
            found[key] = Previous(
                outcome, row.get("requestId") or None, row.get("message") or "", cells
            )
    return found


def carried(correction: Correction, previous: Previous) -> Result | None:
    """The earlier result of this very correction, if it finished."""
    if previous.cells != correction.cells():
        return None
    message = previous.message
    if not message.endswith("(earlier run)"):
        message = f"{message} (earlier run)".strip()
    return Result(correction, previous.outcome, previous.request_id, message)


def write(path: Path, results: list[Result]) -> None:
    """Write the file whole, then move it into place: never half a file."""
    partial = path.with_name(f".{path.name}.partial")
    with partial.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=COLUMNS)
        writer.writeheader()
        for result in sorted(results, key=lambda r: r.correction.line):
            writer.writerow(result.row())
    os.replace(partial, path)
