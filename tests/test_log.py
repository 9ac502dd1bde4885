"""The log's direct INFO events (the access line) beside structlog's own."""

from __future__ import annotations

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
