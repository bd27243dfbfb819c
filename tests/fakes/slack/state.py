"""The fake Slack's world: workspaces, members, conversations, messages, views, triggers and files."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from tests.fakes.slack.mentions import resolve
from tests.fakes.slack.models import (
    DEFAULT_BOT_SCOPES,
    IM,
    PUBLIC,
    Clock,
    FakeChannel,
    FakeTeam,
    FakeUser,
    FakeUserGroup,
    IdGenerator,
    SlackError,
    ts_text,
)
from tests.fakes.slack.records import EphemeralMessage, FakeFile, FakeMessage, FakeView, ResponseUrl, Trigger

APP_ID = "A0VEOFAKE1"


@dataclass
class SlackState:
    """Everything the fake remembers; the Web API, Socket Mode and the driver share one instance."""

    clock: Clock = time.monotonic
    wall_clock: Clock = time.time
    app_token: str = "xapp-1-A0VEOFAKE1-1-fake"
    app_id: str = APP_ID
    base_url: str = ""
    # Slack takes a trigger id for 3 seconds after the interaction that carried it.
    trigger_life: float = 3.0
    ids: IdGenerator = field(default_factory=IdGenerator)
    teams: dict[str, FakeTeam] = field(default_factory=dict)
    users: dict[str, FakeUser] = field(default_factory=dict)
    channels: dict[str, FakeChannel] = field(default_factory=dict)
    usergroups: dict[str, FakeUserGroup] = field(default_factory=dict)
    messages: dict[str, list[FakeMessage]] = field(default_factory=dict)
    views: dict[str, FakeView] = field(default_factory=dict)
    triggers: dict[str, Trigger] = field(default_factory=dict)
    ephemerals: list[EphemeralMessage] = field(default_factory=list)
    response_urls: dict[str, ResponseUrl] = field(default_factory=dict)
    files: dict[str, FakeFile] = field(default_factory=dict)
    _last_ts: dict[str, int] = field(default_factory=dict)

    # ----- world -----

    def add_team(self, name: str, *, domain: str | None = None, scopes: set[str] | None = None) -> FakeTeam:
        """A workspace with the app installed, its bot user and a bot token of its own."""
        team_id = self.ids("T")
        bot_user = self.ids("U")
        team = FakeTeam(
            id=team_id, name=name, domain=domain or name.lower().replace(" ", "-"),
            bot_token=f"xoxb-{team_id}-{bot_user}-fake", bot_user_id=bot_user, bot_id=self.ids("B"),
            scopes=set(DEFAULT_BOT_SCOPES if scopes is None else scopes),
        )
        self.teams[team_id] = team
        self.users[bot_user] = FakeUser(bot_user, team_id, "veo", is_bot=True)
        return team

    def add_user(self, team: FakeTeam, name: str, **flags: Any) -> FakeUser:
        """A member of `team`; `flags` are FakeUser fields (is_admin, is_owner, locale, ...)."""
        user = FakeUser(self.ids("U"), team.id, name, **flags)
        self.users[user.id] = user
        return user

    def add_channel(self, team: FakeTeam, name: str, *, kind: str = PUBLIC, members: set[str] | None = None,
                    bot_member: bool = True) -> FakeChannel:
        """A public or private channel; the bot is in it unless `bot_member` is false."""
        prefix = "C" if kind == PUBLIC else "G"
        channel = FakeChannel(self.ids(prefix), team.id, name, kind, set(members or ()),
                              created=int(self.wall_clock()))
        if bot_member:
            channel.members.add(team.bot_user_id)
        self.channels[channel.id] = channel
        self.messages[channel.id] = []
        return channel

    def im_with(self, team: FakeTeam, user_id: str) -> FakeChannel:
        """The bot's IM with a member, opened on first use."""
        for channel in self.channels.values():
            if channel.kind == IM and channel.team_id == team.id and channel.im_user == user_id:
                return channel
        channel = FakeChannel(self.ids("D"), team.id, user_id, IM, {team.bot_user_id, user_id}, im_user=user_id,
                              created=int(self.wall_clock()))
        self.channels[channel.id] = channel
        self.messages[channel.id] = []
        return channel

    def add_usergroup(self, team: FakeTeam, handle: str, users: list[str]) -> FakeUserGroup:
        """A user group (`S…`) with these members."""
        group = FakeUserGroup(self.ids("S"), team.id, handle, handle.title(), list(users))
        self.usergroups[group.id] = group
        return group

    # ----- lookups that enforce who can see what -----

    def team_by_token(self, token: str) -> FakeTeam | None:
        """The workspace whose bot token this is."""
        for team in self.teams.values():
            if team.bot_token == token:
                return team
        return None

    def user(self, team: FakeTeam, user_id: Any) -> FakeUser:
        """A member of `team` (user_not_found otherwise)."""
        user = self.users.get(str(user_id))
        if user is None or user.team_id != team.id:
            raise SlackError("user_not_found")
        return user

    def visible_channel(self, team: FakeTeam, channel_id: Any) -> FakeChannel:
        """A conversation the bot may see: any public channel of its workspace, or one it is a member of."""
        channel = self.channels.get(str(channel_id))
        if channel is None or channel.team_id != team.id:
            raise SlackError("channel_not_found")
        if channel.kind != PUBLIC and team.bot_user_id not in channel.members:
            raise SlackError("channel_not_found")
        return channel

    def member_channel(self, team: FakeTeam, channel_id: Any) -> FakeChannel:
        """A conversation the bot is in (not_in_channel for a public channel it has not joined)."""
        channel = self.visible_channel(team, channel_id)
        if team.bot_user_id not in channel.members:
            raise SlackError("not_in_channel")
        return channel

    def postable_channel(self, team: FakeTeam, channel_id: Any) -> FakeChannel:
        """Where the bot may post: a user id means its IM with that member (as Slack allows)."""
        target = str(channel_id)
        if target.startswith(("U", "W")):
            return self.im_with(team, self.user(team, target).id)
        channel = self.visible_channel(team, target)
        if team.bot_user_id not in channel.members and not (channel.kind == PUBLIC and "chat:write.public"
                                                             in team.scopes):
            raise SlackError("not_in_channel")
        if channel.archived:
            raise SlackError("is_archived")
        return channel

    # ----- messages -----

    def next_ts(self, channel_id: str) -> str:
        """A message ts unique in its channel: the wall clock, one microsecond past the last one if need be."""
        micros = max(int(self.wall_clock() * 1_000_000), self._last_ts.get(channel_id, 0) + 1)
        self._last_ts[channel_id] = micros
        return ts_text(micros)

    def add_message(self, message: FakeMessage) -> FakeMessage:
        """Store a posted message, with whom it notified."""
        message.pings = resolve(message.text, message.blocks, link_names=message.link_names)
        self.messages.setdefault(message.channel, []).append(message)
        return message

    def find_message(self, channel_id: str, ts: Any) -> FakeMessage:
        """A live message of a channel (message_not_found otherwise)."""
        for message in self.messages.get(channel_id, []):
            if message.ts == ts and not message.deleted:
                return message
        raise SlackError("message_not_found")

    def live_messages(self, channel_id: str) -> list[FakeMessage]:
        """A channel's messages, oldest first, without the deleted ones."""
        return [m for m in self.messages.get(channel_id, []) if not m.deleted]

    def replies(self, channel_id: str, thread_ts: str) -> list[FakeMessage]:
        """The replies under a thread's parent, oldest first."""
        return [m for m in self.live_messages(channel_id) if m.thread_ts == thread_ts and m.ts != thread_ts]

    # ----- triggers, response URLs -----

    def issue_trigger(self, team_id: str, user_id: str) -> str:
        """A fresh trigger id, as Slack sends with each interaction."""
        trigger_id = f"{int(self.wall_clock())}.{len(self.triggers) + 1}.{self.ids('x')[1:].lower()}"
        self.triggers[trigger_id] = Trigger(trigger_id, team_id, user_id, self.clock())
        return trigger_id

    def issue_response_url(self, team_id: str, channel: str, user: str, message_ts: str | None = None) -> str:
        """A fresh response_url on the fake."""
        url_id = self.ids("R")
        self.response_urls[url_id] = ResponseUrl(url_id, team_id, channel, user, self.clock(), message_ts)
        return f"{self.base_url}/response/{url_id}"

    def add_view(self, team: FakeTeam, user_id: str, view: dict[str, Any], *, root: FakeView | None = None,
                 external_id: str | None = None) -> FakeView:
        """A modal shown to a member (pushed on `root`'s stack when given)."""
        view_id = self.ids("V")
        record = FakeView(view_id, team.id, user_id, view, self.ids("h"), root.root_view_id if root else view_id,
                          previous_view_id=root.id if root else None, external_id=external_id)
        self.views[view_id] = record
        return record
