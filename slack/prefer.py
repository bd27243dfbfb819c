"""``/veo-prefer`` in Slack: a member's own default model, orientation and direct message when a video is
ready, in this workspace. ``/veo-prefer`` shows them; ``/veo-prefer veo3.1 9x16 dm`` sets what it names (``nodm``
turns the message off); ``/veo-prefer reset`` clears them all."""

from __future__ import annotations

from typing import Any

from slack_bolt.app.async_app import AsyncApp

from bot.i18n import tr
from bot.jobs.errors import InvalidInput
from bot.jobs.preferences import MemberPreferences
from bot.jobs.service import JobService
from slack.asking import Asker
from slack.commands import SlackCommands
from slack.replies import escape

ORIENTATIONS = ("16x9", "9x16")


class PreferCommand:
    """The listener of ``/veo-prefer``."""

    def __init__(self, service: JobService, commands: SlackCommands) -> None:
        self.service = service
        self.commands = commands

    def register(self, app: AsyncApp) -> None:
        """Add the listener to the app."""
        app.command("/veo-prefer")(self.veo_prefer)

    async def veo_prefer(self, ack: Any, command: dict[str, Any], respond: Any) -> None:
        """Show, set or reset the member's preferences."""
        await ack()
        asker = Asker(command["team_id"], command["channel_id"], command["user_id"])
        locale = (await self.commands.members.get(asker.user_id)).locale
        words = str(command.get("text") or "").split()
        await self.commands.answering(self.commands.responder(respond), locale,
                                      lambda: self._run(asker, words, locale))

    async def _run(self, asker: Asker, words: list[str], locale: str | None) -> str:
        if words == ["reset"]:
            await self.service.reset_preferences(asker.workspace, asker.user_id)
            return tr("Your preferences are cleared: /veo uses this workspace's defaults.", locale)
        if "reset" in words:
            raise InvalidInput("`reset` goes alone: /veo-prefer reset.")
        model = orientation = None
        dm: bool | None = None
        for word in words:
            if word.lower() in ORIENTATIONS:
                orientation = word.lower()
            elif word.lower() in ("dm", "nodm"):
                dm = word.lower() == "dm"
            elif model is None:
                model = word
            else:
                raise InvalidInput("Give at most one model, one orientation (16x9 or 9x16) and dm or nodm.")
        if words:
            saved = await self.service.set_preferences(asker.workspace, asker.user_id, model=model,
                                                       orientation=orientation, dm_when_ready=dm)
        else:
            saved = await self.service.preferences(asker.workspace, asker.user_id)
        return self._shown(saved, locale)

    @staticmethod
    def _shown(saved: MemberPreferences, locale: str | None) -> str:
        default = tr("(workspace default)", locale)
        return tr("Your preferences: model {model}, orientation {orientation}, direct message when ready: {dm}.",
                  locale, model=escape(saved.model) if saved.model else default,
                  orientation=saved.orientation or default,
                  dm=tr("yes", locale) if saved.dm_when_ready else tr("no", locale))
