"""The HTTP floor: a bare ASGI app that answers every request with a fixed JSON
body (the size of a real PATCH answer). Nothing is faster behind uvicorn.

    uvicorn floor:app --app-dir bench --lifespan off   (BENCH_FLOOR_BODY=file)
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

BODY = Path(os.environ["BENCH_FLOOR_BODY"]).read_bytes()
HEADERS = [
    (b"content-type", b"application/json"),
    (b"content-length", str(len(BODY)).encode()),
]


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    more = True
    while more:  # read the request body, as a real handler must
        message = await receive()
        more = message.get("more_body", False)
    await send({"type": "http.response.start", "status": 200, "headers": HEADERS})
    await send({"type": "http.response.body", "body": BODY})
