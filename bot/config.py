"""Typed settings, read once from the environment (and a ``.env`` file) and validated at start-up.

Each setting is declared once, in the section it belongs to (the job core, CometAPI, Discord, storage,
operations): its variable, type, default and bounds, and whether it is a secret (``SecretStr``). ``Settings``
joins the sections into one flat, frozen object; ``load_settings`` builds it from a mapping of variables.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal, get_args

from dotenv import dotenv_values
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    SecretStr,
    ValidationError,
    ValidationInfo,
    field_validator,
)
from pydantic_settings import BaseSettings, NoDecode, PydanticBaseSettingsSource, SettingsConfigDict

from bot import config_parsing as cp
from bot.config_parsing import setting
from bot.database_url import SQLITE_PREFIX, is_sqlite
from bot.orientations import parse_orientation_map

MIB = 1024 * 1024
DEFAULT_MODELS: tuple[str, ...] = ("veo3.1-fast", "veo3.1", "veo3.1-pro", "veo3-fast", "veo3")
Provider = Literal["cometapi", "mock"]
PROVIDERS: tuple[str, ...] = get_args(Provider)
LogLevel = Literal["DEBUG", "INFO", "WARNING", "ERROR"]
LOG_LEVELS: tuple[str, ...] = get_args(LogLevel)
LogFormat = Literal["text", "json"]
LOG_FORMATS: tuple[str, ...] = get_args(LogFormat)
Role = Literal["all", "worker"]
ROLES: tuple[str, ...] = get_args(Role)
ORIENTATIONS = ("16x9", "9x16")
DEFAULT_COMETAPI_BASE_URL = "https://api.cometapi.com/v1"
DEFAULT_DISCORD_API_BASE_URL = "https://discord.com/api/v10"
DEFAULT_DISCORD_GATEWAY_URL = "wss://gateway.discord.gg/"
DEFAULT_DATABASE_URL = "sqlite:///data/veo.sqlite3"
DEFAULT_SLACK_API_BASE_URL = "https://slack.com/api/"
SlackMode = Literal["socket", "http"]
SLACK_MODES: tuple[str, ...] = get_args(SlackMode)
DEFAULT_ORIENTATION_MAP = "16x9=16x9,9x16=9x16"
# US dollars per generated second (CometAPI's published prices, Aug 2026; unknown models at the higher rate).
DEFAULT_PRICES = "veo3.1-fast=0.08,veo3.1=0.32,veo3.1-pro=0.32,veo3-fast=0.08,veo3=0.32"

SECONDS = "a number of seconds greater than 0"
AT_LEAST_ONE = "a whole number, 1 or more"
URL = "an http(s) URL"
# Far beyond any bot: Discord asks for one shard per 1,000-2,500 guilds.
MAX_SHARDS = 65536
NO_SECRET = SecretStr("")


class SettingsError(Exception):
    """One or more settings are missing or malformed; ``problems`` holds one line per setting."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("; ".join(problems))


@dataclass(frozen=True, slots=True)
class Face:
    """A chat face the bot can run: its name in ``VEO_FRONTENDS``, the variable whose value turns it on when
    ``VEO_FRONTENDS`` is unset, the variables it needs to run with given settings, and the variables that
    decide which those are."""

    name: str
    label: str
    credential: str
    needs: Callable[[Settings], tuple[str, ...]]
    needs_depend_on: tuple[str, ...] = ()


# Another face (Slack) adds its section to Settings and its entry here; the first is the one named when none
# has its credentials set.
def _slack_needs(settings: Settings) -> tuple[str, ...]:
    """The bot token always; the app-level token in Socket Mode; in HTTP mode the signing secret, and the HTTP
    server that Slack's requests arrive at."""
    if settings.slack_mode == "socket":
        return ("SLACK_BOT_TOKEN", "SLACK_APP_TOKEN")
    return ("SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET", "VEO_HTTP_PORT")


FACES: tuple[Face, ...] = (
    Face("discord", "Discord", "DISCORD_TOKEN", lambda settings: ("DISCORD_TOKEN",)),
    Face("slack", "Slack", "SLACK_BOT_TOKEN", _slack_needs, needs_depend_on=("SLACK_MODE",)),
)


def _known_faces(names: tuple[str, ...]) -> tuple[str, ...]:
    if any(name not in {face.name for face in FACES} for name in names):
        raise ValueError("an unknown face")
    return names


def _orientation_map(text: str) -> str:
    if sorted(parse_orientation_map(text)) != sorted(ORIENTATIONS):
        raise ValueError("not a map of the orientations 16x9 and 9x16")
    return text


class CoreSettings(BaseModel):
    """The job core: which provider and chat faces, how often to poll, limits, quotas, models and inputs."""

    provider: Annotated[Provider, BeforeValidator(cp.lowered)] = setting(
        "VEO_PROVIDER", "cometapi", "one of: " + ", ".join(PROVIDERS))
    # None: every face whose credentials are set (see ``Settings.frontends``).
    chosen_frontends: Annotated[Annotated[cp.LowerNames, AfterValidator(_known_faces)] | None, NoDecode] = setting(
        "VEO_FRONTENDS", None, "a comma-separated list of the chat faces: " + ", ".join(face.name for face in FACES))
    # "worker": no gateway, no commands; the process only polls, submits and delivers, through REST.
    role: Annotated[Role, BeforeValidator(cp.lowered)] = setting("VEO_ROLE", "all", "one of: " + ", ".join(ROLES))
    poll_interval: float = setting("VEO_POLL_INTERVAL", 10.0, SECONDS, gt=0)
    job_timeout: float = setting("VEO_JOB_TIMEOUT", 1800.0, SECONDS, gt=0)
    max_active_per_user: int = setting("VEO_MAX_ACTIVE_PER_USER", 2, AT_LEAST_ONE, ge=1)
    max_active_per_guild: int = setting("VEO_MAX_ACTIVE_PER_GUILD", 10, AT_LEAST_ONE, ge=1)
    max_active_total: int = setting("VEO_MAX_ACTIVE_TOTAL", 20, AT_LEAST_ONE, ge=1)
    daily_quota_per_user: int = setting(
        "VEO_DAILY_QUOTA_PER_USER", 10, "a whole number, 0 or more (0 = no quota)", ge=0)
    daily_quota_per_guild: int = setting(
        "VEO_DAILY_QUOTA_PER_GUILD", 100, "a whole number, 0 or more (0 = no quota)", ge=0)
    max_queued_per_guild: int = setting(
        "VEO_MAX_QUEUED_PER_GUILD", 50, "a whole number, 0 or more (0 = no limit)", ge=0)
    cooldown_seconds: float = setting("VEO_COOLDOWN_SECONDS", 0.0, "a number of seconds, 0 or more", ge=0)
    models: cp.Names = setting("VEO_MODELS", DEFAULT_MODELS, "a comma-separated list of model names")
    # Empty: the first of ``models``.
    default_model: str = setting(
        "VEO_DEFAULT_MODEL", "", "one of the models in VEO_MODELS", validate_default=True)
    prices: cp.Prices = setting(  # the default is text, parsed like the variable's
        "VEO_PRICES", DEFAULT_PRICES, "entries like veo3.1-fast=0.08,veo3.1=0.32 (US dollars per generated second)",
        validate_default=True)
    video_seconds: float = setting("VEO_VIDEO_SECONDS", 8.0, SECONDS, gt=0)
    max_prompt_chars: int = setting("VEO_MAX_PROMPT_CHARS", 1500, AT_LEAST_ONE, ge=1)
    max_image_bytes: int = setting("VEO_MAX_IMAGE_BYTES", 10 * MIB, "a number of bytes, 1 or more", ge=1)
    # Advanced timings; the defaults suit production, tests shorten them.
    delivery_retry_base: float = setting("VEO_DELIVERY_RETRY_BASE", 15.0, SECONDS, gt=0)
    lease_seconds: float = setting("VEO_LEASE_SECONDS", 60.0, "a number of seconds, 5 or more", ge=5)

    @field_validator("default_model")
    @classmethod
    def _listed(cls, model: str, info: ValidationInfo) -> str:
        models: tuple[str, ...] | None = info.data.get("models")
        if models is None:  # VEO_MODELS is malformed, and says so
            return model or DEFAULT_MODELS[0]
        if not model:
            return models[0]
        if model not in models:
            raise ValueError("not one of the models")
        return model


class CometSettings(BaseModel):
    """CometAPI, the video provider: where, with which key, how each orientation is sent, result downloads."""

    cometapi_key: SecretStr = setting("COMETAPI_KEY", NO_SECRET, "your CometAPI key")
    cometapi_base_url: cp.HttpBaseUrl = setting("COMETAPI_BASE_URL", DEFAULT_COMETAPI_BASE_URL, URL)
    orientation_map: Annotated[str, AfterValidator(_orientation_map)] = setting(
        "VEO_ORIENTATION_MAP", DEFAULT_ORIENTATION_MAP,
        "entries like 16x9=1280x720:8,9x16=720x1280:8 for the orientations 16x9 and 9x16")
    request_timeout: float = setting("VEO_REQUEST_TIMEOUT", 30.0, SECONDS, gt=0)
    max_video_bytes: int = setting("VEO_MAX_VIDEO_BYTES", 200 * MIB, "a number of bytes, 1 or more", ge=1)
    allow_http_downloads: bool = setting("VEO_ALLOW_HTTP_DOWNLOADS", False, "true or false")


class DiscordSettings(BaseModel):
    """The Discord face: its token, endpoints, command guilds, upload cap and progress edit budget."""

    discord_token: SecretStr = setting(
        "DISCORD_TOKEN", NO_SECRET, "the bot token from the Discord developer portal")
    discord_api_base_url: cp.HttpBaseUrl = setting("DISCORD_API_BASE_URL", DEFAULT_DISCORD_API_BASE_URL, URL)
    discord_gateway_url: cp.WebSocketUrl = setting(
        "DISCORD_GATEWAY_URL", DEFAULT_DISCORD_GATEWAY_URL, "a ws:// or wss:// URL")
    guild_ids: cp.Ids = setting("DISCORD_GUILD_IDS", (), "comma-separated numeric guild ids")
    # None: one gateway session holds every guild. Every process of one bot must use the same count.
    shard_count: int | None = setting(
        "DISCORD_SHARD_COUNT", None, "a whole number of shards, 1 or more", ge=1, le=MAX_SHARDS)
    # None: every shard of the count. Needs the count, and is checked against it.
    shard_ids: Annotated[cp.ShardIds | None, NoDecode] = setting(
        "DISCORD_SHARD_IDS", None,
        "comma-separated shard numbers from 0 to DISCORD_SHARD_COUNT - 1, without repeats")
    upload_limit_bytes: int | None = setting(
        "VEO_UPLOAD_LIMIT_BYTES", None, "a number of bytes, 1 or more", ge=1)
    # Edits that only move a status message's progress, bot-wide: Discord allows a bot about 50 requests a
    # second in all, which posts, results and state changes need first.
    discord_edit_rate: float = setting("DISCORD_EDIT_RATE", 5.0, "a number of edits per second greater than 0", gt=0)
    discord_edit_burst: int = setting("DISCORD_EDIT_BURST", 10, AT_LEAST_ONE, ge=1)
    # Discord starts one session per identify bucket per 5 seconds; only a local test double differs.
    discord_identify_window: float = setting("DISCORD_IDENTIFY_WINDOW", 5.0, SECONDS, gt=0, le=60)

    @field_validator("shard_ids")
    @classmethod
    def _within_count(cls, shard_ids: tuple[int, ...] | None, info: ValidationInfo) -> tuple[int, ...] | None:
        # Unset, or no count to check them against: a missing count has a line of its own (``_missing``), a
        # malformed one says so.
        count: int | None = info.data.get("shard_count")
        if shard_ids is None or count is None:
            return shard_ids
        if any(shard >= count for shard in shard_ids):
            raise ValueError("a shard number beyond the count")
        return shard_ids

    @property
    def shards(self) -> tuple[int, ...] | None:
        """The gateway shards this process runs, in order; None when the bot is not sharded."""
        if self.shard_count is None:
            return None
        return self.shard_ids if self.shard_ids is not None else tuple(range(self.shard_count))


class SlackSettings(BaseModel):
    """The Slack face: its tokens, mode (Socket Mode or HTTP), endpoint, admins and edit budget."""

    slack_bot_token: cp.SlackBotToken = setting(
        "SLACK_BOT_TOKEN", NO_SECRET, "the bot token (xoxb-…) shown after installing the Slack app")
    slack_app_token: cp.SlackAppToken = setting(
        "SLACK_APP_TOKEN", NO_SECRET, "an app-level token (xapp-…) with the connections:write scope")
    slack_signing_secret: SecretStr = setting(
        "SLACK_SIGNING_SECRET", NO_SECRET, "the signing secret from the Slack app's Basic Information page")
    slack_mode: Annotated[SlackMode, BeforeValidator(cp.lowered)] = setting(
        "SLACK_MODE", "socket", "one of: " + ", ".join(SLACK_MODES))
    slack_api_base_url: cp.HttpBaseUrl = setting("SLACK_API_BASE_URL", DEFAULT_SLACK_API_BASE_URL, URL)
    slack_admin_users: cp.SlackUserIds = setting(
        "SLACK_ADMIN_USERS", (), "comma-separated Slack user ids such as U0123ABCD")
    # Off by default: joining a channel is something a workspace admin may not expect of an app.
    slack_join_channels: bool = setting("SLACK_JOIN_CHANNELS", False, "true or false")
    # Slack allows chat.update about 50 times a minute per workspace (Tier 3): progress edits stay well under,
    # so that new states and results go first.
    slack_edit_rate: float = setting("SLACK_EDIT_RATE", 0.5, "a number of edits per second greater than 0", gt=0)
    slack_edit_burst: int = setting("SLACK_EDIT_BURST", 5, AT_LEAST_ONE, ge=1)
    # A Socket Mode connection that has carried no message and no ping answer for this long is replaced.
    slack_socket_timeout: float = setting("SLACK_SOCKET_TIMEOUT", 40.0, "a number of seconds, 2 or more", ge=2)


class StorageSettings(BaseModel):
    """Where the job store, input images and delivered videos live, how long videos are kept, and how videos
    over an upload limit are re-encoded to fit it."""

    database_url: cp.DatabaseUrl = setting(
        "DATABASE_URL", DEFAULT_DATABASE_URL,
        "sqlite:///relative/path, sqlite:////absolute/path or postgresql://user:password@host:port/database",
        repr=False)
    data_dir: Path = setting("VEO_DATA_DIR", Path("data"), "a directory path")
    video_dir: Path | None = setting("VEO_VIDEO_DIR", None, "a directory path")  # None: <data_dir>/videos
    video_retention_days: float = setting(
        "VEO_VIDEO_RETENTION_DAYS", 7.0, "a number of days, 0 or more (0 = remove once posted)", ge=0, le=36500)
    fit_videos: bool = setting("VEO_FIT_VIDEOS", True, "true or false")
    fit_timeout: float = setting("VEO_FIT_TIMEOUT", 300.0, SECONDS, gt=0)
    fit_concurrency: int = setting("VEO_FIT_CONCURRENCY", 1, AT_LEAST_ONE, ge=1)

    @property
    def videos_path(self) -> Path:
        """Where delivered videos are kept (``VEO_VIDEO_DIR``, else ``videos`` under the data directory)."""
        return self.video_dir if self.video_dir is not None else self.data_dir / "videos"

    @property
    def database_path(self) -> Path | None:
        """The SQLite file named by ``database_url`` (``sqlite:///rel`` or ``sqlite:////abs``); None for a
        PostgreSQL server."""
        return Path(self.database_url.removeprefix(SQLITE_PREFIX)) if is_sqlite(self.database_url) else None


class OpsSettings(BaseModel):
    """Operations: the HTTP server (health, metrics, stored videos) and logs."""

    http_port: int | None = setting("VEO_HTTP_PORT", None, "a TCP port number from 1 to 65535", ge=1, le=65535)
    http_host: cp.Host = setting("VEO_HTTP_HOST", "127.0.0.1", "a host name or IP address to listen on")
    public_base_url: cp.HttpBaseUrl | None = setting("VEO_PUBLIC_BASE_URL", None, URL)
    log_level: Annotated[LogLevel, BeforeValidator(cp.uppered)] = setting(
        "VEO_LOG_LEVEL", "INFO", "one of: " + ", ".join(LOG_LEVELS))
    log_format: Annotated[LogFormat, BeforeValidator(cp.lowered)] = setting(
        "VEO_LOG_FORMAT", "text", "one of: " + ", ".join(LOG_FORMATS))


# pydantic lists the fields of the last base first: these bases are in the reverse of the sections' order.
class Settings(OpsSettings, StorageSettings, SlackSettings, DiscordSettings, CometSettings, CoreSettings, BaseSettings):
    """Every setting the bot reads, typed and frozen; secrets are ``SecretStr`` so that ``repr()`` hides them.

    Built by ``load_settings`` from the variables it is given, never from ``os.environ`` by itself."""

    model_config = SettingsConfigDict(frozen=True, case_sensitive=True, allow_inf_nan=False, validate_default=True)

    @classmethod
    def settings_customise_sources(
        cls, settings_cls: type[BaseSettings], init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource, dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # Only what load_settings passes in: the variables are read by its VariablesSource.
        return (init_settings,)

    @property
    def frontends(self) -> tuple[str, ...]:
        """The chat faces to run: ``VEO_FRONTENDS``, else every face whose credentials are set."""
        if self.chosen_frontends is not None:
            return self.chosen_frontends
        return tuple(face.name for face in FACES if _is_set(self, face.credential))


_FIELD_OF = {cp.variable(field): name for name, field in Settings.model_fields.items()}


def _is_set(settings: Settings, variable: str) -> bool:
    value = getattr(settings, _FIELD_OF[variable])
    return bool(value.get_secret_value() if isinstance(value, SecretStr) else value)


def _missing_line(variable: str, alternative: str = "") -> str:
    what = cp.expected(Settings.model_fields[_FIELD_OF[variable]])
    return f"{variable} is missing: set it to {what}{f' ({alternative})' if alternative else ''}."


def _no_face_line() -> str:
    """The line for settings in which no face has its credentials: it names the first face's, and the others'
    as alternatives."""
    first, *others = FACES
    alternatives = ", or ".join(f"{face.credential} for the {face.label} face" for face in others)
    return _missing_line(first.credential, f"or {alternatives}" if alternatives else "")


def _missing(settings: Settings, undecided: Collection[str]) -> list[str]:
    """A line for each credential these settings need but lack, except where a malformed variable (in
    ``undecided``) would have decided whether it is needed."""
    lines = []
    # Unset VEO_FRONTENDS: a malformed credential would have decided whether its face runs.
    faces_undecided = "VEO_FRONTENDS" in undecided or (
        settings.chosen_frontends is None and any(face.credential in undecided for face in FACES))
    if not faces_undecided:
        if not settings.frontends:
            lines.append(_no_face_line())
        needed = [name for face in FACES if face.name in settings.frontends
                  and not any(variable in undecided for variable in face.needs_depend_on)
                  for name in face.needs(settings)]
        lines += [_missing_line(name) for name in dict.fromkeys(needed)
                  if name not in undecided and not _is_set(settings, name)]
    if "DISCORD_SHARD_COUNT" not in undecided and settings.shard_ids is not None and settings.shard_count is None:
        lines.append("DISCORD_SHARD_IDS is set without DISCORD_SHARD_COUNT: set DISCORD_SHARD_COUNT to the number "
                     "of shards that every process of the bot shares.")
    if "VEO_PROVIDER" not in undecided and settings.provider == "cometapi" and not _is_set(settings, "COMETAPI_KEY"):
        lines.append(_missing_line("COMETAPI_KEY", "or VEO_PROVIDER=mock to try the bot without one"))
    return lines


def load_settings(env: Mapping[str, str]) -> Settings:
    """Build ``Settings`` from a mapping of variables; raise ``SettingsError`` listing every problem."""
    values = cp.VariablesSource(Settings, env)()
    try:
        settings = Settings(**values)
    except ValidationError as exc:
        malformed = cp.problem_lines(exc, Settings.model_fields)
        try:
            # The well-formed rest still shows what is missing, so that one run lists every problem.
            rest = Settings(**{name: value for name, value in values.items() if name not in malformed})
        except ValidationError:  # one bad value hid another's: this one is listed on the next run
            missing = []
        else:
            missing = _missing(rest, undecided=malformed)
        # From None: pydantic's own message quotes the values, and one may be a secret.
        raise SettingsError([*missing, *malformed.values()]) from None
    missing = _missing(settings, undecided=())
    if missing:
        raise SettingsError(missing)
    return settings


def settings_from_environment(env_file: Path | None = Path(".env")) -> Settings:
    """Read settings from ``os.environ`` over a ``.env`` file in the working directory (environment wins)."""
    merged: dict[str, str] = {}
    if env_file is not None and env_file.is_file():
        merged.update({k: v for k, v in dotenv_values(env_file).items() if v is not None})
    merged.update(os.environ)
    return load_settings(merged)


def default(name: str) -> Any:
    """The declared default of the setting ``name`` (an attribute of ``Settings``), for code that must agree
    with the settings without being given any."""
    return Settings.model_fields[name].get_default(call_default_factory=True)
