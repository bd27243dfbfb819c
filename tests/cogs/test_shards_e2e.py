"""Discord across processes, end to end against the fake Discord: shard sets in separate apps each take only
their guilds' commands, identifies keep to Discord's concurrency, ``/healthz`` reports each shard, and a worker
process with no gateway delivers through REST a video that fits the guild's boost tier."""

from __future__ import annotations

import contextlib
import itertools
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from bot.config import load_settings
from bot.jobs.records import JobStatus
from cogs.app import ShardedVeoBot, VeoApp, VeoBot
from tests.fakes.comet.api import TaskScript, make_mp4_bytes
from tests.fakes.discord.models import BOT_DEFAULT_PERMISSIONS, FakeChannel, FakeGuild, MessageRecord, MiB
from tests.support.e2e import FAST_CORE, FAST_RETRY, IDENTIFY_WINDOW, MEMBER_PERMISSIONS, World, world


def _shard_guild(w: World, shard: int, count: int, **options: Any) -> tuple[FakeGuild, FakeChannel]:
    guild = w.discord.add_guild(f"shard {shard} server", shard=(shard, count), **options)
    channel = w.discord.add_channel(guild.id, "videos", bot_permissions=BOT_DEFAULT_PERMISSIONS)
    w.discord.add_member(guild.id, w.member, permissions=MEMBER_PERMISSIONS)
    return guild, channel


@contextlib.asynccontextmanager
async def _app(w: World, name: str, env: dict[str, str], *, worker: bool = True,
               wait_for: tuple[FakeGuild, ...] = ()) -> AsyncIterator[VeoApp]:
    """A bot app on a database of its own, started, and (unless a worker) connected to ``wait_for``."""
    settings = load_settings(w.env(**{"DATABASE_URL": f"sqlite:///{w.tmp_path / name}.sqlite3",
                                      "VEO_DATA_DIR": str(w.tmp_path / name), **env}))
    app = await VeoApp.create(settings, retry=FAST_RETRY, **FAST_CORE)
    app.worker_enabled = worker
    try:
        await app.start()
        for guild in wait_for:
            await w.discord.wait_until(lambda g=guild: app.bot.get_guild(g.id), timeout=10)
        yield app
    finally:
        await app.close()


async def _veo(w: World, channel: FakeChannel, prompt: str) -> MessageRecord:
    interaction = await w.discord.invoke_command(
        "veo", channel_id=channel.id, user=w.member, options={"prompt": prompt}, permissions=MEMBER_PERMISSIONS)
    return await interaction.wait_for_response(predicate=lambda m: "#" in m.content, timeout=10)


def _results(w: World, channel: FakeChannel) -> list[MessageRecord]:
    return [m for m in w.discord.messages(channel.id)
            if m.author.id == w.discord.bot_user.id and not m.ephemeral and not m.embeds
            and m.interaction_metadata is None]


async def test_two_shard_sets_take_only_their_own_guilds_commands(tmp_path: Path) -> None:
    # Shards 0 and 1 are in different identify buckets (max_concurrency 2): the apps may identify together.
    async with world(tmp_path, max_concurrency=2) as w:
        w.api.script_next_task(TaskScript(polls_until_done=1))
        g0, c0 = _shard_guild(w, 0, 2)
        g1, c1 = _shard_guild(w, 1, 2)
        shards = {"DISCORD_SHARD_COUNT": "2", "DISCORD_GUILD_IDS": ""}
        async with _app(w, "zero", {**shards, "DISCORD_SHARD_IDS": "0"}, wait_for=(g0,)) as zero, \
                _app(w, "one", {**shards, "DISCORD_SHARD_IDS": "1"}, wait_for=(g1,)) as one:
            assert isinstance(zero.bot, ShardedVeoBot) and zero.bot.shard_ids == [0] and zero.bot.shard_count == 2
            assert zero.bot.get_guild(g1.id) is None and one.bot.get_guild(g0.id) is None
            await _veo(w, c1, "a lighthouse at dusk")
            await _veo(w, c0, "a fox in the snow")
            # Each app took the command of its own guild only: its store has that job and no other.
            job_one = await one.store.get_job(1)
            assert job_one is not None and job_one.workspace_id == str(g1.id)
            job_zero = await zero.store.get_job(1)
            assert job_zero is not None and job_zero.workspace_id == str(g0.id)
            assert await zero.store.get_job(2) is None and await one.store.get_job(2) is None
            # The job made on shard 1's guild is posted by the worker of the app that holds shard 1.
            [result] = await w.discord.wait_until(lambda: _results(w, c1) or None, timeout=10)
            assert result.attachments and result.pinged_user_ids == {w.member.id}
            assert w.discord.sessions_of_shard(0) == w.discord.sessions_of_shard(1) == 1
            assert not w.discord.identify_violations


async def test_shards_of_one_bucket_identify_a_window_apart_and_healthz_reports_each(tmp_path: Path) -> None:
    # max_concurrency 1: shards 0, 1 and 2 all share bucket 0; the fake closes any identify inside the window.
    async with world(tmp_path, max_concurrency=1) as w:
        guilds = [_shard_guild(w, shard, 3)[0] for shard in range(3)]
        async with _app(w, "all", {"DISCORD_SHARD_COUNT": "3", "DISCORD_GUILD_IDS": ""}, wait_for=tuple(guilds)) as app:
            assert isinstance(app.bot, ShardedVeoBot) and app.bot.shard_ids == [0, 1, 2]
            await w.discord.wait_until(lambda: len(app.discord_health.shards_up) == 3, timeout=10)
            report = await app.runtime.health.run()
            assert report.ok, report.problems
            assert {name for name in report.checks if name.startswith("gateway")} == {
                "gateway_shard_0", "gateway_shard_1", "gateway_shard_2"}
            assert app.identify_gate.max_concurrency == 1
            # Discord drops every session: each shard is reported down, then identifies again in its turn.
            await w.discord.disconnect_gateway(4000, invalidate=True)
            down = await w.discord.wait_until(lambda: _shard_problems(app), timeout=5)
            assert all(name.startswith("gateway_shard_") for name in down)
            assert "disconnected from the Discord gateway" in " ".join(down.values())
            async def all_back() -> bool:
                return w.discord.identify_count == 6 and not await _shard_problems(app)

            await w.discord.wait_until(all_back, timeout=10)
        times = sorted(at for at, _ in w.discord.gateway.identifies)
        assert len(times) == 6 and not w.discord.identify_violations
        assert all(later - earlier >= IDENTIFY_WINDOW * 0.9 for earlier, later in itertools.pairwise(times))


async def test_a_restarted_process_waits_for_its_bucket_instead_of_being_closed(tmp_path: Path) -> None:
    # The booked identify outlives the process (it is in the store): a restart right away waits its turn.
    async with world(tmp_path) as w:
        env = {"DISCORD_SHARD_COUNT": "1"}
        async with _app(w, "bot", env, wait_for=(w.guild,)):
            pass
        async with _app(w, "bot", env, wait_for=(w.guild,)) as again:
            assert again.bot.get_guild(w.guild.id) is not None
        assert w.discord.identify_count == 2 and not w.discord.identify_violations
        first, second = (at for at, _ in w.discord.gateway.identifies)
        assert second - first >= IDENTIFY_WINDOW * 0.9


async def test_a_worker_process_delivers_through_rest_a_video_that_fits_the_boost_tier(tmp_path: Path) -> None:
    async with world(tmp_path) as w:
        boosted, channel = _shard_guild(w, 0, 1, premium_tier=2)  # 50 MiB uploads; the default is 10 MiB
        video = make_mp4_bytes(12 * MiB)
        w.api.script_next_task(TaskScript(polls_until_done=1, video=video))
        env = {"VEO_FIT_VIDEOS": "false"}
        # A process with the gateway takes the command, without running jobs...
        async with _app(w, "bot", env, worker=False, wait_for=(boosted,)):
            await _veo(w, channel, "a heron taking off")
        puts, identifies = len(w.discord.command_puts), w.discord.identify_count
        # ...and a worker process on the same database submits, polls and posts it.
        async with _app(w, "bot", {**env, "VEO_ROLE": "worker"}) as worker:
            assert type(worker.bot) is VeoBot and worker.bot.user is not None  # logged in
            assert not worker.bot.cogs and not worker.bot.tree.get_commands()
            [result] = await w.discord.wait_until(lambda: _results(w, channel) or None, timeout=15)
            job = await w.discord.wait_until(lambda: _delivered(worker), timeout=5)
            report = await worker.runtime.health.run()
            assert w.discord.connection_count == 0 and w.discord.identify_count == identifies
        assert [a.size for a in result.attachments] == [len(video)]
        assert job.delivered_message_id == str(result.id)
        assert len(w.discord.command_puts) == puts  # no command sync from the worker
        assert [r.path for r in w.discord.requests if r.path == f"/guilds/{boosted.id}"] == [f"/guilds/{boosted.id}"]
        assert "gateway" not in report.checks and report.checks["database"] == "ok"


async def test_a_worker_process_finds_its_interrupted_post_in_the_history_over_rest(tmp_path: Path) -> None:
    # No nonce protection (the window is over): only the history scan, read over REST, prevents a second post.
    async with world(tmp_path, nonce_window=0.0) as w:
        w.api.script_next_task(TaskScript(polls_until_done=1))
        async with _app(w, "bot", {}, worker=False, wait_for=(w.guild,)):
            await _veo(w, w.channel, "rain on a tin roof")
        # The result reaches Discord, but the answer is lost on the way back.
        w.discord.inject_drop("POST", r"/channels/\d+/messages$", after_processing=True)
        async with _app(w, "bot", {"VEO_ROLE": "worker"}) as worker:
            job = await w.discord.wait_until(lambda: _delivered(worker), timeout=15)
        [result] = w.results()
        assert job.delivered_message_id == str(result.id) and job.delivery_attempts >= 2
        assert w.discord.connection_count == 0 and w.discord.identify_count == 1
        assert any(r.method == "GET" and r.path == f"/channels/{w.channel.id}/messages" for r in w.discord.requests)


async def _shard_problems(app: VeoApp) -> dict[str, str]:
    report = await app.runtime.health.run()
    return {name: value for name, value in report.checks.items() if name.startswith("gateway") and value != "ok"}


async def _delivered(app: VeoApp) -> Any:
    job = await app.store.get_job(1)
    return job if job is not None and job.status is JobStatus.DELIVERED else None
