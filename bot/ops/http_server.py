"""The optional HTTP server: ``/healthz``, ``/metrics``, the stored videos when they are public, and routes a
face adds (Slack's requests in HTTP mode)."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from aiohttp import web

from bot.jobs.videos import VideoStore
from bot.ops.health import HealthChecks
from bot.ops.metrics import CONTENT_TYPE, MetricsRegistry

log = logging.getLogger(__name__)

VIDEO_CACHE_SECONDS = 3600


class HttpServer:
    """An aiohttp site on ``host:port`` (port 0 picks a free one, for tests); started and closed by the app."""

    def __init__(
        self,
        host: str,
        port: int,
        *,
        health: HealthChecks,
        metrics: MetricsRegistry,
        videos: VideoStore | None = None,
    ) -> None:
        self.host = host
        self.port = port
        self.health = health
        self.metrics = metrics
        # Videos are served only when they have a public URL to be reached at.
        self.videos = videos if videos is not None and videos.public_base_url else None
        self._runner: web.AppRunner | None = None
        self._posts: dict[str, Callable[[web.Request], Awaitable[web.StreamResponse]]] = {}

    def add_post(self, path: str, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]) -> None:
        """Serve ``POST path`` with ``handler`` too (before ``start``)."""
        if self._runner is not None:
            raise RuntimeError("routes are added before the server starts")
        self._posts[path] = handler

    def build_app(self) -> web.Application:
        """The routes."""
        app = web.Application()
        app.router.add_get("/healthz", self._healthz)
        app.router.add_get("/metrics", self._metrics)
        if self.videos is not None:
            app.router.add_get("/videos/{name}", self._video)
        for path, handler in self._posts.items():
            app.router.add_post(path, handler)
        return app

    async def start(self) -> None:
        """Listen; ``port`` is the real port afterwards."""
        runner = web.AppRunner(self.build_app(), access_log=None, handle_signals=False, shutdown_timeout=1.0)
        await runner.setup()
        try:
            await web.TCPSite(runner, self.host, self.port).start()
        except BaseException:
            await runner.cleanup()
            raise
        self._runner = runner
        self.port = int(runner.addresses[0][1])
        log.info("http server listening on %s:%s", self.host, self.port)

    async def close(self) -> None:
        """Stop listening."""
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def _healthz(self, request: web.Request) -> web.Response:
        report = await self.health.run()
        body = {"status": "ok" if report.ok else "unhealthy", "checks": report.checks}
        if not report.ok:
            log.warning("health check failed: %s", "; ".join(report.problems))
        return web.json_response(body, status=200 if report.ok else 503, headers={"Cache-Control": "no-store"})

    async def _metrics(self, request: web.Request) -> web.Response:
        text = await self.metrics.render()
        return web.Response(body=text.encode(), headers={"Content-Type": CONTENT_TYPE})

    async def _video(self, request: web.Request) -> web.StreamResponse:
        assert self.videos is not None
        path = self.videos.resolve(request.match_info["name"])
        if path is None:
            raise web.HTTPNotFound(text="no such video")
        return web.FileResponse(path, headers={
            "Content-Type": "video/mp4",
            "Cache-Control": f"public, max-age={VIDEO_CACHE_SECONDS}",
            "X-Content-Type-Options": "nosniff",
        })
