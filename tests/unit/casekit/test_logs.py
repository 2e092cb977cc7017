"""JSON log lines: one object per line, extra fields kept, exceptions included."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest

from casekit.logs import JsonFormatter


@pytest.fixture
def captured() -> Iterator[tuple[logging.Logger, io.StringIO]]:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter("cases"))
    logger = logging.getLogger("casework.test.logs")
    logger.handlers[:] = [handler]
    logger.propagate = False
    logger.setLevel(logging.DEBUG)
    yield logger, stream
    logger.handlers[:] = []


def lines(stream: io.StringIO) -> list[dict]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_each_record_is_one_json_object_per_line(captured: tuple[logging.Logger, io.StringIO]) -> None:
    logger, stream = captured
    logger.info("first %s", "message")
    logger.warning("second\nwith a newline")

    first, second = lines(stream)
    assert first["msg"] == "first message"
    assert first["level"] == "info"
    assert first["process"] == "cases"
    assert first["logger"] == "casework.test.logs"
    assert second["msg"] == "second\nwith a newline"
    assert second["level"] == "warning"


def test_timestamp_is_iso_with_timezone(captured: tuple[logging.Logger, io.StringIO]) -> None:
    logger, stream = captured
    logger.info("x")

    assert lines(stream)[0]["ts"].endswith("+00:00")


def test_extra_fields_are_top_level_keys(captured: tuple[logging.Logger, io.StringIO]) -> None:
    logger, stream = captured
    logger.info("claimed", extra={"case_id": "c-1", "count": 3, "ratio": 0.5, "ok": True, "none": None})

    line = lines(stream)[0]
    assert line["case_id"] == "c-1"
    assert line["count"] == 3
    assert line["ratio"] == 0.5
    assert line["ok"] is True
    assert line["none"] is None


def test_non_json_extra_values_are_repr(captured: tuple[logging.Logger, io.StringIO]) -> None:
    logger, stream = captured
    logger.info("x", extra={"ids": [1, 2], "obj": {1, 2}})

    line = lines(stream)[0]
    assert line["ids"] == "[1, 2]"
    assert line["obj"] == "{1, 2}"


def test_standard_record_attributes_are_not_repeated(captured: tuple[logging.Logger, io.StringIO]) -> None:
    logger, stream = captured
    logger.info("x")

    assert set(lines(stream)[0]) == {"ts", "level", "process", "logger", "msg"}


def test_exception_text_is_included_on_the_same_line(captured: tuple[logging.Logger, io.StringIO]) -> None:
    logger, stream = captured
    try:
        raise ValueError("the disk is on fire")
    except ValueError:
        logger.exception("relay iteration failed")

    assert len(stream.getvalue().splitlines()) == 1
    line = lines(stream)[0]
    assert line["level"] == "error"
    assert "Traceback" in line["exc"]
    assert "ValueError: the disk is on fire" in line["exc"]
