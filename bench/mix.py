"""Simulated Veo durations: a log-normal mix given by its median and its 5th and 95th percentiles."""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

_Z95 = 1.6448536269514722  # the standard normal's 95th percentile


@dataclass(frozen=True, slots=True)
class DurationMix:
    """A split log-normal: one spread below the median (fixed by p5), another above it (fixed by p95).

    Veo's durations are skewed (a long tail of slow jobs), which one log-normal cannot match at both ends.
    """

    median: float
    p5: float
    p95: float
    shortest: float = 5.0
    longest: float = 1500.0

    @classmethod
    def parse(cls, text: str) -> DurationMix:
        """``lognormal:75,40,180`` (median, p5, p95 in seconds) or ``fixed:75``."""
        kind, _, values = text.partition(":")
        try:
            numbers = [float(v) for v in values.split(",")]
        except ValueError as exc:
            raise ValueError(f"bad numbers in mix {text!r}") from exc
        if kind == "fixed" and len(numbers) == 1 and numbers[0] > 0:
            return cls(numbers[0], numbers[0], numbers[0])
        if kind == "lognormal" and len(numbers) == 3 and 0 < numbers[1] <= numbers[0] <= numbers[2]:
            return cls(*numbers)
        raise ValueError(
            f"mix must be 'lognormal:MEDIAN,P5,P95' (P5 <= MEDIAN <= P95) or 'fixed:SECONDS', not {text!r}"
        )

    def sample(self, rng: random.Random) -> float:
        """One duration in seconds."""
        z = rng.gauss(0.0, 1.0)
        spread = math.log(self.median / self.p5) if z < 0 else math.log(self.p95 / self.median)
        value = self.median * math.exp(z * spread / _Z95)
        return min(self.longest, max(self.shortest, value))

    def describe(self) -> str:
        """How the mix was given."""
        if self.p5 == self.median == self.p95:
            return f"fixed:{self.median:g}"
        return f"lognormal:{self.median:g},{self.p5:g},{self.p95:g}"

    def mean(self, samples: int = 200_000) -> float:
        """The mix's mean duration, estimated from a fixed-seed sample (the same every call)."""
        rng = random.Random(0)
        return sum(self.sample(rng) for _ in range(samples)) / samples
