"""Prometheus metrics: per request in the request context, from the database at
scrape time.

With several API processes (`serve --processes N`), PROMETHEUS_MULTIPROC_DIR is
set before they start and each scrape adds up every process's counters. Order
gauges are read from the database when scraped, so they are whole-deployment
figures whichever process answers.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from datetime import datetime
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector
from sqlalchemy import func, select
from starlette.types import Scope

from asyncorders import log
from asyncorders.storage.engine import Database
from asyncorders.storage.tables import AsyncOrder

logger = log.get("asyncorders.metrics")

REQUESTS = Counter(
    "asyncorders_requests_total",
    "HTTP requests answered, by route template, method and status.",
    ["route", "method", "status"],
)
LATENCY = Histogram(
    "asyncorders_request_duration_seconds",
    "Time to answer, by route template and method.",
    ["route", "method"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
)
REJECTIONS = Counter(
    "asyncorders_rejections_total",
    "429 and 503 answers, by status and i18nKey (the reason).",
    ["status", "reason"],
)


def observe_request(scope: Scope, status: int, seconds: float) -> None:
    """Count and time one answered request (the request context calls this)."""
    route, method = _template(scope), scope["method"]
    children = _CHILDREN.get((route, method, status))
    if children is None:  # labels() validates and locks: look each set up once
        children = _CHILDREN[(route, method, status)] = (
            REQUESTS.labels(route, method, str(status)),
            LATENCY.labels(route, method),
        )
    count, latency = children
    count.inc()
    latency.observe(seconds)


# Route templates, methods and statuses are few, so this stays small.
_CHILDREN: dict[tuple[str, str, int], tuple[Any, Any]] = {}


def _template(scope: Scope) -> str:
    """The matched route's path template, with the router's prefix put back."""
    relative = getattr(scope.get("route"), "path", None)
    if relative is None:
        return "unmatched"
    depth = relative.count("/")
    prefix = "/".join(scope["path"].split("/")[: -depth or None])
    return f"{prefix}{relative}" if depth else relative


def count_rejection(status: int, reason: str) -> None:
    if status in (429, 503):
        REJECTIONS.labels(str(status), reason).inc()


class OrderCollector(Collector):
    """Orders by status and the age of the oldest pending one, read at scrape."""

    def __init__(self, counts: dict[str, int], oldest: datetime | None) -> None:
        self.counts = counts
        self.oldest = oldest

    def collect(self) -> Iterator[GaugeMetricFamily]:
        orders = GaugeMetricFamily(
            "asyncorders_orders", "Async orders by status.", labels=["status"]
        )
        for status, count in sorted(self.counts.items()):
            orders.add_metric([status], count)
        yield orders
        age = 0.0
        if self.oldest is not None:
            age = max(0.0, time.time() - self.oldest.timestamp())
        yield GaugeMetricFamily(
            "asyncorders_oldest_pending_order_age_seconds",
            "Age of the oldest order still PENDING (0 when none).",
            value=age,
        )


async def scrape(database: Database) -> tuple[bytes, str]:
    """The exposition text for this deployment (without order gauges when the
    database cannot be read)."""
    registry = CollectorRegistry()
    try:
        registry.register(await _orders(database))
    except Exception as error:  # storage down: the request figures still matter
        logger.warning("metrics.orders_unavailable", error=type(error).__name__)
    if "PROMETHEUS_MULTIPROC_DIR" in os.environ:
        MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
    else:
        for collector in (REQUESTS, LATENCY, REJECTIONS):
            registry.register(collector)
    return generate_latest(registry), CONTENT_TYPE_LATEST


async def _orders(database: Database) -> OrderCollector:
    # The count reads every order: on the read connections it holds no
    # write lock, so writes go on meanwhile (on SQLite it holds up the
    # event loop for as long as it takes: about 0.2 s per million orders).
    async with database.reads() as session:
        rows = await session.execute(
            select(AsyncOrder.status, func.count()).group_by(AsyncOrder.status)
        )
        counts = {status: count for status, count in rows}  # noqa: C416 (Rows)
        oldest = await session.scalar(
            select(func.min(AsyncOrder.created_at)).where(
                AsyncOrder.status == "PENDING"
            )
        )
    return OrderCollector(counts, oldest)
