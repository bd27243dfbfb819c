"""``DiscordHealth``: the Discord facts behind ``/healthz`` and ``/metrics`` (gateway state of the session, or of
each shard this process runs, and Discord errors)."""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from types import SimpleNamespace

import aiohttp
from discord.ext import commands

from bot.ops.health import HealthProbe
from bot.ops.instrument import BotMetrics
from bot.ops.metrics import MetricsRegistry


class DiscordMetrics:
    """The Discord face's own metrics, registered on the app's registry next to the job core's."""

    def __init__(self, registry: MetricsRegistry) -> None:
        self.errors = registry.counter(
            "veo_discord_errors_total", "Discord HTTP error answers and network errors, by status.", ["status"]
        )
        self.gateway_connected = registry.gauge(
            "veo_gateway_connected", "1 while the Discord gateway session (every shard of this process) is up.")
        self.gateway_disconnects = registry.counter("veo_gateway_disconnects_total", "Discord gateway disconnections.")


class DiscordHealth:
    """Watches one discord.py client: whether its gateway session (or each of its shards) is up, and every
    error answer it gets. ``shards`` are the shards the client runs; None for an unsharded client."""

    def __init__(self, metrics: BotMetrics, *, clock: Callable[[], float] = time.time,
                 shards: tuple[int, ...] | None = None) -> None:
        self.metrics = DiscordMetrics(metrics.registry)
        self.clock = clock
        self.shards = shards
        self.client: commands.Bot | None = None
        self.connected = False
        self.disconnected_at: float | None = None
        self.shards_up: set[int] = set()
        self.shard_disconnected_at: dict[int, float] = {}
        self.trace = aiohttp.TraceConfig()
        self.trace.on_request_end.append(self._on_request_end)
        self.trace.on_request_exception.append(self._on_request_exception)
        self.metrics.gateway_connected.set(0)

    def attach(self, client: commands.Bot) -> None:
        """Listen to the client's gateway events and trace its REST requests (call before it logs in)."""
        self.client = client
        # discord.py opens its HTTP session at login with the trace configured here.
        client.http.http_trace = self.trace
        client.add_listener(self._up, "on_connect")
        client.add_listener(self._up, "on_resumed")
        client.add_listener(self._down, "on_disconnect")
        if self.shards is not None:
            client.add_listener(self._shard_up, "on_shard_connect")
            client.add_listener(self._shard_up, "on_shard_resumed")
            client.add_listener(self._shard_down, "on_shard_disconnect")

    def probes(self) -> list[HealthProbe]:
        """The checks for ``/healthz``: ``gateway`` for an unsharded client, ``gateway_shard_<n>`` per shard."""
        if self.shards is None:
            return [HealthProbe("gateway", self.problem)]
        return [HealthProbe(f"gateway_shard_{shard}", functools.partial(self.shard_problem, shard))
                for shard in self.shards]

    async def _up(self) -> None:
        if self.shards is not None:  # counted per shard
            return
        self.connected = True
        self.disconnected_at = None
        self.metrics.gateway_connected.set(1)

    async def _down(self) -> None:
        if self.shards is not None:
            return
        if self.connected:
            self.metrics.gateway_disconnects.inc()
            self.disconnected_at = self.clock()
        self.connected = False
        self.metrics.gateway_connected.set(0)

    async def _shard_up(self, shard_id: int) -> None:
        self.shards_up.add(shard_id)
        self.shard_disconnected_at.pop(shard_id, None)
        self.metrics.gateway_connected.set(1 if self.shards_up >= set(self.shards or ()) else 0)

    async def _shard_down(self, shard_id: int) -> None:
        if shard_id in self.shards_up:
            self.metrics.gateway_disconnects.inc()
            self.shard_disconnected_at[shard_id] = self.clock()
        self.shards_up.discard(shard_id)
        self.metrics.gateway_connected.set(0)

    async def _on_request_end(
        self, session: aiohttp.ClientSession, context: SimpleNamespace, params: aiohttp.TraceRequestEndParams
    ) -> None:
        if params.response.status >= 400:
            self.metrics.errors.labels(status=str(params.response.status)).inc()

    async def _on_request_exception(
        self, session: aiohttp.ClientSession, context: SimpleNamespace, params: aiohttp.TraceRequestExceptionParams
    ) -> None:
        self.metrics.errors.labels(status="network").inc()

    def problem(self) -> str | None:
        """None while the gateway session is up, else what is wrong (for ``/healthz``)."""
        client = self.client
        if client is None or client.is_closed():
            return "the Discord client is not running"
        ws = client.ws
        if self.connected and ws is not None and ws.open:
            return None
        if self.disconnected_at is not None:
            return f"disconnected from the Discord gateway {self.clock() - self.disconnected_at:.0f} s ago"
        return "not connected to the Discord gateway yet"

    def shard_problem(self, shard_id: int) -> str | None:
        """None while the shard's gateway session is up, else what is wrong (for ``/healthz``)."""
        client = self.client
        if client is None or client.is_closed():
            return "the Discord client is not running"
        shard = client.get_shard(shard_id) if isinstance(client, commands.AutoShardedBot) else None
        if shard_id in self.shards_up and shard is not None and not shard.is_closed():
            return None
        since = self.shard_disconnected_at.get(shard_id)
        if since is not None:
            return f"disconnected from the Discord gateway {self.clock() - since:.0f} s ago"
        return "not connected to the Discord gateway yet"
