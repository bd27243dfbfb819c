"""Discord's mention resolution: which users, roles and @everyone a message would notify."""

from __future__ import annotations

import re
from typing import Any

from tests.fakes.discord.models import FakeHTTPError, Pings, form_error

USER_MENTION = re.compile(r"<@!?(\d{15,25})>")
ROLE_MENTION = re.compile(r"<@&(\d{15,25})>")
EVERYONE_MENTION = re.compile(r"@(everyone|here)")
PARSE_TYPES = frozenset({"everyone", "users", "roles"})


def validate_allowed_mentions(allowed: Any) -> None:
    """Reject payloads Discord rejects (400 50035), e.g. `parse: ["users"]` together with `users: [...]`."""
    if allowed is None:
        return
    if not isinstance(allowed, dict):
        raise form_error("allowed_mentions", "DICT_TYPE_CONVERT", "Only dictionaries may be used in a DictType")
    parse = allowed.get("parse", [])
    if not isinstance(parse, list) or any(p not in PARSE_TYPES for p in parse):
        raise form_error(
            "allowed_mentions.parse", "ENUM_TYPE_COERCE", "Value must be one of {'everyone', 'users', 'roles'}."
        )
    for kind in ("users", "roles"):
        ids = allowed.get(kind)
        if ids is None:
            continue
        if not isinstance(ids, list) or len(ids) > 100:
            raise form_error(f"allowed_mentions.{kind}", "BASE_TYPE_MAX_LENGTH", "Must be 100 or fewer in length.")
        if ids and kind in parse:
            raise FakeHTTPError(
                400,
                50035,
                "Invalid Form Body",
                errors={
                    "allowed_mentions": {
                        "_errors": [
                            {
                                "code": "MESSAGE_ALLOWED_MENTIONS_PARSE_EXCLUSIVE",
                                "message": f'parse:["{kind}"] and {kind}: [ids...] are mutually exclusive.',
                            }
                        ]
                    }
                },
            )


def resolve_pings(content: str, allowed: dict[str, Any] | None, replied_user_id: int | None) -> Pings:
    """What `content` notifies under `allowed` (None = Discord's default: everything, including the reply).

    Strict on purpose: mentions inside code blocks, unmentionable roles and @everyone without the
    MENTION_EVERYONE permission all count, so a test that sees no ping can trust it.
    """
    users = {int(m) for m in USER_MENTION.findall(content)}
    roles = {int(m) for m in ROLE_MENTION.findall(content)}
    everyone = EVERYONE_MENTION.search(content) is not None
    if allowed is None:
        if replied_user_id is not None:
            users.add(replied_user_id)
        return Pings(frozenset(users), frozenset(roles), everyone)
    parse = allowed.get("parse", [])
    allowed_users = {int(u) for u in allowed.get("users", []) or []}
    allowed_roles = {int(r) for r in allowed.get("roles", []) or []}
    if "users" not in parse:
        users &= allowed_users
    if "roles" not in parse:
        roles &= allowed_roles
    if replied_user_id is not None and allowed.get("replied_user", False):
        users.add(replied_user_id)
    return Pings(frozenset(users), frozenset(roles), everyone and "everyone" in parse)
