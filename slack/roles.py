"""Who may do what in a Slack workspace: admins are workspace admins and owners (``users.info``) and
``SLACK_ADMIN_USERS``; moderators are admins and members of the user groups the admins name
(``/veo-admin moderators add @group``), which are kept per workspace in the store, and checked each time a
command runs."""

from __future__ import annotations

import re

from bot.jobs.errors import InvalidInput, NotAllowed
from bot.jobs.ports import JobStore
from bot.jobs.records import Workspace
from slack.members import Members

# ``/veo-admin`` is declared with escaping on: Slack sends a group as <!subteam^S…|@name>, a channel as <#C…|name>.
GROUP_REF = re.compile(r"^<!subteam\^([A-Z0-9]+)(?:\|[^>]*)?>$|^(S[A-Z0-9]{2,})$")
CHANNEL_REF = re.compile(r"^<#([CG][A-Z0-9]+)(?:\|[^>]*)?>$|^([CG][A-Z0-9]{2,})$")
MODERATOR_GROUPS_META = "slack_moderator_groups:{team}"


def group_id(text: str) -> str:
    """A user group named as Slack escapes it (``<!subteam^S…|@name>``) or by its id."""
    match = GROUP_REF.match(text.strip())
    if match is None:
        raise InvalidInput("Name a user group, e.g. `@designers` (pick it from Slack's list as you type).")
    return match.group(1) or match.group(2)


def channel_id(text: str) -> str:
    """A channel named as Slack escapes it (``<#C…|name>``) or by its id."""
    match = CHANNEL_REF.match(text.strip())
    if match is None:
        raise InvalidInput("Name a channel, e.g. `#videos` (pick it from Slack's list as you type).")
    return match.group(1) or match.group(2)


class Roles:
    """Admin and moderator checks for one bot, across its Slack workspaces."""

    def __init__(self, store: JobStore, members: Members, admin_users: tuple[str, ...]) -> None:
        self.store = store
        self.members = members
        self.admin_users = frozenset(admin_users)

    async def is_admin(self, user_id: str) -> bool:
        """A workspace admin or owner, or listed in ``SLACK_ADMIN_USERS``."""
        return user_id in self.admin_users or (await self.members.get(user_id)).is_admin

    async def moderator_groups(self, workspace: Workspace) -> tuple[str, ...]:
        """The user groups whose members moderate in the workspace."""
        text = await self.store.get_meta(MODERATOR_GROUPS_META.format(team=workspace.id)) or ""
        return tuple(group for group in text.split(",") if group)

    async def set_moderator_groups(self, workspace: Workspace, groups: tuple[str, ...]) -> None:
        """Keep the workspace's moderator groups."""
        await self.store.set_meta(MODERATOR_GROUPS_META.format(team=workspace.id), ",".join(groups))

    async def is_moderator(self, workspace: Workspace, user_id: str) -> bool:
        """An admin, or a member of one of the workspace's moderator groups."""
        if await self.is_admin(user_id):
            return True
        for group in await self.moderator_groups(workspace):
            if user_id in await self.members.group_members(group):
                return True
        return False

    async def require_admin(self, user_id: str) -> None:
        """Refuse (``NotAllowed``) anyone but an admin."""
        if not await self.is_admin(user_id):
            raise NotAllowed("Only workspace admins (and the bot's SLACK_ADMIN_USERS) can change the bot's settings.")

    async def require_moderator(self, workspace: Workspace, user_id: str) -> None:
        """Refuse (``NotAllowed``) anyone but a moderator."""
        if not await self.is_moderator(workspace, user_id):
            raise NotAllowed("Only moderators can see the queue: workspace admins and members of the user groups "
                             "they named with /veo-admin moderators add.")
