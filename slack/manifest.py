"""The Slack app's manifest, as the README gives it to paste: the bot scopes it asks for (which the doctor
checks against the granted ones) and its slash commands."""

from __future__ import annotations

# Why each: commands (slash commands), chat:write (status, results, notices), files:read (the form's images),
# files:write (the video), users:read (locale, admins), usergroups:read (moderator and allowed groups),
# *:read (is the bot in the channel), *:history (find its own message after a crash), channels:join
# (SLACK_JOIN_CHANNELS), im:write (the direct message when a video is ready), app_mentions:read (a mention
# is answered with how to use /veo).
BOT_SCOPES: tuple[str, ...] = (
    "app_mentions:read", "channels:history", "channels:join", "channels:read", "chat:write", "commands",
    "files:read", "files:write", "groups:history", "groups:read", "im:history", "im:read", "im:write", "mpim:history",
    "mpim:read", "usergroups:read", "users:read",
)
COMMANDS: tuple[str, ...] = ("/veo", "/veo-status", "/veo-cancel", "/veo-queue", "/veo-admin", "/veo-prefer")
