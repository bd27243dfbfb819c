"""Continue: a button on results that asks (in a form) what happens next, and queues the next clip from the
video's last frame. Both the button and the form are handled from their custom ids, so they keep working after
a restart."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator, Mapping
from typing import Any

import discord

from bot.i18n import tr
from bot.jobs.continuation import Requester
from bot.jobs.errors import InvalidInput
from bot.jobs.records import Job
from cogs.attachments import check_bot_can_post
from cogs.context import continuations
from cogs.errors import answer_error
from cogs.ids import member_id, role_ids, workspace_of
from cogs.limits import (
    BUTTON_LABEL,
    CONTENT,
    LABEL_DESCRIPTION,
    LABEL_TEXT,
    MODAL_TITLE,
    TEXT_INPUT_PLACEHOLDER,
    TEXT_INPUT_VALUE,
    clip,
)
from cogs.render import Locale, message_link

log = logging.getLogger(__name__)

CONTINUE_ID = "veo:continue:{job}"
FORM_ID = "veo:continue:{job}:prompt"
FORM_PATTERN = re.compile(r"veo:continue:(?P<job>[0-9]{1,18}):prompt")
PROMPT_FIELD = "prompt"


def _requester(interaction: discord.Interaction) -> Requester:
    assert interaction.channel_id is not None
    return Requester(workspace=workspace_of(interaction), channel_id=str(interaction.channel_id),
                     user_id=member_id(interaction), role_ids=role_ids(interaction), locale=str(interaction.locale))


class ContinueButton(discord.ui.DynamicItem[discord.ui.Button[Any]], template=r"veo:continue:(?P<job>[0-9]{1,18})"):
    """Make the next clip: a new job of whoever clicks, starting from this video's last frame."""

    def __init__(self, job_id: int, locale: Locale = None) -> None:
        super().__init__(discord.ui.Button(label=clip(tr("Continue", locale), BUTTON_LABEL), emoji="⏭️",
                                           style=discord.ButtonStyle.primary,
                                           custom_id=CONTINUE_ID.format(job=job_id)))
        self.job_id = job_id

    @classmethod
    async def from_custom_id(cls, interaction: discord.Interaction, item: discord.ui.Item[Any],
                             match: re.Match[str], /) -> ContinueButton:
        """Rebuild the button from its custom id after a restart."""
        return cls(int(match["job"]))

    async def callback(self, interaction: discord.Interaction) -> None:
        """Ask for the next clip's prompt in a form; a form must be the first answer, so the (quick) checks come
        before it and nothing is deferred."""
        try:
            original = await continuations(interaction).source(self.job_id, _requester(interaction))
            form = prompt_form(original, continuations(interaction).max_prompt_chars, interaction.locale)
            await interaction.response.send_modal(form)
        except Exception as error:
            await answer_error(interaction, error)


def prompt_form(original: Job, max_chars: int, locale: Locale = None) -> discord.ui.Modal:
    """The form that asks what happens next in the clip after ``original``."""
    form = discord.ui.Modal(title=clip(tr("Continue job #{job}", locale, job=original.id), MODAL_TITLE),
                            custom_id=FORM_ID.format(job=original.id))
    field: discord.ui.TextInput[Any] = discord.ui.TextInput(
        custom_id=PROMPT_FIELD, style=discord.TextStyle.paragraph, required=True, min_length=1,
        max_length=min(max_chars, TEXT_INPUT_VALUE),
        placeholder=clip(tr("e.g. the camera follows the fox into the forest", locale), TEXT_INPUT_PLACEHOLDER),
    )
    form.add_item(discord.ui.Label(
        text=clip(tr("What happens next", locale), LABEL_TEXT),
        description=clip(tr("The new clip starts from the last frame of this video.", locale), LABEL_DESCRIPTION),
        component=field,
    ))
    # discord.py keeps a sent form in memory to route its submission, and by its custom id alone (two members
    # continuing the same video would share one). Submissions are read by ``form_submitted`` instead, which
    # also works after a restart; a stopped form is sent without being kept.
    form.stop()
    return form


def submitted_values(components: Any) -> Iterator[tuple[str, str]]:
    """(custom id, value) of each field of a form submission, in labels or (the older layout) action rows."""
    for component in components if isinstance(components, list) else []:
        if not isinstance(component, Mapping):
            continue
        if component.get("type") == discord.ComponentType.action_row.value:
            yield from submitted_values(component.get("components"))
        elif component.get("type") == discord.ComponentType.label.value:
            yield from submitted_values([component.get("component")])
        elif isinstance(component.get("custom_id"), str) and isinstance(component.get("value"), str):
            yield component["custom_id"], component["value"]


async def form_submitted(interaction: discord.Interaction) -> None:
    """Queue the next clip when a Continue form is submitted (listens to every interaction, keeps its own)."""
    if interaction.type is not discord.InteractionType.modal_submit or interaction.data is None:
        return
    match = FORM_PATTERN.fullmatch(str(interaction.data.get("custom_id", "")))
    if match is None:
        return
    await interaction.response.defer(ephemeral=True, thinking=True)
    try:
        await _continue(interaction, int(match["job"]))
    except Exception as error:
        await answer_error(interaction, error)


async def _continue(interaction: discord.Interaction, job_id: int) -> None:
    prompt = dict(submitted_values(interaction.data.get("components") if interaction.data else None))
    if PROMPT_FIELD not in prompt:
        raise InvalidInput("The form came back without its prompt. Click Continue again.")
    check_bot_can_post(interaction.app_permissions)
    original, job = await continuations(interaction).create(job_id, _requester(interaction), prompt[PROMPT_FIELD])
    loc = interaction.locale
    content = tr("Queued job #{job}, continuing from the last frame of job #{original}.", loc, job=job.id,
                 original=original.id)
    link = message_link(job, job.status_message_id)
    if link:
        content += " " + tr("Follow it here: {link}", loc, link=link)
    await interaction.edit_original_response(content=clip(content, CONTENT))
