"""Who is who: `auth.test`, `users.info`, `usergroups.list`, `usergroups.users.list`."""

from __future__ import annotations

from typing import Any

from tests.fakes.slack.models import SlackError
from tests.fakes.slack.web_api import Call, Method


def auth_test(call: Call) -> dict[str, Any]:
    """auth.test: the token's workspace, bot user and bot id."""
    team = call.team
    return {"url": f"https://{team.domain}.slack.com/", "team": team.name, "user": "veo", "team_id": team.id,
            "user_id": team.bot_user_id, "bot_id": team.bot_id, "is_enterprise_install": False}


def users_info(call: Call) -> dict[str, Any]:
    """users.info: a member, with `locale` only when `include_locale` is true."""
    call.need("users:read")
    user = call.state.user(call.team, call.text("user", required=True, error="user_not_found"))
    return {"user": user.as_json(include_locale=call.flag("include_locale"))}


def _groups_enabled(call: Call) -> None:
    call.need("usergroups:read")
    if not call.team.usergroups_enabled:
        raise SlackError("plan_upgrade_required")


def usergroups_list(call: Call) -> dict[str, Any]:
    """usergroups.list: the workspace's user groups (members with `include_users`)."""
    _groups_enabled(call)
    groups = [g for g in call.state.usergroups.values() if g.team_id == call.team.id]
    return {"usergroups": [g.as_json(include_users=call.flag("include_users")) for g in groups]}


def usergroups_users_list(call: Call) -> dict[str, Any]:
    """usergroups.users.list: the members of one user group."""
    _groups_enabled(call)
    group = call.state.usergroups.get(str(call.text("usergroup", required=True, error="no_such_subteam")))
    if group is None or group.team_id != call.team.id:
        raise SlackError("no_such_subteam")
    return {"users": list(group.users)}


METHODS = {
    "auth.test": Method(auth_test),
    "users.info": Method(users_info),
    "usergroups.list": Method(usergroups_list),
    "usergroups.users.list": Method(usergroups_users_list),
}
