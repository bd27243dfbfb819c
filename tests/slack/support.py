"""The real Slack face (Bolt app, job core, SQLite) in one process against the fake Slack and the fake
CometAPI."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bot.config import load_settings
from bot.jobs.records import Job, Workspace
from bot.serve import Process
from slack.app import SlackFace
from tests.fakes.comet.api import FakeCometAPI
from tests.fakes.slack.models import FakeChannel, FakeUser
from tests.fakes.slack.server import FakeSlack
from tests.support.e2e import FAST_CORE, FAST_RETRY

PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(200))


@dataclass
class SlackWorld:
    """One fake Slack workspace (a channel, a member, an admin) and one fake CometAPI."""

    slack: FakeSlack
    api: FakeCometAPI
    channel: FakeChannel
    member: FakeUser
    admin: FakeUser
    tmp_path: Path

    def env(self, **extra: str) -> dict[str, str]:
        """Settings that point the Slack face at the fakes."""
        return {
            "VEO_FRONTENDS": "slack",
            "SLACK_BOT_TOKEN": self.slack.bot_token,
            "SLACK_APP_TOKEN": self.slack.app_token,
            "SLACK_API_BASE_URL": self.slack.api_url,
            "SLACK_SOCKET_TIMEOUT": "2",
            "DATABASE_URL": f"sqlite:///{self.tmp_path / 'veo.sqlite3'}",
            "VEO_DATA_DIR": str(self.tmp_path / "data"),
            "VEO_POLL_INTERVAL": "0.05",
            "COMETAPI_KEY": self.api.api_key,
            "COMETAPI_BASE_URL": self.api.base_url,
            "VEO_ALLOW_HTTP_DOWNLOADS": "true",
            **extra,
        }

    @property
    def workspace(self) -> Workspace:
        """The fake workspace as the job core names it."""
        return Workspace("slack", self.slack.team.id)

    async def veo(self, text: str, *, user: FakeUser | None = None, channel: FakeChannel | None = None) -> Any:
        """``/veo text`` typed by the member (by default) in the channel (by default)."""
        return await self.slack.slash_command("/veo", text, channel=channel or self.channel, user=user or self.member)

    async def answer(self, user: FakeUser | None = None, count: int = 1) -> str:
        """The member's ``count``-th private answer, once it has come."""
        who = user or self.member
        found = await self.slack.wait_for(lambda: len(self.slack.ephemerals(who)) >= count or None, timeout=10)
        assert found
        return self.slack.ephemerals(who)[count - 1].text


@asynccontextmanager
async def slack_world(tmp_path: Path, **fake_options: Any) -> AsyncIterator[SlackWorld]:
    """Start the fake Slack (a workspace, #videos, a member and an admin) and the fake CometAPI."""
    async with FakeSlack(**{"ack_timeout": 3.0, **fake_options}) as slack, FakeCometAPI() as api:
        slack.team.scopes.add("app_mentions:read")  # the manifest's events (the fake's defaults lack it)
        member = slack.add_user("ana", locale="en-US")
        admin = slack.add_user("boss", is_admin=True, locale="en-US")
        channel = slack.add_channel("videos", members=(member, admin))
        yield SlackWorld(slack, api, channel, member, admin, tmp_path)


def slack_face(process: Process) -> SlackFace:
    """The process's Slack face."""
    [face] = [f for f in process.faces if isinstance(f, SlackFace)]
    return face


async def jobs(process: Process) -> list[Job]:
    """Every job in the process's store, by number."""
    found = []
    number = 1
    while (job := await process.runtime.store.get_job(number)) is not None:
        found.append(job)
        number += 1
    return found


@asynccontextmanager
async def running_slack(w: SlackWorld, env: dict[str, str] | None = None, **core: Any) -> AsyncIterator[Process]:
    """The process with the Slack face, started and connected over Socket Mode; closed on exit."""
    settings = load_settings(w.env(**(env or {})))
    process = await Process.open(settings, retry=FAST_RETRY, **{**FAST_CORE, **core})
    try:
        await process.start()
        if settings.slack_mode == "socket":
            await w.slack.wait_connected()
        yield process
    finally:
        await process.close()
