"""Result downloads reach public hosts only: result URLs and redirects to private, loopback or link-local
addresses are refused before any connection (loopback only when the local-test-double setting allows it)."""

from __future__ import annotations

import random
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from pydantic import SecretStr
from yarl import URL

from bot.comet.client import VideoClient
from bot.comet.hosts import check_public_host, is_public_address
from bot.comet.types import RetryPolicy
from bot.jobs.provider import DownloadFailed
from tests.fakes.comet.api import FakeCometAPI, Fault, TaskScript

PRIVATE = ["127.0.0.1", "127.8.9.10", "10.0.0.1", "172.16.5.4", "192.168.1.1", "169.254.169.254", "100.64.0.1",
           "0.0.0.0",  # noqa: S104 - an address to refuse, not one to bind
           "224.0.0.1", "255.255.255.255", "::1", "::", "fe80::1", "fe80::1%eth0", "fd00::1",
           "::ffff:10.0.0.1", "::ffff:127.0.0.1", "192.0.2.1", "not-an-address"]
PUBLIC = ["93.184.216.34", "8.8.8.8", "2606:2800:220:1:248:1893:25c8:1946", "::ffff:8.8.8.8"]


@pytest.mark.parametrize("address", PRIVATE)
def test_non_public_addresses_are_refused(address: str) -> None:
    assert not is_public_address(address)


@pytest.mark.parametrize("address", PUBLIC)
def test_public_addresses_are_allowed(address: str) -> None:
    assert is_public_address(address)


def test_loopback_is_allowed_only_for_local_test_doubles() -> None:
    assert is_public_address("127.0.0.1", allow_loopback=True) and is_public_address("::1", allow_loopback=True)
    assert not is_public_address("10.0.0.1", allow_loopback=True)
    assert not is_public_address("169.254.169.254", allow_loopback=True)


def _resolver(table: dict[str, list[str]]):  # type: ignore[no-untyped-def]
    async def resolve(host: str, port: int) -> list[str]:
        if host not in table:
            raise OSError("Name or service not known")
        return table[host]

    return resolve


@pytest.mark.parametrize(
    ("addresses", "allowed"),
    [(["93.184.216.34"], True), (["10.1.2.3"], False), (["93.184.216.34", "127.0.0.1"], False), ([], False)],
)
async def test_a_host_name_must_resolve_to_public_addresses_only(addresses: list[str], allowed: bool) -> None:
    resolve = _resolver({"videos.example.com": addresses})
    url = URL("https://videos.example.com/v.mp4")
    if allowed:
        await check_public_host(url, allow_loopback=False, resolve=resolve, label="t")
    else:
        with pytest.raises(DownloadFailed, match="non-public"):
            await check_public_host(url, allow_loopback=False, resolve=resolve, label="t")


async def test_an_unresolvable_host_is_a_download_failure() -> None:
    with pytest.raises(DownloadFailed, match="cannot resolve"):
        await check_public_host(URL("https://nowhere.invalid/v.mp4"), allow_loopback=False,
                                resolve=_resolver({}), label="t")


@pytest.fixture
async def api() -> AsyncIterator[FakeCometAPI]:
    async with FakeCometAPI(default_script=TaskScript(polls_until_done=0)) as fake:
        yield fake


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as s:
        yield s


async def _no_sleep(_: float) -> None:
    pass


def _client(api: FakeCometAPI, session: aiohttp.ClientSession, *, local: bool, **kw: object) -> VideoClient:
    return VideoClient(session, base_url=api.base_url, api_key=SecretStr(api.api_key), sleep=_no_sleep,
                       rng=random.Random(1), retry=RetryPolicy(attempts=2, request_timeout=5.0),
                       allow_plain_http_downloads=local, **kw)  # type: ignore[arg-type]


@pytest.mark.parametrize("url", ["https://127.0.0.1:9/v.mp4", "https://[::1]:9/v.mp4", "https://10.0.0.7/v.mp4",
                                 "https://169.254.169.254/latest/meta-data/", "https://localhost:9/v.mp4",
                                 "https://2130706433/v.mp4"])
async def test_a_result_url_on_a_private_address_is_refused_in_production(
    api: FakeCometAPI, session: aiohttp.ClientSession, tmp_path: Path, url: str
) -> None:
    client = _client(api, session, local=False)
    with pytest.raises(DownloadFailed, match="non-public"):
        await client.download("task_1", url, tmp_path / "v.mp4")
    assert api.cdn_requests() == [] and list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("location", ["http://169.254.169.254/latest/meta-data/", "http://10.0.0.1/v.mp4",
                                      "http://[fd00::1]/v.mp4", "http://192.168.0.10:8080/admin"])
async def test_a_redirect_to_a_private_address_is_refused_even_for_test_doubles(
    api: FakeCometAPI, session: aiohttp.ClientSession, tmp_path: Path, location: str
) -> None:
    client = _client(api, session, local=True)
    status = await client.get(await client.create("p", "veo3.1", "16x9"))
    api.inject("cdn", Fault.redirect(location=location, status=302))
    with pytest.raises(DownloadFailed, match="non-public"):
        await client.download(status.task_id, status.video_url, tmp_path / "v.mp4")
    assert len(api.cdn_requests()) == 1  # the first hop only; the private target was never contacted


async def test_a_host_name_that_resolves_privately_is_refused_without_connecting(
    api: FakeCometAPI, session: aiohttp.ClientSession, tmp_path: Path
) -> None:
    client = _client(api, session, local=False, resolve=_resolver({"cdn.videos.example": ["10.20.30.40"]}))
    with pytest.raises(DownloadFailed, match="non-public"):
        await client.download("task_1", "https://cdn.videos.example/v.mp4", tmp_path / "v.mp4")
