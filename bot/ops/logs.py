"""Logging set up in one place: to stdout, one line per event, secrets redacted as a last line of defence."""

from __future__ import annotations

import datetime
import json
import logging
import re
import sys
from collections.abc import Iterable

FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
_JOB = re.compile(r"\bjob=(\d+)")


class RedactSecrets(logging.Filter):
    """Replaces any secret value that reaches a log record (message, arguments, traceback) with ``***``."""

    def __init__(self, secrets: Iterable[str]) -> None:
        super().__init__()
        self._secrets = [s for s in secrets if len(s) >= 6]

    def _clean(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, "***")
        return text

    def filter(self, record: logging.LogRecord) -> bool:
        if not self._secrets:
            return True
        message = record.getMessage()
        cleaned = self._clean(message)
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self._clean(record.exc_text)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True


class JsonLinesFormatter(logging.Formatter):
    """One JSON object per line (time, level, logger, message, job, exception) for log shippers."""

    def format(self, record: logging.LogRecord) -> str:
        message = record.getMessage()
        entry: dict[str, object] = {
            "time": datetime.datetime.fromtimestamp(record.created, tz=datetime.UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": message,
        }
        job = _JOB.search(message)
        if job:
            entry["job"] = int(job.group(1))
        # The redaction filter has already cleaned ``exc_text``; formatting ``exc_info`` again would undo that.
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            entry["exception"] = record.exc_text
        if record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        return json.dumps(entry, ensure_ascii=False, default=str)


def configure_logging(level: str = "INFO", secrets: Iterable[str] = (), fmt: str = "text") -> None:
    """Send every log line to stdout at ``level`` as text or JSON lines (``fmt``), with secrets redacted."""
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(JsonLinesFormatter() if fmt == "json" else logging.Formatter(FORMAT))
    handler.addFilter(RedactSecrets(secrets))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    # discord.py's own INFO lines are useful (gateway state); its DEBUG lines would include payloads.
    logging.getLogger("discord").setLevel(max(logging.INFO, logging.getLevelName(level)))
