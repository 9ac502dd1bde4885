"""What each API process knows of the deployment's switches, re-read every second."""

from __future__ import annotations

import asyncio
import contextlib

from asyncorders import log
from asyncorders.operations import service
from asyncorders.operations.service import MaintenanceMode
from asyncorders.storage.engine import Database

logger = log.get("asyncorders.flags")


class FlagWatch:
    """The last known maintenance mode; a database outage keeps the last value."""

    def __init__(self) -> None:
        self.maintenance = MaintenanceMode()

    async def refresh(self, database: Database) -> None:
        async with database.sessions() as session:
            current = await service.maintenance(session)
        if current.on != self.maintenance.on:
            logger.info("maintenance.switched", on=current.on)
        self.maintenance = current

    async def run(self, database: Database, every: float, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                await self.refresh(database)
            except Exception as error:  # storage down: keep the last known state
                logger.warning("flags.refresh_failed", error=type(error).__name__)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), every)
