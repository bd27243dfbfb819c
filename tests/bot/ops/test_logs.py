"""Logging: secrets are redacted from messages, arguments and tracebacks."""

from __future__ import annotations

import logging

import pytest

from bot.ops.logs import RedactSecrets


def test_secrets_are_redacted_everywhere(caplog: pytest.LogCaptureFixture) -> None:
    logger = logging.getLogger("test.redact")
    handler_filter = RedactSecrets(["sk-very-secret-key", "discord.token.value"])
    caplog.handler.addFilter(handler_filter)
    logger.warning("key is %s", "sk-very-secret-key")
    try:
        raise RuntimeError("bad token discord.token.value")
    except RuntimeError:
        logger.exception("failed")
    text = caplog.text
    assert "sk-very-secret-key" not in text and "discord.token.value" not in text
    assert text.count("***") >= 2
    assert "key is ***" in text
