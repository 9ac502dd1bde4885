"""Group commit of concurrent PATCHes: many requests, one transaction.

While one batch is in the database, the requests that arrive wait together.
Their callers are authenticated together in one query (on the read
connections, beside the writer, reading the last commit: a revoked key fails
at once). The next write batch then loads and locks all their orders in one
query, applies each patch in arrival order (two patches of one order chain
their history exactly as if they had queued on the row lock) and commits
once (up to `batches.MAX_KEYS` patches; more wait for the next batch). A
request is answered only after the commit that holds its change.

A patch that breaks its own rules (404, 412) fails alone and changes nothing.
If the database refuses a batch, each of its patches is retried in a
transaction of its own, so one bad member cannot fail the others.

Both queries and the writes go to the driver's connection directly
(`storage/direct.py`): SQLAlchemy's execution layer cost more than the round
trips themselves.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from asyncorders.errors import AsyncOrdersError
from asyncorders.orders import repository, service
from asyncorders.orders.repository import OrderMetadata, OrderPath
from asyncorders.platforms import service as platforms
from asyncorders.platforms.service import Caller
from asyncorders.storage import batches, direct
from asyncorders.storage.engine import Database


@dataclass(eq=False)
class _Lookup:
    platform_name: str
    key: str
    done: asyncio.Future[Caller | None] = field(init=False)


@dataclass(eq=False)
class _Patch:
    caller: Caller
    path: OrderPath
    wanted: dict[str, str | None]
    if_match: str | None
    request_id: str
    done: asyncio.Future[OrderMetadata] = field(init=False)

    @property
    def key(self) -> tuple[int, OrderPath]:
        return self.caller.platform_id, self.path


class GroupCommit:
    """One per process; every hot PATCH goes through it."""

    def __init__(self, database: Database, secret: bytes) -> None:
        self.database = database
        self.secret = secret
        self._lookups: list[_Lookup] = []
        self._patches: list[_Patch] = []
        self._reading: asyncio.Task[None] | None = None
        self._writing: asyncio.Task[None] | None = None

    async def authenticate(self, platform_name: str, key: str) -> Caller | None:
        """As `platforms.authenticate`, read together with the waiting requests."""
        lookup = _Lookup(platform_name, key)
        caller: Caller | None = await self._enqueue(self._lookups, lookup)
        return caller

    async def update_metadata(
        self,
        caller: Caller,
        path: OrderPath,
        wanted: dict[str, str | None],
        *,
        if_match: str | None,
        request_id: str,
    ) -> OrderMetadata:
        """As `service.update_metadata`, committed with the waiting requests."""
        patch = _Patch(caller, path, wanted, if_match, request_id)
        order: OrderMetadata = await self._enqueue(self._patches, patch)
        return order

    async def _enqueue(self, queue: list[Any], item: _Lookup | _Patch) -> Any:
        item.done = asyncio.get_running_loop().create_future()
        queue.append(item)
        if queue is self._lookups:
            if self._reading is None or self._reading.done():
                self._reading = asyncio.create_task(self._drain_lookups())
        elif self._writing is None or self._writing.done():
            self._writing = asyncio.create_task(self._drain_patches())
        return await item.done

    async def _drain_lookups(self) -> None:
        """Authenticate batches of waiting requests until none is left."""
        while self._lookups:
            lookups, self._lookups = self._lookups, []
            try:
                await self._authenticate(lookups)
            except Exception as error:  # storage down: each request answers it
                _fail(lookups, error)

    async def _drain_patches(self) -> None:
        """Commit batches of waiting patches until none is left."""
        while self._patches:
            patches = self._patches[: batches.MAX_KEYS]
            del self._patches[: batches.MAX_KEYS]
            try:
                await self._commit(patches)
            except Exception as error:  # the database refused the whole batch
                if len(patches) == 1:
                    _fail(patches, error)
                else:
                    await self._one_by_one(patches)

    async def _one_by_one(self, patches: Sequence[_Patch]) -> None:
        for patch in patches:
            if patch.done.done():
                continue
            try:
                await self._commit([patch])
            except Exception as error:
                _fail([patch], error)

    async def _authenticate(self, lookups: Sequence[_Lookup]) -> None:
        async with direct.reading(self.database.reader) as connection:
            callers = await platforms.authenticate_many(
                connection,
                self.secret,
                [(lookup.platform_name, lookup.key) for lookup in lookups],
            )
        for lookup, caller in zip(lookups, callers, strict=True):
            _settle(lookup.done, caller)

    async def _commit(self, patches: Sequence[_Patch]) -> None:
        async with direct.transaction(self.database.engine) as connection:
            orders = await repository.find_many(connection, [p.key for p in patches])
            applied, refused, changed, events = [], [], {}, []
            for patch in patches:
                order = orders.get(patch.key)
                try:
                    event = service.apply_metadata(
                        order,
                        patch.caller,
                        patch.wanted,
                        patch.if_match,
                        patch.request_id,
                    )
                except AsyncOrdersError as error:
                    refused.append((patch, error))  # answered after the commit
                    continue
                applied.append(patch)
                if order is not None and event is not None:
                    changed[order.id] = order
                    events.append(event)
            if events:
                await repository.save_metadata(connection, list(changed.values()))
                await repository.insert_events(connection, events)
        # Refusals wait for the commit too: they were judged against the batch's
        # state, which a failed commit would undo (the patch is then retried).
        for patch, refusal in refused:
            _fail([patch], refusal)
        for patch in applied:
            _settle(patch.done, orders[patch.key])


def _settle(done: asyncio.Future[Any], result: Any) -> None:
    if not done.done():  # a request whose client went away is cancelled
        done.set_result(result)


def _fail(items: Sequence[_Lookup | _Patch], error: Exception) -> None:
    for item in items:
        if not item.done.done():
            item.done.set_exception(error)
