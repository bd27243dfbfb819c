"""``/veo-queue`` (moderators) and ``/veo-admin`` (admins) in Slack: the workspace's queue, limits, allowed
channels, groups and models, moderator groups, pause and resume, the audit log and usage; each checked when the
command runs and recorded in the audit log (``WorkspaceAdmin``)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from slack_bolt.app.async_app import AsyncApp

from bot.display import age, state_line
from bot.i18n import tr
from bot.jobs.admin import PERIODS, SETTING_LABELS, WorkspaceAdmin
from bot.jobs.errors import InvalidInput
from bot.jobs.policy import OVERRIDABLE
from bot.jobs.service import JobService
from slack.asking import Asker
from slack.commands import SlackCommands
from slack.replies import escape
from slack.roles import Roles, channel_id, group_id

LISTS = {"channel": "allowed_channels", "group": "allowed_roles", "model": "allowed_models"}
MAX_LINES = 25


class AdminCommands:
    """The listeners of ``/veo-queue`` and ``/veo-admin``."""

    def __init__(self, service: JobService, admin: WorkspaceAdmin, roles: Roles, commands: SlackCommands, *,
                 clock: Callable[[], float] = time.time) -> None:
        self.service = service
        self.admin = admin
        self.roles = roles
        self.commands = commands
        self.clock = clock

    def register(self, app: AsyncApp) -> None:
        """Add the listeners to the app."""
        app.command("/veo-queue")(self.veo_queue)
        app.command("/veo-admin")(self.veo_admin)

    async def veo_queue(self, ack: Any, command: dict[str, Any], respond: Any) -> None:
        """``/veo-queue``: the workspace's jobs in flight, for moderators."""
        await ack()
        asker = Asker(command["team_id"], command["channel_id"], command["user_id"])
        locale = (await self.commands.members.get(asker.user_id)).locale

        async def work() -> str:
            await self.roles.require_moderator(asker.workspace, asker.user_id)
            overview = await self.service.workspace_overview(asker.workspace)
            now = self.clock()
            lines = [tr("Video queue: {count} job(s) in flight.", locale, count=len(overview.in_flight))]
            if overview.paused:
                lines.append(tr("⏸️ Waiting: the server's moderators paused video jobs", locale))
            for position, job in enumerate(overview.in_flight[:MAX_LINES], start=1):
                lines.append(f"#{job.id} · {state_line(job, position, locale)} · <@{job.user_id}> · "
                             f"{escape(job.model)} · {age(now - job.created_at, locale)}")
            if overview.recent_failures:
                lines.append(tr("Failed in the last 24 hours: {count}.", locale, count=len(overview.recent_failures)))
            return "\n".join(lines)

        await self.commands.answering(self.commands.responder(respond), locale, work)

    async def veo_admin(self, ack: Any, command: dict[str, Any], respond: Any) -> None:
        """``/veo-admin <subcommand> …``: the workspace's settings, for admins."""
        await ack()
        asker = Asker(command["team_id"], command["channel_id"], command["user_id"])
        locale = (await self.commands.members.get(asker.user_id)).locale
        words = str(command.get("text") or "").split()

        async def work() -> str:
            await self.roles.require_admin(asker.user_id)
            return await self._run(asker, words, locale)

        await self.commands.answering(self.commands.responder(respond), locale, work)

    async def _run(self, asker: Asker, words: list[str], locale: str | None) -> str:
        workspace, actor = asker.workspace, asker.user_id
        sub, args = (words[0].lower(), words[1:]) if words else ("settings", [])
        if sub == "settings":
            return await self._settings(asker, locale)
        if sub == "limit" and len(args) == 2 and args[0] in SETTING_LABELS and not args[0].startswith("allowed_"):
            try:
                value = float(args[1])
            except ValueError:
                raise InvalidInput("{name}: give a number from {low} to {high}.",
                                   params={"name": args[0], "low": 0, "high": 100_000}) from None
            await self.admin.set_number(workspace, actor, args[0], value)
            return tr("Saved: {name} = {value}.", locale, name=args[0], value=f"{value:g}")
        if sub == "reset" and len(args) == 1 and args[0] in OVERRIDABLE:
            await self.admin.reset(workspace, actor, args[0])
            return tr("{name} is back to the bot's default.", locale, name=args[0])
        if sub in LISTS and args and args[0] in ("add", "remove", "clear"):
            item = None
            if args[0] != "clear":
                if len(args) != 2:
                    raise InvalidInput("Say which one to add or remove.")
                item = channel_id(args[1]) if sub == "channel" else group_id(args[1]) if sub == "group" else args[1]
            await self.admin.change_list(workspace, actor, LISTS[sub], args[0], item)
            return tr("Saved.", locale) + "\n" + await self._settings(asker, locale)
        if sub == "moderators":
            return await self._moderators(asker, args, locale)
        if sub == "pause":
            await self.admin.pause(workspace, actor, " ".join(args) or None)
            return tr("Paused: new jobs wait until /veo-admin resume.", locale)
        if sub == "resume" and not args:
            await self.admin.resume(workspace, actor)
            return tr("Resumed: waiting jobs start again.", locale)
        if sub == "audit" and not args:
            entries = await self.admin.audit(workspace)
            if not entries:
                return tr("Nothing in the audit log yet.", locale)
            return "\n".join(f"<!date^{int(e.at)}^{{date_short}} {{time}}|{int(e.at)}> <@{e.actor_id}> "
                             f"{escape(e.action)}: {escape(e.details)}" for e in entries[:MAX_LINES])
        if sub == "usage" and len(args) <= 1 and (not args or args[0] in PERIODS):
            report = await self.admin.usage(workspace, args[0] if args else "today")
            lines = [tr("Usage ({period}): {jobs} job(s), {seconds} s, about ${cost}.", locale, period=report.period,
                        jobs=report.total.jobs, seconds=f"{report.total.seconds:g}",
                        cost=f"{report.total.cost:.2f}")]
            lines += [f"<@{u.key}>: {u.jobs} · {u.seconds:g} s · ${u.cost:.2f}" for u in report.by_user[:MAX_LINES]]
            return "\n".join(lines)
        raise InvalidInput("Use: /veo-admin settings | limit <name> <number> | reset <name> | channel add|remove "
                           "#channel | group add|remove @group | model add|remove <model> | moderators add|remove "
                           "@group | pause [reason] | resume | audit | usage [today|7d|30d|all]")

    async def _moderators(self, asker: Asker, args: list[str], locale: str | None) -> str:
        groups = await self.roles.moderator_groups(asker.workspace)
        if args and args[0] in ("add", "remove") and len(args) == 2:
            group = group_id(args[1])
            if args[0] == "add":
                groups = tuple(dict.fromkeys([*groups, group]))
            elif group in groups:
                groups = tuple(g for g in groups if g != group)
            else:
                raise InvalidInput("That one is not on the list.")
            await self.roles.set_moderator_groups(asker.workspace, groups)
            await self.service.audit(asker.workspace, asker.user_id, f"moderators {args[0]}", f"group: {group}")
        elif args:
            raise InvalidInput("Say which one to add or remove.")
        shown = ", ".join(f"<!subteam^{g}>" for g in groups) or tr("none", locale)
        return tr("Moderator groups: {groups}.", locale, groups=shown)

    async def _settings(self, asker: Asker, locale: str | None) -> str:
        _, policy = await self.admin.settings(asker.workspace)
        channels = ", ".join(f"<#{c}>" for c in policy.allowed_channels or ()) or tr("any", locale)
        groups = ", ".join(f"<!subteam^{g}>" for g in policy.allowed_roles or ()) or tr("anyone", locale)
        lines = [
            tr("Channels: {channels}", locale, channels=channels),
            tr("Groups that may use /veo: {groups}", locale, groups=groups),
            tr("Models: {models}", locale, models=", ".join(escape(m) for m in policy.models)),
        ]
        for name in ("max_active_per_user", "max_active_per_guild", "max_queued", "daily_quota_per_user",
                     "daily_quota_per_guild", "cooldown_seconds"):
            lines.append(f"`{name}` = {getattr(policy, name):g} ({tr(SETTING_LABELS[name], locale)})")
        if policy.paused:
            lines.append(tr("⏸️ Waiting: the server's moderators paused video jobs", locale))
        return "\n".join(lines)
