"""JSON-lines logs (VEO_LOG_FORMAT=json): one object per line, the job number as a field, secrets redacted."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator

import pytest

from bot.ops.logs import configure_logging


@pytest.fixture
def restore_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    for handler in list(root.handlers):
        root.removeHandler(handler)
    for handler in handlers:
        root.addHandler(handler)
    root.setLevel(level)


def test_json_lines_carry_level_logger_message_job_and_exception(
    restore_logging: None, capsys: pytest.CaptureFixture[str]
) -> None:
    configure_logging("INFO", ["sk-very-secret-key"], "json")
    log = logging.getLogger("bot.jobs.worker")
    log.info("job=%s delivered message=%s", 12, 99)
    log.debug("not shown at INFO")
    try:
        raise RuntimeError("upstream said sk-very-secret-key")
    except RuntimeError:
        log.exception("job=%s step failed: key %s", 7, "sk-very-secret-key")
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2
    first, second = (json.loads(line) for line in lines)
    assert first["level"] == "INFO" and first["logger"] == "bot.jobs.worker"
    assert first["message"] == "job=12 delivered message=99" and first["job"] == 12
    assert first["time"].endswith("+00:00")
    assert second["level"] == "ERROR" and second["job"] == 7 and second["message"] == "job=7 step failed: key ***"
    assert "RuntimeError: upstream said ***" in second["exception"]
    assert "sk-very-secret-key" not in "\n".join(lines)


def test_text_stays_the_default(restore_logging: None, capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging("INFO")
    logging.getLogger("bot.jobs.service").info("job=%s created", 3)
    out = capsys.readouterr().out
    assert " INFO bot.jobs.service: job=3 created" in out and not out.startswith("{")
