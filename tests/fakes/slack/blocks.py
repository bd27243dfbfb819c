"""Block Kit checks the fake applies to messages and views (Slack's `invalid_blocks` with its reasons)."""

from __future__ import annotations

from typing import Any

from tests.fakes.slack.models import SlackError

MESSAGE_BLOCK_LIMIT = 50
VIEW_BLOCK_LIMIT = 100
TEXT_LIMITS = {"section": 3000, "header": 150, "context": 3000}
BLOCK_TYPES = frozenset({"section", "context", "actions", "divider", "header", "image", "input", "rich_text",
                         "file", "video", "markdown"})
ELEMENT_TYPES = frozenset({"button", "static_select", "radio_buttons", "plain_text_input", "file_input",
                           "users_select", "conversations_select", "channels_select", "checkboxes", "overflow",
                           "datepicker", "image", "mrkdwn", "plain_text", "multi_static_select",
                           "multi_users_select", "multi_conversations_select", "number_input", "url_text_input",
                           "email_text_input"})
# Elements that only an input block may hold (selects and buttons also work in sections and actions).
INPUT_ONLY = frozenset({"plain_text_input", "file_input", "number_input", "url_text_input", "email_text_input"})


def _text_object(obj: Any, where: str, limit: int, problems: list[str], *, plain_only: bool = False) -> None:
    if not isinstance(obj, dict) or obj.get("type") not in ("plain_text", "mrkdwn"):
        problems.append(f"must be a text object [json-pointer:{where}]")
        return
    if plain_only and obj["type"] != "plain_text":
        problems.append(f"must be a plain_text object [json-pointer:{where}/type]")
    text = obj.get("text")
    if not isinstance(text, str) or not text:
        problems.append(f"must be more than 0 characters [json-pointer:{where}/text]")
    elif len(text) > limit:
        problems.append(f"must be less than {limit + 1} characters [json-pointer:{where}/text]")


def _element(element: Any, where: str, problems: list[str], *, in_input: bool) -> None:
    if not isinstance(element, dict) or element.get("type") not in ELEMENT_TYPES:
        problems.append(f"unsupported element type [json-pointer:{where}/type]")
        return
    kind = element["type"]
    if kind in INPUT_ONLY and not in_input:
        problems.append(f"{kind} is only allowed in input blocks [json-pointer:{where}]")
    if kind == "button":
        _text_object(element.get("text"), f"{where}/text", 75, problems, plain_only=True)
        if len(str(element.get("value", ""))) > 2000:
            problems.append(f"must be less than 2001 characters [json-pointer:{where}/value]")
    if len(str(element.get("action_id", ""))) > 255:
        problems.append(f"must be less than 256 characters [json-pointer:{where}/action_id]")
    if kind in ("static_select", "radio_buttons", "checkboxes") and not element.get("options") \
            and not element.get("option_groups"):
        problems.append(f"must provide options [json-pointer:{where}/options]")
    if kind == "file_input" and not 1 <= int(element.get("max_files", 10)) <= 10:
        problems.append(f"must be between 1 and 10 [json-pointer:{where}/max_files]")


def _block(block: Any, where: str, problems: list[str], *, surface: str) -> None:
    if not isinstance(block, dict) or block.get("type") not in BLOCK_TYPES:
        problems.append(f"unsupported type [json-pointer:{where}/type]")
        return
    kind = block["type"]
    if kind == "input" and surface == "message":
        problems.append(f"input blocks are only allowed in modals [json-pointer:{where}]")
    if kind in ("section", "header") and "text" in block:
        _text_object(block["text"], f"{where}/text", TEXT_LIMITS[kind], problems, plain_only=kind == "header")
    if kind == "section" and "text" not in block and not block.get("fields"):
        problems.append(f"must provide text or fields [json-pointer:{where}]")
    if kind == "section" and "accessory" in block:
        _element(block["accessory"], f"{where}/accessory", problems, in_input=False)
    if kind == "context":
        elements = block.get("elements")
        if not isinstance(elements, list) or not 1 <= len(elements) <= 10:
            problems.append(f"must provide 1 to 10 elements [json-pointer:{where}/elements]")
        else:
            for i, element in enumerate(elements):
                if isinstance(element, dict) and element.get("type") in ("plain_text", "mrkdwn"):
                    _text_object(element, f"{where}/elements/{i}", 3000, problems)
    if kind == "actions":
        elements = block.get("elements")
        if not isinstance(elements, list) or not 1 <= len(elements) <= 25:
            problems.append(f"must provide 1 to 25 elements [json-pointer:{where}/elements]")
        else:
            for i, element in enumerate(elements):
                _element(element, f"{where}/elements/{i}", problems, in_input=False)
    if kind == "input":
        _text_object(block.get("label"), f"{where}/label", 2000, problems, plain_only=True)
        _element(block.get("element"), f"{where}/element", problems, in_input=True)
    block_id = block.get("block_id")
    if block_id is not None and (not isinstance(block_id, str) or len(block_id) > 255):
        problems.append(f"must be a string of at most 255 characters [json-pointer:{where}/block_id]")


def check_blocks(blocks: Any, *, surface: str = "message") -> list[dict[str, Any]]:
    """The blocks when Slack would take them on `surface` ("message" or "modal"), else `invalid_blocks`."""
    if not isinstance(blocks, list):
        raise SlackError("invalid_blocks_format")
    limit = MESSAGE_BLOCK_LIMIT if surface == "message" else VIEW_BLOCK_LIMIT
    problems: list[str] = []
    if len(blocks) > limit:
        problems.append(f"must be less than {limit + 1} items [json-pointer:/blocks]")
    seen: set[str] = set()
    for i, block in enumerate(blocks):
        _block(block, f"/blocks/{i}", problems, surface=surface)
        block_id = block.get("block_id") if isinstance(block, dict) else None
        if isinstance(block_id, str):
            if block_id in seen:
                problems.append(f"duplicate block_id [json-pointer:/blocks/{i}/block_id]")
            seen.add(block_id)
    if problems:
        raise SlackError("invalid_blocks", errors=problems,
                         response_metadata={"messages": [f"[ERROR] {p}" for p in problems]})
    return blocks


def check_view(view: Any) -> dict[str, Any]:
    """A modal definition Slack would show, else `invalid_arguments` with the reasons."""
    if not isinstance(view, dict) or view.get("type") != "modal":
        raise SlackError("invalid_arguments", response_metadata={"messages": ["[ERROR] view.type must be modal"]})
    problems: list[str] = []
    _text_object(view.get("title"), "/view/title", 24, problems, plain_only=True)
    for key in ("submit", "close"):
        if key in view:
            _text_object(view[key], f"/view/{key}", 24, problems, plain_only=True)
    blocks = view.get("blocks")
    has_input = isinstance(blocks, list) and any(isinstance(b, dict) and b.get("type") == "input" for b in blocks)
    if has_input and "submit" not in view:
        problems.append("submit is required when the view has input blocks [json-pointer:/view/submit]")
    if len(str(view.get("private_metadata", ""))) > 3000:
        problems.append("must be less than 3001 characters [json-pointer:/view/private_metadata]")
    if len(str(view.get("callback_id", ""))) > 255:
        problems.append("must be less than 256 characters [json-pointer:/view/callback_id]")
    if problems:
        raise SlackError("invalid_arguments", response_metadata={"messages": [f"[ERROR] {p}" for p in problems]})
    check_blocks(blocks, surface="modal")
    return view
