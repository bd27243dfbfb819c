"""The fake CometAPI itself, driven by raw aiohttp: it must speak the documented protocol."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from tests.fakes.comet.api import FakeCometAPI, Fault, TaskScript, make_mp4_bytes


@pytest.fixture
async def api() -> AsyncIterator[FakeCometAPI]:
    async with FakeCometAPI() as fake:
        yield fake


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as s:
        yield s


def auth(api: FakeCometAPI) -> dict[str, str]:
    return {"Authorization": f"Bearer {api.api_key}"}


def form(**fields: str) -> aiohttp.FormData:
    data = aiohttp.FormData(default_to_multipart=True)
    for name, value in fields.items():
        data.add_field(name, value)
    return data


async def create(api: FakeCometAPI, http: aiohttp.ClientSession, **fields: str) -> dict[str, Any]:
    async with http.post(f"{api.base_url}/videos", data=form(prompt="p", **fields), headers=auth(api)) as r:
        assert r.status == 200
        body: dict[str, Any] = await r.json()
        return body


def assert_envelope(body: dict[str, Any]) -> dict[str, Any]:
    error: dict[str, Any] = body["error"]
    assert set(error) == {"message", "type", "param", "code"}
    assert "(request id: " in error["message"]
    return error


@pytest.mark.parametrize("size", [0, 7, 8, 40, 4096, 100_001])
def test_make_mp4_bytes(size: int) -> None:
    data = make_mp4_bytes(size)
    assert len(data) == size
    if size >= 8:
        assert data[4:8] == b"ftyp"


async def test_create_answers_the_documented_body(api: FakeCometAPI, http: aiohttp.ClientSession) -> None:
    body = await create(api, http, model="veo3.1-pro", size="1280x720", seconds="8")
    assert body["id"] == body["task_id"] and body["id"].startswith("task_")
    assert body["object"] == "video" and body["status"] == "queued" and body["progress"] == 0
    assert body["model"] == "veo_3_1-4K"  # the resolved provider id, not the alias
    assert (body["size"], body["seconds"]) == ("1280x720", "8")
    assert api.tasks[body["id"]].prompt == "p"


async def test_requests_without_the_key_get_a_401_envelope(api: FakeCometAPI, http: aiohttp.ClientSession) -> None:
    for headers in ({}, {"Authorization": "Bearer nope"}, {"Authorization": api.api_key}):
        async with http.post(f"{api.base_url}/videos", data=form(prompt="p"), headers=headers) as r:
            assert r.status == 401
            assert_envelope(await r.json())
    assert api.tasks == {}
    assert len(api.create_requests()) == 3


@pytest.mark.parametrize(
    ("fields", "param"),
    [({"prompt": " "}, "prompt"), ({"prompt": "p", "size": "99x99"}, "size"),
     ({"prompt": "p", "seconds": "7"}, "seconds")],
)
async def test_create_validates_fields(
    api: FakeCometAPI, http: aiohttp.ClientSession, fields: dict[str, str], param: str
) -> None:
    async with http.post(f"{api.base_url}/videos", data=form(**fields), headers=auth(api)) as r:
        assert r.status == 400
        error = assert_envelope(await r.json())
    assert (error["type"], error["code"], error["param"]) == ("invalid_request_error", "invalid_request", param)
    assert api.tasks == {}


async def test_create_requires_multipart_and_at_most_two_images(
    api: FakeCometAPI, http: aiohttp.ClientSession
) -> None:
    async with http.post(f"{api.base_url}/videos", data={"prompt": "p"}, headers=auth(api)) as r:
        assert r.status == 400
    data = form(prompt="p")
    for i in range(3):
        data.add_field("input_reference", b"img%d" % i, filename=f"{i}.png", content_type="image/png")
    async with http.post(f"{api.base_url}/videos", data=data, headers=auth(api)) as r:
        assert r.status == 400
    assert api.tasks == {}
    assert [f.data for f in api.create_requests()[1].files] == [b"img0", b"img1", b"img2"]


async def test_polls_content_and_cdn(api: FakeCometAPI, http: aiohttp.ClientSession) -> None:
    task_id = (await create(api, http))["id"]
    async with http.get(f"{api.base_url}/videos/{task_id}/content", headers=auth(api)) as r:
        assert r.status == 400
        assert assert_envelope(await r.json())["type"] == "invalid_request_error"
    async with http.get(f"{api.base_url}/videos/{task_id}", headers=auth(api)) as r:
        running = await r.json()
    async with http.get(f"{api.base_url}/videos/{task_id}", headers=auth(api)) as r:
        done = await r.json()
    assert (running["status"], running["progress"], running["error"]) == ("queued", 50, None)
    assert (done["status"], done["progress"]) == ("completed", 100) and "completed_at" in done
    async with http.get(f"{api.base_url}/videos/{task_id}/content", headers=auth(api)) as r:
        assert r.status == 200 and r.content_type == "video/mp4"
        assert await r.read() == TaskScript().video
    async with http.get(done["video_url"], headers={"X-Probe": "1"}) as r:
        assert await r.read() == TaskScript().video
    assert api.cdn_requests()[0].header("x-probe") == "1"
    assert api.get_count(task_id) == 2 and api.tasks[task_id].gets == 2


async def test_unknown_task_is_a_404_envelope(api: FakeCometAPI, http: aiohttp.ClientSession) -> None:
    for suffix in ("", "/content"):
        async with http.get(f"{api.base_url}/videos/task_missing{suffix}", headers=auth(api)) as r:
            assert r.status == 404
            assert_envelope(await r.json())


async def test_failure_styles(api: FakeCometAPI, http: aiohttp.ClientSession) -> None:
    styles = ["error_object", "fail_reason", "error_string"]
    for style in styles:
        api.script_next_task(TaskScript(polls_until_done=0, outcome="failure", failure_style=style))  # type: ignore[arg-type]
    bodies = []
    for _ in styles:
        task_id = (await create(api, http))["id"]
        async with http.get(f"{api.base_url}/videos/{task_id}", headers=auth(api)) as r:
            bodies.append(await r.json())
    assert bodies[0]["error"] == {"message": TaskScript().failure_message, "code": "generation_failed"}
    assert "error" not in bodies[1] and bodies[1]["fail_reason"] == TaskScript().failure_message
    assert bodies[2]["error"] == TaskScript().failure_message
    assert all(b["status"] == "failed" for b in bodies)


async def test_injected_faults_apply_the_given_number_of_times(
    api: FakeCometAPI, http: aiohttp.ClientSession
) -> None:
    task_id = (await create(api, http))["id"]
    api.inject("get", Fault.rate_limited(retry_after="5"), times=2)
    api.inject("get", Fault.truncated())
    seen = []
    for _ in range(4):
        async with http.get(f"{api.base_url}/videos/{task_id}", headers=auth(api)) as r:
            seen.append((r.status, r.headers.get("Retry-After"), await r.text()))
    assert [s[:2] for s in seen] == [(429, "5"), (429, "5"), (200, None), (200, None)]
    assert seen[2][2].startswith("{") and not seen[2][2].endswith("}")
    assert seen[3][2].endswith("}")


async def test_redirect_and_html_faults(api: FakeCometAPI, http: aiohttp.ClientSession) -> None:
    api.inject("create", Fault.redirect())
    api.inject("create", Fault.html())
    async with http.post(f"{api.base_url}/videos", data=form(prompt="p"), allow_redirects=False) as r:
        assert r.status == 301 and r.headers["Location"] == f"{api.cdn_base_url}/moved"
    async with http.post(f"{api.base_url}/videos", data=form(prompt="p")) as r:
        assert r.status == 200 and r.content_type == "text/html"
    assert api.tasks == {}


def fault_sequence(seed: int) -> list[str | None]:
    fake = FakeCometAPI()
    fake.set_fault_rates(seed=seed, get_503=0.3, get_429=0.1, get_drop=0.1)
    faults = [fake.faults.take("get") for _ in range(200)]
    return [None if f is None else f"{f.kind}{f.status}" for f in faults]


def test_fault_rates_are_seeded_and_roughly_right() -> None:
    first, again, other = fault_sequence(1), fault_sequence(1), fault_sequence(2)
    assert first == again and first != other
    assert 40 <= first.count("status503") <= 80
    assert 8 <= first.count("status429") <= 35
    assert 8 <= first.count("drop500") <= 35
    with pytest.raises(ValueError):
        FakeCometAPI().set_fault_rates(gett_503=0.5)


async def test_scripts_are_used_in_order_then_the_default(api: FakeCometAPI, http: aiohttp.ClientSession) -> None:
    api.script_next_task(TaskScript(create_id_fields="task_id"))
    api.script_next_task(TaskScript(create_id_fields="id"))
    first, second, third = [await create(api, http) for _ in range(3)]
    assert "id" not in first and "task_id" in first
    assert "id" in second and "task_id" not in second
    assert "id" in third and "task_id" in third


async def test_big_uploads_are_accepted(api: FakeCometAPI, http: aiohttp.ClientSession) -> None:
    data = form(prompt="p")
    data.add_field("input_reference", io.BytesIO(b"\x00" * (12 * 1024 * 1024)), filename="big.png",
                   content_type="image/png")
    async with http.post(f"{api.base_url}/videos", data=data, headers=auth(api)) as r:
        assert r.status == 200
    assert len(api.create_requests()[0].files[0].data) == 12 * 1024 * 1024
