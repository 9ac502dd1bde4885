from __future__ import annotations

import pytest

from tests.conftest import Api
from tests.factories import Tenant, create_order

pytestmark = pytest.mark.anyio


async def test_patch_changes_campaign_and_records_history(
    api: Api, tenant: Tenant
) -> None:
    await create_order(api.http, tenant, campaign="old")

    response = await api.http.patch(
        tenant.order_url("order-1"), json={"campaign": "new"}, auth=tenant.auth
    )

    assert response.status_code == 200, response.text
    assert response.json()["campaign"] == "new"
    history = await api.http.get(
        tenant.order_url("order-1") + "/history", auth=tenant.auth
    )
    latest = history.json()["events"][0]
    assert latest["changes"] == [
        {"field": "campaign", "oldValue": "old", "newValue": "new"}
    ]
