"""Files: members' uploads for `file_input`, and `url_private` downloads that need the bot token."""

from __future__ import annotations

from aiohttp import web

from tests.fakes.slack.models import FakeTeam, FakeUser
from tests.fakes.slack.records import FakeFile
from tests.fakes.slack.state import SlackState
from tests.fakes.slack.web_api import bearer

# What Slack answers a download without a valid token: its sign-in page, with HTTP 200.
LOGIN_PAGE = (b"<!DOCTYPE html><html lang=\"en-US\"><head><title>Slack</title></head>"
              b"<body><form id=\"signin_form\"><h1>Sign in to Slack</h1></form></body></html>")
FILETYPES = {"image/png": "png", "image/jpeg": "jpg", "image/webp": "webp", "image/gif": "gif",
             "video/mp4": "mp4", "text/plain": "text", "application/pdf": "pdf"}


def add_member_file(state: SlackState, team: FakeTeam, user: FakeUser, name: str, content: bytes,
                    mimetype: str) -> FakeFile:
    """A file a member uploaded (e.g. through a modal's file_input), stored on the fake."""
    record = FakeFile(state.ids("F"), team.id, user.id, name, name, mimetype, FILETYPES.get(mimetype, "binary"),
                      content=content, created=int(state.wall_clock()), uploaded=True, completed=True)
    state.files[record.id] = record
    return record


class FileHost:
    """Serves `url_private` / `url_private_download`: the bytes for the workspace's bot token, else HTML."""

    def __init__(self, state: SlackState) -> None:
        self.state = state
        self.downloads: list[tuple[str, bool]] = []

    async def handle(self, request: web.Request) -> web.StreamResponse:
        """GET /files-pri/{team}-{file}/[download/]{name}."""
        team_id, _, file_id = request.match_info["owner"].partition("-")
        record = self.state.files.get(file_id)
        team = self.state.teams.get(team_id)
        token = bearer(request)
        authorised = (team is not None and token == team.bot_token and "files:read" in team.scopes)
        self.downloads.append((file_id, authorised))
        if not authorised:
            return web.Response(body=LOGIN_PAGE, content_type="text/html", charset="utf-8")
        if record is None or record.deleted or record.team_id != team_id or not record.uploaded:
            return web.Response(status=404, text="file not found")
        return web.Response(body=record.content, content_type=record.mimetype)
