"""The fulfilment worker: a loop of claim, batch, release, plus outbox dispatch.

Inside `asyncorders serve` one worker runs beside the API (the embedded setup);
`asyncorders worker` runs one on its own, as many as you like against
PostgreSQL. A stop request lets the current batch commit, then the loop ends.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import time
import uuid
from datetime import timedelta

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from asyncorders import log
from asyncorders.clock import utcnow
from asyncorders.fulfilment import repository, service
from asyncorders.fulfilment.credentials import Vault
from asyncorders.fulfilment.delivery import Outgoing, Transport, transports
from asyncorders.fulfilment.service import BatchResult, Claim, Rules
from asyncorders.settings import Settings
from asyncorders.storage.engine import Database
from asyncorders.storage.tables import LineItem, OutboxMessage

logger = log.get("asyncorders.fulfilment")

DISPATCH_BATCH = 50
MAX_SEND_ATTEMPTS = 5


def make_vault(settings: Settings) -> Vault:
    return Vault(settings.resolved_credentials_key, settings.resolved_secret_key)


class Worker:
    def __init__(
        self,
        database: Database,
        settings: Settings,
        *,
        transports_by_channel: dict[str, Transport] | None = None,
    ) -> None:
        self.database = database
        self.vault = make_vault(settings)
        self.transports = (
            transports(settings.smtp_url, settings.mail_from)
            if transports_by_channel is None
            else transports_by_channel
        )
        self.rules = Rules(
            worker_id=f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}",
            batch_size=settings.batch_size,
            lease=timedelta(seconds=settings.lease_seconds),
            channels_with_transport=frozenset(self.transports),
            delay_per_line=settings.fulfilment_delay_ms / 1000,
        )
        self.poll_interval = settings.poll_interval

    async def run(self, stop: asyncio.Event) -> None:
        """Work until `stop` is set; the batch in progress is finished first."""
        structlog.contextvars.bind_contextvars(worker=self.rules.worker_id)
        logger.info("worker.started", batch_size=self.rules.batch_size)
        while not stop.is_set():
            try:
                busy = await self.step()
            except Exception:
                logger.exception("worker.step_failed")
                busy = False
            if not busy:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), self.poll_interval)
        logger.info("worker.stopped")

    async def step(self) -> bool:
        """One batch of one order, and one round of outbox dispatch."""
        batch = await self.fulfil_next()
        sent = await self.dispatch()
        return batch is not None or sent > 0

    async def fulfil_next(self) -> BatchResult | None:
        async with self.database.sessions() as session:
            claim = await service.claim(session, self.rules)
            await session.commit()
        if claim is None:
            return None

        started = time.perf_counter()
        renewing = asyncio.create_task(self._keep_lease(claim))
        try:
            async with self.database.sessions() as session:
                result = await service.fulfil_batch(
                    session, claim, self.rules, self.vault
                )
                await session.commit()
        finally:
            renewing.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await renewing
        logger.info(
            "fulfilment.batch_done",
            order=result.reference_order_id,
            completed=result.completed,
            failed=result.failed,
            finished_as=result.finished_as,
            duration_ms=round((time.perf_counter() - started) * 1000, 1),
        )
        return result

    async def _keep_lease(self, claim: Claim) -> None:
        """Renew the lease while the batch runs, in case it runs long."""
        period = self.rules.lease.total_seconds() / 3
        while True:
            await asyncio.sleep(period)
            async with self.database.sessions() as session:
                await service.renew(session, claim, self.rules)
                await session.commit()

    async def dispatch(self) -> int:
        """Send due outbox messages on channels that have a transport."""
        if not self.transports:
            return 0
        async with self.database.sessions() as session:
            messages = await repository.lock_due_messages(
                session, list(self.transports), utcnow(), DISPATCH_BATCH
            )
            for message in messages:
                await self._send(session, message)
            await session.commit()
        return len(messages)

    async def _send(self, session: AsyncSession, message: OutboxMessage) -> None:
        line = await session.get(LineItem, message.line_item_id)
        if line is None or line.credentials is None:  # pragma: no cover
            message.status = "FAILED"
            message.last_error = "line item has no credentials"
            return
        outgoing = Outgoing(
            channel=message.channel,
            recipient=message.recipient,
            subject=message.subject,
            body=_body(line, self.vault.reveal(line.credentials)),
            message_id=f"<{line.reference_line_item_id}@asyncorders>",
        )
        message.attempts += 1
        try:
            await self.transports[message.channel].send(outgoing)
        except Exception as error:  # a transport's failure is retried, not fatal
            message.last_error = f"{type(error).__name__}: {error}"[:500]
            if message.attempts >= MAX_SEND_ATTEMPTS:
                message.status = "FAILED"
                line.delivery_status = "FAILED"
            else:
                message.not_before = utcnow() + timedelta(seconds=2**message.attempts)
            logger.warning(
                "delivery.failed",
                line_item=line.reference_line_item_id,
                channel=message.channel,
                attempts=message.attempts,
                error=type(error).__name__,
            )
            return
        message.status = "SENT"
        message.sent_at = utcnow()
        line.delivery_status = "DISPATCHED"
        logger.info(
            "delivery.sent",
            line_item=line.reference_line_item_id,
            channel=message.channel,
        )


def _body(line: LineItem, credentials: list[dict[str, str]]) -> str:
    recipient = (line.recipient or {}).get("firstName") or "there"
    lines = [
        f"Hello {recipient},",
        "",
        f"You have received a reward: {line.reward_name}, "
        f"worth {line.amount} {line.currency_code}.",
    ]
    if line.message:
        lines += ["", line.message]
    lines += ["", *(f"{c['label']}: {c['value']}" for c in credentials)]
    return "\n".join(lines) + "\n"


async def run_until_stopped(database: Database, settings: Settings) -> None:
    """Run one worker until SIGTERM or SIGINT (the `asyncorders worker` command)."""
    import signal

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    await Worker(database, settings).run(stop)
