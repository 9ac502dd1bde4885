"""Per-line business checks of a new async order (contract section 6).

A line that fails is reported in `failedLineItems` with stable error names and is
not fulfilled; the other lines go on. Whole-request problems never get here: the
request schema has already refused them.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from enum import Enum

from asyncorders.orders.schemas import DeliveryMethod, LineItemCriteria
from asyncorders.storage.tables import CatalogItem

MIN_DELIVERY_LEAD = timedelta(days=7)


class Problem(Enum):
    """Each failure a line can have: (errorCodeValue, field it concerns)."""

    INVALID_UTID = (400500, "utid")  # Tango's own code for an unknown utid
    ITEM_INACTIVE = (422101, "utid")
    CURRENCY_MISMATCH = (422102, "utid")
    AMOUNT_OUT_OF_RANGE = (422103, "amount")
    AMOUNT_NOT_FACE_VALUE = (422104, "amount")
    RECIPIENT_FIELD_REQUIRED = (422105, "recipient")
    SHIPPING_METHOD_REQUIRED = (422106, "shippingMethod")
    DELIVERY_DATE_TOO_SOON = (422107, "deliveryDate")

    @property
    def code(self) -> int:
        return self.value[0]

    @property
    def field(self) -> str:
        return self.value[1]


@dataclass(frozen=True, slots=True)
class LineProblem:
    problem: Problem
    message: str
    field: str

    def as_dict(self) -> dict[str, object]:
        return {
            "field": self.field,
            "errorCodeValue": self.problem.code,
            "errorCodeName": self.problem.name,
            "message": self.message,
        }


@dataclass(slots=True)
class PlannedLine:
    """A line that will be stored: its position, request and what is wrong."""

    position: int
    criteria: LineItemCriteria
    item: CatalogItem | None
    problems: list[LineProblem] = field(default_factory=list)

    @property
    def valid(self) -> bool:
        return not self.problems

    @property
    def charge(self) -> Decimal:
        return self.criteria.amount * self.criteria.quantity


@dataclass(frozen=True, slots=True)
class Plan:
    lines: list[PlannedLine]
    duplicates: dict[str, int]

    @property
    def total_charge(self) -> Decimal:
        return sum((line.charge for line in self.lines if line.valid), Decimal("0.00"))


def plan(
    requested: list[LineItemCriteria],
    catalog: dict[str, CatalogItem],
    currency_code: str,
    now: datetime,
) -> Plan:
    """Check every line; a repeated externalRefLineItemID keeps its first line."""
    counts = Counter(line.externalRefLineItemID for line in requested)
    duplicates = {ref: n for ref, n in counts.items() if n > 1}
    seen: set[str] = set()
    lines: list[PlannedLine] = []
    for criteria in requested:
        if criteria.externalRefLineItemID in seen:
            continue
        seen.add(criteria.externalRefLineItemID)
        item = catalog.get(criteria.utid.upper())
        line = PlannedLine(len(lines), criteria, item)
        line.problems = check(criteria, item, currency_code, now)
        lines.append(line)
    return Plan(lines, duplicates)


def check(
    line: LineItemCriteria,
    item: CatalogItem | None,
    currency_code: str,
    now: datetime,
) -> list[LineProblem]:
    problems = _item_problems(line, item, currency_code)
    problems += _recipient_problems(line)
    if line.deliveryDate is not None and line.deliveryDate < now + MIN_DELIVERY_LEAD:
        problems.append(
            _problem(
                Problem.DELIVERY_DATE_TOO_SOON,
                "deliveryDate must be at least 7 days in the future.",
            )
        )
    return problems


def _item_problems(
    line: LineItemCriteria, item: CatalogItem | None, currency_code: str
) -> list[LineProblem]:
    if item is None:
        return [
            _problem(
                Problem.INVALID_UTID,
                "The Item identifier provided is not valid. Please check the "
                "identifier and try again. You can confirm valid Items with the "
                "Get Catalog call.",
            )
        ]
    problems = []
    if item.status != "active":
        problems.append(
            _problem(Problem.ITEM_INACTIVE, f"Item {item.utid} is not active.")
        )
    if item.currency_code != currency_code:
        problems.append(
            _problem(
                Problem.CURRENCY_MISMATCH,
                f"Item {item.utid} is in {item.currency_code}; the account is in "
                f"{currency_code}.",
            )
        )
    if item.value_type == "FIXED_VALUE":
        if line.amount != item.face_value:
            problems.append(
                _problem(
                    Problem.AMOUNT_NOT_FACE_VALUE,
                    f"Item {item.utid} has a fixed face value of {item.face_value}.",
                )
            )
    elif (
        item.min_value is not None
        and item.max_value is not None
        and not item.min_value <= line.amount <= item.max_value
    ):
        problems.append(
            _problem(
                Problem.AMOUNT_OUT_OF_RANGE,
                f"Amount must be between {item.min_value} and {item.max_value}.",
            )
        )
    return problems


# What each delivery method needs of the recipient.
_REQUIRED_RECIPIENT = {
    DeliveryMethod.EMAIL: ("firstName", "email"),
    DeliveryMethod.PHONE: ("firstName", "mobileNumber"),
    DeliveryMethod.WHATSAPP: ("firstName", "mobileNumber"),
    DeliveryMethod.ADDRESS: ("firstName", "lastName", "address"),
}
_REQUIRED_ADDRESS = ("streetLine1", "city", "stateOrProvince", "postalCode", "country")


def _recipient_problems(line: LineItemCriteria) -> list[LineProblem]:
    recipient = line.recipient
    missing = [
        name
        for name in _REQUIRED_RECIPIENT.get(line.deliveryMethod, ())
        if not getattr(recipient, name)
    ]
    if line.deliveryMethod is DeliveryMethod.ADDRESS and recipient.address:
        missing += [
            f"address.{name}"
            for name in _REQUIRED_ADDRESS
            if not getattr(recipient.address, name)
        ]
    problems = [
        _problem(
            Problem.RECIPIENT_FIELD_REQUIRED,
            f"recipient.{name} is required for delivery by {line.deliveryMethod}.",
            field=f"recipient.{name}",
        )
        for name in missing
    ]
    if line.deliveryMethod is DeliveryMethod.ADDRESS and not line.shippingMethod:
        problems.append(
            _problem(
                Problem.SHIPPING_METHOD_REQUIRED,
                "shippingMethod is required for delivery by ADDRESS.",
            )
        )
    return problems


def _problem(problem: Problem, message: str, field: str | None = None) -> LineProblem:
    return LineProblem(problem, message, field or problem.field)
