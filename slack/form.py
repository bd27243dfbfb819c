"""The ``/veo`` form (a modal, ``callback_id`` ``veo_submit``): the view it opens, and the submission read
back and checked field by field, so that bad input comes back on the form itself (``response_action:
errors``, keyed by block id) before anything is downloaded, stored or sent."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from bot.i18n import tr
from bot.jobs.errors import InvalidInput, UserFacingError
from bot.jobs.requests import check_frames, clean_prompt
from slack.files import FormFile
from slack.replies import error_text

CALLBACK_ID = "veo_submit"
ACTION = "v"
ORIENTATIONS = ("16x9", "9x16")
IMAGE_TYPES = ["png", "jpg", "jpeg", "webp"]
# Slack's limits: a modal title 24 characters, a plain_text_input's max_length 3000, 100 select options.
MAX_INPUT_CHARS = 3000
MAX_OPTIONS = 100


def _text(text: str) -> dict[str, Any]:
    return {"type": "plain_text", "text": text, "emoji": True}


def _option(value: str, label: str | None = None) -> dict[str, Any]:
    return {"text": _text(label or value), "value": value}


def form_view(*, channel_id: str, locale: str | None, prompt: str, models: tuple[str, ...], model: str,
              orientation: str, max_prompt_chars: int) -> dict[str, Any]:
    """The modal: prompt, first and last frame (one image each), model, orientation; the channel and the
    member's locale ride along in ``private_metadata``."""
    loc = locale
    model_options = [_option(m) for m in models[:MAX_OPTIONS]]
    orientation_options = [_option("16x9", tr("16x9 (landscape)", loc)), _option("9x16", tr("9x16 (portrait)", loc))]
    prompt_element: dict[str, Any] = {"type": "plain_text_input", "action_id": ACTION, "multiline": True,
                                      "max_length": min(max_prompt_chars, MAX_INPUT_CHARS)}
    if prompt:
        prompt_element["initial_value"] = prompt[:MAX_INPUT_CHARS]
    return {
        "type": "modal",
        "callback_id": CALLBACK_ID,
        "private_metadata": json.dumps({"c": channel_id, "l": locale}),
        "title": _text(tr("Make a video", loc)[:24]),
        "submit": _text(tr("Generate", loc)[:24]),
        "close": _text(tr("Cancel", loc)[:24]),
        "blocks": [
            {"type": "input", "block_id": "prompt", "label": _text(tr("Prompt", loc)), "element": prompt_element},
            {"type": "input", "block_id": "first", "optional": True,
             "label": _text(tr("First frame (PNG, JPEG or WebP)", loc)),
             "element": {"type": "file_input", "action_id": ACTION, "filetypes": IMAGE_TYPES, "max_files": 1}},
            {"type": "input", "block_id": "last", "optional": True,
             "label": _text(tr("Last frame (needs a first frame)", loc)),
             "element": {"type": "file_input", "action_id": ACTION, "filetypes": IMAGE_TYPES, "max_files": 1}},
            {"type": "input", "block_id": "model", "label": _text(tr("Model", loc)),
             "element": {"type": "static_select", "action_id": ACTION, "options": model_options,
                         "initial_option": _option(model) if model in models[:MAX_OPTIONS] else model_options[0]}},
            {"type": "input", "block_id": "orientation", "label": _text(tr("Orientation", loc)),
             "element": {"type": "radio_buttons", "action_id": ACTION, "options": orientation_options,
                         "initial_option": orientation_options[ORIENTATIONS.index(orientation)
                                                               if orientation in ORIENTATIONS else 0]}},
        ],
    }


@dataclass(frozen=True, slots=True)
class FormRequest:
    """A submitted form that passed the checks made on the form."""

    channel_id: str
    locale: str | None
    prompt: str
    files: tuple[FormFile, ...]
    model: str
    orientation: str


class FormErrors(Exception):
    """The submission's problems, one message per block id, as ``response_action: errors`` wants them."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__(", ".join(errors))
        self.errors = errors


def _value(values: dict[str, Any], block: str) -> dict[str, Any]:
    value = values.get(block, {}).get(ACTION)
    return value if isinstance(value, dict) else {}


def _selected(values: dict[str, Any], block: str) -> str | None:
    option = _value(values, block).get("selected_option")
    value = option.get("value") if isinstance(option, dict) else None
    return value if isinstance(value, str) else None


def _files(values: dict[str, Any], block: str) -> list[Any]:
    files = _value(values, block).get("files")
    return files if isinstance(files, list) else []


def metadata(view: dict[str, Any]) -> tuple[str | None, str | None]:
    """The channel and locale the form was opened with (None, None when the metadata is not ours)."""
    try:
        data = json.loads(view.get("private_metadata") or "")
    except (TypeError, ValueError):
        return None, None
    if not isinstance(data, dict):
        return None, None
    channel, locale = data.get("c"), data.get("l")
    return (channel if isinstance(channel, str) else None), (locale if isinstance(locale, str) else None)


def read_form(view: dict[str, Any], *, models: tuple[str, ...], max_prompt_chars: int,
              max_image_bytes: int) -> FormRequest:
    """The submission's values, checked; ``FormErrors`` with a message under each bad field."""
    channel_id, locale = metadata(view)
    values = view.get("state", {}).get("values", {})
    values = values if isinstance(values, dict) else {}
    errors: dict[str, str] = {}

    def refuse(block: str, error: UserFacingError) -> None:
        errors.setdefault(block, error_text(error, locale)[:150])  # Slack shows short messages under a field

    prompt = ""
    try:
        prompt = clean_prompt(str(_value(values, "prompt").get("value") or ""), max_prompt_chars)
    except InvalidInput as exc:
        refuse("prompt", exc)
    frames: list[FormFile] = []
    for block, label in (("first", "first"), ("last", "last")):
        files = _files(values, block)
        if len(files) > 1:
            refuse(block, InvalidInput("Attach one image here."))
            continue
        for file in files:
            try:
                form_file = FormFile.from_payload(label, file if isinstance(file, dict) else {})
                form_file.kind(max_image_bytes)
            except InvalidInput as exc:
                refuse(block, exc)
            else:
                frames.append(form_file)
    try:
        check_frames(bool(_files(values, "first")), bool(_files(values, "last")))
    except InvalidInput:
        refuse("last", InvalidInput("A last frame needs a first frame: add the first frame too."))
    model = _selected(values, "model")
    if model is None or model not in models:
        refuse("model", InvalidInput("Pick one of the models in the list."))
    orientation = _selected(values, "orientation")
    if orientation not in ORIENTATIONS:
        refuse("orientation", InvalidInput("Orientation must be one of: {choices}.",
                                           params={"choices": ", ".join(ORIENTATIONS)}))
    if channel_id is None:
        refuse("prompt", InvalidInput("This form has expired. Run /veo again."))
    if errors:
        raise FormErrors(errors)
    assert channel_id is not None and model is not None and orientation is not None
    return FormRequest(channel_id, locale, prompt, tuple(frames), model, orientation)
