"""``AdminCog``: /veo-admin, the server admins' controls (Manage Server, checked when each command runs)."""

from __future__ import annotations

import io
import logging
from typing import Literal

import discord
from discord import app_commands
from discord.ext import commands

from bot.i18n import tr
from bot.jobs.admin import SETTING_LABELS, UsageLine, UsageReport, WorkspaceAdmin
from bot.jobs.policy import OVERRIDABLE, AuditEntry, Policy, WorkspaceSettings
from bot.reports.render import ChartDrawer
from bot.reports.usage_series import TOP_MEMBERS, build_usage_chart
from cogs.ids import member_id, workspace_of
from cogs.limits import CHOICE_NAME, CHOICES, CONTENT, EMBED_DESCRIPTION, FIELD_VALUE, clip, fit_embed
from cogs.members import display_names
from cogs.render import Locale, clip_lines, plain

log = logging.getLogger(__name__)

NUMERIC = [name for name in SETTING_LABELS if not name.startswith("allowed_")]
NumericSetting = Literal[
    "max_active_per_user", "max_active_per_guild", "max_queued",
    "daily_quota_per_user", "daily_quota_per_guild", "cooldown_seconds",
]
AnySetting = Literal[
    "max_active_per_user", "max_active_per_guild", "max_queued", "daily_quota_per_user",
    "daily_quota_per_guild", "cooldown_seconds", "allowed_channels", "allowed_roles", "allowed_models",
]
ListAction = Literal["add", "remove", "clear"]
Period = Literal["today", "7d", "30d", "all"]
# Characters of one allow-list shown in the settings (about a dozen channels or roles), so that all nine fit.
LIST_SHOWN = 300


def settings_embed(overrides: WorkspaceSettings, policy: Policy, locale: Locale = None) -> discord.Embed:
    """Every limit in force in the guild, marking which ones the server changed."""
    loc = locale
    embed = discord.Embed(title=tr("Video settings for this server", loc), colour=discord.Colour.blurple())
    lines = []
    for name in OVERRIDABLE:
        own = getattr(overrides, name) is not None
        if name == "allowed_channels":
            value = ", ".join(f"<#{c}>" for c in policy.allowed_channels or ()) or tr("every channel", loc)
        elif name == "allowed_roles":
            value = ", ".join(f"<@&{r}>" for r in policy.allowed_roles or ()) or tr("every member", loc)
        elif name == "allowed_models":
            value = ", ".join(f"`{m}`" for m in policy.models)
        else:
            value = f"{getattr(policy, name):g}"
        value = clip(value, LIST_SHOWN)
        origin = tr("(set here)", loc) if own else tr("(bot default)", loc)
        lines.append(f"**{name}**: {value} {origin}\n-# {tr(SETTING_LABELS[name], loc)}")
    embed.description = clip_lines(lines, EMBED_DESCRIPTION, locale=loc)
    if policy.paused:
        state = tr("⏸️ Paused: {reason}", loc, reason=plain(policy.pause_reason or tr("no reason given", loc)))
    else:
        state = tr("▶️ Running", loc)
    embed.add_field(name=tr("New jobs", loc), value=clip(state, FIELD_VALUE), inline=False)
    threads = ", ".join(f"<#{c}>" for c in policy.thread_channels)
    embed.add_field(name=tr("A thread for each job", loc),
                    value=clip(threads, LIST_SHOWN) if threads else tr("in no channel", loc), inline=False)
    embed.set_footer(text="/veo-admin limit, reset, channel, role, model, threads, pause, resume, audit, usage")
    return fit_embed(embed)


def missing_thread_permissions(channel: discord.TextChannel, locale: Locale = None) -> str | None:
    """A warning when the bot can't start threads or post in them in ``channel`` (results then go into it)."""
    have = channel.permissions_for(channel.guild.me)
    missing = [name for name, ok in (("Create Public Threads", have.create_public_threads),
                                     ("Send Messages in Threads", have.send_messages_in_threads)) if not ok]
    if not missing:
        return None
    return tr("⚠️ I lack {permissions} in {channel}: until a server admin allows it, the videos are posted in the "
              "channel itself, without threads.", locale, permissions=", ".join(missing), channel=channel.mention)


def audit_embed(entries: list[AuditEntry], locale: Locale = None) -> discord.Embed:
    """The guild's recent moderator and admin actions, newest first, as many as fit."""
    lines = [
        f"<t:{int(e.at)}:R> <@{e.actor_id}> **{e.action}** {discord.utils.escape_mentions(e.details)}"
        for e in entries
    ]
    embed = discord.Embed(title=tr("Moderator and admin actions", locale),
                          description=clip_lines(lines, EMBED_DESCRIPTION, locale=locale) or tr("None yet.", locale))
    return fit_embed(embed)


def _usage_line(line: UsageLine, locale: Locale, *, member: bool = False) -> str:
    # Member keys are Discord user ids, shown as mentions; model names are shown inert.
    if member and line.key.isdigit():
        key = f"<@{line.key}>"
    else:
        key = tr("total", locale) if line.key == "total" else plain(line.key)
    return tr("{key}: {jobs} jobs, {billed} with a video · {seconds} s · ~${cost}", locale, key=key, jobs=line.jobs,
              billed=line.billed_jobs, seconds=f"{line.seconds:g}", cost=f"{line.cost:.2f}")


def usage_embed(report: UsageReport, locale: Locale = None) -> discord.Embed:
    """Jobs, seconds and estimated cost in all, per member (the top 15) and per model."""
    loc = locale
    embed = discord.Embed(title=tr("Video usage ({period})", loc, period=report.period),
                          description=clip(_usage_line(report.total, loc), EMBED_DESCRIPTION))
    members = [_usage_line(u, loc, member=True) for u in report.by_user[:15]]
    embed.add_field(name=tr("Per member", loc), value=clip_lines(members, FIELD_VALUE, locale=loc) or "—",
                    inline=False)
    models = [_usage_line(m, loc) for m in report.by_model]
    embed.add_field(name=tr("Per model", loc), value=clip_lines(models, FIELD_VALUE, locale=loc) or "—",
                    inline=False)
    embed.set_footer(text=tr("Estimated from the configured price table; your provider's invoice is what counts.",
                             loc))
    return fit_embed(embed)


@app_commands.guild_only()
@app_commands.default_permissions(manage_guild=True)
class AdminCog(commands.GroupCog, group_name="veo-admin", group_description="Server admins: video limits"):
    """Server admins' controls: limits, quotas, cooldown, allow-lists, pause, audit and usage."""

    def __init__(self, admin: WorkspaceAdmin) -> None:
        self.admin = admin
        self.charts = ChartDrawer()
        super().__init__()

    async def interaction_check(self, interaction: discord.Interaction) -> bool:
        # Default permissions are only a hint server admins can change: check every time.
        if interaction.guild_id is None:
            raise app_commands.NoPrivateMessage()
        if not interaction.permissions.manage_guild:
            raise app_commands.MissingPermissions(["manage_guild"])
        if interaction.type is discord.InteractionType.application_command:
            # Acknowledge at once, as every command does; the answer replaces the "thinking" message.
            await interaction.response.defer(ephemeral=True, thinking=True)
        return True

    async def _reply(self, interaction: discord.Interaction, content: str | None = None,
                     embed: discord.Embed | None = None) -> None:
        await interaction.edit_original_response(content=None if content is None else clip(content, CONTENT),
                                                 embed=embed)

    @app_commands.command(name="settings", description="Show this server's video limits.")
    async def show_settings(self, interaction: discord.Interaction) -> None:
        """Show every limit in force."""
        await self._show(interaction)

    async def _show(self, interaction: discord.Interaction) -> None:
        assert interaction.guild_id is not None
        overrides, policy = await self.admin.settings(workspace_of(interaction))
        await self._reply(interaction, embed=settings_embed(overrides, policy, interaction.locale))

    @app_commands.command(name="limit", description="Set a limit, quota or cooldown for this server.")
    @app_commands.describe(setting="What to change", value="The new value (0 = no limit, for queue and quotas)")
    async def set_limit(self, interaction: discord.Interaction, setting: NumericSetting,
                        value: app_commands.Range[float, 0, 100_000]) -> None:
        """Override one numeric limit."""
        assert interaction.guild_id is not None
        await self.admin.set_number(workspace_of(interaction), member_id(interaction), setting, value)
        await self._show(interaction)

    @app_commands.command(name="reset", description="Go back to the bot's default for one setting.")
    @app_commands.describe(setting="What to change")
    async def reset(self, interaction: discord.Interaction, setting: AnySetting) -> None:
        """Forget one override."""
        assert interaction.guild_id is not None
        await self.admin.reset(workspace_of(interaction), member_id(interaction), setting)
        await self._show(interaction)

    @app_commands.command(name="channel", description="Choose the channels where /veo works.")
    @app_commands.describe(action="Add to the list, remove from it, or clear it to allow all",
                           channel="The channel to add or remove")
    async def channel(self, interaction: discord.Interaction, action: ListAction,
                      channel: discord.TextChannel | None = None) -> None:
        """Add or remove an allowed channel, or allow every channel again."""
        assert interaction.guild_id is not None
        await self.admin.change_list(workspace_of(interaction), member_id(interaction), "allowed_channels", action,
                                     str(channel.id) if channel else None)
        await self._show(interaction)

    @app_commands.command(name="role", description="Choose the roles that may use /veo.")
    @app_commands.describe(action="Add to the list, remove from it, or clear it to allow all",
                           role="The role to add or remove")
    async def role(
        self, interaction: discord.Interaction, action: ListAction, role: discord.Role | None = None
    ) -> None:
        """Add or remove an allowed role, or allow every member again."""
        assert interaction.guild_id is not None
        await self.admin.change_list(workspace_of(interaction), member_id(interaction), "allowed_roles", action,
                                     str(role.id) if role else None)
        await self._show(interaction)

    @app_commands.command(name="model", description="Choose the models members may pick.")
    @app_commands.describe(action="Add to the list, remove from it, or clear it to allow all",
                           model="The model to add or remove")
    async def model(self, interaction: discord.Interaction, action: ListAction, model: str | None = None) -> None:
        """Add or remove an allowed model, or allow every model again."""
        assert interaction.guild_id is not None
        await self.admin.change_list(workspace_of(interaction), member_id(interaction), "allowed_models", action, model)
        await self._show(interaction)

    @model.autocomplete("model")
    async def model_autocomplete(self, interaction: discord.Interaction, current: str
                                 ) -> list[app_commands.Choice[str]]:
        """The bot's models."""
        needle = current.lower()
        models = self.admin.worker.config.workspace_defaults.models
        found = [m for m in models if needle in m.lower()]
        return [app_commands.Choice(name=clip(m, CHOICE_NAME), value=m) for m in found][:CHOICES]

    @app_commands.command(name="threads", description="Give each video job in a channel a thread of its own.")
    @app_commands.describe(enabled="On: each job's status message starts a thread, where its video is posted",
                           channel="The channel (leave it empty, with enabled off, to turn threads off everywhere)")
    async def threads(self, interaction: discord.Interaction, enabled: bool,
                      channel: discord.TextChannel | None = None) -> None:
        """Turn a channel's job threads on or off."""
        assert interaction.guild_id is not None
        await self.admin.set_threads(workspace_of(interaction), member_id(interaction),
                                     str(channel.id) if channel else None, enabled)
        warning = missing_thread_permissions(channel, interaction.locale) if channel and enabled else None
        overrides, policy = await self.admin.settings(workspace_of(interaction))
        await self._reply(interaction, warning, embed=settings_embed(overrides, policy, interaction.locale))

    @app_commands.command(name="pause", description="Stop starting new video jobs here (the queue is kept).")
    @app_commands.describe(reason="Shown to members whose jobs wait")
    async def pause(self, interaction: discord.Interaction, reason: app_commands.Range[str, 0, 200] | None = None
                    ) -> None:
        """Pause the guild."""
        assert interaction.guild_id is not None
        await self.admin.pause(workspace_of(interaction), member_id(interaction), reason)
        await self._reply(interaction, tr("Paused: no new video jobs start here until /veo-admin resume. "
                                          "Waiting jobs keep their place.", interaction.locale))

    @app_commands.command(name="resume", description="Start video jobs here again.")
    async def resume(self, interaction: discord.Interaction) -> None:
        """Resume the guild."""
        assert interaction.guild_id is not None
        await self.admin.resume(workspace_of(interaction), member_id(interaction))
        await self._reply(interaction, tr("Resumed: waiting jobs start as slots free up.", interaction.locale))

    @app_commands.command(name="audit", description="Recent moderator and admin actions.")
    async def audit(self, interaction: discord.Interaction) -> None:
        """List the audit log."""
        assert interaction.guild_id is not None
        entries = await self.admin.audit(workspace_of(interaction), 20)
        await self._reply(interaction, embed=audit_embed(entries, interaction.locale))

    @app_commands.command(name="usage", description="Jobs, generated seconds and estimated cost, with a chart.")
    @app_commands.describe(period="Today, the last 7 or 30 days, or all time")
    async def usage(self, interaction: discord.Interaction, period: Period = "7d") -> None:
        """Usage per member and per model, and a chart of it per day and of the top members."""
        assert interaction.guild_id is not None
        # The period is one of Discord's choices; a stale client's other value is refused by ``usage``.
        report = await self.admin.usage(workspace_of(interaction), period)
        note, files = await self._usage_chart(interaction, report)
        await interaction.edit_original_response(content=note, embed=usage_embed(report, interaction.locale),
                                                 attachments=files)

    async def _usage_chart(self, interaction: discord.Interaction, report: UsageReport
                           ) -> tuple[str | None, list[discord.File]]:
        """The chart as ``usage.png``, or a note saying why there is none."""
        loc = interaction.locale
        if report.total.jobs == 0:
            return tr("No videos in this period, so there is no chart.", loc), []
        names = await display_names(interaction.client, interaction.guild,
                                    [line.key for line in report.by_user[:TOP_MEMBERS]])
        try:
            png = await self.charts.usage_png(build_usage_chart(report, names), loc)
        except Exception:
            # The figures are in the embed: a chart that fails must not take them away.
            log.exception("guild=%s usage chart not drawn", interaction.guild_id)
            return tr("The chart could not be drawn this time; the figures above are complete.", loc), []
        return None, [discord.File(io.BytesIO(png), filename="usage.png")]
