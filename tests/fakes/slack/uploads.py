"""The bot's three-step external upload: upload URL, the bytes, completion; then a share that appears later."""

from __future__ import annotations

import asyncio
import mimetypes
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from tests.fakes.slack.blocks import check_blocks
from tests.fakes.slack.files import FILETYPES
from tests.fakes.slack.models import PUBLIC, FakeChannel, SlackError
from tests.fakes.slack.records import FakeFile, FakeMessage
from tests.fakes.slack.state import SlackState
from tests.fakes.slack.web_api import Call, Method

CHUNK = 64 * 1024


@dataclass
class PendingShare:
    """A completed upload whose message is not in the channel yet."""

    file_id: str
    channel: str
    thread_ts: str | None
    text: str
    blocks: list[dict[str, Any]] | None
    task: asyncio.Task[None] | None = None


@dataclass
class UploadGate:
    """Holds upload POSTs after their bytes arrived and before the answer, until released."""

    release: asyncio.Event = field(default_factory=asyncio.Event)
    waiting: int = 0


class Uploads:
    """files.getUploadURLExternal, the upload POST, files.completeUploadExternal, files.info, files.delete."""

    def __init__(self, state: SlackState, *, share_delay: float | None = 0.05) -> None:
        self.state = state
        # Seconds between completeUploadExternal and the share's message; None: the share never comes.
        self.share_delay: float | None = share_delay
        self.hold_shares = False
        self.gate: UploadGate | None = None
        self.upload_urls: dict[str, str | None] = {}
        self.upload_posts: list[tuple[str, int]] = []
        # Upload POSTs whose connection is cut after the bytes arrived, before any answer.
        self.drop_next = 0
        self.pending: list[PendingShare] = []

    # ----- step 1 -----

    def get_upload_url(self, call: Call) -> dict[str, Any]:
        """files.getUploadURLExternal: a file id and a single-use upload URL on the fake."""
        call.need("files:write")
        filename = call.text("filename", required=True)
        assert filename is not None
        length = call.integer("length", -1)
        if length < 1:
            raise SlackError("invalid_arguments", response_metadata={"messages": ["[ERROR] length must be > 0"]})
        limit = call.team.file_size_limit
        if limit is not None and length > limit:
            raise SlackError("file_upload_size_restricted")
        mimetype = mimetypes.guess_type(filename)[0] or "application/octet-stream"
        state = call.state
        record = FakeFile(state.ids("F"), call.team.id, call.team.bot_user_id, filename, filename, mimetype,
                          FILETYPES.get(mimetype, "binary"), created=int(state.wall_clock()), length=length)
        state.files[record.id] = record
        ticket = state.ids("u")
        self.upload_urls[ticket] = record.id
        return {"upload_url": f"{state.base_url}/upload/v1/{ticket}", "file_id": record.id}

    # ----- step 2 -----

    async def handle_upload(self, request: web.Request) -> web.StreamResponse:
        """POST /upload/v1/{ticket}: the bytes, raw or as a multipart file; each URL takes one upload."""
        ticket = request.match_info["ticket"]
        file_id = self.upload_urls.get(ticket)
        if file_id is None:
            return web.Response(status=404, text="upload url not found or already used")
        self.upload_urls[ticket] = None
        content = bytearray()
        if request.content_type.startswith("multipart/"):
            reader = await request.multipart()
            async for part in reader:
                if getattr(part, "filename", None):
                    while chunk := await part.read_chunk(CHUNK):  # type: ignore[union-attr]
                        content += chunk
        else:
            async for chunk in request.content.iter_chunked(CHUNK):
                content += chunk
        record = self.state.files[file_id]
        record.content, record.uploaded = bytes(content), True
        self.upload_posts.append((file_id, len(content)))
        if self.drop_next > 0:
            self.drop_next -= 1
            if request.transport is not None:
                request.transport.abort()
            raise asyncio.CancelledError
        gate = self.gate
        if gate is not None:
            gate.waiting += 1
            await gate.release.wait()
            gate.waiting -= 1
        return web.Response(text=f"OK - {len(content)}")

    # ----- step 3 -----

    def complete(self, call: Call) -> dict[str, Any]:
        """files.completeUploadExternal: finish the uploads; a channel share is scheduled, no message ts given."""
        call.need("files:write")
        state = call.state
        entries = call.structured("files", "invalid_arguments")
        if not isinstance(entries, list) or not entries or not all(isinstance(e, dict) and "id" in e
                                                                   for e in entries):
            raise SlackError("invalid_arguments", response_metadata={"messages": ["[ERROR] files is required"]})
        records = []
        for entry in entries:
            record = state.files.get(str(entry["id"]))
            if record is None or record.team_id != call.team.id or not record.uploaded or record.deleted:
                raise SlackError("file_not_found")
            if record.completed:
                raise SlackError("file_already_completed")
            records.append((record, entry))
        channel_id = call.text("channel_id") or (call.text("channels") or "").split(",")[0] or None
        channel = state.member_channel(call.team, channel_id) if channel_id else None
        thread_ts = call.text("thread_ts")
        if channel is not None and thread_ts is not None:
            state.find_message(channel.id, thread_ts)
        comment = call.text("initial_comment")
        raw = call.structured("blocks", "invalid_blocks_format")
        # "If the initial_comment field is provided, the blocks field is ignored."
        blocks = None if comment is not None or raw is None else check_blocks(raw)
        for record, entry in records:
            record.completed = True
            if entry.get("title"):
                record.title = str(entry["title"])
            if channel is not None:
                self._schedule(PendingShare(record.id, channel.id, thread_ts, comment or "", blocks))
        return {"files": [{"id": r.id, "title": r.title} for r, _ in records]}

    def _schedule(self, share: PendingShare) -> None:
        self.pending.append(share)
        if self.share_delay is None or self.hold_shares:
            return
        share.task = asyncio.get_running_loop().create_task(self._share_later(share, self.share_delay))

    async def _share_later(self, share: PendingShare, delay: float) -> None:
        await asyncio.sleep(delay)
        self.share_now(share)

    def share_now(self, share: PendingShare) -> FakeMessage:
        """Post the share's message and record it in the file's `shares` (a deleted file shows a tombstone)."""
        state = self.state
        if share in self.pending:
            self.pending.remove(share)
        record = state.files[share.file_id]
        channel = state.channels[share.channel]
        team = state.teams[channel.team_id]
        ts = state.next_ts(channel.id)
        file_json = {"id": record.id, "mode": "tombstone"} if record.deleted else record.as_json(state.base_url)
        message = state.add_message(FakeMessage(channel.id, ts, share.text, user=team.bot_user_id, bot_id=team.bot_id,
                                                app_id=state.app_id, blocks=share.blocks, thread_ts=share.thread_ts,
                                                files=[file_json]))
        if share.thread_ts is not None:
            state.find_message(channel.id, share.thread_ts).thread_ts = share.thread_ts
        if not record.deleted:
            self._record_share(record, channel, message)
        return message

    def _record_share(self, record: FakeFile, channel: FakeChannel, message: FakeMessage) -> None:
        scope = "public" if channel.kind == PUBLIC else "private"
        entry: dict[str, Any] = {"ts": message.ts, "channel_name": channel.name, "team_id": channel.team_id,
                                 "share_user_id": record.user, "reply_users": [], "reply_users_count": 0,
                                 "reply_count": 0, "source": "UNKNOWN", "is_silent_share": False}
        if message.thread_ts is not None:
            entry["thread_ts"] = message.thread_ts
        record.shares.setdefault(scope, {}).setdefault(channel.id, []).append(entry)

    def release_shares(self) -> list[FakeMessage]:
        """Let every held share appear now."""
        self.hold_shares = False
        return [self.share_now(share) for share in list(self.pending) if share.task is None]

    # ----- reading and deleting -----

    def _file(self, call: Call) -> FakeFile:
        record = call.state.files.get(str(call.text("file", required=True, error="file_not_found")))
        if record is None or record.team_id != call.team.id:
            raise SlackError("file_not_found")
        if record.deleted:
            raise SlackError("file_deleted")
        return record

    def info(self, call: Call) -> dict[str, Any]:
        """files.info: the file with its shares (`shares.public|private[channel][i].ts` once shared)."""
        call.need("files:read")
        return {"file": self._file(call).as_json(call.state.base_url), "comments": [],
                "response_metadata": {"next_cursor": ""}}

    def delete(self, call: Call) -> dict[str, Any]:
        """files.delete: the bot removes its own file; shared copies become tombstones."""
        call.need("files:write")
        record = self._file(call)
        if record.user != call.team.bot_user_id:
            raise SlackError("cant_delete_file")
        record.deleted = True
        for messages in call.state.messages.values():
            for message in messages:
                message.files = [{"id": f["id"], "mode": "tombstone"} if f.get("id") == record.id else f
                                 for f in message.files]
        return {}

    def methods(self) -> dict[str, Method]:
        """The Web API methods this part answers."""
        return {
            "files.getUploadURLExternal": Method(self.get_upload_url),
            "files.completeUploadExternal": Method(self.complete),
            "files.info": Method(self.info),
            "files.delete": Method(self.delete),
        }
