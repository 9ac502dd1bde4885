"""Deployment-wide switches, kept in the database so that every process sees them."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from asyncorders.clock import utcnow
from asyncorders.storage.tables import ServiceFlag

MAINTENANCE = "maintenance"
DEFAULT_MESSAGE = "The service is in maintenance; retry shortly."


@dataclass(frozen=True, slots=True)
class MaintenanceMode:
    on: bool = False
    message: str = DEFAULT_MESSAGE
    retry_after: int = 30


async def maintenance(session: AsyncSession) -> MaintenanceMode:
    flag = await session.get(ServiceFlag, MAINTENANCE)
    if flag is None:
        return MaintenanceMode()
    return MaintenanceMode(
        on=bool(flag.value.get("on")),
        message=str(flag.value.get("message") or DEFAULT_MESSAGE),
        retry_after=int(flag.value.get("retry_after", 30)),
    )


async def set_maintenance(
    session: AsyncSession,
    on: bool,
    message: str | None = None,
    retry_after: int = 30,
) -> MaintenanceMode:
    text = message or DEFAULT_MESSAGE
    value = {"on": on, "message": text, "retry_after": retry_after}
    flag = await session.scalar(
        select(ServiceFlag).where(ServiceFlag.name == MAINTENANCE).with_for_update()
    )
    if flag is None:
        session.add(ServiceFlag(name=MAINTENANCE, value=value, updated_at=utcnow()))
    else:
        flag.value = value
        flag.updated_at = utcnow()
    await session.flush()
    return MaintenanceMode(on, text, retry_after)
