"""The wake-up listener when no server answers: it never raises, tries again with a doubling back-off up to its
cap, and never logs the password."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import socket

import pytest

from db.postgres.wakeups import WakeupListener

PASSWORD = "listener-pa55"


async def test_an_unreachable_server_is_retried_with_back_off_and_never_raises(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # nobody listens here once the socket closes
    listener = WakeupListener(f"postgresql://veo:{PASSWORD}@127.0.0.1:{port}/veo", backoff=0.01, backoff_cap=0.04)
    woken: list[None] = []
    caplog.set_level(logging.WARNING, logger="db.postgres.wakeups")
    task = asyncio.create_task(listener.run(lambda: woken.append(None)))
    for _ in range(500):
        if len(caplog.records) >= 5:
            break
        await asyncio.sleep(0.01)
    assert not task.done()  # still trying
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    delays = [float(m.group(1)) for r in caplog.records
              if (m := re.search(r"trying again in ([0-9.]+) s", r.getMessage()))]
    assert delays[:4] == [0.01, 0.02, 0.04, 0.04]  # doubling, then the cap
    assert woken == [] and listener.connections == 0
    assert "postgresql://veo:***@127.0.0.1" in caplog.text and PASSWORD not in caplog.text
