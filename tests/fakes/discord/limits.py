"""Discord's documented size limits on message and command payloads, checked as Discord checks them.

Every problem of a body is reported at once: 400, code 50035 "Invalid Form Body", with an `errors` object
nested by path (`{"embeds": {"0": {"description": {"_errors": [{"code", "message"}]}}}}`). Lengths are
counted in code points, as Discord's API does. The numbers are Discord's, written out here on purpose:
the fake does not borrow the bot's own constants.
"""

from __future__ import annotations

from typing import Any

from tests.fakes.discord.models import FakeHTTPError, nest_error

# Messages (https://discord.com/developers/docs/resources/message#create-message).
CONTENT = 2000
EMBEDS = 10
# Embeds (https://discord.com/developers/docs/resources/message#embed-object-embed-limits).
EMBED_TITLE = 256
EMBED_DESCRIPTION = 4096
EMBED_FIELDS = 25
FIELD_NAME = 256
FIELD_VALUE = 1024
FOOTER_TEXT = 2048
AUTHOR_NAME = 256
EMBED_TOTAL = 6000
# Components (https://discord.com/developers/docs/components/reference).
ACTION_ROWS = 5
ROW_COMPONENTS = 5
CUSTOM_ID = 100
BUTTON_LABEL = 80
BUTTON_URL = 512
SELECT_PLACEHOLDER = 150
SELECT_OPTIONS = 25
OPTION_LABEL = 100
OPTION_VALUE = 100
OPTION_DESCRIPTION = 100
SELECT_VALUES = 25
# Application commands (https://discord.com/developers/docs/interactions/application-commands).
COMMAND_NAME = 32
COMMAND_DESCRIPTION = 100
COMMAND_OPTIONS = 25
CHOICES = 25
CHOICE_NAME = 100
CHOICE_VALUE = 100

ACTION_ROW, BUTTON, STRING_SELECT = 1, 2, 3
SELECTS = frozenset({3, 5, 6, 7, 8})
LINK_STYLE, PREMIUM_STYLE = 5, 6
SUBCOMMAND, SUBCOMMAND_GROUP, STRING_OPTION = 1, 2, 3
CHAT_INPUT = 1
FLAG_COMPONENTS_V2 = 1 << 15
# The locales Discord accepts as keys of `name_localizations` and `description_localizations`.
LOCALES = frozenset(
    {
        "id",
        "da",
        "de",
        "en-GB",
        "en-US",
        "es-ES",
        "es-419",
        "fr",
        "hr",
        "it",
        "lt",
        "hu",
        "nl",
        "no",
        "pl",
        "pt-BR",
        "ro",
        "fi",
        "sv-SE",
        "vi",
        "tr",
        "cs",
        "el",
        "bg",
        "ru",
        "uk",
        "hi",
        "th",
        "zh-CN",
        "ja",
        "zh-TW",
        "ko",
    }
)
# Devanagari and Thai, which Discord's name pattern allows besides letters and numbers.
_NAME_SCRIPTS = ((0x0900, 0x097F), (0x0E00, 0x0E7F))


def _name_char(char: str) -> bool:
    """Whether Discord's `^[-_'\\p{L}\\p{N}\\p{sc=Deva}\\p{sc=Thai}]{1,32}$` allows `char`."""
    return (
        char in "-_'"
        or char.isalpha()
        or char.isnumeric()
        or any(low <= ord(char) <= high for low, high in _NAME_SCRIPTS)
    )


class FormErrors:
    """The problems found in one request body, nested by path as Discord reports them."""

    def __init__(self) -> None:
        self.errors: dict[str, Any] = {}

    def add(self, path: str, code: str, message: str) -> None:
        """Record a problem at a dotted path (`embeds.0.title`; empty for the body itself)."""
        nest_error(self.errors, path, code, message)

    def raise_if_any(self) -> None:
        """400 / 50035 with every recorded problem."""
        if self.errors:
            raise FakeHTTPError(400, 50035, "Invalid Form Body", errors=self.errors)

    def text(
        self, path: str, value: Any, high: int, *, low: int = 0, required: bool = False, blank: bool = True
    ) -> int:
        """Check a string field; returns its length (0 when absent or not a string).

        `blank=False`: an empty string counts as missing (embed field names and values, footer, author).
        """
        if value is None or (value == "" and not blank):
            if required:
                self.add(path, "BASE_TYPE_REQUIRED", "This field is required")
            return 0
        if not isinstance(value, str):
            self.add(path, "BASE_TYPE_STRING", "Could not interpret value as string.")
            return 0
        if low > 0 and not low <= len(value) <= high:
            self.add(path, "BASE_TYPE_BAD_LENGTH", f"Must be between {low} and {high} in length.")
        elif len(value) > high:
            self.add(path, "BASE_TYPE_MAX_LENGTH", f"Must be {high} or fewer in length.")
        return len(value)

    def array(self, path: str, value: Any, high: int, *, low: int = 0) -> list[Any]:
        """Check a list field; returns its items (none when absent or not a list)."""
        if value is None:
            return []
        if not isinstance(value, list):
            self.add(path, "ARRAY_TYPE_CONVERT", "Only iterables may be used in a ListType")
            return []
        if low > 0 and not low <= len(value) <= high:
            self.add(path, "BASE_TYPE_BAD_LENGTH", f"Must be between {low} and {high} in length.")
        elif len(value) > high:
            self.add(path, "BASE_TYPE_MAX_LENGTH", f"Must be {high} or fewer in length.")
        return value

    def objects(self, path: str, value: Any, high: int, *, low: int = 0) -> list[tuple[str, dict[str, Any]]]:
        """Check a list of objects; returns (path, object) for each item that is an object."""
        found = []
        for index, item in enumerate(self.array(path, value, high, low=low)):
            if isinstance(item, dict):
                found.append((f"{path}.{index}", item))
            else:
                self.add(f"{path}.{index}", "DICT_TYPE_CONVERT", "Only dictionaries may be used in a DictType")
        return found


# ----- messages -----


def check_message(body: dict[str, Any]) -> None:
    """The limits of a message body (create or edit, by channel, interaction callback or webhook)."""
    errors = FormErrors()
    errors.text("content", body.get("content"), CONTENT)
    embeds = errors.objects("embeds", body.get("embeds"), EMBEDS)
    total = sum(_check_embed(errors, path, embed) for path, embed in embeds)
    if total > EMBED_TOTAL:
        errors.add("embeds", "MAX_EMBED_SIZE_EXCEEDED", f"Embed size exceeds maximum size of {EMBED_TOTAL}")
    if not int(body.get("flags") or 0) & FLAG_COMPONENTS_V2:
        _check_components(errors, body.get("components"))
    errors.raise_if_any()


def _check_embed(errors: FormErrors, path: str, embed: dict[str, Any]) -> int:
    """Check one embed; returns the characters it counts towards the 6,000 of the message."""
    size = errors.text(f"{path}.title", embed.get("title"), EMBED_TITLE)
    size += errors.text(f"{path}.description", embed.get("description"), EMBED_DESCRIPTION)
    for field_path, item in errors.objects(f"{path}.fields", embed.get("fields"), EMBED_FIELDS):
        size += errors.text(f"{field_path}.name", item.get("name"), FIELD_NAME, required=True, blank=False)
        size += errors.text(f"{field_path}.value", item.get("value"), FIELD_VALUE, required=True, blank=False)
    for part, key, cap in (("footer", "text", FOOTER_TEXT), ("author", "name", AUTHOR_NAME)):
        inner = embed.get(part)
        if isinstance(inner, dict):
            size += errors.text(f"{path}.{part}.{key}", inner.get(key), cap, required=True, blank=False)
    return size


def _check_components(errors: FormErrors, components: Any) -> None:
    custom_ids: set[str] = set()
    for row_path, row in errors.objects("components", components, ACTION_ROWS):
        if row.get("type") != ACTION_ROW:
            errors.add(f"{row_path}.type", "UNION_TYPE_CHOICES", 'Value of field "type" must be one of (1,).')
            continue
        items = errors.objects(f"{row_path}.components", row.get("components"), ROW_COMPONENTS, low=1)
        if len(items) > 1 and any(item.get("type") in SELECTS for _, item in items):
            errors.add(
                f"{row_path}.components",
                "COMPONENT_LAYOUT_WIDTH_EXCEEDED",
                "The specified component exceeds the maximum width",
            )
        for path, item in items:
            _check_component(errors, path, item, custom_ids)


def _check_component(errors: FormErrors, path: str, item: dict[str, Any], custom_ids: set[str]) -> None:
    kind = item.get("type")
    link = kind == BUTTON and item.get("style") in (LINK_STYLE, PREMIUM_STYLE)
    custom_id = item.get("custom_id")
    if kind == BUTTON or kind in SELECTS:
        errors.text(f"{path}.custom_id", custom_id, CUSTOM_ID, low=1, required=not link)
        if isinstance(custom_id, str):
            if custom_id in custom_ids:
                errors.add(
                    f"{path}.custom_id", "COMPONENT_CUSTOM_ID_DUPLICATED", "Component custom id cannot be duplicated"
                )
            custom_ids.add(custom_id)
    if kind == BUTTON:
        errors.text(f"{path}.label", item.get("label"), BUTTON_LABEL)
        if item.get("style") == LINK_STYLE:
            errors.text(f"{path}.url", item.get("url"), BUTTON_URL, required=True)
    elif kind in SELECTS:
        errors.text(f"{path}.placeholder", item.get("placeholder"), SELECT_PLACEHOLDER)
        for key, low in (("min_values", 0), ("max_values", 1)):
            value = item.get(key)
            if value is not None and not (isinstance(value, int) and low <= value <= SELECT_VALUES):
                errors.add(
                    f"{path}.{key}", "NUMBER_TYPE_MAX", f"int value should be between {low} and {SELECT_VALUES}."
                )
        if kind == STRING_SELECT:
            options = errors.objects(f"{path}.options", item.get("options"), SELECT_OPTIONS, low=1)
            if item.get("options") is None:
                errors.add(f"{path}.options", "BASE_TYPE_REQUIRED", "This field is required")
            for option_path, option in options:
                errors.text(f"{option_path}.label", option.get("label"), OPTION_LABEL, low=1, required=True)
                errors.text(f"{option_path}.value", option.get("value"), OPTION_VALUE, low=1, required=True)
                errors.text(f"{option_path}.description", option.get("description"), OPTION_DESCRIPTION)


# ----- autocomplete -----


def check_choices(data: dict[str, Any]) -> list[dict[str, Any]]:
    """The choices of an autocomplete answer (callback type 8); returns them."""
    errors = FormErrors()
    if not isinstance(data.get("choices"), list):
        errors.add("data.choices", "BASE_TYPE_REQUIRED", "This field is required")
    choices = _check_choices(errors, "data.choices", data.get("choices"), string=None)
    errors.raise_if_any()
    return choices


def _check_choices(errors: FormErrors, path: str, value: Any, *, string: bool | None) -> list[dict[str, Any]]:
    """Choices of an option (`string`: whether values must be strings; None for whatever type)."""
    found = []
    for choice_path, choice in errors.objects(path, value, CHOICES):
        found.append(choice)
        errors.text(f"{choice_path}.name", choice.get("name"), CHOICE_NAME, low=1, required=True)
        _check_localizations(
            errors, f"{choice_path}.name_localizations", choice.get("name_localizations"), CHOICE_NAME, name=False
        )
        choice_value = choice.get("value")
        if isinstance(choice_value, str) or string:
            errors.text(f"{choice_path}.value", choice_value, CHOICE_VALUE, required=True)
    return found


# ----- application commands -----


def check_commands(payload: list[Any]) -> None:
    """The limits of a bulk overwrite (PUT) of application commands: names, descriptions, options, choices."""
    errors = FormErrors()
    for index, command in enumerate(payload):
        if isinstance(command, dict):
            _check_command(errors, str(index), command)
    errors.raise_if_any()


def _check_name(errors: FormErrors, path: str, name: Any, *, chat_input: bool = True) -> None:
    if not isinstance(name, str):
        errors.add(path, "BASE_TYPE_REQUIRED", "This field is required")
        return
    if not 1 <= len(name) <= COMMAND_NAME:
        errors.add(path, "BASE_TYPE_BAD_LENGTH", f"Must be between 1 and {COMMAND_NAME} in length.")
    elif chat_input and (not all(_name_char(c) for c in name) or name != name.lower()):
        errors.add(path, "APPLICATION_COMMAND_INVALID_NAME", "Command name is invalid")


def _check_localizations(errors: FormErrors, path: str, value: Any, high: int, *, name: bool) -> None:
    """`name_localizations` / `description_localizations`: known locales, each text within the same rules."""
    if value is None:
        return
    if not isinstance(value, dict):
        errors.add(path, "DICT_TYPE_CONVERT", "Only dictionaries may be used in a DictType")
        return
    for locale, text in value.items():
        if locale not in LOCALES:
            errors.add(f"{path}.{locale}", "ENUM_TYPE_COERCE", f'Value "{locale}" is not a valid enum value.')
        elif name:
            _check_name(errors, f"{path}.{locale}", text)
        else:
            errors.text(f"{path}.{locale}", text, high, low=1, required=True)


def _check_command(errors: FormErrors, path: str, command: dict[str, Any]) -> None:
    chat_input = int(command.get("type", CHAT_INPUT)) == CHAT_INPUT
    _check_name(errors, f"{path}.name", command.get("name"), chat_input=chat_input)
    _check_localizations(
        errors, f"{path}.name_localizations", command.get("name_localizations"), COMMAND_NAME, name=chat_input
    )
    if chat_input:
        errors.text(f"{path}.description", command.get("description", ""), COMMAND_DESCRIPTION, low=1)
        _check_localizations(
            errors,
            f"{path}.description_localizations",
            command.get("description_localizations"),
            COMMAND_DESCRIPTION,
            name=False,
        )
        _check_options(errors, f"{path}.options", command.get("options"))


def _check_options(errors: FormErrors, path: str, value: Any) -> None:
    for option_path, option in errors.objects(path, value, COMMAND_OPTIONS):
        _check_name(errors, f"{option_path}.name", option.get("name"))
        _check_localizations(
            errors, f"{option_path}.name_localizations", option.get("name_localizations"), COMMAND_NAME, name=True
        )
        errors.text(f"{option_path}.description", option.get("description"), COMMAND_DESCRIPTION, low=1, required=True)
        _check_localizations(
            errors,
            f"{option_path}.description_localizations",
            option.get("description_localizations"),
            COMMAND_DESCRIPTION,
            name=False,
        )
        _check_choices(
            errors, f"{option_path}.choices", option.get("choices"), string=option.get("type") == STRING_OPTION
        )
        if option.get("type") in (SUBCOMMAND, SUBCOMMAND_GROUP):
            _check_options(errors, f"{option_path}.options", option.get("options"))
