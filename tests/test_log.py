"""The log's direct INFO events (the access line) beside structlog's own."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator

import pytest
import structlog

from asyncorders import log


@pytest.fixture
def json_logs() -> Iterator[None]:
    log.configure(json=True)
    try:
        yield
    finally:
        structlog.contextvars.clear_contextvars()
        log.configure(json=False)


def test_a_direct_event_has_exactly_its_fields_level_and_time(
    json_logs: None, capsys: pytest.CaptureFixture[str]
) -> None:
    structlog.contextvars.bind_contextvars(request_id="from-the-context")
    capsys.readouterr()

    log.access("request.done", {"status": 200, "request_id": "passed"})
    log.get("test").info("other.event")

    direct, other = (json.loads(line) for line in capsys.readouterr().err.splitlines())
    timestamp = direct.pop("timestamp")
    assert timestamp.endswith("Z")
    assert direct == {
        "status": 200,
        "request_id": "passed",
        "event": "request.done",
        "level": "info",
    }
    assert other["request_id"] == "from-the-context"


def test_no_direct_event_is_written_above_info(
    capsys: pytest.CaptureFixture[str],
) -> None:
    log.configure(json=True, level="WARNING")
    try:
        capsys.readouterr()
        log.access("request.done", {"status": 200})
        log.get("test").warning("still.written")
        lines = capsys.readouterr().err.splitlines()
    finally:
        log.configure(json=False)

    assert [json.loads(line)["event"] for line in lines] == ["still.written"]


def test_readable_direct_events_read_as_the_others(
    capsys: pytest.CaptureFixture[str],
) -> None:
    log.configure(json=False)
    capsys.readouterr()

    log.access("request.done", {"status": 200, "method": "PATCH"})

    [line] = capsys.readouterr().err.splitlines()
    assert "[info     ] request.done" in line
    assert line.endswith("method=PATCH status=200")


def test_before_any_configuration_direct_events_go_through_structlog(
    json_logs: None, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(log, "_DIRECT", None)
    structlog.contextvars.bind_contextvars(request_id="from-the-context")
    capsys.readouterr()

    log.access("request.done", {"status": 200})

    [line] = capsys.readouterr().err.splitlines()
    assert json.loads(line)["request_id"] == "from-the-context"


def test_lines_written_on_a_loop_go_out_together_when_its_step_ends(
    capfd: pytest.CaptureFixture[str],
) -> None:
    writes: list[str] = []

    async def two_lines_then_a_turn() -> None:
        capfd.readouterr()
        log.get("test").info("first")
        log.get("test").info("second")
        writes.append(capfd.readouterr().err)  # still waiting
        await asyncio.sleep(0)  # the step ends
        writes.append(capfd.readouterr().err)

    asyncio.run(two_lines_then_a_turn())

    waiting, written = writes
    assert waiting == ""
    assert _events(written) == ["first", "second"]


def test_a_line_written_off_a_loop_goes_out_at_once_after_those_waiting(
    capfd: pytest.CaptureFixture[str],
) -> None:
    capfd.readouterr()
    _left_waiting("on.the.loop")
    log.get("test").info("off.the.loop")
    assert _events(capfd.readouterr().err) == ["on.the.loop", "off.the.loop"]


def test_a_loop_closed_before_its_flush_leaves_its_lines_to_the_next_one(
    capfd: pytest.CaptureFixture[str],
) -> None:
    async def line(event: str) -> None:
        log.get("test").info(event)

    capfd.readouterr()
    _left_waiting("first.loop")
    assert capfd.readouterr().err == ""

    asyncio.run(line("second.loop"))

    assert _events(capfd.readouterr().err) == ["first.loop", "second.loop"]


def _left_waiting(event: str) -> None:
    """Log `event` on a loop that stops and closes before its step ends."""
    loop = asyncio.new_event_loop()
    loop.call_soon(log.get("test").info, event)
    loop.call_soon(loop.stop)  # the same step: the flush would come in the next
    loop.run_forever()
    loop.close()


def _events(readable: str) -> list[str]:
    return [line.split("] ", 1)[1].split()[0] for line in readable.splitlines()]
