"""Typed settings, read once from the environment (and a ``.env`` file) and validated at start-up."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

from dotenv import dotenv_values
from pydantic import SecretStr

from bot import config_parsing as cp

T = TypeVar("T")

MIB = 1024 * 1024
DEFAULT_MODELS: tuple[str, ...] = ("veo3.1-fast", "veo3.1", "veo3.1-pro", "veo3-fast", "veo3")
PROVIDERS = ("cometapi", "mock")
LOG_LEVELS = cp.LOG_LEVELS
LOG_FORMATS = ("text", "json")
ORIENTATIONS = ("16x9", "9x16")
DEFAULT_COMETAPI_BASE_URL = "https://api.cometapi.com/v1"
DEFAULT_DISCORD_API_BASE_URL = "https://discord.com/api/v10"
DEFAULT_DISCORD_GATEWAY_URL = "wss://gateway.discord.gg/"
DEFAULT_DATABASE_URL = "sqlite:///data/veo.sqlite3"
DEFAULT_ORIENTATION_MAP = "16x9=16x9,9x16=9x16"
# US dollars per generated second (CometAPI's published prices, Aug 2026; unknown models at the higher rate).
DEFAULT_PRICES = "veo3.1-fast=0.08,veo3.1=0.32,veo3.1-pro=0.32,veo3-fast=0.08,veo3=0.32"


class SettingsError(Exception):
    """One or more settings are missing or malformed; ``problems`` holds one line per setting."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("; ".join(problems))


@dataclass(frozen=True, slots=True)
class Settings:
    """Every setting the bot reads, typed; secrets are wrapped so that ``repr()`` never shows them."""

    discord_token: SecretStr
    cometapi_key: SecretStr
    cometapi_base_url: str = DEFAULT_COMETAPI_BASE_URL
    discord_api_base_url: str = DEFAULT_DISCORD_API_BASE_URL
    discord_gateway_url: str = DEFAULT_DISCORD_GATEWAY_URL
    database_url: str = DEFAULT_DATABASE_URL
    poll_interval: float = 10.0
    job_timeout: float = 1800.0
    guild_ids: tuple[int, ...] = ()
    max_active_per_user: int = 2
    max_active_per_guild: int = 10
    max_active_total: int = 20
    daily_quota_per_user: int = 10
    daily_quota_per_guild: int = 100
    max_queued_per_guild: int = 50
    cooldown_seconds: float = 0.0
    prices: tuple[tuple[str, float], ...] = ()
    video_seconds: float = 8.0
    provider: str = "cometapi"
    http_port: int | None = None
    http_host: str = "127.0.0.1"
    public_base_url: str | None = None
    video_dir: Path | None = None  # None: <data_dir>/videos
    video_retention_days: float = 7.0
    log_format: str = "text"
    models: tuple[str, ...] = DEFAULT_MODELS
    default_model: str = DEFAULT_MODELS[0]
    orientation_map: str = DEFAULT_ORIENTATION_MAP
    max_prompt_chars: int = 1500
    max_image_bytes: int = 10 * MIB
    max_video_bytes: int = 200 * MIB
    upload_limit_bytes: int | None = None
    data_dir: Path = field(default_factory=lambda: Path("data"))
    log_level: str = "INFO"
    allow_http_downloads: bool = False
    # Advanced timings; the defaults suit production, tests shorten them.
    request_timeout: float = 30.0
    submit_grace: float = 120.0
    delivery_retry_base: float = 15.0

    @property
    def videos_path(self) -> Path:
        """Where delivered videos are kept (``VEO_VIDEO_DIR``, else ``videos`` under the data directory)."""
        return self.video_dir if self.video_dir is not None else self.data_dir / "videos"

    @property
    def database_path(self) -> Path:
        """The SQLite file named by ``database_url`` (``sqlite:///rel`` or ``sqlite:////abs``)."""
        return Path(self.database_url.removeprefix("sqlite:///"))


def _orientation_map(text: str) -> str:
    from bot.comet_types import parse_orientation_map

    if sorted(parse_orientation_map(text)) != sorted(ORIENTATIONS):
        raise ValueError(text)
    return text


def load_settings(env: Mapping[str, str]) -> Settings:
    """Build ``Settings`` from a mapping of variables; raise ``SettingsError`` listing every problem."""
    r = cp.SettingsReader(env)
    token = r.required_secret("DISCORD_TOKEN", "the bot token from the Discord developer portal")
    key = r.required_secret("COMETAPI_KEY", "your CometAPI key")
    models = r.parse("VEO_MODELS", DEFAULT_MODELS, cp.names, "a comma-separated list of model names")
    default_model = r.parse("VEO_DEFAULT_MODEL", models[0], str, "a model name")
    if default_model not in models:
        r.problems.append("VEO_DEFAULT_MODEL is malformed: expected one of the models in VEO_MODELS.")
    port_text = "a TCP port number from 1 to 65535"
    settings = Settings(
        discord_token=token,
        cometapi_key=key,
        cometapi_base_url=r.parse(
            "COMETAPI_BASE_URL", DEFAULT_COMETAPI_BASE_URL, cp.http_url(("http", "https")), "an http(s) URL"
        ),
        discord_api_base_url=r.parse(
            "DISCORD_API_BASE_URL", DEFAULT_DISCORD_API_BASE_URL, cp.http_url(("http", "https")), "an http(s) URL"
        ),
        discord_gateway_url=r.parse(
            "DISCORD_GATEWAY_URL", DEFAULT_DISCORD_GATEWAY_URL, cp.http_url(("ws", "wss")), "a ws:// or wss:// URL"
        ),
        database_url=r.parse(
            "DATABASE_URL", DEFAULT_DATABASE_URL, cp.sqlite_url, "sqlite:///relative/path or sqlite:////absolute/path"
        ),
        poll_interval=r.parse("VEO_POLL_INTERVAL", 10.0, cp.positive_float, "a number of seconds greater than 0"),
        job_timeout=r.parse("VEO_JOB_TIMEOUT", 1800.0, cp.positive_float, "a number of seconds greater than 0"),
        guild_ids=r.parse("DISCORD_GUILD_IDS", (), cp.guild_ids, "comma-separated numeric guild ids"),
        max_active_per_user=r.parse("VEO_MAX_ACTIVE_PER_USER", 2, cp.int_at_least(1), "a whole number, 1 or more"),
        max_active_per_guild=r.parse("VEO_MAX_ACTIVE_PER_GUILD", 10, cp.int_at_least(1), "a whole number, 1 or more"),
        max_active_total=r.parse("VEO_MAX_ACTIVE_TOTAL", 20, cp.int_at_least(1), "a whole number, 1 or more"),
        daily_quota_per_user=r.parse(
            "VEO_DAILY_QUOTA_PER_USER", 10, cp.int_at_least(0), "a whole number, 0 or more (0 = no quota)"
        ),
        daily_quota_per_guild=r.parse(
            "VEO_DAILY_QUOTA_PER_GUILD", 100, cp.int_at_least(0), "a whole number, 0 or more (0 = no quota)"
        ),
        max_queued_per_guild=r.parse(
            "VEO_MAX_QUEUED_PER_GUILD", 50, cp.int_at_least(0), "a whole number, 0 or more (0 = no limit)"
        ),
        cooldown_seconds=r.parse("VEO_COOLDOWN_SECONDS", 0.0, cp.non_negative_float, "a number of seconds, 0 or more"),
        prices=r.parse("VEO_PRICES", cp.prices(DEFAULT_PRICES), cp.prices,
                       "entries like veo3.1-fast=0.08,veo3.1=0.32 (US dollars per generated second)"),
        video_seconds=r.parse("VEO_VIDEO_SECONDS", 8.0, cp.positive_float, "a number of seconds greater than 0"),
        provider=r.parse("VEO_PROVIDER", "cometapi", cp.choice(PROVIDERS), "one of: " + ", ".join(PROVIDERS)),
        http_port=r.parse("VEO_HTTP_PORT", None, cp.port, port_text),
        http_host=r.parse("VEO_HTTP_HOST", "127.0.0.1", cp.host, "a host name or IP address to listen on"),
        public_base_url=r.parse("VEO_PUBLIC_BASE_URL", None, cp.http_url(("http", "https")), "an http(s) URL"),
        video_dir=r.parse("VEO_VIDEO_DIR", None, Path, "a directory path"),
        video_retention_days=r.parse(
            "VEO_VIDEO_RETENTION_DAYS", 7.0, cp.days, "a number of days, 0 or more (0 = remove once posted)"
        ),
        log_format=r.parse("VEO_LOG_FORMAT", "text", cp.choice(LOG_FORMATS), "one of: " + ", ".join(LOG_FORMATS)),
        models=models,
        default_model=default_model,
        orientation_map=r.parse(
            "VEO_ORIENTATION_MAP", DEFAULT_ORIENTATION_MAP, _orientation_map,
            "entries like 16x9=1280x720:8,9x16=720x1280:8 for the orientations 16x9 and 9x16",
        ),
        max_prompt_chars=r.parse("VEO_MAX_PROMPT_CHARS", 1500, cp.int_at_least(1), "a whole number, 1 or more"),
        max_image_bytes=r.parse("VEO_MAX_IMAGE_BYTES", 10 * MIB, cp.int_at_least(1), "a number of bytes, 1 or more"),
        max_video_bytes=r.parse("VEO_MAX_VIDEO_BYTES", 200 * MIB, cp.int_at_least(1), "a number of bytes, 1 or more"),
        upload_limit_bytes=r.parse("VEO_UPLOAD_LIMIT_BYTES", None, cp.int_at_least(1), "a number of bytes, 1 or more"),
        data_dir=r.parse("VEO_DATA_DIR", Path("data"), Path, "a directory path"),
        log_level=r.parse("VEO_LOG_LEVEL", "INFO", cp.log_level, "one of: " + ", ".join(LOG_LEVELS)),
        allow_http_downloads=r.parse("VEO_ALLOW_HTTP_DOWNLOADS", False, cp.boolean, "true or false"),
        request_timeout=r.parse("VEO_REQUEST_TIMEOUT", 30.0, cp.positive_float, "a number of seconds greater than 0"),
        submit_grace=r.parse("VEO_SUBMIT_GRACE", 120.0, cp.positive_float, "a number of seconds greater than 0"),
        delivery_retry_base=r.parse(
            "VEO_DELIVERY_RETRY_BASE", 15.0, cp.positive_float, "a number of seconds greater than 0"
        ),
    )
    if r.problems:
        raise SettingsError(r.problems)
    return settings


def settings_from_environment(env_file: Path | None = Path(".env")) -> Settings:
    """Read settings from ``os.environ`` over a ``.env`` file in the working directory (environment wins)."""
    merged: dict[str, str] = {}
    if env_file is not None and env_file.is_file():
        merged.update({k: v for k, v in dotenv_values(env_file).items() if v is not None})
    merged.update(os.environ)
    return load_settings(merged)
