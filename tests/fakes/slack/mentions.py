"""Who a posted message would notify: `<@U…>`, `<!subteam^S…>`, `<!channel>`, `<!here>`, `<!everyone>`.

Strict on purpose, so a test that sees no ping can trust it: mentions count in the top-level `text` (mrkdwn by
default) and in every mrkdwn text object; in a mrkdwn object without `verbatim: true` (and with `link_names` or
`parse=full` on the call) a bare `@channel`/`@here`/`@everyone` counts too. `plain_text` objects never ping.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

USER = re.compile(r"<@([UW][A-Z0-9]+)(?:\|[^>]*)?>")
GROUP = re.compile(r"<!subteam\^([A-Z0-9]+)(?:\|[^>]*)?>")
BROADCAST = re.compile(r"<!(channel|here|everyone)(?:\|[^>]*)?>")
BARE_BROADCAST = re.compile(r"(?<![\w<!])@(channel|here|everyone)\b")


@dataclass(frozen=True)
class Pings:
    """Members, user groups and broadcasts (`channel`, `here`, `everyone`) one message notifies."""

    users: frozenset[str] = frozenset()
    groups: frozenset[str] = frozenset()
    broadcasts: frozenset[str] = frozenset()

    def __or__(self, other: Pings) -> Pings:
        return Pings(self.users | other.users, self.groups | other.groups, self.broadcasts | other.broadcasts)

    @property
    def anyone(self) -> bool:
        """Whether it notifies anybody at all."""
        return bool(self.users or self.groups or self.broadcasts)


def scan(text: str, *, bare: bool) -> Pings:
    """The mentions in one piece of mrkdwn (`bare`: also unbracketed @channel/@here/@everyone)."""
    broadcasts = set(BROADCAST.findall(text))
    if bare:
        broadcasts |= set(BARE_BROADCAST.findall(text))
    return Pings(frozenset(USER.findall(text)), frozenset(GROUP.findall(text)), frozenset(broadcasts))


def _text_objects(node: Any) -> list[dict[str, Any]]:
    """Every text object (a dict with type plain_text/mrkdwn and a str text) inside blocks."""
    found: list[dict[str, Any]] = []
    if isinstance(node, dict):
        if node.get("type") in ("plain_text", "mrkdwn") and isinstance(node.get("text"), str):
            found.append(node)
        for value in node.values():
            found += _text_objects(value)
    elif isinstance(node, list):
        for item in node:
            found += _text_objects(item)
    return found


def _rich_text(node: Any) -> Pings:
    """Mentions written as rich_text elements (user, usergroup, broadcast)."""
    pings = Pings()
    if isinstance(node, dict):
        kind = node.get("type")
        if kind == "user" and isinstance(node.get("user_id"), str):
            pings |= Pings(users=frozenset({node["user_id"]}))
        elif kind == "usergroup" and isinstance(node.get("usergroup_id"), str):
            pings |= Pings(groups=frozenset({node["usergroup_id"]}))
        elif kind == "broadcast" and isinstance(node.get("range"), str):
            pings |= Pings(broadcasts=frozenset({node["range"]}))
        for value in node.values():
            pings |= _rich_text(value)
    elif isinstance(node, list):
        for item in node:
            pings |= _rich_text(item)
    return pings


def resolve(text: str | None, blocks: list[dict[str, Any]] | None, *, link_names: bool = False) -> Pings:
    """Everything a new message with this `text` and `blocks` would notify."""
    pings = scan(text or "", bare=link_names)
    for obj in _text_objects(blocks or []):
        if obj["type"] == "mrkdwn":
            pings |= scan(obj["text"], bare=link_names or not obj.get("verbatim", False))
    return pings | _rich_text(blocks or [])
