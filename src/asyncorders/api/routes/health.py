"""Operational endpoints, outside the Tango API: liveness, readiness, metrics.

They need no credentials; expose them to your load balancer and Prometheus, not
to the internet.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends
from starlette.responses import JSONResponse, Response

from asyncorders.api import metrics
from asyncorders.api.deps import Runtime, runtime
from asyncorders.storage import migrate

router = APIRouter(tags=["Operations"])
PATHS = ("/healthz", "/readyz", "/metrics")


@router.get("/healthz")
async def healthz() -> Response:
    """The process is alive and answering."""
    return JSONResponse({"status": "ok"})


@router.get("/readyz")
async def readyz(rt: Annotated[Runtime, Depends(runtime)]) -> Response:
    """The database answers and its schema is current: send traffic here."""
    try:
        current = await migrate.is_current(rt.database)
    except Exception as error:  # any storage failure means not ready
        return JSONResponse(
            {"status": "unavailable", "database": type(error).__name__},
            status_code=503,
            headers={"Retry-After": "1"},
        )
    if not current:
        return JSONResponse(
            {"status": "unavailable", "database": "migrations pending"},
            status_code=503,
            headers={"Retry-After": "5"},
        )
    return JSONResponse({"status": "ready"})


@router.get("/metrics")
async def prometheus(rt: Annotated[Runtime, Depends(runtime)]) -> Response:
    """Prometheus exposition format."""
    body, content_type = await metrics.scrape(rt.database)
    return Response(body, media_type=content_type)
