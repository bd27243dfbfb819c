"""Who a Slack member is, as the face needs it: their locale (for replies in their language) and whether they
are a workspace admin or owner; read with ``users.info`` and kept briefly, so that a burst of commands makes
one call per member."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

log = logging.getLogger(__name__)

# Admin rights can be taken away: five minutes is how late that may show; locales change even more rarely.
CACHE_SECONDS = 300.0


@dataclass(frozen=True, slots=True)
class Member:
    """A member as ``users.info`` describes them."""

    user_id: str
    locale: str | None
    is_admin: bool


class Members:
    """``users.info`` (with ``include_locale``) per member, cached for ``ttl`` seconds."""

    def __init__(self, client: AsyncWebClient, *, ttl: float = CACHE_SECONDS,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.client = client
        self.ttl = ttl
        self.clock = clock
        self._cache: dict[str, tuple[float, Member]] = {}
        self._groups: dict[str, tuple[float, frozenset[str]]] = {}

    async def get(self, user_id: str) -> Member:
        """The member (an unknown one, when Slack cannot say: English, no admin rights)."""
        cached = self._cache.get(user_id)
        if cached is not None and self.clock() - cached[0] < self.ttl:
            return cached[1]
        try:
            response = await self.client.users_info(user=user_id, include_locale=True)
        except SlackApiError as exc:
            log.warning("users.info for %s failed: %s", user_id, exc.response.get("error"))
            return Member(user_id, None, False)
        user = response.get("user") or {}
        member = Member(
            user_id,
            locale=str(user["locale"]) if user.get("locale") else None,
            is_admin=bool(user.get("is_admin") or user.get("is_owner") or user.get("is_primary_owner")),
        )
        self._cache[user_id] = (self.clock(), member)
        return member

    async def group_members(self, group_id: str) -> frozenset[str]:
        """The members of a user group (none when Slack cannot say: a plan without user groups, a removed
        group, a missing ``usergroups:read`` scope)."""
        cached = self._groups.get(group_id)
        if cached is not None and self.clock() - cached[0] < self.ttl:
            return cached[1]
        try:
            response = await self.client.usergroups_users_list(usergroup=group_id)
        except SlackApiError as exc:
            log.warning("usergroups.users.list for %s failed: %s", group_id, exc.response.get("error"))
            return frozenset()
        users = frozenset(str(user) for user in response.get("users") or ())
        self._groups[group_id] = (self.clock(), users)
        return users
