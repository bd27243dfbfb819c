"""The CometAPI client's own settings record: the bounds of its retry loop."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Bounds for the client's retry loop; ``attempts`` counts the first try too."""

    attempts: int = 4
    base_delay: float = 0.5
    max_delay: float = 20.0
    retry_after_cap: float = 60.0
    request_timeout: float = 30.0

    def __post_init__(self) -> None:
        if self.attempts < 1:
            raise ValueError("RetryPolicy.attempts must be at least 1")
        if min(self.base_delay, self.max_delay, self.retry_after_cap) < 0 or self.request_timeout <= 0:
            raise ValueError("RetryPolicy delays must be >= 0 and request_timeout > 0")
