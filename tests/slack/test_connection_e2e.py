"""The Slack connection: the Socket Mode watchdog replaces a socket that died quietly, /healthz reports it,
Web API errors are counted, and an event delivered twice is handled once."""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Any

import aiohttp

from tests.slack.support import jobs, running_slack, slack_face, slack_world


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def _healthz(port: int) -> tuple[int, dict[str, Any]]:
    async with aiohttp.ClientSession() as session, session.get(f"http://127.0.0.1:{port}/healthz") as response:
        return response.status, await response.json()


async def test_a_frozen_socket_is_replaced_and_commands_work_after(tmp_path: Path) -> None:
    port = free_port()
    async with slack_world(tmp_path) as w, running_slack(w, {"VEO_HTTP_PORT": str(port)}) as process:
        status, body = await _healthz(port)
        assert status == 200 and body["checks"]["slack"] == "ok"
        w.slack.freeze_socket()  # no pongs, nothing delivered: the TCP connection stays open
        await w.slack.wait_connected(count=2, timeout=10)
        connection = slack_face(process).socket
        assert connection is not None
        await w.slack.wait_for(lambda: connection.reconnects >= 1, timeout=5)
        assert process.runtime.metrics.registry.sample("veo_slack_socket_reconnects_total") == connection.reconnects
        await w.veo("a fox after the reconnect")
        assert "Job #1" in await w.answer()
        assert len(await jobs(process)) == 1
        status, body = await _healthz(port)
        assert status == 200 and body["checks"]["slack"] == "ok"


async def test_a_dropped_tcp_connection_is_replaced(tmp_path: Path) -> None:
    async with slack_world(tmp_path) as w, running_slack(w) as process:
        w.slack.drop_socket()
        await w.slack.wait_connected(count=2, timeout=10)
        await w.veo("a fox after the drop")
        assert "Job #1" in await w.answer()
        assert slack_face(process).socket is not None


async def test_health_says_when_the_socket_is_silent_or_closed(tmp_path: Path) -> None:
    async with slack_world(tmp_path) as w, running_slack(w) as process:
        connection = slack_face(process).socket
        assert connection is not None and connection.problem() is None
        real_clock = connection.clock
        connection.clock = lambda: real_clock() + 60  # a minute without a message or an answered ping
        assert "silent for" in str(connection.problem())
        connection.clock = real_clock
        assert connection.problem() is None
        assert connection.client.current_session is not None
        await connection.client.current_session.close()
        assert connection.problem() == "Slack Socket Mode is not connected"
        await w.slack.wait_connected(count=2, timeout=10)
        await w.slack.wait_for(lambda: connection.problem() is None, timeout=5)


async def test_web_api_errors_are_counted_by_method_and_error(tmp_path: Path) -> None:
    async with slack_world(tmp_path) as w, running_slack(w) as process:
        w.slack.inject("conversations.info", error="internal_error")
        await w.veo("a fox")
        await w.answer()
        sample = process.runtime.metrics.registry.sample(
            "veo_slack_api_errors_total", method="conversations.info", error="internal_error")
        assert sample == 1
        assert await jobs(process) == []


async def test_an_event_delivered_twice_is_handled_once(tmp_path: Path) -> None:
    async with slack_world(tmp_path) as w, running_slack(w) as process:
        payload = {"token": "t", "team_id": w.slack.team.id, "api_app_id": w.slack.state.app_id,
                   "type": "event_callback", "event_id": "Ev0DUPLICATE", "event_time": 1,
                   "event": {"type": "app_mention", "user": w.member.id, "channel": w.channel.id,
                             "text": f"<@{w.slack.team.bot_user_id}> help", "ts": "1.000001"}}
        await w.slack.send_envelope("events_api", payload)
        await w.slack.send_envelope("events_api", payload)  # Slack's retry of the same event
        answer = await w.answer()
        assert "Use /veo followed by a prompt" in answer
        await w.slack.send_envelope("events_api", {**payload, "event_id": "Ev0OTHER"})
        await w.answer(count=2)
        assert len(w.slack.ephemerals(w.member)) == 2
        assert slack_face(process).seen_events.dropped == 1
