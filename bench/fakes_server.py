"""One fake (CometAPI or Discord) in its own process, with a small control API for the benchmark.

``python -m bench.fakes_server comet --clock FILE`` or ``... discord --guilds N``: prints one JSON line
with its addresses when it is ready, then serves until its standard input closes. The fakes run apart
from the bot so that the figures measure the bot, not the fakes that stand in for Discord and CometAPI.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import random
import socket
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

from aiohttp import web

from bench.clock import SharedClock
from tests.fakes.comet.api import FakeCometAPI, TaskScript, make_mp4_bytes
from tests.fakes.comet.script import ROUTES, Fault, ProgressStyle
from tests.fakes.discord.interactions import FakeInteraction
from tests.fakes.discord.models import BOT_DEFAULT_PERMISSIONS, EVERYONE_DEFAULT_PERMISSIONS, FakeUser
from tests.fakes.discord.server import FakeDiscord

COMET_KEY = "sk-bench-comet-0123456789abcdef"
DISCORD_TOKEN = "bench-discord-token"  # noqa: S105 - the fake's token, not a secret
ACK_PROMPT = "ack probe: a paper boat on a stream"


async def _serve_control(app: web.Application) -> tuple[web.AppRunner, int]:
    runner = web.AppRunner(app, access_log=None, handle_signals=False)
    await runner.setup()
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    await web.SockSite(runner, sock).start()
    return runner, int(sock.getsockname()[1])


async def _until_stdin_closes() -> None:
    loop = asyncio.get_running_loop()
    await loop.run_in_executor(None, sys.stdin.read)


# -- CometAPI -----------------------------------------------------------------------------------------


class CometControl:
    """Scripts the fake CometAPI's tasks and reports what it served."""

    def __init__(self, api: FakeCometAPI) -> None:
        self.api = api
        self.routes: Counter[str] = Counter()

    def drain_records(self) -> None:
        """Count and drop the request records, so a long run does not keep every request in memory."""
        for record in self.api.requests:
            self.routes[record.route] += 1
        self.api.requests.clear()

    async def scripts(self, request: web.Request) -> web.Response:
        body = await request.json()
        style: ProgressStyle = "fixed50" if body.get("progress") == "fixed50" else "int"
        video = make_mp4_bytes(int(body.get("video_bytes", 4096)))
        for seconds in body["durations"]:
            self.api.script_next_task(TaskScript(seconds_until_done=float(seconds), progress_style=style, video=video))
        # Jobs beyond the scripted ones (the ack probes' jobs) take the mix's median.
        self.api.default_script = TaskScript(seconds_until_done=float(body.get("default", 75.0)),
                                             progress_style=style, video=video)
        return web.json_response({"queued": len(body["durations"])})

    async def hold(self, request: web.Request) -> web.Response:
        """The next ``times`` requests of ``route`` are answered only after ``seconds``: a step that stays under
        way (bench/takeover.py holds its polls so that the jobs stay leased)."""
        body = await request.json()
        route = str(body.get("route", "get"))
        if route not in ROUTES:
            return web.json_response({"error": f"route must be one of {', '.join(ROUTES)}"}, status=400)
        self.api.inject(route, Fault.slow(float(body["seconds"])), times=int(body["times"]))  # type: ignore[arg-type]
        return web.json_response({"held": route})

    async def stats(self, request: web.Request) -> web.Response:
        self.drain_records()
        tasks = [
            [t.id, t.created_at + (t.script.seconds_until_done or 0.0), t.gets] for t in self.api.tasks.values()
        ]
        return web.json_response({"routes": dict(self.routes), "tasks": tasks})

    async def drain_forever(self) -> None:
        while True:
            await asyncio.sleep(0.5)
            self.drain_records()


async def run_comet(clock_file: Path) -> None:
    clock = SharedClock.attach(clock_file)
    api = FakeCometAPI(api_key=COMET_KEY, clock=clock.now, max_upload_bytes=16 * 1024 * 1024)
    await api.start()
    control = CometControl(api)
    app = web.Application()
    app.router.add_post("/scripts", control.scripts)
    app.router.add_get("/stats", control.stats)
    app.router.add_post("/hold", control.hold)
    runner, port = await _serve_control(app)
    drainer = asyncio.create_task(control.drain_forever())
    print(json.dumps({"base_url": api.base_url, "control": f"http://127.0.0.1:{port}"}), flush=True)
    await _until_stdin_closes()
    drainer.cancel()
    await runner.cleanup()
    await api.close()


# -- Discord ------------------------------------------------------------------------------------------


class DiscordControl:
    """Sends ``/veo`` interactions at a steady rate and reports how fast the bot acknowledged them."""

    def __init__(self, fake: FakeDiscord, channel_id: int, users: list[FakeUser]) -> None:
        self.fake = fake
        self.channel_id = channel_id
        self.users = users

    async def _one(self, index: int, wait: float) -> float | None:
        interaction: FakeInteraction = await self.fake.invoke_command(
            "veo", channel_id=self.channel_id, user=self.users[index % len(self.users)],
            options={"prompt": f"{ACK_PROMPT} #{index}"}, permissions=EVERYONE_DEFAULT_PERMISSIONS,
        )
        try:
            await interaction.wait_acked(wait)
        except AssertionError:
            return None
        return interaction.ack_latency

    async def invoke(self, request: web.Request) -> web.Response:
        body = await request.json()
        count, rate = int(body["count"]), float(body["rate"])
        rng = random.Random(int(body.get("seed", 0)))
        started = time.monotonic()
        tasks = []
        for index in range(count):
            tasks.append(asyncio.create_task(self._one(index, float(body.get("timeout", 10.0)))))
            # Poisson arrivals: a steady stream, not a lockstep one.
            await asyncio.sleep(rng.expovariate(rate))
        results = await asyncio.gather(*tasks)
        latencies = [r for r in results if r is not None]
        return web.json_response({
            "latencies": latencies, "unacked": count - len(latencies), "seconds": time.monotonic() - started,
        })

    async def stats(self, request: web.Request) -> web.Response:
        store = self.fake.store
        messages = [m for ms in store.by_channel.values() for m in ms]
        return web.json_response({
            "messages": len(messages),
            "edits": sum(max(0, len(m.versions) - 1) for m in messages),
            "nonce_hits": len(store.nonce_hits),
            "largest_attachment": max((len(a.data) for m in messages for a in m.attachments), default=0),
        })


async def run_discord(guilds: int, premium_tier: int) -> None:
    fake = FakeDiscord(token=DISCORD_TOKEN, record_requests=False)
    await fake.start()
    world: dict[str, Any] = {"guilds": []}
    for index in range(guilds):
        guild = fake.add_guild(f"Bench {index}", premium_tier=premium_tier)
        channel = fake.add_channel(guild.id, "videos", bot_permissions=BOT_DEFAULT_PERMISSIONS)
        world["guilds"].append([guild.id, channel.id])
    first_guild, first_channel = world["guilds"][0]
    users = []
    for index in range(20):
        user = fake.add_user(f"member{index}")
        fake.add_member(first_guild, user, permissions=EVERYONE_DEFAULT_PERMISSIONS)
        users.append(user)
    control = DiscordControl(fake, first_channel, users)
    app = web.Application()
    app.router.add_post("/invoke", control.invoke)
    app.router.add_get("/stats", control.stats)
    runner, port = await _serve_control(app)
    print(json.dumps({
        "api_base": fake.api_base, "gateway_url": fake.gateway_url, "control": f"http://127.0.0.1:{port}",
        "world": world,
    }), flush=True)
    await _until_stdin_closes()
    # The bot may be gone without closing its websocket: do not wait for a close handshake forever.
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(asyncio.gather(runner.cleanup(), fake.stop()), 5)


def main() -> None:
    """Parse the command line and serve one fake."""
    parser = argparse.ArgumentParser(prog="python -m bench.fakes_server")
    parser.add_argument("kind", choices=("comet", "discord"))
    parser.add_argument("--clock", type=Path, help="the shared clock file (comet)")
    parser.add_argument("--guilds", type=int, default=1)
    parser.add_argument("--premium-tier", type=int, default=0)
    args = parser.parse_args()
    if args.kind == "comet":
        asyncio.run(run_comet(args.clock))
    else:
        asyncio.run(run_discord(args.guilds, args.premium_tier))


if __name__ == "__main__":
    main()
