"""``DATABASE_URL`` text: which backend it names, and the URL without its password for logs and messages."""

from __future__ import annotations

import re

SQLITE_PREFIX = "sqlite:///"
POSTGRES_SCHEMES = ("postgresql://", "postgres://")

# user:password@ in the authority, and password=… in the query string (libpq accepts both).
_IN_AUTHORITY = re.compile(r"^(?P<head>[a-z][a-z0-9+.-]*://[^/@:?#]*:)(?P<password>[^/?#]*)(?=@)", re.IGNORECASE)
_IN_QUERY = re.compile(r"(?P<head>[?&]password=)(?P<password>[^&#]*)", re.IGNORECASE)


def is_sqlite(url: str) -> bool:
    """True for ``sqlite:///path`` URLs."""
    return url.startswith(SQLITE_PREFIX)


def is_postgres(url: str) -> bool:
    """True for ``postgresql://…`` and ``postgres://…`` URLs."""
    return url.lower().startswith(POSTGRES_SCHEMES)


def redact(url: str) -> str:
    """``url`` with any password replaced by ``***``."""
    url = _IN_AUTHORITY.sub(lambda m: m["head"] + "***", url)
    return _IN_QUERY.sub(lambda m: m["head"] + "***", url)


def passwords(url: str) -> list[str]:
    """The passwords written in ``url`` (none, usually one), to be kept out of any text shown."""
    found = [m["password"] for m in (*_IN_AUTHORITY.finditer(url), *_IN_QUERY.finditer(url))]
    return [p for p in found if p]


def scrub(text: str, url: str) -> str:
    """``text`` (an error from a driver or a server) with the URL shown redacted and its password taken out."""
    text = text.replace(url, redact(url))
    for password in passwords(url):
        text = text.replace(password, "***")
    return text
