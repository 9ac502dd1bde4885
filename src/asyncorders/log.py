"""Structured logging: one event per line, the request id bound once per request.

Sandbox mode prints readable lines, production mode JSON, on stderr; lines
logged during one step of the event loop are written together when it ends
(`_Lines`). Nothing here ever receives a key, a secret or a reward
credential: callers log ids, not values.
"""

from __future__ import annotations

import asyncio
import atexit
import logging
import sys
import threading
from collections.abc import Mapping
from typing import Any

import structlog


def configure(*, json: bool, level: str = "INFO") -> None:
    flush()  # lines rendered the old way go out first
    renderer: structlog.typing.Processor = (
        structlog.processors.JSONRenderer() if json else _readable
    )
    # Every event but the access line gets the context-local fields (the
    # request id) first.
    direct: list[structlog.typing.Processor] = [
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.processors.format_exc_info,
        renderer,
    ]
    threshold = logging.getLevelNamesMapping().get(level.upper(), logging.INFO)
    structlog.configure(
        processors=[structlog.contextvars.merge_contextvars, *direct],
        wrapper_class=structlog.make_filtering_bound_logger(threshold),
        logger_factory=_StderrLogger,
        # Not cached: a reconfiguration (tests, the CLI) reaches every logger.
        cache_logger_on_first_use=False,
    )
    global _DIRECT
    _DIRECT = direct if threshold <= logging.INFO else []


# The processors of `access`: empty while INFO is off, None until configured.
_DIRECT: list[structlog.typing.Processor] | None = None


def access(event: str, fields: Mapping[str, Any]) -> None:
    """The access line of a request: an INFO event with exactly `fields`,
    rendered and written as every other event but without the context-local
    fields, which the request context passes itself (merging them copies the
    request's context, the costliest step of the line)."""
    if _DIRECT is None:  # never configured: structlog's defaults, as elsewhere
        structlog.get_logger().info(event, **fields)
        return
    if not _DIRECT:
        return
    event_dict: Any = {**fields, "event": event}
    for processor in _DIRECT:
        event_dict = processor(None, "info", event_dict)
    _StderrLogger().msg(event_dict)


def _readable(_: object, __: str, event: structlog.typing.EventDict) -> str:
    """`time [level] event key=value ...`, sorted by key, the traceback below.

    The layout of structlog's ConsoleRenderer without colours, in a quarter of
    its time: it renders the access line of every request.
    """
    timestamp = event.pop("timestamp", "")
    level = event.pop("level", "")
    name = event.pop("event", "")
    exception = event.pop("exception", None)
    fields = " ".join(f"{key}={event[key]}" for key in sorted(event))
    line = f"{timestamp} [{level:<9}] {name:<30} {fields}".rstrip()
    return f"{line}\n{exception}" if exception else line


def get(name: str) -> structlog.typing.FilteringBoundLogger:
    return structlog.get_logger(name)  # type: ignore[no-any-return]


class _StderrLogger:
    """Hands each rendered event to `_LINES`, which writes it to whatever
    `sys.stderr` is when it flushes."""

    def __init__(self, *_: object) -> None:
        pass

    def msg(self, message: str) -> None:
        _LINES.write(message)

    debug = info = warning = warn = error = critical = exception = fatal = msg


class _Lines:
    """Lines logged on a running event loop wait for the end of its current
    step and go out together, in one write: under load one step answers many
    requests, and a write per access line was a system call per request. A
    line logged where no loop runs (start-up, another thread) is written at
    once, after those waiting. At exit whatever still waits is written."""

    def __init__(self) -> None:
        self._held: list[str] = []
        self._flush_on: asyncio.AbstractEventLoop | None = None
        self._lock = threading.Lock()

    def write(self, line: str) -> None:
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            with self._lock:
                self._held.append(line)
            self.flush()
            return
        with self._lock:
            self._held.append(line)
            if self._flush_on is loop:
                return
            # A flush another loop left pending when it closed never runs: this
            # loop's flush takes those lines along.
            self._flush_on = loop
        loop.call_soon(self.flush)

    def flush(self) -> None:
        # Written under the lock, so that two threads flushing at once cannot
        # put later lines before earlier ones.
        with self._lock:
            held, self._held, self._flush_on = self._held, [], None
            if held:
                held.append("")
                sys.stderr.write("\n".join(held))
                sys.stderr.flush()


_LINES = _Lines()
atexit.register(_LINES.flush)


def flush() -> None:
    """Write the lines still waiting for their event loop's step to end."""
    _LINES.flush()
