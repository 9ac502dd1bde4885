"""Customers and accounts, shaped as Tango's CustomerViewSummary and AccountView."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated

from pydantic import Field

from asyncorders.schemas import Criteria, Identifier, MoneyInput, MoneyNumber, View
from asyncorders.storage.tables import Account, Customer

DisplayName = Annotated[str, Field(pattern=r"^[\p{L}\p{N}\p{P}\p{Z}]{5,100}$")]
Email = Annotated[str, Field(max_length=254, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")]


class Currency(StrEnum):
    AUD = "AUD"
    CAD = "CAD"
    EUR = "EUR"
    GBP = "GBP"
    USD = "USD"
    MXN = "MXN"
    SGD = "SGD"
    PLN = "PLN"


class CreateCustomerCriteria(Criteria):
    customerIdentifier: Identifier
    displayName: DisplayName


class CreateAccountCriteria(Criteria):
    accountIdentifier: Identifier
    displayName: DisplayName
    contactEmail: Email
    currencyCode: Currency = Currency.USD


class FundAccount(Criteria):
    amount: Annotated[MoneyInput, Field(gt=0)]
    note: Annotated[str, Field(max_length=255)] | None = None


class AccountViewSummary(View):
    accountIdentifier: str
    accountNumber: str
    displayName: str
    createdAt: datetime
    status: str
    currencyCode: str

    @classmethod
    def of(cls, account: Account) -> AccountViewSummary:
        return cls(
            accountIdentifier=account.identifier,
            accountNumber=account.account_number,
            displayName=account.display_name,
            createdAt=account.created_at,
            status=account.status,
            currencyCode=account.currency_code,
        )


class AccountView(AccountViewSummary):
    currentBalance: MoneyNumber
    contactEmail: str
    customerIdentifier: str  # extension: which customer owns the account

    @classmethod
    def of_account(cls, account: Account, customer_identifier: str) -> AccountView:
        return cls(
            **AccountViewSummary.of(account).model_dump(),
            currentBalance=account.balance,
            contactEmail=account.contact_email,
            customerIdentifier=customer_identifier,
        )


class CustomerViewSummary(View):
    customerIdentifier: str
    displayName: str
    status: str
    createdAt: datetime
    accounts: list[AccountViewSummary]

    @classmethod
    def of(cls, customer: Customer, accounts: list[Account]) -> CustomerViewSummary:
        return cls(
            customerIdentifier=customer.identifier,
            displayName=customer.display_name,
            status=customer.status,
            createdAt=customer.created_at,
            accounts=[AccountViewSummary.of(account) for account in accounts],
        )
