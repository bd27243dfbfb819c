"""``veo-bot doctor``, the front-end-free part: findings, the settings, database and CometAPI checks, the report."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Protocol

import aiohttp

from bot.comet.client import VideoClient
from bot.comet.types import RetryPolicy
from bot.config import DEFAULT_COMETAPI_BASE_URL, Settings
from bot.database_url import SQLITE_PREFIX, is_sqlite, redact, scrub
from bot.jobs.ports import StoreInUse, StoreUnavailable
from bot.jobs.provider import ProviderBusy, ProviderConfigError, ProviderRejected, TaskNotFound, VideoApiError

# A task id no account has: the status request needs the key but creates nothing and costs nothing.
PROBE_TASK_ID = "veo-bot-doctor-probe"
PROBE_RETRY = RetryPolicy(attempts=2, base_delay=0.5, max_delay=1.0, retry_after_cap=2.0, request_timeout=15.0)


class Level(StrEnum):
    """How a finding reads in the report."""

    OK = "ok"
    WARN = "warn"
    FAIL = "FAIL"
    SKIP = "skip"


@dataclass(frozen=True, slots=True)
class Finding:
    """One check's result, with how to fix it when something is wrong."""

    level: Level
    check: str
    message: str
    fix: str | None = None


class DoctorStore(Protocol):
    """The store calls the database check makes."""

    async def set_meta(self, key: str, value: str) -> None: ...
    async def describe(self) -> str: ...
    async def close(self) -> None: ...


def check_settings(settings: Settings, *, mock_ready: bool) -> list[Finding]:
    """What the (already valid) settings imply: the provider, the HTTP server, stored videos, test switches."""
    found = [Finding(Level.OK, "settings", "every setting is present and well-formed")]
    if settings.provider == "mock":
        if mock_ready:
            found.append(Finding(Level.WARN, "provider", "VEO_PROVIDER=mock: videos are drawn locally and CometAPI "
                                 "is never called (no credits spent)", "set VEO_PROVIDER=cometapi for real videos"))
        else:
            found.append(Finding(Level.FAIL, "provider", "VEO_PROVIDER=mock, but the mock extra is not installed",
                                 "pip install 'veo-bot[mock]'"))
    if settings.http_port is None:
        found.append(Finding(Level.OK, "http", "no HTTP server (VEO_HTTP_PORT unset): no /healthz or /metrics"))
    else:
        found.append(Finding(Level.OK, "http", f"/healthz and /metrics on {settings.http_host}:{settings.http_port}"))
    if settings.public_base_url is not None:
        if settings.video_retention_days == 0:
            found.append(Finding(Level.WARN, "videos", "VEO_PUBLIC_BASE_URL is set but VEO_VIDEO_RETENTION_DAYS=0: "
                                 "videos are removed once posted, so no lasting link is given",
                                 "set VEO_VIDEO_RETENTION_DAYS to 1 or more"))
        elif settings.http_port is None:
            found.append(Finding(Level.WARN, "videos", "VEO_PUBLIC_BASE_URL is set but VEO_HTTP_PORT is not: "
                                 "the bot does not serve the videos itself",
                                 f"set VEO_HTTP_PORT, or serve {settings.videos_path} at that URL with a web server"))
    if settings.allow_http_downloads:
        found.append(Finding(Level.WARN, "downloads", "VEO_ALLOW_HTTP_DOWNLOADS=true fetches results over plain http",
                             "keep it false outside local test setups"))
    return found


async def check_database(url: str, open_store: Callable[[str], Awaitable[DoctorStore]]) -> Finding:
    """Open (creating and migrating if needed) the job store named by ``url``, write to it, and describe it."""
    path = Path(url.removeprefix(SQLITE_PREFIX)) if is_sqlite(url) else None
    shown = str(path) if path is not None else redact(url)
    if path is not None:
        directory = path.parent
        if directory.exists() and not directory.is_dir():
            return Finding(Level.FAIL, "database", f"{directory} is not a directory", "change DATABASE_URL")
        if directory.exists() and not os.access(directory, os.W_OK | os.X_OK):
            return Finding(Level.FAIL, "database", f"cannot write in {directory}",
                           "make the directory writable by the user that runs the bot, or change DATABASE_URL")
    try:
        store = await open_store(url)
    except StoreInUse:
        # The bot is running on it (the usual case) or another copy is: the database is not opened twice.
        return Finding(Level.WARN, "database", f"{shown} is in use by a running veo-bot process, so it was not checked",
                       "stop that process to check the database, or run one bot per SQLite database")
    except StoreUnavailable as exc:
        return Finding(Level.FAIL, "database", scrub(str(exc), url), exc.fix)
    except Exception as exc:
        return Finding(Level.FAIL, "database",
                       f"cannot open {shown}: {type(exc).__name__}: {scrub(str(exc), url)[:200]}",
                       "check DATABASE_URL, the file's owner and the free disk space" if path is not None
                       else "check DATABASE_URL and the PostgreSQL server's log")
    try:
        await store.set_meta("doctor_checked_at", "ok")
        described = await store.describe()
    except Exception as exc:
        return Finding(Level.FAIL, "database", f"{shown} takes no writes: {type(exc).__name__}: "
                       f"{scrub(str(exc), url)[:200]}",
                       "check the file's owner and mode, and that no other program holds it locked" if path is not None
                       else "grant the role INSERT, UPDATE and DELETE on the bot's tables")
    finally:
        with contextlib.suppress(Exception):
            await store.close()
    return Finding(Level.OK, "database", f"{shown} opens, is up to date and takes writes ({described})")


async def check_cometapi(settings: Settings, session: aiohttp.ClientSession) -> Finding:
    """One authenticated status request for a made-up task: 404 means the key works, 401/403 that it does not."""
    if settings.provider == "mock":
        return Finding(Level.SKIP, "cometapi", "not called with VEO_PROVIDER=mock")
    client = VideoClient(session, base_url=settings.cometapi_base_url, api_key=settings.cometapi_key,
                         retry=PROBE_RETRY)
    try:
        await client.get(PROBE_TASK_ID)
    except TaskNotFound:
        return Finding(Level.OK, "cometapi", "CometAPI accepted COMETAPI_KEY (a made-up task answered 'not found')")
    except ProviderRejected:
        return Finding(Level.OK, "cometapi", "CometAPI accepted COMETAPI_KEY (it refused the made-up task id)")
    except ProviderConfigError as exc:
        if exc.status in (401, 403):
            return Finding(Level.FAIL, "cometapi", f"CometAPI refused COMETAPI_KEY (HTTP {exc.status})",
                           "copy a valid key from your CometAPI console into COMETAPI_KEY")
        return Finding(Level.FAIL, "cometapi", f"{settings.cometapi_base_url} does not answer like CometAPI's "
                       f"video API (HTTP {exc.status})",
                       f"unset COMETAPI_BASE_URL to use {DEFAULT_COMETAPI_BASE_URL}, or fix it")
    except ProviderBusy as exc:
        return Finding(Level.FAIL, "cometapi", f"CometAPI could not be reached or is failing ({exc.detail})",
                       "check the network and COMETAPI_BASE_URL, then try again")
    except VideoApiError as exc:
        return Finding(Level.WARN, "cometapi", f"unexpected answer from CometAPI: {type(exc).__name__} ({exc.detail})")
    return Finding(Level.WARN, "cometapi", "CometAPI answered for a made-up task id; the key works")


async def common_findings(settings: Settings, open_store: Callable[[str], Awaitable[DoctorStore]], *,
                          mock_ready: bool) -> list[Finding]:
    """The checks every face shares: the settings, the database, the video provider."""
    findings = check_settings(settings, mock_ready=mock_ready)
    findings.append(await check_database(settings.database_url, open_store))
    async with aiohttp.ClientSession() as session:
        findings.append(await check_cometapi(settings, session))
    return findings


def report(findings: list[Finding]) -> str:
    """The findings, one line each with its fix below, and a closing summary line."""
    lines = []
    for finding in findings:
        lines.append(f"[{finding.level.value:^4}] {finding.check}: {finding.message}")
        if finding.fix and finding.level in (Level.FAIL, Level.WARN):
            lines.append(f"       fix: {finding.fix}")
    failures = sum(1 for f in findings if f.level is Level.FAIL)
    warnings = sum(1 for f in findings if f.level is Level.WARN)
    if failures:
        lines.append(f"{failures} problem(s) to fix, {warnings} warning(s).")
    else:
        lines.append(f"No problems found ({warnings} warning(s)).")
    return "\n".join(lines)


def exit_code(findings: list[Finding]) -> int:
    """1 when any check failed, else 0."""
    return 1 if any(f.level is Level.FAIL for f in findings) else 0
