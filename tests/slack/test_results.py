"""Regenerate and Delete under results, through the real Bolt app over Socket Mode, also after a restart."""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import AsyncIterator
from pathlib import Path

from slack_bolt.adapter.socket_mode.aiohttp import AsyncSocketModeHandler
from slack_bolt.app.async_app import AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

from bot.i18n import catalogue
from bot.jobs.policy import WorkspaceSettings
from bot.jobs.records import JobStatus, Workspace
from bot.jobs.service import JobService
from slack.results import register_result_actions
from tests.fakes.comet.api import TaskScript
from tests.fakes.slack.models import FakeUser
from tests.slack.rig import SlackCore, SlackWorld, slack_world, start_core


@contextlib.asynccontextmanager
async def bolt_app(w: SlackWorld, service: JobService, moderators: frozenset[str] = frozenset()
                   ) -> AsyncIterator[None]:
    """A Bolt app with the result buttons registered, connected to the fake over Socket Mode."""
    client = AsyncWebClient(token=w.slack.bot_token, base_url=w.slack.api_url)

    async def is_moderator(team: str, user: str) -> bool:
        return user in moderators

    app = AsyncApp(client=client, token=w.slack.bot_token)
    register_result_actions(app, service, is_moderator=is_moderator)
    handler = AsyncSocketModeHandler(app, w.slack.app_token, ping_interval=0.5)
    await handler.connect_async()
    await w.slack.wait_connected()
    try:
        yield
    finally:
        await handler.close_async()
        if client.session is not None:
            await client.session.close()


async def delivered(w: SlackWorld, core: SlackCore, **changes: object) -> int:
    w.api.default_script = TaskScript(polls_until_done=0)
    job = await core.service.create_job(dataclasses.replace(w.request(), **changes))
    await core.until(job.id, JobStatus.DELIVERED)
    return job.id


def answers(w: SlackWorld, user: FakeUser) -> list[str]:
    return [e.text for e in w.slack.ephemerals(user)]


async def test_regenerate_queues_the_same_video_for_whoever_clicks(tmp_path: Path) -> None:
    async with slack_world(tmp_path) as w:
        core = await start_core(w)
        first = await delivered(w, core)
        other = w.slack.add_user("other", channels=(w.channel,), locale="ko-KR")
        async with bolt_app(w, core.service):
            [video] = w.videos()
            await w.slack.click(video, f"veo:regen:{first}", user=other)
            await w.slack.wait_for(lambda: answers(w, other))
            assert answers(w, other) == [catalogue("ko")["Queued job #{job}, a new take of job #{original}."].format(
                job=first + 1, original=first)]
            again = await core.job(first + 1)
            assert (again.prompt, again.user_id, again.locale) == ("a red fox in snow", other.id, "ko-KR")
            assert len(w.statuses()) == 2
        await core.kill()


async def test_delete_is_for_the_requester_or_a_moderator_and_works_after_a_restart(tmp_path: Path) -> None:
    async with slack_world(tmp_path) as w:
        core = await start_core(w)
        first = await delivered(w, core)
        second = await delivered(w, core)
        stranger = w.slack.add_user("stranger", channels=(w.channel,))
        moderator = w.slack.add_user("moderator", channels=(w.channel,))
        await core.kill()
        # A new process: the buttons name their job, nothing about them was kept in memory.
        core = await start_core(w)
        async with bolt_app(w, core.service, moderators=frozenset({moderator.id})):
            one, two = w.videos()
            await w.slack.click(one, f"veo:delete:{first}", user=stranger)
            await w.slack.wait_for(lambda: answers(w, stranger))
            assert answers(w, stranger) == [
                "Only the member who asked for this video, or a moderator, can delete it."]
            assert w.videos() == [one, two]
            await w.slack.click(one, f"veo:delete:{first}", user=w.member)
            await w.slack.wait_for(lambda: one.deleted)
            assert one not in w.videos()
            await w.slack.click(two, f"veo:delete:{second}", user=moderator)
            await w.slack.wait_for(lambda: two.deleted)
            assert w.videos() == []
            audit = await core.store.audit_entries(Workspace("slack", w.slack.team.id), 10)
            assert [(a.actor_id, a.action, a.job_id) for a in audit] == [(moderator.id, "delete result", second)]
            assert {f.deleted for f in w.slack.files() if f.user == w.slack.team.bot_user_id} == {True}
        await core.kill()


async def test_regenerate_refuses_what_it_cannot_do(tmp_path: Path) -> None:
    async with slack_world(tmp_path) as w:
        core = await start_core(w)
        job_id = await delivered(w, core)
        workspace = Workspace("slack", w.slack.team.id)
        async with bolt_app(w, core.service):
            [video] = w.videos()
            # The workspace's rules changed since: videos only in another channel (named as a Slack link).
            await core.store.save_workspace_settings(
                WorkspaceSettings("slack", w.slack.team.id, allowed_channels=("C0OTHER",)), actor_id="U0ADMIN",
                action="set", details="allowed_channels", now=w.clock())
            await w.slack.click(video, f"veo:regen:{job_id}", user=w.member)
            await w.slack.wait_for(lambda: answers(w, w.member))
            assert answers(w, w.member) == ["Videos can't be made in this channel. Use one of: <#C0OTHER>."]
            # A button naming a job this workspace does not have (an old message, a forged payload).
            await core.store.save_workspace_settings(WorkspaceSettings("slack", w.slack.team.id), actor_id="U0ADMIN",
                                                     action="reset", details="allowed_channels", now=w.clock())
            assert video.blocks is not None
            video.blocks[-1]["elements"][0]["action_id"] = "veo:regen:4242"
            await w.slack.click(video, "veo:regen:4242", user=w.member)
            await w.slack.wait_for(lambda: len(answers(w, w.member)) == 2)
            assert answers(w, w.member)[1] == "That job no longer exists."
            assert [j.id for j in await core.store.user_jobs(workspace, w.member.id, 10)] == [job_id]
        await core.kill()
