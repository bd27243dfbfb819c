"""CometAPI's video API client: ``client`` (requests and the retry loop), ``http``, ``parse``, ``hosts``,
``download``, ``errors`` (responses to provider errors) and ``types`` (its settings records)."""

from bot.comet.client import VideoClient

__all__ = ["VideoClient"]
