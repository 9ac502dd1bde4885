"""Turn stored orders into the Tango views of orders/schemas.py."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

from asyncorders.orders.repository import OrderMetadata
from asyncorders.orders.schemas import (
    AmountChargedDTO,
    AsyncLineItemView,
    AsyncLineItemViewVerbose,
    AsyncOrderEntity,
    AsyncOrderUpdatedView,
    AsyncOrderView,
    CredentialView,
    ErrorDto,
    FieldChange,
    LineItemError,
    MoneyView,
    OrderEventView,
    RewardViewSummary,
    SenderInfoView,
    UserInfoDTO,
)
from asyncorders.storage.tables import AsyncOrder, LineItem, OrderEvent

ZERO = Decimal("0.00")
ONE = Decimal("1")
DEFAULT_ETID = "E000000"


def etag(order: AsyncOrder | OrderMetadata) -> str:
    """A strong ETag that changes with every change of the order."""
    return f'"{order.reference_order_id}.{order.version}"'


def entity(order: AsyncOrder | OrderMetadata) -> AsyncOrderEntity:
    return AsyncOrderEntity(**_entity_fields(order))


def updated(order: AsyncOrder | OrderMetadata) -> AsyncOrderUpdatedView:
    return AsyncOrderUpdatedView(
        **_entity_fields(order),
        customerIdentifier=order.customer_identifier,
        accountIdentifier=order.account_identifier,
        orderStatus=order.status,
        campaign=order.campaign,
        purchaseOrderNumber=order.purchase_order_number,
        notes=order.notes,
        completedAt=order.completed_at,
    )


def _entity_fields(order: AsyncOrder | OrderMetadata) -> dict[str, Any]:
    return {
        "externalRefID": order.external_ref_id,
        "status": order.status,
        "totalLineItems": order.total_line_items,
        "createdAt": order.created_at,
        "failedLineItems": [
            LineItemError.model_validate(failure) for failure in order.failed_line_items
        ],
        "duplicateLineItemRefIds": order.duplicate_line_item_ref_ids,
        "referenceOrderID": order.reference_order_id,
    }


def summary_row(order: AsyncOrder) -> AsyncOrderView:
    return AsyncOrderView(
        createdAt=order.created_at,
        referenceOrderID=order.reference_order_id,
        externalRefID=order.external_ref_id,
        customerIdentifier=order.customer_identifier,
        accountIdentifier=order.account_identifier,
        accountNumber=order.account_number,
        sender=sender(order),
        campaign=order.campaign,
        purchaseOrderNumber=order.purchase_order_number,
        notes=order.notes,
        orderStatus=order.status,
        totalLineItemsRows=order.total_line_items,
        amountCharged=amount_charged(order),
    )


def sender(order: AsyncOrder) -> SenderInfoView | None:
    return SenderInfoView(**order.sender) if order.sender else None


def amount_charged(order: AsyncOrder) -> AmountChargedDTO:
    return AmountChargedDTO(
        currencyCode=order.currency_code,
        value=order.amount_charged,
        total=order.amount_charged,
        shippingFee=ZERO,
    )


def order_errors(order: AsyncOrder) -> list[ErrorDto]:
    if order.status != "FAILED":
        return []
    return [
        ErrorDto(
            errorCode="ORDER_FAILED",
            errorMessage="No line item of this order could be fulfilled.",
        )
    ]


def line_item(line: LineItem) -> AsyncLineItemView:
    return AsyncLineItemView(
        referenceLineItemId=line.reference_line_item_id,
        externalRefLineItemID=line.external_ref_line_item_id,
        lineItemStatus=line.status,
        deliveryStatus=line.delivery_status,
        recipient=_recipient(line.recipient),
        deliveryMethod=line.delivery_method,
        rewardName=line.reward_name,
        utid=line.utid,
        quantity=line.quantity,
        amount=line.amount,
        amountCharged=_money(line),
        scheduledDeliveryDate=line.delivery_date,
        lineItemErrors=_errors(line),
    )


def line_item_verbose(
    line: LineItem,
    rewards: list[bytes],
    reveal: Callable[[bytes], list[dict[str, Any]]],
    redemption_instructions: str = "",
) -> AsyncLineItemViewVerbose:
    """The line with one entry per issued reward, decrypted by `reveal`."""
    issued = line.status == "COMPLETE"
    return AsyncLineItemViewVerbose(
        referenceLineItemID=line.reference_line_item_id,
        externalRefLineItemID=line.external_ref_line_item_id,
        lineItemStatus=line.status,
        lineItemErrors=_errors(line),
        deliveryStatus=line.delivery_status,
        deliveryMethod=line.delivery_method,
        scheduledDeliveryDate=line.delivery_date,
        deliveryDate=line.date_issued if issued else None,
        etid=line.etid,
        ptid=line.ptid,
        utid=line.utid,
        canCancel=False,
        canFreeze=False,
        rewardName=line.reward_name,
        quantity=line.quantity,
        shippingMethod=line.shipping_method,
        amountIssued=_money(line) if issued else None,
        amountCharged=_money(line),
        dateIssued=line.date_issued,
        expirationDate=line.expiration_date,
        recipient=_recipient(line.recipient),
        emailSubject=line.email_subject,
        message=line.message,
        lineItemNotes=line.line_item_note,
        rewards=[
            RewardViewSummary(
                rewardStatus="ISSUED",
                credentialList=[
                    CredentialView.model_validate(c) for c in reveal(sealed)
                ],
                redemptionInstructions=redemption_instructions,
            )
            for sealed in rewards
        ],
    )


def event(row: OrderEvent, platform: str | None, key: str | None) -> OrderEventView:
    return OrderEventView(
        eventId=str(row.id),
        type=row.kind,
        occurredAt=row.occurred_at,
        platformName=platform,
        apiKeyId=key,
        requestId=row.request_id,
        changes=[
            FieldChange(field=c["field"], oldValue=c["old"], newValue=c["new"])
            for c in row.changes
        ],
    )


def _money(line: LineItem) -> MoneyView:
    return MoneyView(
        value=line.amount_charged,
        currencyCode=line.currency_code,
        exchangeRate=ONE,
        fee=ZERO,
        total=line.amount_charged,
    )


def _errors(line: LineItem) -> list[ErrorDto]:
    return [ErrorDto(**error) for error in line.errors]


def _recipient(recipient: dict[str, Any] | None) -> UserInfoDTO | None:
    return UserInfoDTO.model_validate(recipient) if recipient else None
