"""`views.open`, `views.push`, `views.update`: modals, their triggers (3 s, single use) and their hashes."""

from __future__ import annotations

from typing import Any

from tests.fakes.slack.blocks import check_view
from tests.fakes.slack.models import SlackError
from tests.fakes.slack.records import FakeView
from tests.fakes.slack.web_api import Call, Method

STACK_LIMIT = 3


def take_trigger(call: Call) -> str:
    """Spend the call's trigger id: the member it was issued for (expired, exchanged or invalid otherwise)."""
    state = call.state
    trigger = state.triggers.get(str(call.text("trigger_id", required=True, error="invalid_trigger_id")))
    if trigger is None or trigger.team_id != call.team.id:
        raise SlackError("invalid_trigger_id")
    if trigger.used:
        raise SlackError("exchanged_trigger_id")
    if state.clock() - trigger.issued > state.trigger_life:
        raise SlackError("expired_trigger_id")
    trigger.used = True
    return trigger.user_id


def _view_arg(call: Call) -> dict[str, Any]:
    view = call.structured("view", "invalid_arguments")
    if view is None:
        raise SlackError("invalid_arguments", response_metadata={"messages": ["[ERROR] missing required field: view"]})
    return check_view(view)


def _json(call: Call, view: FakeView) -> dict[str, Any]:
    return {"view": view.as_json(call.state.app_id, call.team.bot_id)}


def views_open(call: Call) -> dict[str, Any]:
    """views.open: show a modal to the member whose interaction carried the trigger."""
    view = _view_arg(call)
    user_id = take_trigger(call)
    return _json(call, call.state.add_view(call.team, user_id, view, external_id=view.get("external_id")))


def stack_of(call: Call, root_view_id: str) -> list[FakeView]:
    """The open views of one modal stack, bottom first."""
    return [v for v in call.state.views.values() if v.root_view_id == root_view_id and v.open]


def views_push(call: Call) -> dict[str, Any]:
    """views.push: a new view on top of the member's open modal (at most 3 deep)."""
    view = _view_arg(call)
    user_id = take_trigger(call)
    open_views = [v for v in call.state.views.values() if v.user_id == user_id and v.open
                  and v.team_id == call.team.id]
    if not open_views:
        raise SlackError("not_found")
    top = open_views[-1]
    if len(stack_of(call, top.root_view_id)) >= STACK_LIMIT:
        raise SlackError("push_limit_reached")
    return _json(call, call.state.add_view(call.team, user_id, view, root=top))


def views_update(call: Call) -> dict[str, Any]:
    """views.update: replace an open view (hash_conflict when `hash` is stale; not_found once it closed)."""
    view_id, external_id = call.text("view_id"), call.text("external_id")
    if view_id is None and external_id is None:
        raise SlackError("invalid_arguments",
                         response_metadata={"messages": ["[ERROR] view_id or external_id is required"]})
    found = [v for v in call.state.views.values() if v.team_id == call.team.id
             and (v.id == view_id if view_id else v.external_id == external_id)]
    if not found or not found[-1].open:
        raise SlackError("not_found")
    target = found[-1]
    expected = call.text("hash")
    if expected is not None and expected != target.hash:
        raise SlackError("hash_conflict")
    target.view = _view_arg(call)
    target.hash = call.state.ids("h")
    target.updates += 1
    return _json(call, target)


METHODS = {
    "views.open": Method(views_open),
    "views.push": Method(views_push),
    "views.update": Method(views_update),
}
