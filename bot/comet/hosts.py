"""Which hosts the bot may fetch a finished video from: public addresses only, so a result URL or a
redirect cannot make the bot reach its own network (cloud metadata, admin panels, local services)."""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Awaitable, Callable

from yarl import URL

from bot.jobs.provider import DownloadFailed

# (host, port) -> the addresses the host resolves to.
Resolver = Callable[[str, int], Awaitable[list[str]]]


async def system_resolve(host: str, port: int) -> list[str]:
    """Resolve ``host`` with the system resolver (as aiohttp will when it connects)."""
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [str(info[4][0]) for info in infos]


def is_public_address(address: str, *, allow_loopback: bool = False) -> bool:
    """True for a globally routable unicast address (loopback too when allowed, for local test doubles)."""
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])  # an IPv6 zone id is not part of the address
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped  # ::ffff:10.0.0.1 reaches 10.0.0.1
    if allow_loopback and ip.is_loopback:
        return True
    # is_global excludes private, loopback, link-local (169.254.169.254), shared (100.64/10) and reserved ranges.
    return ip.is_global and not ip.is_multicast


async def check_public_host(url: URL, *, allow_loopback: bool, resolve: Resolver, label: str) -> None:
    """Raise DownloadFailed unless every address ``url``'s host resolves to is public.

    Every address must pass, not just one: the connection may use any of them.
    """
    host = (url.host or "").strip("[]")
    if not host:
        raise DownloadFailed(detail=f"{label}: video URL without a host")
    try:
        addresses = [str(ipaddress.ip_address(host))]
    except ValueError:
        try:
            addresses = await resolve(host, url.port or (443 if url.scheme == "https" else 80))
        except (OSError, UnicodeError) as exc:
            raise DownloadFailed(detail=f"{label}: cannot resolve {host!r} ({type(exc).__name__})") from exc
    refused = [a for a in addresses if not is_public_address(a, allow_loopback=allow_loopback)]
    if refused or not addresses:
        raise DownloadFailed(
            detail=f"{label}: refusing {host!r}, which resolves to a non-public address {refused[:3]}"
        )
