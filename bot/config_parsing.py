"""Parsers for the settings: each turns a variable's text into a typed value or raises ValueError."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TypeVar

from pydantic import SecretStr

T = TypeVar("T")

LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")


class SettingsReader:
    """Reads typed values from a mapping, collecting one problem line per bad setting."""

    def __init__(self, env: Mapping[str, str]) -> None:
        self.env = env
        self.problems: list[str] = []

    def raw(self, name: str) -> str | None:
        value = self.env.get(name)
        if value is None or value.strip() == "":
            return None
        return value.strip()

    def required_secret(self, name: str, what: str) -> SecretStr:
        value = self.raw(name)
        if value is None:
            self.problems.append(f"{name} is missing: set it to {what}.")
            return SecretStr("")
        return SecretStr(value)

    def parse(self, name: str, default: T, parse: Callable[[str], T], expected: str) -> T:
        value = self.raw(name)
        if value is None:
            return default
        try:
            return parse(value)
        except ValueError:
            # The value itself is not echoed: a secret pasted into the wrong variable must not leak.
            self.problems.append(f"{name} is malformed: expected {expected}.")
            return default


def positive_float(text: str) -> float:
    """A finite number greater than 0."""
    value = float(text)
    if not value > 0 or value != value or value == float("inf"):
        raise ValueError(text)
    return value


def int_at_least(minimum: int) -> Callable[[str], int]:
    """A parser for whole numbers not below ``minimum``."""
    def parse(text: str) -> int:
        value = int(text)
        if value < minimum:
            raise ValueError(text)
        return value

    return parse


def http_url(schemes: tuple[str, ...]) -> Callable[[str], str]:
    """A parser for URLs with one of ``schemes`` (http(s) URLs lose a trailing slash)."""
    def parse(text: str) -> str:
        scheme, sep, rest = text.partition("://")
        if not sep or scheme.lower() not in schemes or not rest.strip("/") or any(c.isspace() for c in text):
            raise ValueError(text)
        return text.rstrip("/") if scheme.lower().startswith("http") else text

    return parse


def sqlite_url(text: str) -> str:
    """A ``sqlite:///path`` URL."""
    if not text.startswith("sqlite:///") or len(text) <= len("sqlite:///"):
        raise ValueError(text)
    return text


def guild_ids(text: str) -> tuple[int, ...]:
    """Comma-separated positive ids."""
    ids = tuple(int(part) for part in text.split(",") if part.strip())
    if any(i <= 0 for i in ids):
        raise ValueError(text)
    return ids


def choice(choices: tuple[str, ...]) -> Callable[[str], str]:
    """A parser for one of ``choices``, case-insensitive."""
    def parse(text: str) -> str:
        if text.lower() not in choices:
            raise ValueError(text)
        return text.lower()

    return parse


def log_level(text: str) -> str:
    """A logging level name."""
    if text.upper() not in LOG_LEVELS:
        raise ValueError(text)
    return text.upper()


def prices(text: str) -> tuple[tuple[str, float], ...]:
    """``model=dollars_per_second`` pairs, comma-separated."""
    prices = []
    for entry in text.split(","):
        if not entry.strip():
            continue
        name, sep, value = entry.partition("=")
        price = float(value)
        if not sep or not name.strip() or not 0 <= price < 1000:
            raise ValueError(text)
        prices.append((name.strip(), price))
    if not prices:
        raise ValueError(text)
    return tuple(prices)


def non_negative_float(text: str) -> float:
    """A finite number, 0 or more."""
    value = float(text)
    if not 0 <= value < float("inf"):
        raise ValueError(text)
    return value


def boolean(text: str) -> bool:
    """true/false, yes/no, on/off or 1/0."""
    lowered = text.lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off"):
        return False
    raise ValueError(text)


def host(text: str) -> str:
    """A host name or address to listen on."""
    if any(c.isspace() or c in "/@" for c in text):
        raise ValueError(text)
    return text


def days(text: str) -> float:
    """A number of days, 0 or more."""
    value = float(text)
    if not 0 <= value <= 36500:
        raise ValueError(text)
    return value


def port(text: str) -> int | None:
    """A TCP port number."""
    value = int(text)
    if not 1 <= value <= 65535:
        raise ValueError(text)
    return value


def names(text: str) -> tuple[str, ...]:
    """Comma-separated names without spaces, duplicates dropped."""
    names = tuple(dict.fromkeys(part.strip() for part in text.split(",") if part.strip()))
    if not names or any(len(n) > 100 or any(c.isspace() for c in n) for n in names):
        raise ValueError(text)
    return names
