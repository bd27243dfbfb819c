"""Asking for a video from Slack, whichever way it came (``/veo <prompt>`` or the form): the channel usable
by the bot, the workspace's rules, the member's choices, the images downloaded, the job created through
``JobService``, and the private answer with the job's number and a link to its status message."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.display import state_line
from bot.i18n import Locale, tr
from bot.jobs.errors import NotAllowed
from bot.jobs.policy import Policy
from bot.jobs.preferences import RequestChoices
from bot.jobs.provider import ImageInput
from bot.jobs.records import Job, NewJob, Workspace
from bot.jobs.service import JobService
from slack.files import FileDownloader, FormFile
from slack.ids import PLATFORM
from slack.members import Members

log = logging.getLogger(__name__)

# Refusals of conversations.info / conversations.join that mean "the bot cannot see or enter this channel".
NOT_VISIBLE = {"channel_not_found", "not_in_channel", "method_not_supported_for_channel_type", "is_archived"}


@dataclass(frozen=True, slots=True)
class Asker:
    """Who asks, and where: the workspace (team), the channel and the member."""

    team_id: str
    channel_id: str
    user_id: str

    @property
    def workspace(self) -> Workspace:
        """The Slack workspace, as the job core names it."""
        return Workspace(PLATFORM, self.team_id)


class VideoRequests:
    """Turns a member's request into a job, or a refusal that says what to do."""

    def __init__(self, service: JobService, client: AsyncWebClient, members: Members, downloader: FileDownloader,
                 *, join_channels: bool) -> None:
        self.service = service
        self.client = client
        self.members = members
        self.downloader = downloader
        self.join_channels = join_channels

    async def rules(self, asker: Asker, model: str | None = None) -> Policy:
        """The workspace's rules for this member in this channel (allowed channels and groups, models)."""
        policy = await self.service.policy(asker.workspace)
        groups: list[str] = []
        for group in policy.allowed_roles or ():
            if asker.user_id in await self.members.group_members(group):
                groups.append(group)
        return await self.service.check_request(asker.workspace, asker.channel_id, groups, model)

    async def choices(self, asker: Asker, policy: Policy, *, model: str | None = None,
                      orientation: str | None = None) -> RequestChoices:
        """The model and orientation given, else the member's preferences, else the workspace's defaults."""
        return await self.service.request_choices(asker.workspace, asker.user_id, policy, model=model,
                                                  orientation=orientation)

    async def ensure_channel(self, channel_id: str) -> None:
        """Refuse (``NotAllowed``, with what to do) a channel the bot cannot post in; join a public one when
        ``SLACK_JOIN_CHANNELS`` allows it."""
        invite = NotAllowed("I'm not in this channel, so I can't post your video here. Invite me with "
                            "`/invite @veo` (or use /veo in a channel I'm in).")
        try:
            info = (await self.client.conversations_info(channel=channel_id)).get("channel") or {}
        except SlackApiError as exc:
            if exc.response.get("error") in NOT_VISIBLE:
                raise invite from None
            raise
        if info.get("is_member") or info.get("is_im"):
            return
        if info.get("is_archived"):
            raise NotAllowed("This channel is archived. Use /veo in another channel.")
        if not self.join_channels or info.get("is_private") or not info.get("is_channel", True):
            raise invite
        try:
            await self.client.conversations_join(channel=channel_id)
        except SlackApiError as exc:
            if exc.response.get("error") in NOT_VISIBLE | {"missing_scope"}:
                raise invite from None
            raise
        log.info("joined channel %s to post a job's status there", channel_id)

    async def create(self, asker: Asker, prompt: str, choices: RequestChoices, policy: Policy, *,
                     locale: str | None, files: Sequence[FormFile] = ()) -> Job:
        """Download the images (each checked), then create the job; nothing is stored when anything fails."""
        images: list[ImageInput] = [await self.downloader.image(file) for file in files]
        return await self.service.create_job(
            NewJob(platform=PLATFORM, workspace_id=asker.team_id, channel_id=asker.channel_id,
                   user_id=asker.user_id, prompt=prompt, model=choices.model, orientation=choices.orientation,
                   locale=locale, dm_when_ready=choices.dm_when_ready),
            images, policy=policy)

    async def permalink(self, job: Job) -> str | None:
        """A link to the job's status message, when it is posted and Slack gives one."""
        if job.status_message_id is None:
            return None
        try:
            response = await self.client.chat_getPermalink(channel=job.channel_id, message_ts=job.status_message_id)
        except SlackApiError:
            return None
        link = response.get("permalink")
        return link if isinstance(link, str) else None

    async def answer(self, job: Job, locale: Locale | None, *, dropped_model: str | None = None) -> str:
        """The private answer to a request: the job's number and state, and where to follow it."""
        view = await self.service.status_view(job)
        link = await self.permalink(job)
        where = tr("Follow it here: {link}", locale, link=f"<{link}>") if link else tr(
            "Its status will appear in this channel.", locale)
        lines = [tr("Job #{job}: {state}.", locale, job=job.id, state=state_line(job, view.position, locale))
                 + f" {where}",
                 tr("I'll post the video in this channel and mention you when it's ready.", locale)]
        if job.dm_when_ready:
            lines[-1] += " " + tr("You'll get a direct message too.", locale)
        if view.paused:
            lines.append(tr("⏸️ Waiting: the server's moderators paused video jobs", locale))
        if dropped_model is not None:
            lines.insert(0, tr("Your preferred model `{model}` is no longer allowed in this server, so this video "
                               "uses `{default}`. I removed it from your preferences: /veo-prefer sets another.",
                               locale, model=dropped_model, default=job.model))
        return "\n".join(lines)

    async def after_create(self, asker: Asker, job: Job, choices: RequestChoices, locale: Locale | None) -> str:
        """Clear a preferred model the workspace no longer allows (said once), and answer."""
        dropped = await self.service.drop_unavailable_model(asker.workspace, asker.user_id, choices)
        return await self.answer(job, locale, dropped_model=choices.unavailable_model if dropped else None)
