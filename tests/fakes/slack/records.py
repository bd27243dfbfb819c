"""Records of what happens in the fake Slack: messages, views, triggers, response URLs, ephemeral posts, files."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from tests.fakes.slack.mentions import Pings


@dataclass
class FakeMessage:
    """A message in a conversation: who posted it, what it says, its metadata and thread."""

    channel: str
    ts: str
    text: str = ""
    user: str | None = None
    bot_id: str | None = None
    app_id: str | None = None
    blocks: list[dict[str, Any]] | None = None
    metadata: dict[str, Any] | None = None
    thread_ts: str | None = None
    reply_broadcast: bool = False
    files: list[dict[str, Any]] = field(default_factory=list)
    edited: bool = False
    deleted: bool = False
    unfurl_links: bool | None = None
    unfurl_media: bool | None = None
    # link_names=1 or parse=full on the call: Slack then links bare @names and @channel.
    link_names: bool = False
    pings: Pings = field(default_factory=Pings)

    def as_json(self, *, include_metadata: bool, replies: list[FakeMessage] | None = None) -> dict[str, Any]:
        """The message object of `conversations.history`/`replies` (metadata only when asked for)."""
        body: dict[str, Any] = {"type": "message", "ts": self.ts, "text": self.text}
        if self.user is not None:
            body["user"] = self.user
        if self.bot_id is not None:
            body.update({"bot_id": self.bot_id, "app_id": self.app_id})
        if self.blocks is not None:
            body["blocks"] = self.blocks
        if self.files:
            body["files"] = self.files
        if self.thread_ts is not None:
            body["thread_ts"] = self.thread_ts
        if replies:
            body.update({"reply_count": len(replies), "latest_reply": replies[-1].ts})
        if self.edited:
            body["edited"] = {"user": self.user, "ts": self.ts}
        if include_metadata and self.metadata is not None:
            body["metadata"] = self.metadata
        return body


@dataclass
class FakeView:
    """A modal opened for a member: its current definition, hash and whether it is still on screen."""

    id: str
    team_id: str
    user_id: str
    view: dict[str, Any]
    hash: str
    root_view_id: str
    previous_view_id: str | None = None
    external_id: str | None = None
    open: bool = True
    updates: int = 0

    def as_json(self, app_id: str, bot_id: str) -> dict[str, Any]:
        """The view object Slack returns and sends in `view_submission` (without the state values)."""
        return {
            **self.view, "id": self.id, "team_id": self.team_id, "hash": self.hash, "app_id": app_id,
            "bot_id": bot_id, "root_view_id": self.root_view_id, "previous_view_id": self.previous_view_id,
            "external_id": self.external_id or "", "state": {"values": {}},
            "private_metadata": self.view.get("private_metadata", ""),
            "callback_id": self.view.get("callback_id", ""),
        }


@dataclass
class Trigger:
    """A trigger id handed out with an interaction: usable once, for a few seconds."""

    id: str
    team_id: str
    user_id: str
    issued: float
    used: bool = False


@dataclass
class EphemeralMessage:
    """A message only one member sees (`chat.postEphemeral` or an ephemeral response_url post)."""

    channel: str
    user: str
    text: str
    blocks: list[dict[str, Any]] | None
    ts: str
    via: str


@dataclass
class ResponseUrl:
    """A response_url handed out with a command or action: 5 uses in 30 minutes."""

    id: str
    team_id: str
    channel: str
    user: str
    issued: float
    message_ts: str | None = None
    uses: int = 0
    posts: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class FakeFile:
    """A file in a workspace: a member's upload (for `file_input`) or the bot's external upload, with its shares."""

    id: str
    team_id: str
    user: str
    name: str
    title: str
    mimetype: str
    filetype: str
    content: bytes = b""
    created: int = 0
    length: int | None = None
    uploaded: bool = False
    completed: bool = False
    deleted: bool = False
    shares: dict[str, dict[str, list[dict[str, Any]]]] = field(default_factory=dict)

    @property
    def size(self) -> int:
        """Bytes received so far (or announced, before the upload)."""
        return len(self.content) if self.uploaded or self.length is None else self.length

    def as_json(self, base_url: str) -> dict[str, Any]:
        """The file object of `files.info` and of `file_input` state values."""
        url = f"{base_url}/files-pri/{self.team_id}-{self.id}/{self.name}"
        return {
            "id": self.id, "created": self.created, "timestamp": self.created, "name": self.name,
            "title": self.title, "mimetype": self.mimetype, "filetype": self.filetype, "user": self.user,
            "user_team": self.team_id, "size": self.size, "is_public": bool(self.shares.get("public")),
            "url_private": url, "url_private_download": f"{base_url}/files-pri/{self.team_id}-{self.id}/download/"
            f"{self.name}", "permalink": f"{base_url}/files/{self.user}/{self.id}/{self.name}",
            "shares": self.shares, "channels": sorted(self.shares.get("public", {})),
            "groups": sorted(self.shares.get("private", {})),
        }

