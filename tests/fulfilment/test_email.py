"""EMAIL delivery through a real SMTP server on loopback (aiosmtpd)."""

from __future__ import annotations

import email
import socket
from collections.abc import Iterator
from email.message import Message

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

from asyncorders.fulfilment.delivery import transports
from asyncorders.fulfilment.worker import Worker
from tests.conftest import Api
from tests.factories import Tenant, line
from tests.fulfilment.helpers import drain, place

pytestmark = pytest.mark.anyio


class Inbox:
    def __init__(self) -> None:
        self.messages: list[Message] = []

    async def handle_DATA(
        self, server: SMTP, session: Session, envelope: Envelope
    ) -> str:
        assert isinstance(envelope.content, bytes)
        self.messages.append(email.message_from_bytes(envelope.content))
        return "250 OK"


@pytest.fixture
def smtp_server() -> Iterator[tuple[Inbox, int]]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield inbox, port
    finally:
        controller.stop()


async def test_each_emailed_line_gets_one_message_and_no_credential_is_logged(
    api: Api,
    tenant: Tenant,
    smtp_server: tuple[Inbox, int],
    capfd: pytest.CaptureFixture[str],
) -> None:
    inbox, port = smtp_server
    await place(
        api.runtime.database,
        api.runtime.secret,
        tenant,
        "mail",
        [
            line("a", utid="U000001", amount=25),
            line("b", recipient={"firstName": "Bo", "email": "bo@example.com"}),
            line("kept", deliveryMethod="NONE", recipient={}),
        ],
    )
    worker = Worker(
        api.runtime.database,
        api.settings,
        transports_by_channel=transports(f"smtp://127.0.0.1:{port}", "r@test.invalid"),
    )

    await drain(worker)
    sent = await worker.dispatch()
    again = await worker.dispatch()

    assert (sent, again) == (2, 0)
    assert sorted(m["To"] for m in inbox.messages) == [
        "ada@example.com",
        "bo@example.com",
    ]
    detailed = await api.http.get(
        tenant.order_url("mail") + "/lineItems", auth=tenant.auth
    )
    items = {i["externalRefLineItemID"]: i for i in detailed.json()["lineItems"]}
    for message in inbox.messages:
        body = message.get_payload()
        assert isinstance(body, str)
        ref = "a" if message["To"] == "ada@example.com" else "b"
        item = items[ref]
        assert item["rewardName"] in body
        assert item["rewardName"] in message["Subject"]
        assert item["deliveryStatus"] == "DISPATCHED"
        for credential in item["rewards"][0]["credentialList"]:
            assert credential["value"] in body
    logged = capfd.readouterr()
    assert "delivery.sent" in logged.out + logged.err  # the log was captured
    secrets_issued = [
        c["value"]
        for item in items.values()
        for reward in item["rewards"]
        for c in reward["credentialList"]
    ]
    assert secrets_issued
    for value in secrets_issued:
        assert value not in logged.out
        assert value not in logged.err
