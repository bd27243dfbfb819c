"""The fake Slack's world-building and inspection methods (mixed into FakeSlack)."""

from __future__ import annotations

from typing import Any

from tests.fakes.slack.files import FileHost, add_member_file
from tests.fakes.slack.mentions import Pings
from tests.fakes.slack.models import PRIVATE, PUBLIC, CallRecord, FakeChannel, FakeTeam, FakeUser, FakeUserGroup
from tests.fakes.slack.records import EphemeralMessage, FakeFile, FakeMessage, FakeView
from tests.fakes.slack.state import SlackState
from tests.fakes.slack.uploads import Uploads
from tests.fakes.slack.web_api import WebApi


class WorldMixin:
    """Workspaces, members, channels, groups and files; what was posted, called and downloaded."""

    state: SlackState
    team: FakeTeam
    web: WebApi
    file_host: FileHost
    uploads: Uploads

    # ----- world -----

    def add_team(self, name: str, *, scopes: set[str] | None = None) -> FakeTeam:
        """Another workspace with the app installed (its own bot token and bot user)."""
        return self.state.add_team(name, scopes=scopes)

    def add_user(self, name: str, *, team: FakeTeam | None = None, channels: tuple[FakeChannel, ...] = (),
                 **flags: Any) -> FakeUser:
        """A member (flags: is_admin, is_owner, is_primary_owner, locale, deleted, ...), in `channels`."""
        user = self.state.add_user(team or self.team, name, **flags)
        for channel in channels:
            channel.members.add(user.id)
        return user

    def add_channel(self, name: str, *, team: FakeTeam | None = None, private: bool = False,
                    members: tuple[FakeUser, ...] = (), bot_member: bool = True) -> FakeChannel:
        """A public (or private) channel; the bot is a member unless `bot_member` is false."""
        return self.state.add_channel(team or self.team, name, kind=PRIVATE if private else PUBLIC,
                                      members={u.id for u in members}, bot_member=bot_member)

    def im(self, user: FakeUser) -> FakeChannel:
        """The bot's IM with `user`."""
        return self.state.im_with(self.state.teams[user.team_id], user.id)

    def add_usergroup(self, handle: str, users: tuple[FakeUser, ...] = (), *,
                      team: FakeTeam | None = None) -> FakeUserGroup:
        """A user group with these members."""
        return self.state.add_usergroup(team or self.team, handle, [u.id for u in users])

    def add_member_file(self, user: FakeUser, name: str, content: bytes, mimetype: str) -> FakeFile:
        """A file `user` uploaded (pass it to `submit_view` for a file_input)."""
        return add_member_file(self.state, self.state.teams[user.team_id], user, name, content, mimetype)

    def post_user_message(self, channel: FakeChannel, user: FakeUser, text: str, *,
                          thread_ts: str | None = None) -> FakeMessage:
        """A message typed by a member."""
        return self.state.add_message(FakeMessage(channel.id, self.state.next_ts(channel.id), text, user=user.id,
                                                  thread_ts=thread_ts))

    # ----- what happened -----

    def messages(self, channel: FakeChannel, *, include_deleted: bool = False) -> list[FakeMessage]:
        """A channel's messages (thread replies included), oldest first."""
        every = self.state.messages.get(channel.id, [])
        return list(every) if include_deleted else [m for m in every if not m.deleted]

    def message(self, channel: FakeChannel, ts: str) -> FakeMessage:
        """One live message."""
        return self.state.find_message(channel.id, ts)

    def ephemerals(self, user: FakeUser | None = None) -> list[EphemeralMessage]:
        """Ephemeral messages (ack bodies, response_url and chat.postEphemeral), for one member or all."""
        return [e for e in self.state.ephemerals if user is None or e.user == user.id]

    def calls(self, method: str | None = None) -> list[CallRecord]:
        """The Web API calls received, in order (only `method` when given)."""
        return [c for c in self.web.calls if method is None or c.method == method]

    def views(self, user: FakeUser | None = None) -> list[FakeView]:
        """Modals opened, oldest first (one member's when given)."""
        return [v for v in self.state.views.values() if user is None or v.user_id == user.id]

    @property
    def downloads(self) -> list[tuple[str, bool]]:
        """(file id, authorised) for each url_private request."""
        return self.file_host.downloads


    def pings(self, channel: FakeChannel) -> list[tuple[FakeMessage, Pings]]:
        """Each message posted in `channel` (replies included) with whom it notified."""
        return [(m, m.pings) for m in self.state.messages.get(channel.id, [])]

    def pinged(self, channel: FakeChannel) -> Pings:
        """Everyone notified by any message posted in `channel` so far."""
        every = Pings()
        for message in self.state.messages.get(channel.id, []):
            every |= message.pings
        return every

    def files(self) -> list[FakeFile]:
        """Every file on the fake (members' uploads and the bot's), oldest first."""
        return list(self.state.files.values())

    def file_messages(self, channel: FakeChannel, *, include_tombstones: bool = False) -> list[FakeMessage]:
        """Live messages of `channel` that show a file (a deleted file's tombstone only when asked)."""
        return [m for m in self.state.live_messages(channel.id) if m.files and (
            include_tombstones or any(f.get("mode") != "tombstone" for f in m.files))]
