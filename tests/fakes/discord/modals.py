"""Modals: the limits Discord checks on a modal a bot opens (callback type 9), and the submission (interaction
type 5) a member's client sends back, with only what the client lets a member type.

Numbers from https://discord.com/developers/docs/components/reference (text input, label, modal), written out
here on purpose: the fake does not borrow the bot's own constants.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from tests.fakes.discord.limits import FormErrors

MODAL_TITLE = 45
MODAL_COMPONENTS = 5
CUSTOM_ID = 100
LABEL_TEXT = 45
LABEL_DESCRIPTION = 100
TEXT_INPUT_LENGTH = 4000
TEXT_INPUT_PLACEHOLDER = 100
ACTION_ROW, TEXT_INPUT, LABEL = 1, 4, 18
SHORT, PARAGRAPH = 1, 2


def check_modal(data: dict[str, Any]) -> dict[str, Any]:
    """The limits of a modal (the ``data`` of callback type 9); returns it."""
    errors = FormErrors()
    errors.text("data.title", data.get("title"), MODAL_TITLE, low=1, required=True)
    errors.text("data.custom_id", data.get("custom_id"), CUSTOM_ID, low=1, required=True)
    custom_ids: set[str] = set()
    for path, item in errors.objects("data.components", data.get("components"), MODAL_COMPONENTS, low=1):
        if item.get("type") == ACTION_ROW:
            # The older layout: one text input per row, carrying its own label.
            for input_path, text_input in errors.objects(f"{path}.components", item.get("components"), 1, low=1):
                _check_text_input(errors, input_path, text_input, custom_ids, in_label=False)
        elif item.get("type") == LABEL:
            errors.text(f"{path}.label", item.get("label"), LABEL_TEXT, low=1, required=True)
            errors.text(f"{path}.description", item.get("description"), LABEL_DESCRIPTION)
            inner = item.get("component")
            if not isinstance(inner, dict):
                errors.add(f"{path}.component", "BASE_TYPE_REQUIRED", "This field is required")
            elif inner.get("type") == TEXT_INPUT:
                _check_text_input(errors, f"{path}.component", inner, custom_ids, in_label=True)
        else:
            errors.add(f"{path}.type", "UNION_TYPE_CHOICES", 'Value of field "type" must be one of (1, 18).')
    if data.get("components") is None:
        errors.add("data.components", "BASE_TYPE_REQUIRED", "This field is required")
    errors.raise_if_any()
    return data


def _check_text_input(errors: FormErrors, path: str, item: dict[str, Any], custom_ids: set[str], *,
                      in_label: bool) -> None:
    if item.get("type") != TEXT_INPUT:
        errors.add(f"{path}.type", "UNION_TYPE_CHOICES", f'Value of field "type" must be one of ({TEXT_INPUT},).')
        return
    custom_id = item.get("custom_id")
    errors.text(f"{path}.custom_id", custom_id, CUSTOM_ID, low=1, required=True)
    if isinstance(custom_id, str):
        if custom_id in custom_ids:
            errors.add(f"{path}.custom_id", "COMPONENT_CUSTOM_ID_DUPLICATED",
                       "Component custom id cannot be duplicated")
        custom_ids.add(custom_id)
    if item.get("style") not in (SHORT, PARAGRAPH):
        errors.add(f"{path}.style", "UNION_TYPE_CHOICES", 'Value of field "style" must be one of (1, 2).')
    if not in_label:
        errors.text(f"{path}.label", item.get("label"), LABEL_TEXT, low=1, required=True)
    errors.text(f"{path}.placeholder", item.get("placeholder"), TEXT_INPUT_PLACEHOLDER)
    errors.text(f"{path}.value", item.get("value"), TEXT_INPUT_LENGTH)
    low, high = item.get("min_length"), item.get("max_length")
    for key, value, floor in (("min_length", low, 0), ("max_length", high, 1)):
        if value is not None and not (isinstance(value, int) and floor <= value <= TEXT_INPUT_LENGTH):
            errors.add(f"{path}.{key}", "NUMBER_TYPE_MAX",
                       f"int value should be between {floor} and {TEXT_INPUT_LENGTH}.")
    if isinstance(low, int) and isinstance(high, int) and low > high:
        errors.add(f"{path}.min_length", "NUMBER_TYPE_MAX", "min_length must not be greater than max_length.")


def text_inputs(modal: Mapping[str, Any]) -> Iterator[tuple[bool, dict[str, Any]]]:
    """(in a label, the text input) for each text input of a modal, in order."""
    for item in modal.get("components") or []:
        if item.get("type") == ACTION_ROW:
            for inner in item.get("components") or []:
                yield False, inner
        elif item.get("type") == LABEL and isinstance(item.get("component"), dict):
            yield True, item["component"]


def submission(modal: Mapping[str, Any], values: Mapping[str, str]) -> list[dict[str, Any]]:
    """The ``components`` of the modal-submit interaction for what a member typed.

    A member's client cannot send a required field empty, a value outside the field's lengths, or a field the
    modal does not have: asking for one is a mistake in the test, so it raises ``ValueError``.
    """
    known = {item["custom_id"] for _, item in text_inputs(modal)}
    unknown = set(values) - known
    if unknown:
        raise ValueError(f"the modal has no text input {sorted(unknown)} (it has {sorted(known)})")
    components: list[dict[str, Any]] = []
    for in_label, item in text_inputs(modal):
        value = values.get(item["custom_id"], item.get("value") or "")
        required = item.get("required", True)
        low, high = item.get("min_length") or 0, item.get("max_length") or TEXT_INPUT_LENGTH
        if required and not value:
            raise ValueError(f"Discord's client does not submit the required field {item['custom_id']!r} empty")
        if value and not low <= len(value) <= high:
            raise ValueError(f"Discord's client keeps {item['custom_id']!r} between {low} and {high} characters")
        submitted = {"type": TEXT_INPUT, "custom_id": item["custom_id"], "value": value}
        components.append({"type": LABEL, "component": submitted} if in_label
                          else {"type": ACTION_ROW, "components": [submitted]})
    return components
