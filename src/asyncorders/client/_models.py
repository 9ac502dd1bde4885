"""Typed views of the API's answers, and the inputs the client sends.

Field names are Tango's, exactly (reference notes, sections 4 to 7). Every model
keeps the fields it does not know (`extra="allow"`, read them with
`model_extra` or as attributes), because Tango adds response fields at any time.
Money is `Decimal`, parsed from the JSON text without passing through a float.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr


@dataclass(frozen=True, slots=True)
class ResponseInfo:
    """What the HTTP answer said about a resource besides its body."""

    status_code: int
    request_id: str | None
    etag: str | None


class Model(BaseModel):
    """Base of every model: unknown fields are kept, names are Tango's."""

    model_config = ConfigDict(extra="allow", populate_by_name=True)

    _response: ResponseInfo | None = PrivateAttr(default=None)

    @property
    def response(self) -> ResponseInfo | None:
        """Status, request id and ETag of the answer this came from."""
        return self._response

    @property
    def etag(self) -> str | None:
        """The order's ETag (an asyncorders extension), for `If-Match`."""
        return self._response.etag if self._response else None

    @property
    def request_id(self) -> str | None:
        """The `X-REQUEST-ID` of the answer: quote it to support."""
        return self._response.request_id if self._response else None


# ---- errors ---------------------------------------------------------------------


class ErrorItem(Model):
    path: str | None = None
    code: int | None = None
    i18nKey: str | None = None
    message: str | None = None
    invalidValue: Any = None
    constraint: str | None = None


class ErrorEnvelope(Model):
    """The body of every error answer (contract section 7)."""

    timestamp: str | None = None
    requestId: str | None = None
    path: str | None = None
    httpCode: int | None = None
    httpPhrase: str | None = None
    i18nKey: str | None = None
    message: str | None = None
    errors: list[ErrorItem] = Field(default_factory=list)


# ---- shared pieces --------------------------------------------------------------


class Pagination(Model):
    prevCursor: str | None = None
    nextCursor: str | None = None
    prevPageAvailable: bool = False
    nextPageAvailable: bool = False
    maxResults: int | None = None
    numberOfElements: int | None = None


class AmountCharged(Model):
    currencyCode: str | None = None
    value: Decimal | None = None
    total: Decimal | None = None
    shippingFee: Decimal | None = None


class Money(Model):
    value: Decimal | None = None
    currencyCode: str | None = None
    exchangeRate: Decimal | None = None
    fee: Decimal | None = None
    total: Decimal | None = None


class ErrorDto(Model):
    errorCode: str | None = None
    errorMessage: str | None = None


class Address(Model):
    streetLine1: str | None = None
    streetLine2: str | None = None
    city: str | None = None
    stateOrProvince: str | None = None
    country: str | None = None
    postalCode: str | None = None
    companyName: str | None = None


class UserInfo(Model):
    firstName: str | None = None
    lastName: str | None = None
    email: str | None = None
    mobileNumber: str | None = None
    address: Address | None = None


class SenderInfo(Model):
    firstName: str | None = None
    lastName: str | None = None
    email: str | None = None


# ---- async orders ---------------------------------------------------------------


class ValidationErrorDto(Model):
    field: str | None = None
    errorCodeValue: int | None = None
    errorCodeName: str | None = None
    message: str | None = None


class LineItemError(Model):
    lineItemId: str | None = None
    externalRefLineItemID: str | None = None
    utid: str | None = None
    errors: list[ValidationErrorDto] = Field(default_factory=list)


class AsyncOrderEntity(Model):
    """The answer to a create: 202 for a new order, 200 for an existing one."""

    externalRefID: str
    status: str | None = None
    totalLineItems: int | None = None
    createdAt: datetime | None = None
    failedLineItems: list[LineItemError] = Field(default_factory=list)
    duplicateLineItemRefIds: dict[str, int] = Field(default_factory=dict)
    referenceOrderID: str | None = None

    @property
    def created(self) -> bool:
        """False when the account already had this externalRefID (a 200)."""
        return self._response is None or self._response.status_code == 202


class AsyncOrderUpdate(AsyncOrderEntity):
    """The answer to a PATCH: the entity plus the order's metadata."""

    customerIdentifier: str | None = None
    accountIdentifier: str | None = None
    orderStatus: str | None = None
    campaign: str | None = None
    purchaseOrderNumber: str | None = None
    notes: str | None = None
    completedAt: datetime | None = None


class AsyncLineItem(Model):
    """A line item in the order summary: no credentials."""

    referenceLineItemId: str | None = None
    externalRefLineItemID: str | None = None
    lineItemStatus: str | None = None
    deliveryStatus: str | None = None
    recipient: UserInfo | None = None
    deliveryMethod: str | None = None
    rewardName: str | None = None
    quantity: int | None = None
    amount: Decimal | None = None
    amountCharged: Money | None = None
    scheduledDeliveryDate: datetime | None = None
    lineItemErrors: list[ErrorDto] = Field(default_factory=list)


class AsyncOrderDetail(Model):
    """An order's summary with one cursor page of its line items."""

    referenceOrderID: str | None = None
    externalRefID: str
    orderStatus: str | None = None
    createdAt: datetime | None = None
    completedAt: datetime | None = None
    customerIdentifier: str
    accountIdentifier: str
    sender: SenderInfo | None = None
    amountCharged: AmountCharged | None = None
    campaign: str | None = None
    purchaseOrderNumber: str | None = None
    notes: str | None = None
    totalLineItems: int | None = None
    pagination: Pagination = Field(default_factory=Pagination)
    orderErrors: list[ErrorDto] = Field(default_factory=list)
    lineItems: list[AsyncLineItem] = Field(default_factory=list)


class Credential(Model):
    label: str | None = None
    value: str | None = None
    type: str | None = None
    credentialType: str | None = None

    def __repr_args__(self) -> Any:
        # A credential's value is a secret: never in a repr, a log or a traceback.
        return [(k, "***" if k == "value" else v) for k, v in super().__repr_args__()]


class Reward(Model):
    rewardStatus: str | None = None
    credentialList: list[Credential] = Field(default_factory=list)
    redemptionInstructions: str | None = None


class AsyncLineItemVerbose(Model):
    """A line item with its reward credentials."""

    referenceLineItemID: str | None = None
    externalRefLineItemID: str | None = None
    lineItemStatus: str | None = None
    lineItemErrors: list[ErrorDto] = Field(default_factory=list)
    deliveryStatus: str | None = None
    deliveryMethod: str | None = None
    scheduledDeliveryDate: datetime | None = None
    deliveryDate: datetime | None = None
    etid: str | None = None
    ptid: str | None = None
    utid: str | None = None
    canCancel: bool | None = None
    canFreeze: bool | None = None
    rewardName: str | None = None
    quantity: int | None = None
    shippingMethod: str | None = None
    amountIssued: Money | None = None
    amountCharged: Money | None = None
    dateIssued: datetime | None = None
    expirationDate: str | None = None
    recipient: UserInfo | None = None
    emailSubject: str | None = None
    message: str | None = None
    lineItemNotes: str | None = None
    rewards: list[Reward] = Field(default_factory=list)


class AsyncOrderLineItems(Model):
    """One cursor page of an order's line items with credentials."""

    referenceOrderID: str | None = None
    externalRefID: str | None = None
    accountIdentifier: str | None = None
    customerIdentifier: str | None = None
    sender: SenderInfo | None = None
    amountCharged: AmountCharged | None = None
    purchaseOrderNumber: str | None = None
    campaign: str | None = None
    orderNotes: str | None = None
    orderStatus: str | None = None
    orderErrors: list[ErrorDto] = Field(default_factory=list)
    pagination: Pagination = Field(default_factory=Pagination)
    lineItems: list[AsyncLineItemVerbose] = Field(default_factory=list)


class AsyncOrderSummary(Model):
    """One order in the list."""

    createdAt: datetime | None = None
    referenceOrderID: str | None = None
    externalRefID: str
    customerIdentifier: str
    accountIdentifier: str
    accountNumber: str | None = None
    sender: SenderInfo | None = None
    campaign: str | None = None
    purchaseOrderNumber: str | None = None
    notes: str | None = None
    fulfillBy: str | None = None
    orderStatus: str | None = None
    totalLineItemsRows: int | None = None
    amountCharged: AmountCharged | None = None


class AsyncOrderList(Model):
    """One cursor page of the platform's orders."""

    prevCursor: str | None = None
    nextCursor: str | None = None
    prevPageAvailable: bool = False
    nextPageAvailable: bool = False
    maxResults: int | None = None
    orders: list[AsyncOrderSummary] = Field(default_factory=list)


class FieldChange(Model):
    field: str
    oldValue: Any = None
    newValue: Any = None


class OrderEvent(Model):
    """One audit event of an order (asyncorders extension)."""

    eventId: str | None = None
    type: str | None = None
    occurredAt: datetime | None = None
    platformName: str | None = None
    apiKeyId: str | None = None
    requestId: str | None = None
    changes: list[FieldChange] = Field(default_factory=list)


class OrderHistory(Model):
    """One cursor page of an order's audit trail, newest first (extension)."""

    referenceOrderID: str | None = None
    externalRefID: str | None = None
    pagination: Pagination = Field(default_factory=Pagination)
    events: list[OrderEvent] = Field(default_factory=list)


# ---- customers, accounts, catalog -----------------------------------------------


class AccountSummary(Model):
    accountIdentifier: str
    accountNumber: str | None = None
    displayName: str | None = None
    createdAt: datetime | None = None
    status: str | None = None
    currencyCode: str | None = None


class Account(AccountSummary):
    currentBalance: Decimal | None = None
    contactEmail: str | None = None
    customerIdentifier: str | None = None


class Customer(Model):
    customerIdentifier: str
    displayName: str | None = None
    status: str | None = None
    createdAt: datetime | None = None
    accounts: list[AccountSummary] = Field(default_factory=list)


class CatalogItem(Model):
    utid: str
    rewardName: str | None = None
    currencyCode: str | None = None
    status: str | None = None
    valueType: str | None = None
    rewardType: str | None = None
    faceValue: Decimal | None = None
    minValue: Decimal | None = None
    maxValue: Decimal | None = None
    countries: list[str] = Field(default_factory=list)
    credentialTypes: list[str] = Field(default_factory=list)
    redemptionInstructions: str | None = None


class Brand(Model):
    brandKey: str
    brandName: str | None = None
    description: str | None = None
    status: str | None = None
    items: list[CatalogItem] = Field(default_factory=list)


class Catalog(Model):
    catalogName: str | None = None
    brands: list[Brand] = Field(default_factory=list)


# ---- inputs ---------------------------------------------------------------------


class OrderPatch(Model):
    """A JSON Merge Patch of an order's metadata.

    Only the fields you pass are sent: a string replaces the value, `None`
    clears it, a field left out stays as it is.
    """

    campaign: str | None = None
    purchaseOrderNumber: str | None = None
    notes: str | None = None

    def body(self) -> dict[str, Any]:
        return self.model_dump(exclude_unset=True)


class Recipient(Model):
    firstName: str | None = None
    lastName: str | None = None
    email: str | None = None
    mobileNumber: str | None = None
    address: Address | None = None


class NewLineItem(Model):
    externalRefLineItemID: str
    utid: str
    amount: Decimal
    deliveryMethod: str
    recipient: Recipient
    quantity: int | None = None
    deliveryDate: datetime | None = None
    emailSubject: str | None = None
    message: str | None = None
    lineItemNote: str | None = None


class NewAsyncOrder(Model):
    """The body of a create; send it again unchanged to retry safely."""

    externalRefID: str
    customerIdentifier: str
    accountIdentifier: str
    lineItems: list[NewLineItem]
    sender: SenderInfo | None = None
    campaign: str | None = None
    purchaseOrderNumber: str | None = None
    notes: str | None = None
