"""The bot's event loop: uvloop when installed, asyncio's own otherwise; both run the same coroutine."""

from __future__ import annotations

import asyncio
import builtins
import sys
from typing import Any

import pytest

from bot.ops import event_loop


async def _which() -> str:
    await asyncio.sleep(0)
    return event_loop.loop_name(asyncio.get_running_loop())


@pytest.mark.skipif(sys.platform == "win32", reason="uvloop is not installed on Windows")
def test_the_bot_runs_on_uvloop_where_it_is_installed() -> None:
    assert event_loop.run(_which()) == "uvloop"


def test_without_uvloop_it_falls_back_to_asyncio(monkeypatch: pytest.MonkeyPatch) -> None:
    real_import = builtins.__import__

    def no_uvloop(name: str, *args: Any, **kwargs: Any) -> Any:
        if name == "uvloop":
            raise ImportError("not installed")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_uvloop)
    assert event_loop.loop_factory() is None
    assert event_loop.run(_which()) == "asyncio"
