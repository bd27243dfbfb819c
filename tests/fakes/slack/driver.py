"""What members do, as Slack delivers it over Socket Mode: slash commands, form submissions, button clicks."""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from typing import Any, Protocol

from tests.fakes.slack.blocks import check_view
from tests.fakes.slack.models import IM, FakeChannel, FakeUser, MiB
from tests.fakes.slack.records import EphemeralMessage, FakeFile, FakeMessage, FakeView
from tests.fakes.slack.socket_mode import Ack, SocketModeServer
from tests.fakes.slack.state import SlackState

FILE_INPUT_LIMIT = 10 * MiB
VERIFICATION_TOKEN = "fake-verification-token"


@dataclass
class Interaction:
    """A delivered command or action: the app's ack, and the trigger id and response_url it came with."""

    ack: Ack
    trigger_id: str
    response_url: str | None


@dataclass
class Submission:
    """A delivered `view_submission`: the ack, the response_action Slack applied, and the view afterwards."""

    ack: Ack
    action: str
    view: FakeView
    errors: dict[str, str]


class Transport(Protocol):
    """How payloads reach the app: Socket Mode envelopes, or signed HTTP requests."""

    async def send(self, type_: str, payload: dict[str, Any], *, timeout: float | None = None) -> Ack:
        """Deliver one payload and return the app's ack (NotAcked when none comes in time)."""
        ...


class Driver:
    """Builds Slack's payloads for what a member does and sends them through the transport in use."""

    def __init__(self, state: SlackState, socket: SocketModeServer) -> None:
        self.state = state
        self.transport: Transport = socket

    def _team_user(self, user: FakeUser) -> dict[str, Any]:
        return {"id": user.id, "username": user.name, "name": user.name, "team_id": user.team_id}

    def _team(self, team_id: str) -> dict[str, Any]:
        return {"id": team_id, "domain": self.state.teams[team_id].domain}

    async def slash_command(self, command: str, text: str, *, channel: FakeChannel, user: FakeUser,
                            timeout: float | None = None, escape: bool = False) -> Interaction:
        """`/command text` typed by `user` in `channel` (who must be able to post there); `escape` does what a
        command declared with `should_escape: true` gets: `#channel`, `@group`, `@member` as Slack's tokens."""
        state = self.state
        if escape:
            text = escape_names(state, state.teams[channel.team_id].id, text)
        if user.team_id != channel.team_id or (channel.kind != IM and user.id not in channel.members):
            raise ValueError(f"{user.id} cannot type in {channel.id}: add them to its members first")
        team = state.teams[channel.team_id]
        trigger_id = state.issue_trigger(team.id, user.id)
        response_url = state.issue_response_url(team.id, channel.id, user.id)
        payload = {
            "token": VERIFICATION_TOKEN, "team_id": team.id, "team_domain": team.domain,
            "channel_id": channel.id, "channel_name": "directmessage" if channel.kind == IM else channel.name,
            "user_id": user.id, "user_name": user.name, "command": command, "text": text,
            "api_app_id": state.app_id, "is_enterprise_install": "false", "response_url": response_url,
            "trigger_id": trigger_id,
        }
        ack = await self.transport.send("slash_commands", payload, timeout=timeout)
        if ack.payload and (ack.payload.get("text") or ack.payload.get("blocks")):
            # An ack with a body is Slack's first reply to the command: ephemeral unless in_channel.
            body = ack.payload
            if body.get("response_type") == "in_channel":
                state.add_message(FakeMessage(channel.id, state.next_ts(channel.id), str(body.get("text", "")),
                                              user=team.bot_user_id, bot_id=team.bot_id, app_id=state.app_id,
                                              blocks=body.get("blocks")))
            else:
                state.ephemerals.append(EphemeralMessage(channel.id, user.id, str(body.get("text", "")),
                                                         body.get("blocks"), state.next_ts(channel.id), "ack"))
        return Interaction(ack, trigger_id, response_url)

    # ----- forms -----

    def _state_value(self, element: dict[str, Any], given: Any, label: str) -> tuple[dict[str, Any], bool]:
        """The state value Slack sends for one input element, and whether it is empty."""
        kind = element["type"]
        if kind in ("plain_text_input", "number_input", "url_text_input", "email_text_input"):
            value = element.get("initial_value") if given is None else given
            if value is not None and not isinstance(value, str):
                raise TypeError(f"{label}: a text input takes a str")
            if value and len(value) > int(element.get("max_length", 3000)):
                raise ValueError(f"{label}: Slack's form refuses more than {element.get('max_length', 3000)} chars")
            if value and len(value) < int(element.get("min_length", 0)):
                raise ValueError(f"{label}: Slack's form refuses fewer than {element['min_length']} chars")
            return {"type": kind, "value": value or None}, not value
        if kind in ("static_select", "radio_buttons"):
            if given is None:
                option = element.get("initial_option")
            else:
                options = element.get("options") or [o for g in element.get("option_groups", [])
                                                     for o in g.get("options", [])]
                option = next((o for o in options if o.get("value") == given), None)
                if option is None:
                    raise ValueError(f"{label}: {given!r} is not one of the form's options")
            return {"type": kind, "selected_option": option}, option is None
        if kind == "file_input":
            files: list[FakeFile] = list(given or [])
            if len(files) > int(element.get("max_files", 10)):
                raise ValueError(f"{label}: the form takes at most {element.get('max_files', 10)} files")
            for f in files:
                if f.size > FILE_INPUT_LIMIT:
                    raise ValueError(f"{label}: Slack refuses a file over 10 MB in file_input")
            return {"type": kind, "files": [f.as_json(self.state.base_url) for f in files]}, not files
        if kind == "users_select":
            value = element.get("initial_user") if given is None else given
            return {"type": kind, "selected_user": value}, value is None
        if kind == "conversations_select":
            value = element.get("initial_conversation") if given is None else given
            return {"type": kind, "selected_conversation": value}, value is None
        if kind == "checkboxes":
            chosen = [o for o in element.get("options", []) if o.get("value") in (given or [])]
            return {"type": kind, "selected_options": chosen}, not chosen
        raise ValueError(f"{label}: the fake cannot fill a {kind}")

    def form_values(self, view: FakeView, values: dict[str, Any]) -> dict[str, dict[str, Any]]:
        """`view.state.values` for a submission: given values by block id, the form's initial ones otherwise."""
        unknown = set(values) - {b.get("block_id") for b in view.view.get("blocks", [])}
        if unknown:
            raise ValueError(f"no input blocks {sorted(unknown)} in view {view.id}")
        state: dict[str, dict[str, Any]] = {}
        for block in view.view.get("blocks", []):
            if block.get("type") != "input":
                continue
            block_id, element = block.get("block_id", ""), block["element"]
            value, empty = self._state_value(element, values.get(block_id), block_id)
            if empty and not block.get("optional", False):
                raise ValueError(f"{block_id}: Slack's form will not submit without this required field")
            state[block_id] = {element.get("action_id", ""): value}
        return state

    async def submit_view(self, view: FakeView, *, values: dict[str, Any] | None = None,
                          timeout: float | None = None) -> Submission:
        """The member presses Submit on an open modal; Slack then applies the ack's response_action."""
        if not view.open:
            raise ValueError(f"view {view.id} is no longer open")
        state = self.state
        user = state.users[view.user_id]
        view_json = view.as_json(state.app_id, state.teams[view.team_id].bot_id)
        view_json["state"] = {"values": self.form_values(view, values or {})}
        trigger_id = state.issue_trigger(view.team_id, user.id)
        payload = {
            "type": "view_submission", "team": self._team(view.team_id), "user": self._team_user(user),
            "api_app_id": state.app_id, "token": VERIFICATION_TOKEN, "trigger_id": trigger_id, "view": view_json,
            "response_urls": [], "is_enterprise_install": False, "enterprise": None,
        }
        ack = await self.transport.send("interactive", payload, timeout=timeout)
        return self._apply_response_action(view, ack)

    def _apply_response_action(self, view: FakeView, ack: Ack) -> Submission:
        body = ack.payload or {}
        action = str(body.get("response_action", "close"))
        errors: dict[str, str] = {}
        if action == "errors":
            errors = dict(body.get("errors") or {})
            input_ids = {b.get("block_id") for b in view.view.get("blocks", []) if b.get("type") == "input"}
            if not errors or set(errors) - input_ids:
                raise AssertionError(f"response_action errors must name input blocks of the view: {errors}")
        elif action == "update":
            view.view = check_view(body.get("view"))
            view.hash = self.state.ids("h")
            view.updates += 1
        elif action == "push":
            team = self.state.teams[view.team_id]
            self.state.add_view(team, view.user_id, check_view(body.get("view")), root=view)
        elif action == "clear":
            for stacked in stack_of_state(self.state, view.root_view_id):
                stacked.open = False
        elif action == "close":
            view.open = False
        else:
            raise AssertionError(f"unknown response_action {action!r}")
        return Submission(ack, action, view, errors)

    def close_view(self, view: FakeView) -> None:
        """The member closes the modal (a later views.update gets not_found)."""
        view.open = False

    # ----- buttons -----

    async def click(self, message: FakeMessage, action_id: str, *, user: FakeUser,
                    timeout: float | None = None) -> Interaction:
        """The member clicks the element `action_id` of a message's blocks (it must be there)."""
        state = self.state
        found = find_action(message.blocks or [], action_id)
        if found is None:
            raise ValueError(f"message {message.ts} has no element with action_id {action_id!r}")
        block_id, element = found
        channel = state.channels[message.channel]
        team = state.teams[channel.team_id]
        trigger_id = state.issue_trigger(team.id, user.id)
        response_url = state.issue_response_url(team.id, channel.id, user.id, message.ts)
        action: dict[str, Any] = {"action_id": action_id, "block_id": block_id, "type": element.get("type"),
                                  "action_ts": f"{time.time():.6f}"}
        if "text" in element:
            action["text"] = element["text"]
        if "value" in element:
            action["value"] = element["value"]
        payload: dict[str, Any] = {
            "type": "block_actions", "user": self._team_user(user), "api_app_id": state.app_id,
            "token": VERIFICATION_TOKEN, "container": {"type": "message", "message_ts": message.ts,
                                                       "channel_id": channel.id, "is_ephemeral": False},
            "trigger_id": trigger_id, "team": self._team(team.id), "enterprise": None,
            "is_enterprise_install": False, "channel": {"id": channel.id, "name": channel.name},
            "message": message.as_json(include_metadata=True), "state": {"values": {}},
            "response_url": response_url, "actions": [action],
        }
        ack = await self.transport.send("interactive", payload, timeout=timeout)
        return Interaction(ack, trigger_id, response_url)


    async def shortcut(self, callback_id: str, *, user: FakeUser, message: FakeMessage | None = None,
                       timeout: float | None = None) -> Interaction:
        """A global shortcut, or a message shortcut when `message` is given."""
        state = self.state
        team = state.teams[user.team_id]
        trigger_id = state.issue_trigger(team.id, user.id)
        payload: dict[str, Any] = {
            "type": "shortcut", "callback_id": callback_id, "trigger_id": trigger_id, "team": self._team(team.id),
            "user": self._team_user(user), "action_ts": f"{time.time():.6f}", "token": VERIFICATION_TOKEN,
            "api_app_id": state.app_id, "is_enterprise_install": False, "enterprise": None,
        }
        response_url = None
        if message is not None:
            channel = state.channels[message.channel]
            response_url = state.issue_response_url(team.id, channel.id, user.id)
            payload.update({"type": "message_action", "channel": {"id": channel.id, "name": channel.name},
                            "message": message.as_json(include_metadata=False), "message_ts": message.ts,
                            "response_url": response_url})
        ack = await self.transport.send("interactive", payload, timeout=timeout)
        return Interaction(ack, trigger_id, response_url)


NAME = re.compile(r"(?<![\w<|^])([#@])([a-z0-9][a-z0-9._-]*)")


def escape_names(state: SlackState, team_id: str, text: str) -> str:
    """`#name`, `@handle` and `@name` of the workspace's channels, user groups and members as Slack sends them to a
    command with escaping on (`<#C…|name>`, `<!subteam^S…|@handle>`, `<@U…|name>`, `<!here>`); unknown names stay."""
    def token(match: re.Match[str]) -> str:
        sigil, name = match.group(1), match.group(2)
        if sigil == "#":
            found = [c for c in state.channels.values() if c.team_id == team_id and c.name == name and c.kind != IM]
            return f"<#{found[0].id}|{name}>" if found else match.group(0)
        if name in ("here", "channel", "everyone"):
            return f"<!{name}>"
        groups = [g for g in state.usergroups.values() if g.team_id == team_id and g.handle == name]
        if groups:
            return f"<!subteam^{groups[0].id}|@{name}>"
        users = [u for u in state.users.values() if u.team_id == team_id and u.name == name]
        return f"<@{users[0].id}|{name}>" if users else match.group(0)

    return NAME.sub(token, text)


def stack_of_state(state: SlackState, root_view_id: str) -> list[FakeView]:
    """The open views of one modal stack."""
    return [v for v in state.views.values() if v.root_view_id == root_view_id and v.open]


def find_action(blocks: list[dict[str, Any]], action_id: str) -> tuple[str, dict[str, Any]] | None:
    """The (block_id, element) of an interactive element in message blocks."""
    for block in blocks:
        elements = list(block.get("elements", [])) if block.get("type") == "actions" else []
        if "accessory" in block:
            elements.append(block["accessory"])
        for element in elements:
            if isinstance(element, dict) and element.get("action_id") == action_id:
                return str(block.get("block_id", "")), element
    return None
