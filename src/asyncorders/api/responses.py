"""Success answers and the error answers each route documents."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel
from starlette.responses import Response

from asyncorders.api.envelope import ErrorInfo


def json(
    model: BaseModel, status: int = 200, headers: dict[str, str] | None = None
) -> Response:
    """Serialize once, straight to bytes; the route's response_model documents it."""
    return Response(
        model.model_dump_json(),
        status_code=status,
        media_type="application/json",
        headers=headers,
    )


_MEANINGS = {
    400: "Invalid request (400.001 to 400.004)",
    401: "Authentication failed (401.001)",
    402: "Insufficient funds (402.001)",
    404: "Not found for this platform (404.001, 404.002)",
    409: "Already exists (409.001)",
    412: "If-Match does not match the order's ETag (412.001)",
    413: "Request body too large (413.001)",
    415: "Not application/json (415.001)",
    503: "Storage unavailable or overloaded (503.002)",
}


def errors(*codes: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses` for the error codes a route can answer."""
    return {
        code: {"model": ErrorInfo, "description": _MEANINGS[code]}
        for code in (*codes, 401, 503)
    }
