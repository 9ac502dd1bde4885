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

from asyncorders import log
from asyncorders.fulfilment import service
from asyncorders.fulfilment.credentials import Vault
from asyncorders.fulfilment.delivery import Transport, transports
from asyncorders.fulfilment.service import BatchResult, Claim, Delivery, Rules
from asyncorders.settings import Settings
from asyncorders.storage.engine import Database

logger = log.get("asyncorders.fulfilment")

# Claimed per round; each is sent and recorded before the next round.
DISPATCH_BATCH = 20


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
        # On SQLite the batch's transaction (BEGIN IMMEDIATE) holds the write
        # lock until it commits, so no worker can take the order meanwhile, and
        # a renewal would only wait for the one connection the batch holds.
        renewing = (
            None
            if self.database.is_sqlite
            else asyncio.create_task(self._keep_lease(claim))
        )
        try:
            async with self.database.sessions() as session:
                result = await service.fulfil_batch(
                    session, claim, self.rules, self.vault
                )
                await session.commit()
        finally:
            if renewing is not None:
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
        """Renew the lease while the batch runs, in case it runs long.

        A renewal that fails is logged and tried again next period; it never
        fails the batch, whose own commit is what counts.
        """
        period = self.rules.lease.total_seconds() / 3
        while True:
            await asyncio.sleep(period)
            try:
                async with self.database.sessions() as session:
                    renewed = await service.renew(session, claim, self.rules)
                    await session.commit()
            except Exception as error:
                logger.warning(
                    "fulfilment.lease_renewal_failed",
                    order=claim.reference_order_id,
                    error=type(error).__name__,
                )
                continue
            if not renewed:
                logger.warning("fulfilment.lease_lost", order=claim.reference_order_id)
                return

    async def dispatch(self) -> int:
        """Send due outbox messages on channels that have a transport.

        The messages are claimed in one short transaction and each outcome is
        recorded in another: no transaction (and, on SQLite, not the process's
        only connection) is held while a transport talks to the network.
        """
        if not self.transports:
            return 0
        async with self.database.sessions() as session:
            deliveries = await service.claim_deliveries(
                session, self.rules, self.vault, list(self.transports), DISPATCH_BATCH
            )
            await session.commit()
        for delivery in deliveries:
            await self._deliver(delivery)
        return len(deliveries)

    async def _deliver(self, delivery: Delivery) -> None:
        error: Exception | None = None
        try:
            await self.transports[delivery.outgoing.channel].send(delivery.outgoing)
        except Exception as failure:  # a transport's failure is retried, not fatal
            error = failure

        async with self.database.sessions() as session:
            status = await service.record_delivery(
                session,
                delivery,
                self.rules,
                None if error is None else f"{type(error).__name__}: {error}"[:500],
            )
            await session.commit()

        fields = {
            "line_item": delivery.reference_line_item_id,
            "channel": delivery.outgoing.channel,
        }
        if status is None:
            logger.warning("delivery.claim_lost", **fields)
        elif error is None:
            logger.info("delivery.sent", **fields)
        else:
            logger.warning(
                "delivery.failed",
                **fields,
                attempts=delivery.attempts,
                gave_up=status == "FAILED",
                error=type(error).__name__,
            )


async def run_until_stopped(database: Database, settings: Settings) -> None:
    """Run one worker until SIGTERM or SIGINT (the `asyncorders worker` command)."""
    import signal

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    await Worker(database, settings).run(stop)
