"""Customers and their accounts (Tango's customer and account endpoints)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path
from starlette.responses import Response

from asyncorders.accounts import service
from asyncorders.accounts.schemas import (
    AccountView,
    CreateAccountCriteria,
    CreateCustomerCriteria,
    CustomerViewSummary,
)
from asyncorders.api import responses
from asyncorders.api.deps import CallerDep, SessionDep, body_doc, json_body

router = APIRouter(tags=["Customers and accounts"])

CustomerId = Annotated[str, Path(min_length=1, max_length=100)]
AccountId = Annotated[str, Path(min_length=1, max_length=100)]


@router.post(
    "/customers",
    response_model=CustomerViewSummary,
    status_code=201,
    responses=responses.errors(400, 409, 413, 415),
    openapi_extra=body_doc(CreateCustomerCriteria),
)
async def create_customer(
    who: CallerDep,
    db: SessionDep,
    body: Annotated[CreateCustomerCriteria, Depends(json_body(CreateCustomerCriteria))],
) -> Response:
    """Create a customer of the platform; 409 if the identifier is taken."""
    customer = await service.create_customer(db, who.platform_id, body)
    await db.commit()
    return responses.json(CustomerViewSummary.of(customer, []), status=201)


@router.get(
    "/customers",
    response_model=list[CustomerViewSummary],
    responses=responses.errors(),
)
async def list_customers(who: CallerDep, db: SessionDep) -> Response:
    """Every customer of the platform with a summary of its accounts."""
    rows = await service.list_customers(db, who.platform_id)
    body = (
        b"["
        + b",".join(
            CustomerViewSummary.of(c, accounts).model_dump_json().encode()
            for c, accounts in rows
        )
        + b"]"
    )
    return Response(body, media_type="application/json")


@router.get(
    "/customers/{customerIdentifier}",
    response_model=CustomerViewSummary,
    responses=responses.errors(400, 404),
)
async def get_customer(
    who: CallerDep, db: SessionDep, customerIdentifier: CustomerId
) -> Response:
    """One customer with a summary of its accounts."""
    customer = await service.get_customer(db, who.platform_id, customerIdentifier)
    accounts = await service.accounts_of(db, customer)
    return responses.json(CustomerViewSummary.of(customer, accounts))


@router.post(
    "/customers/{customerIdentifier}/accounts",
    response_model=AccountView,
    status_code=201,
    responses=responses.errors(400, 404, 409, 413, 415),
    openapi_extra=body_doc(CreateAccountCriteria),
)
async def create_account(
    who: CallerDep,
    db: SessionDep,
    customerIdentifier: CustomerId,
    body: Annotated[CreateAccountCriteria, Depends(json_body(CreateAccountCriteria))],
) -> Response:
    """Create an account under a customer; 409 if the identifier is taken."""
    account = await service.create_account(
        db, who.platform_id, customerIdentifier, body
    )
    await db.commit()
    return responses.json(
        AccountView.of_account(account, customerIdentifier), status=201
    )


@router.get(
    "/customers/{customerIdentifier}/accounts",
    response_model=list[AccountView],
    responses=responses.errors(400, 404),
)
async def list_customer_accounts(
    who: CallerDep, db: SessionDep, customerIdentifier: CustomerId
) -> Response:
    """The customer's accounts with their current balances."""
    customer = await service.get_customer(db, who.platform_id, customerIdentifier)
    accounts = await service.accounts_of(db, customer)
    body = (
        b"["
        + b",".join(
            AccountView.of_account(a, customer.identifier).model_dump_json().encode()
            for a in accounts
        )
        + b"]"
    )
    return Response(body, media_type="application/json")


@router.get(
    "/accounts/{accountIdentifier}",
    response_model=AccountView,
    responses=responses.errors(400, 404),
)
async def get_account(
    who: CallerDep, db: SessionDep, accountIdentifier: AccountId
) -> Response:
    """One account with its current balance."""
    account, owner = await service.get_account(db, who.platform_id, accountIdentifier)
    return responses.json(AccountView.of_account(account, owner))
