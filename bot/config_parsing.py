"""Building blocks of the settings: the declaration of one setting, value types for what plain pydantic types
do not say (URLs, comma-separated lists), the source that reads a given mapping of variables, and the one
line per bad variable that a validation error becomes."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Annotated, Any, TypeVar

from pydantic import AfterValidator, BeforeValidator, Field, SecretStr, ValidationError
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings, EnvSettingsSource, NoDecode

from bot.database_url import SQLITE_PREFIX, is_postgres, is_sqlite

T = TypeVar("T")


def setting(variable: str, default: Any, expected: str, **bounds: Any) -> Any:
    """Declare a setting: the variable it is read from, its default, its bounds (``gt``, ``ge``, ``le``, …) and
    what a good value looks like, which is what the error line says when the value is bad."""
    return Field(default, validation_alias=variable, json_schema_extra={"expected": expected}, **bounds)


def expected(field: FieldInfo) -> str:
    """What a good value of this setting looks like, as declared with ``setting``."""
    extra = field.json_schema_extra
    return str(extra["expected"]) if isinstance(extra, dict) and "expected" in extra else "a valid value"


def variable(field: FieldInfo) -> str:
    """The variable this setting is read from."""
    return str(field.validation_alias)


class VariablesSource(EnvSettingsSource):
    """pydantic-settings' environment source, reading a given mapping instead of ``os.environ``.

    Names match exactly; values lose surrounding spaces, and a blank value means the variable is unset."""

    def __init__(self, settings_cls: type[BaseSettings], variables: Mapping[str, str]) -> None:
        self._variables = {name: value.strip() for name, value in variables.items() if value and value.strip()}
        super().__init__(settings_cls, case_sensitive=True)

    def _load_env_vars(self) -> Mapping[str, str | None]:
        # The hook pydantic-settings' own .env source overrides too (the same in 2.7 and 2.16).
        return self._variables


def problem_lines(error: ValidationError, fields: Mapping[str, FieldInfo]) -> dict[str, str]:
    """One line per variable with a bad value, keyed by the variable; the value itself is never shown (a
    secret pasted into the wrong variable must not leak), nor pydantic's message, which may quote it."""
    by_variable = {variable(field): field for field in fields.values()}
    lines: dict[str, str] = {}
    for problem in error.errors(include_url=False, include_context=False, include_input=False):
        name = str(problem["loc"][0]) if problem["loc"] else ""
        field = by_variable.get(name)
        if field is None:
            lines.setdefault(name, f"the settings are malformed ({problem['type']}).")
        else:
            lines.setdefault(name, f"{name} is malformed: expected {expected(field)}.")
    return lines


def split(text: Any) -> Any:
    """A variable's text split at commas, without surrounding spaces and empty entries; other values pass."""
    if isinstance(text, str):
        return [part.strip() for part in text.split(",") if part.strip()]
    return text


def _pairs(text: Any) -> Any:
    """``name=value`` entries, comma-separated, as pairs; other values pass."""
    if not isinstance(text, str):
        return text
    pairs = []
    for entry in split(text):
        name, sep, value = entry.partition("=")
        if not sep:
            raise ValueError("an entry without '='")
        pairs.append((name.strip(), value.strip()))
    return pairs


def unique(values: tuple[T, ...]) -> tuple[T, ...]:
    """The values without repeats, in their first order."""
    return tuple(dict.fromkeys(values))


def _no_repeats(values: tuple[T, ...]) -> tuple[T, ...]:
    if len(set(values)) != len(values):
        raise ValueError("a value repeated")
    return values


def lowered(text: Any) -> Any:
    """Text in lower case, for choices that ignore case."""
    return text.lower() if isinstance(text, str) else text


def uppered(text: Any) -> Any:
    """Text in upper case, for choices that ignore case."""
    return text.upper() if isinstance(text, str) else text


def _url(schemes: tuple[str, ...]) -> Callable[[str], str]:
    """A check for URLs with one of ``schemes`` (http(s) URLs lose a trailing slash)."""
    def check(text: str) -> str:
        scheme, sep, rest = text.partition("://")
        if not sep or scheme.lower() not in schemes or not rest.strip("/") or any(c.isspace() for c in text):
            raise ValueError("not a URL with an allowed scheme")
        return text.rstrip("/") if scheme.lower().startswith("http") else text

    return check


def _database_url(text: str) -> str:
    if is_sqlite(text) and len(text) > len(SQLITE_PREFIX):
        return text
    _scheme, _, rest = text.partition("://")
    if is_postgres(text) and rest.strip("/") and not any(c.isspace() for c in text):
        return text
    raise ValueError("not a sqlite:/// or postgresql:// URL")  # never the value: it may hold a password


def _host(text: str) -> str:
    if any(c.isspace() or c in "/@" for c in text):
        raise ValueError("not a host name or address")
    return text


def _token_with_prefix(prefix: str) -> Callable[[SecretStr], SecretStr]:
    """A check that a token (when set) starts with ``prefix``: a Slack bot token pasted where the app-level
    token belongs, or the other way round, is said at start rather than refused by Slack later."""
    def check(token: SecretStr) -> SecretStr:
        value = token.get_secret_value()
        if value and (not value.startswith(prefix) or any(c.isspace() for c in value)):
            raise ValueError("not a token of this kind")  # never the value
        return token

    return check


HttpBaseUrl = Annotated[str, AfterValidator(_url(("http", "https")))]
WebSocketUrl = Annotated[str, AfterValidator(_url(("ws", "wss")))]
DatabaseUrl = Annotated[str, AfterValidator(_database_url)]
Host = Annotated[str, AfterValidator(_host)]
# Comma-separated lists: NoDecode keeps pydantic-settings from reading the text as JSON.
Ids = Annotated[tuple[Annotated[int, Field(gt=0)], ...], NoDecode, BeforeValidator(split)]
ShardIds = Annotated[
    tuple[Annotated[int, Field(ge=0)], ...], NoDecode, BeforeValidator(split), AfterValidator(_no_repeats),
    Field(min_length=1),
]
SlackBotToken = Annotated[SecretStr, AfterValidator(_token_with_prefix("xoxb-"))]
SlackAppToken = Annotated[SecretStr, AfterValidator(_token_with_prefix("xapp-"))]
# Member ids (U…, or W… on Enterprise Grid), upper-case letters and digits.
SlackUserIds = Annotated[
    tuple[Annotated[str, Field(pattern=r"^[UW][A-Z0-9]{2,30}$")], ...], NoDecode, BeforeValidator(split),
    AfterValidator(unique),
]
Names = Annotated[
    tuple[Annotated[str, Field(max_length=100, pattern=r"^\S+$")], ...],
    NoDecode, BeforeValidator(split), AfterValidator(unique), Field(min_length=1),
]
LowerNames = Annotated[
    tuple[str, ...], NoDecode, BeforeValidator(lambda text: split(lowered(text))), AfterValidator(unique),
    Field(min_length=1),
]
Prices = Annotated[
    tuple[tuple[Annotated[str, Field(min_length=1)], Annotated[float, Field(ge=0, lt=1000)]], ...],
    NoDecode, BeforeValidator(_pairs), Field(min_length=1),
]
