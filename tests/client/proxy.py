"""A loopback HTTP proxy in front of a real server, failing on request.

Each request takes the next planned fault, if any:

- `simulate`: forward with `X-Simulate: <value>`, so the real server answers
  429, 503 or 500 with its own envelope and `Retry-After`;
- `drop`: forward, let the server do the work, then close the connection
  without relaying its answer (a lost answer);
- `refuse`: close the connection without forwarding anything.

Requests without a fault are forwarded untouched. Every request is recorded.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Literal

import httpx

HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "content-length"}


@dataclass(frozen=True)
class Fault:
    kind: Literal["simulate", "drop", "refuse"]
    value: str = ""


@dataclass
class Seen:
    """One request as the proxy saw it, and what the server answered."""

    method: str
    path: str
    request_id: str | None
    fault: Fault | None
    status: int | None = None
    answer_request_id: str | None = None


@dataclass
class Plan:
    faults: list[Fault]
    seen: list[Seen] = field(default_factory=list)
    # Called once the server has answered, before the answer is relayed.
    meddle: Callable[[Seen], None] | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)

    def next_fault(self) -> Fault | None:
        with self.lock:
            return self.faults.pop(0) if self.faults else None


def _handler(upstream: str, plan: Plan) -> type[BaseHTTPRequestHandler]:
    forward = httpx.Client(base_url=upstream, timeout=30)

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            self._relay()

        do_POST = do_PATCH = do_PUT = do_DELETE = do_GET

        def log_message(self, format: str, *args: object) -> None:
            pass

        def _relay(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            fault = plan.next_fault()
            seen = Seen(self.command, self.path, self.headers["X-REQUEST-ID"], fault)
            plan.seen.append(seen)
            if fault is not None and fault.kind == "refuse":
                self.close_connection = True
                return
            headers = {
                k: v for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP
            }
            if fault is not None and fault.kind == "simulate":
                headers["X-Simulate"] = fault.value
            answer = forward.request(
                self.command, self.path, content=body, headers=headers
            )
            seen.status = answer.status_code
            seen.answer_request_id = answer.headers.get("X-REQUEST-ID")
            if plan.meddle is not None:
                plan.meddle(seen)
            if fault is not None and fault.kind == "drop":
                self.close_connection = True
                return
            self.send_response(answer.status_code)
            for name, value in answer.headers.items():
                if name.lower() not in HOP_BY_HOP:
                    self.send_header(name, value)
            self.send_header("Content-Length", str(len(answer.content)))
            self.end_headers()
            self.wfile.write(answer.content)

    return Handler


@contextmanager
def fault_proxy(upstream: str, *faults: Fault) -> Iterator[tuple[str, Plan]]:
    """Yields the proxy's base URL (same path as `upstream`) and its plan."""
    url = httpx.URL(upstream)
    plan = Plan(list(faults))
    origin = f"{url.scheme}://{url.host}:{url.port}"
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(origin, plan))
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}{url.path}", plan
    finally:
        server.shutdown()
        server.server_close()
