"""The buttons under result and failure messages: Regenerate and Delete, working after any restart.

Their action ids name the job (``veo:regen:12``, ``veo:delete:12``), so any process running the Slack face
answers them, whenever they are clicked; nothing about them is kept in memory. Regenerate queues the same
video again as a job of whoever clicks (their limits, their channel rules); Delete removes the result, for its
requester or a moderator (recorded in the audit log when it is not the requester).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable, Collection, Mapping
from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_bolt.context.ack.async_ack import AsyncAck
from slack_bolt.context.respond.async_respond import AsyncRespond
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.i18n import tr
from bot.jobs.errors import ChannelList, NotAllowed, NotFound, UserFacingError, msg
from bot.jobs.records import NewJob, Workspace
from bot.jobs.service import JobService
from slack.escape import escape
from slack.ids import PLATFORM
from slack.web_api import error_code

log = logging.getLogger(__name__)

REGENERATE = re.compile(r"^veo:regen:(?P<job>\d{1,18})$")
DELETE = re.compile(r"^veo:delete:(?P<job>\d{1,18})$")
GENERIC = msg("Something went wrong; it has been logged.")

# A member's user groups in a workspace (what a workspace's group allow-list checks), whether they moderate,
# and their locale: the Slack face knows them (``users.info``, ``usergroups.users.list``).
MemberGroups = Callable[[str, str], Awaitable[Collection[str]]]
IsModerator = Callable[[str, str], Awaitable[bool]]
LocaleOf = Callable[[str, str], Awaitable[str | None]]


async def _no_groups(team: str, user: str) -> Collection[str]:
    return ()


async def _not_a_moderator(team: str, user: str) -> bool:
    return False


def user_text(error: UserFacingError, locale: str | None) -> str:
    """An expected error's message in the member's language; channels as Slack channel links."""
    params = {name: ", ".join(f"<#{c}>" for c in value.ids) if isinstance(value, ChannelList) else escape(str(value))
              for name, value in error.params.items()}
    return tr(error.template, locale, **params)


class _Click:
    """What a button click tells: who clicked where, on which message, for which job."""

    def __init__(self, body: Mapping[str, Any], pattern: re.Pattern[str]) -> None:
        actions = body.get("actions") or [{}]
        match = pattern.match(str(actions[0].get("action_id", "")))
        team = (body.get("team") or {}).get("id")
        user = (body.get("user") or {}).get("id")
        channel = (body.get("channel") or {}).get("id") or (body.get("container") or {}).get("channel_id")
        if match is None or not (isinstance(team, str) and isinstance(user, str) and isinstance(channel, str)):
            raise ValueError("a button click without its job, workspace, member or channel")
        self.job_id = int(match["job"])
        self.team, self.user, self.channel = team, user, channel
        self.message: Mapping[str, Any] = body.get("message") or {}
        self.workspace = Workspace(PLATFORM, team)


def register_result_actions(app: AsyncApp, service: JobService, *, member_groups: MemberGroups = _no_groups,
                            is_moderator: IsModerator = _not_a_moderator, locale_of: LocaleOf | None = None) -> None:
    """Answer the Regenerate and Delete buttons of every result the notifier posted (``slack.messages``)."""

    async def locale(client: AsyncWebClient, team: str, user: str) -> str | None:
        if locale_of is not None:
            return await locale_of(team, user)
        try:
            answer = await client.users_info(user=user, include_locale=True)
        except SlackApiError as exc:
            log.info("no locale for user=%s (%s)", user, error_code(exc))
            return None
        found = (answer.get("user") or {}).get("locale")
        return found if isinstance(found, str) else None

    async def answer(respond: AsyncRespond, text: str) -> None:
        try:
            await respond(text=text, response_type="ephemeral", replace_original=False)
        except Exception:
            log.exception("could not answer a button click")

    async def regenerate(ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient,
                         respond: AsyncRespond) -> None:
        await ack()
        loc: str | None = None
        try:
            click = _Click(body, REGENERATE)
            loc = await locale(client, click.team, click.user)
            original = await service.find_job(str(click.job_id), click.workspace)
            if original is None:
                raise NotFound("That job no longer exists.")
            if original.image_count:
                raise NotAllowed("This video started from images, which are not kept after a job is sent. "
                                 "Run /veo again with the images attached.")
            policy = await service.check_request(click.workspace, click.channel,
                                                 await member_groups(click.team, click.user), original.model)
            clicker = await service.preferences(click.workspace, click.user)
            job = await service.create_job(
                NewJob(platform=PLATFORM, workspace_id=click.team, channel_id=click.channel, user_id=click.user,
                       prompt=original.prompt, model=original.model, orientation=original.orientation, locale=loc,
                       dm_when_ready=clicker.dm_when_ready),
                policy=policy)
            await answer(respond, tr("Queued job #{job}, a new take of job #{original}.", loc, job=job.id,
                                     original=original.id))
        except UserFacingError as error:
            await answer(respond, user_text(error, loc))
        except Exception:
            log.exception("regenerate failed")
            await answer(respond, tr(GENERIC, loc))

    async def delete(ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient, respond: AsyncRespond) -> None:
        await ack()
        loc: str | None = None
        try:
            click = _Click(body, DELETE)
            loc = await locale(client, click.team, click.user)
            job = await service.find_job(str(click.job_id), click.workspace)
            owner = job.user_id if job is not None else None
            if click.user != owner and not await is_moderator(click.team, click.user):
                raise NotAllowed("Only the member who asked for this video, or a moderator, can delete it.")
            await _delete_message(client, click)
            if click.user != owner:
                await service.audit(click.workspace, click.user, "delete result", f"job #{click.job_id}",
                                    job_id=click.job_id)
            log.info("job=%s result message deleted by user=%s", click.job_id, click.user)
        except UserFacingError as error:
            await answer(respond, user_text(error, loc))
        except Exception:
            log.exception("delete failed")
            await answer(respond, tr(GENERIC, loc))

    app.action(REGENERATE)(regenerate)
    app.action(DELETE)(delete)


async def _delete_message(client: AsyncWebClient, click: _Click) -> None:
    """Delete the result: its video file (which takes the file's messages with it) and the message itself."""
    files = click.message.get("files")
    for file in files if isinstance(files, list) else []:
        if isinstance(file, Mapping) and isinstance(file.get("id"), str):
            await client.files_delete(file=file["id"])
    ts = click.message.get("ts")
    if isinstance(ts, str):
        try:
            await client.chat_delete(channel=click.channel, ts=ts)
        except SlackApiError as exc:
            if error_code(exc) != "message_not_found":  # gone with its file
                raise
