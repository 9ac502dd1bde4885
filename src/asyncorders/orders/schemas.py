"""Async orders as Tango shapes them (reference notes, sections 4 and 6).

Field names follow Tango exactly, inconsistencies included: `referenceLineItemId`
in the summary view and `referenceLineItemID` in the line-items view, `notes`
there and `orderNotes` here. Fields Tango does not have are marked as extensions.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any, ClassVar, Literal

from pydantic import AfterValidator, ConfigDict, Field
from pydantic_core import PydanticCustomError

from asyncorders.accounts.schemas import Email
from asyncorders.catalog.schemas import Utid
from asyncorders.clock import in_utc
from asyncorders.schemas import (
    Criteria,
    Identifier,
    MoneyInput,
    MoneyNumber,
    PaginationDTO,
    View,
)

Name = Annotated[str, Field(max_length=100, pattern=r"^[^<>/]*$")]
Mobile = Annotated[str, Field(pattern=r"^\+[1-9]\d{1,14}$")]
ExternalRefID = Annotated[str, Field(pattern=r"^[-_.A-Za-z0-9]{1,100}$")]
Campaign = Annotated[str, Field(max_length=1024)]
PurchaseOrderNumber = Annotated[str, Field(max_length=255)]
Notes = Annotated[str, Field(max_length=150)]


def _in_utc(moment: datetime) -> datetime:
    """A date-time without an offset is UTC; every one is stored in UTC."""
    try:
        return in_utc(moment)
    except OverflowError:
        raise PydanticCustomError(
            "datetime_range", "Date-time out of range once converted to UTC"
        ) from None


# A date (`2030-01-01`, midnight UTC) or a date-time, with or without an offset.
UtcMoment = Annotated[datetime, AfterValidator(_in_utc)]


class OrderStatus(StrEnum):
    PENDING = "PENDING"
    PROCESSING = "PROCESSING"
    COMPLETE = "COMPLETE"
    PARTIAL = "PARTIAL"
    FAILED = "FAILED"


class LineItemStatus(StrEnum):
    PENDING = "PENDING"
    COMPLETE = "COMPLETE"
    FAILED = "FAILED"


class DeliveryMethod(StrEnum):
    NONE = "NONE"
    EMAIL = "EMAIL"
    PHONE = "PHONE"
    ADDRESS = "ADDRESS"
    EMBEDDED = "EMBEDDED"
    EMBEDDED_COMPONENT = "EMBEDDED_COMPONENT"
    WHATSAPP = "WHATSAPP"


ShippingMethod = Literal[
    "upsground",
    "upsgroundsignature",
    "ups2ndday",
    "ups2nddaysignature",
    "upsnextday",
    "upsnextdaysignature",
    "uspspriority",
    "uspsprioritysig",
    "usps1stclass",
]

# ---- requests -------------------------------------------------------------------


class AddressCriteria(Criteria):
    companyName: Annotated[str, Field(max_length=100)] | None = None
    streetLine1: Annotated[str, Field(max_length=200)] | None = None
    streetLine2: Annotated[str, Field(max_length=100)] | None = None
    city: Annotated[str, Field(max_length=60)] | None = None
    stateOrProvince: Annotated[str, Field(max_length=60)] | None = None
    postalCode: Annotated[str, Field(max_length=12)] | None = None
    country: Annotated[str, Field(pattern=r"^[A-Z]{2}$")] | None = None


class RecipientInfoCriteria(Criteria):
    firstName: Name | None = None
    lastName: Name | None = None
    email: Email | None = None
    mobileNumber: Mobile | None = None
    address: AddressCriteria | None = None


class SenderInfoCriteria(Criteria):
    firstName: Name | None = None
    lastName: Name | None = None
    email: Email | None = None


class LineItemCriteria(Criteria):
    externalRefLineItemID: Annotated[str, Field(min_length=1, max_length=100)]
    utid: Utid
    amount: MoneyInput
    deliveryMethod: DeliveryMethod
    recipient: RecipientInfoCriteria
    quantity: Annotated[int, Field(ge=1, le=1000)] = 1
    deliveryDate: UtcMoment | None = None
    etid: Annotated[str, Field(pattern=r"^[eE]\d{6}$")] | None = None
    ptid: Annotated[str, Field(pattern=r"^[pP]\d+$", max_length=32)] | None = None
    expirationDate: Annotated[str, Field(max_length=32)] | None = None
    emailSubject: Annotated[str, Field(max_length=255)] | None = None
    message: Annotated[str, Field(max_length=1024)] | None = None
    lineItemNote: Annotated[str, Field(max_length=150)] | None = None
    shippingMethod: ShippingMethod | None = None


class CreateAsyncOrderCriteria(Criteria):
    externalRefID: ExternalRefID
    customerIdentifier: Identifier
    accountIdentifier: Identifier
    sender: SenderInfoCriteria | None = None
    campaign: Campaign | None = None
    purchaseOrderNumber: PurchaseOrderNumber | None = None
    notes: Notes | None = None
    lineItems: Annotated[list[LineItemCriteria], Field(min_length=1)]

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "externalRefID": "spring-bonus-2026-0001",
                    "customerIdentifier": "demo-customer",
                    "accountIdentifier": "demo-account",
                    "campaign": "spring-bonus",
                    "lineItems": [
                        {
                            "externalRefLineItemID": "emp-1001",
                            "utid": "U000001",
                            "amount": 25,
                            "deliveryMethod": "EMAIL",
                            "recipient": {
                                "firstName": "Ada",
                                "email": "ada@example.com",
                            },
                        }
                    ],
                }
            ]
        }
    )


class UpdateAsyncOrderCriteria(Criteria):
    """A JSON Merge Patch (RFC 7396) of an order's metadata.

    A present member replaces the value, `null` clears it, an absent one keeps
    it. Any other member is refused; one the order has but that cannot change
    here is named as not updatable.
    """

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"campaign": "spring-bonus", "purchaseOrderNumber": "PO-7731"},
                {"notes": None},
            ]
        },
    )

    campaign: Campaign | None = None
    purchaseOrderNumber: PurchaseOrderNumber | None = None
    notes: Notes | None = None

    # Members of an order that exist but are not editable through this PATCH.
    read_only_members: ClassVar[frozenset[str]] = frozenset(
        {
            "externalRefID",
            "referenceOrderID",
            "customerIdentifier",
            "accountIdentifier",
            "accountNumber",
            "lineItems",
            "amount",
            "amountCharged",
            "sender",
            "status",
            "orderStatus",
            "totalLineItems",
            "createdAt",
            "completedAt",
            "failedLineItems",
            "duplicateLineItemRefIds",
            "orderErrors",
            "orderNotes",
        }
    )

    def changes(self) -> dict[str, str | None]:
        """The members the client sent, by their storage names."""
        return {
            STORAGE_NAMES[name]: getattr(self, name) for name in self.model_fields_set
        }


STORAGE_NAMES = {
    "campaign": "campaign",
    "purchaseOrderNumber": "purchase_order_number",
    "notes": "notes",
}
API_NAMES = {storage: api for api, storage in STORAGE_NAMES.items()}

# ---- responses ------------------------------------------------------------------


class ValidationErrorDto(View):
    field: str
    errorCodeValue: int
    errorCodeName: str
    message: str


class LineItemError(View):
    lineItemId: str
    externalRefLineItemID: str
    utid: str
    errors: list[ValidationErrorDto]


class AsyncOrderEntity(View):
    """What POST /asyncOrders answers; `referenceOrderID` is an extension."""

    externalRefID: str
    status: str
    totalLineItems: int
    createdAt: datetime
    failedLineItems: list[LineItemError]
    duplicateLineItemRefIds: dict[str, int]
    referenceOrderID: str


class AsyncOrderUpdatedView(AsyncOrderEntity):
    """What PATCH answers: the entity plus the order's identity and metadata."""

    customerIdentifier: str
    accountIdentifier: str
    orderStatus: str
    campaign: str | None
    purchaseOrderNumber: str | None
    notes: str | None
    completedAt: datetime | None


class AmountChargedDTO(View):
    currencyCode: str
    value: MoneyNumber
    total: MoneyNumber
    shippingFee: MoneyNumber


class MoneyView(View):
    value: MoneyNumber
    currencyCode: str
    exchangeRate: MoneyNumber
    fee: MoneyNumber
    total: MoneyNumber


class ErrorDto(View):
    errorCode: str
    errorMessage: str


class AddressDTO(View):
    streetLine1: str | None = None
    streetLine2: str | None = None
    city: str | None = None
    stateOrProvince: str | None = None
    country: str | None = None
    postalCode: str | None = None
    companyName: str | None = None


class UserInfoDTO(View):
    firstName: str | None = None
    lastName: str | None = None
    email: str | None = None
    mobileNumber: str | None = None
    address: AddressDTO | None = None


class SenderInfoView(View):
    firstName: str | None = None
    lastName: str | None = None
    email: str | None = None


class AsyncLineItemView(View):
    referenceLineItemId: str
    externalRefLineItemID: str
    lineItemStatus: str
    deliveryStatus: str
    recipient: UserInfoDTO | None
    bulkShipping: None = None
    deliveryMethod: str
    rewardName: str | None
    utid: str  # extension
    quantity: int
    amount: MoneyNumber
    amountCharged: MoneyView
    scheduledDeliveryDate: datetime | None
    lineItemErrors: list[ErrorDto]


class AsyncOrderDetailView(View):
    referenceOrderID: str
    externalRefID: str
    orderStatus: str
    createdAt: datetime
    completedAt: datetime | None
    customerIdentifier: str
    accountIdentifier: str
    sender: SenderInfoView | None
    amountCharged: AmountChargedDTO
    campaign: str | None
    purchaseOrderNumber: str | None
    notes: str | None
    totalLineItems: int
    pagination: PaginationDTO
    orderErrors: list[ErrorDto]
    lineItems: list[AsyncLineItemView]


class CredentialView(View):
    label: str
    value: str
    type: str
    credentialType: str


class RewardViewSummary(View):
    rewardStatus: str
    credentialList: list[CredentialView]
    redemptionInstructions: str


class AsyncLineItemViewVerbose(View):
    referenceLineItemID: str
    externalRefLineItemID: str
    lineItemStatus: str
    lineItemErrors: list[ErrorDto]
    deliveryStatus: str
    deliveryMethod: str
    scheduledDeliveryDate: datetime | None
    deliveryDate: datetime | None
    etid: str
    ptid: str | None
    utid: str
    canCancel: bool
    canFreeze: bool
    rewardName: str | None
    quantity: int
    bulkShipping: None = None
    shippingMethod: str | None
    physicalMethod: str | None = None
    amountIssued: MoneyView | None
    amountCharged: MoneyView
    dateIssued: datetime | None
    expirationDate: str | None
    recipient: UserInfoDTO | None
    lineItemActionReason: str | None = None
    reissuedFromReferenceLineItemId: str | None = None
    reissuedToReferenceLineItemId: str | None = None
    emailSubject: str | None
    message: str | None
    lineItemNotes: str | None
    rewards: list[RewardViewSummary]


class AsyncOrderLineItemsView(View):
    referenceOrderID: str
    externalRefID: str
    accountIdentifier: str
    customerIdentifier: str
    sender: SenderInfoView | None
    amountCharged: AmountChargedDTO
    purchaseOrderNumber: str | None
    campaign: str | None
    orderNotes: str | None
    orderStatus: str
    orderErrors: list[ErrorDto]
    pagination: PaginationDTO
    lineItems: list[AsyncLineItemViewVerbose]


class AsyncOrderView(View):
    createdAt: datetime
    referenceOrderID: str
    externalRefID: str
    customerIdentifier: str
    accountIdentifier: str
    accountNumber: str
    sender: SenderInfoView | None
    campaign: str | None
    purchaseOrderNumber: str | None
    notes: str | None
    fulfillBy: str | None = None
    orderStatus: str
    totalLineItemsRows: int
    amountCharged: AmountChargedDTO


class AsyncOrderListView(View):
    prevCursor: str | None
    nextCursor: str | None
    prevPageAvailable: bool
    nextPageAvailable: bool
    maxResults: int
    orders: list[AsyncOrderView]


class FieldChange(View):
    field: str
    oldValue: Any
    newValue: Any


class OrderEventView(View):
    """One audit event (extension)."""

    eventId: str
    type: str
    occurredAt: datetime
    platformName: str | None
    apiKeyId: str | None
    requestId: str | None
    changes: list[FieldChange]


class OrderHistoryView(View):
    """The audit trail of an order, newest first (extension)."""

    referenceOrderID: str
    externalRefID: str
    pagination: PaginationDTO
    events: list[OrderEventView]
