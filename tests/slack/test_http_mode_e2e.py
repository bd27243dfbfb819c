"""HTTP mode: Slack's requests on the bot's own HTTP server at /slack/events, signed; a bad or stale signature
is refused with 401 and does nothing, and an event Slack re-sends (same event id) is handled once."""

from __future__ import annotations

import json
import time
from pathlib import Path
from urllib.parse import urlencode

import aiohttp
from slack_sdk.signature import SignatureVerifier

from tests.slack.support import SlackWorld, jobs, running_slack, slack_face, slack_world
from tests.slack.test_connection_e2e import free_port

SECRET = "8f742231b10e8888abcd99yyyzzz85a5"


def _http_env(port: int) -> dict[str, str]:
    return {"SLACK_MODE": "http", "SLACK_SIGNING_SECRET": SECRET, "SLACK_APP_TOKEN": "", "VEO_HTTP_PORT": str(port)}


async def _post(port: int, body: str, content_type: str, *, secret: str = SECRET, age: float = 0.0,
                headers: dict[str, str] | None = None) -> tuple[int, str]:
    timestamp = str(int(time.time() - age))
    signature = SignatureVerifier(secret).generate_signature(timestamp=timestamp, body=body)
    sent = {"Content-Type": content_type, "X-Slack-Request-Timestamp": timestamp, "X-Slack-Signature": signature,
            **(headers or {})}
    async with aiohttp.ClientSession() as session, session.post(
            f"http://127.0.0.1:{port}/slack/events", data=body.encode(), headers=sent) as response:
        return response.status, await response.text()


def _command(w: SlackWorld, text: str) -> str:
    state = w.slack.state
    return urlencode({
        "token": "t", "team_id": w.slack.team.id, "channel_id": w.channel.id, "user_id": w.member.id,
        "command": "/veo", "text": text, "api_app_id": state.app_id, "trigger_id": "13345224609.738474920.8088",
        "response_url": state.issue_response_url(w.slack.team.id, w.channel.id, w.member.id)})


async def test_a_signed_command_makes_a_job_and_a_bad_signature_is_refused(tmp_path: Path) -> None:
    port = free_port()
    async with slack_world(tmp_path) as w, running_slack(w, _http_env(port)) as process:
        form = "application/x-www-form-urlencoded"
        assert (await _post(port, _command(w, "a forged fox"), form, secret="not-the-secret"))[0] == 401
        assert (await _post(port, _command(w, "a stale fox"), form, age=600))[0] == 401
        assert await jobs(process) == [] and len(w.slack.calls("auth.test")) == 1
        status, _ = await _post(port, _command(w, "a signed fox"), form)
        assert status == 200
        assert "Job #1" in await w.answer()
        [job] = await jobs(process)
        assert job.prompt == "a signed fox"
        assert slack_face(process).socket is None and w.slack.calls("apps.connections.open") == []


async def test_url_verification_and_an_event_retried_by_slack_is_handled_once(tmp_path: Path) -> None:
    port = free_port()
    async with slack_world(tmp_path) as w, running_slack(w, _http_env(port)) as process:
        status, text = await _post(port, json.dumps({"type": "url_verification", "challenge": "c-123",
                                                     "token": "t"}), "application/json")
        assert status == 200 and "c-123" in text
        event = json.dumps({
            "token": "t", "team_id": w.slack.team.id, "api_app_id": w.slack.state.app_id, "type": "event_callback",
            "event_id": "Ev0HTTPDUP", "event_time": 1,
            "event": {"type": "app_mention", "user": w.member.id, "channel": w.channel.id, "text": "hi",
                      "ts": "1.000002"}})
        assert (await _post(port, event, "application/json"))[0] == 200
        retried = await _post(port, event, "application/json",
                              headers={"X-Slack-Retry-Num": "1", "X-Slack-Retry-Reason": "http_timeout"})
        assert retried[0] == 200
        await w.answer()
        assert len(w.slack.ephemerals(w.member)) == 1
        assert slack_face(process).seen_events.dropped == 1
