"""The Slack commands: ``/veo`` (a prompt makes a job at once; alone it opens the form), the form's
submission, ``/veo-status`` and ``/veo-cancel``; each acknowledged at once, then answered privately."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from slack_bolt.app.async_app import AsyncApp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.config import Settings
from bot.display import age, state_line
from bot.i18n import Locale, tr
from bot.jobs.errors import InvalidInput, NotFound, UserFacingError
from bot.jobs.records import Job
from bot.jobs.requests import clean_prompt
from bot.jobs.service import JobService
from slack.asking import Asker, VideoRequests
from slack.form import CALLBACK_ID, FormErrors, form_view, read_form
from slack.members import Members
from slack.replies import clip, error_text, escape
from slack.roles import Roles

log = logging.getLogger(__name__)

Reply = Callable[[str], Awaitable[None]]
# Slack allows 3 s to open a form after the command; the member's locale may take this long at most.
LOCALE_WAIT = 0.8
STATUS_JOBS = 10


class SlackCommands:
    """The listeners of the Slack face's commands and form, on the face's Bolt app."""

    def __init__(self, service: JobService, requests: VideoRequests, members: Members, roles: Roles,
                 client: AsyncWebClient, settings: Settings, *, clock: Callable[[], float] = time.time) -> None:
        self.service = service
        self.roles = roles
        self.requests = requests
        self.members = members
        self.client = client
        self.settings = settings
        self.clock = clock

    def register(self, app: AsyncApp) -> None:
        """Add the listeners to the app."""
        app.command("/veo")(self.veo)
        app.view(CALLBACK_ID)(self.form_submitted)
        app.command("/veo-status")(self.veo_status)
        app.command("/veo-cancel")(self.veo_cancel)
        app.event("app_mention")(self.mentioned)

    async def _locale(self, user_id: str) -> str | None:
        try:
            return (await asyncio.wait_for(self.members.get(user_id), LOCALE_WAIT)).locale
        except TimeoutError:
            return None

    async def answering(self, reply: Reply, locale: Locale | None, work: Callable[[], Awaitable[str]]) -> None:
        """Run ``work`` and reply with its text; an expected failure replies what to do, anything else a short
        apology (the details go to the log)."""
        try:
            text = await work()
        except UserFacingError as exc:
            text = error_text(exc, locale)
        except Exception:
            log.exception("a Slack command failed")
            text = tr(UserFacingError.default_message, locale)
        await reply(clip(text))

    @staticmethod
    def responder(respond: Any) -> Reply:
        async def reply(text: str) -> None:
            await respond(text=text, response_type="ephemeral")
        return reply

    async def veo(self, ack: Any, command: dict[str, Any], respond: Any) -> None:
        """``/veo <prompt>``: a text-to-video job now; ``/veo`` alone: the form."""
        await ack()
        asker = Asker(command["team_id"], command["channel_id"], command["user_id"])
        text = str(command.get("text") or "")
        if not text.strip():
            locale = await self._locale(asker.user_id)
            await self.answering(self.responder(respond), locale,
                                  lambda: self._open_form(asker, str(command.get("trigger_id") or ""), locale))
            return
        locale = (await self.members.get(asker.user_id)).locale
        await self.answering(self.responder(respond), locale, lambda: self._text_job(asker, text, locale))

    async def _text_job(self, asker: Asker, text: str, locale: str | None) -> str:
        prompt = clean_prompt(text, self.settings.max_prompt_chars)
        policy = await self.requests.rules(asker)
        choices = await self.requests.choices(asker, policy)
        await self.requests.ensure_channel(asker.channel_id)
        job = await self.requests.create(asker, prompt, choices, policy, locale=locale)
        return await self.requests.after_create(asker, job, choices, locale)

    async def _open_form(self, asker: Asker, trigger_id: str, locale: str | None) -> str:
        policy = await self.requests.rules(asker)
        choices = await self.requests.choices(asker, policy)
        models = policy.models or self.settings.models
        view = form_view(channel_id=asker.channel_id, locale=locale, prompt="", models=models,
                         model=choices.model, orientation=choices.orientation,
                         max_prompt_chars=self.settings.max_prompt_chars)
        try:
            await self.client.views_open(trigger_id=trigger_id, view=view)
        except SlackApiError as exc:
            if exc.response.get("error") in ("expired_trigger_id", "invalid_trigger_id"):
                raise InvalidInput("Slack closed the form before it opened. Run /veo again.") from None
            raise
        return ""

    async def form_submitted(self, ack: Any, body: dict[str, Any], view: dict[str, Any]) -> None:
        """The form: checked on the form (errors under each field), then acknowledged, then the job."""
        team_id = str((body.get("team") or {}).get("id") or "")
        user_id = str((body.get("user") or {}).get("id") or "")
        try:
            request = read_form(view, models=self.settings.models, max_prompt_chars=self.settings.max_prompt_chars,
                                max_image_bytes=self.settings.max_image_bytes)
        except FormErrors as exc:
            await ack(response_action="errors", errors=exc.errors)
            return
        await ack()
        asker = Asker(team_id, request.channel_id, user_id)

        async def work() -> str:
            policy = await self.requests.rules(asker, request.model)
            choices = await self.requests.choices(asker, policy, model=request.model,
                                                  orientation=request.orientation)
            await self.requests.ensure_channel(asker.channel_id)
            job = await self.requests.create(asker, request.prompt, choices, policy, locale=request.locale,
                                             files=request.files)
            return await self.requests.after_create(asker, job, choices, request.locale)

        await self.answering(self._private(asker), request.locale, work)

    def _private(self, asker: Asker) -> Reply:
        """A private answer in the channel; in the member's direct messages with the app when the bot cannot
        reach the channel (the form has no response URL)."""
        async def reply(text: str) -> None:
            if not text:
                return
            try:
                await self.client.chat_postEphemeral(channel=asker.channel_id, user=asker.user_id, text=text)
            except SlackApiError:
                await self.client.chat_postMessage(channel=asker.user_id, text=text)
        return reply

    async def veo_status(self, ack: Any, command: dict[str, Any], respond: Any) -> None:
        """``/veo-status [job]``: the member's recent jobs, or one of them in detail."""
        await ack()
        asker = Asker(command["team_id"], command["channel_id"], command["user_id"])
        locale = (await self.members.get(asker.user_id)).locale
        await self.answering(self.responder(respond), locale,
                              lambda: self._status(asker, str(command.get("text") or "").strip(), locale))

    async def _is_moderator(self, asker: Asker) -> bool:
        return await self.roles.is_moderator(asker.workspace, asker.user_id)

    async def _status(self, asker: Asker, ref: str, locale: str | None) -> str:
        now = self.clock()
        if ref:
            job = await self.service.find_job(ref, asker.workspace)
            if job is None or (job.user_id != asker.user_id and not await self._is_moderator(asker)):
                raise NotFound("No job of yours matches that number or task id. Use /veo-status to list your jobs.")
            return await self._job_detail(job, now, locale)
        jobs = await self.service.user_jobs(asker.workspace, asker.user_id, limit=STATUS_JOBS)
        if not jobs:
            return tr("You have no video jobs here yet. Use /veo to make one.", locale)
        lines = [tr("Your recent video jobs:", locale)]
        for job in jobs:
            position = await self.service.position(job)
            lines.append(self._job_line(job, now, position, locale))
        lines.append(tr("/veo-status <number> shows one job; /veo-cancel <number> stops one.", locale))
        return "\n".join(lines)

    @staticmethod
    def _job_line(job: Job, now: float, position: int, locale: str | None) -> str:
        return tr("#{job} · {state} · {model} · {age} ago", locale, job=job.id,
                  state=state_line(job, position, locale), model=escape(job.model),
                  age=age(now - job.created_at, locale))

    async def _job_detail(self, job: Job, now: float, locale: str | None) -> str:
        position = await self.service.position(job)
        lines = [self._job_line(job, now, position, locale), "> " + escape(" ".join(job.prompt.split()))[:500]]
        link = await self.requests.permalink(job)
        if link is not None:
            lines.append(tr("Status message: {link}", locale, link=f"<{link}>"))
        return "\n".join(lines)

    async def veo_cancel(self, ack: Any, command: dict[str, Any], respond: Any) -> None:
        """``/veo-cancel <job>``: stop one of the member's jobs (moderators: any job of the workspace)."""
        await ack()
        asker = Asker(command["team_id"], command["channel_id"], command["user_id"])
        locale = (await self.members.get(asker.user_id)).locale
        ref = str(command.get("text") or "").strip()

        async def work() -> str:
            if not ref:
                raise InvalidInput("Say which job to cancel, e.g. `/veo-cancel 12`.")
            job = await self.service.cancel(ref, asker.workspace, asker.user_id,
                                            is_moderator=await self._is_moderator(asker))
            return tr("Job #{job} cancelled.", locale, job=job.id)

        await self.answering(self.responder(respond), locale, work)

    async def mentioned(self, event: dict[str, Any]) -> None:
        """A mention of the bot: how to ask for a video (each event handled once, see ``slack.events``)."""
        channel, user = event.get("channel"), event.get("user")
        if not isinstance(channel, str) or not isinstance(user, str):
            return
        locale = await self._locale(user)
        text = tr("Use /veo followed by a prompt to make a video, or /veo alone to open the form.", locale)
        try:
            await self.client.chat_postEphemeral(channel=channel, user=user, text=text)
        except SlackApiError as exc:
            log.warning("could not answer a mention in %s: %s", channel, exc.response.get("error"))
