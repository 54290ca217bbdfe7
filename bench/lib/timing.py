"""One timer and one percentile (the product's, search.evaluation.percentile) for every part."""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence

from search.evaluation import percentile

__all__ = ["Timer", "percentile", "summary"]


class Timer:
    """Laps in milliseconds: ``with timer: work()`` adds one; ``timer.last_s`` is the last in s."""

    def __init__(self) -> None:
        self.ms: list[float] = []
        self._started = 0.0

    def __enter__(self) -> Timer:
        self._started = time.perf_counter()
        return self

    def __exit__(self, *exc) -> None:
        self.ms.append((time.perf_counter() - self._started) * 1000)

    @property
    def last_s(self) -> float:
        return self.ms[-1] / 1000

    def summary(self, ps: Iterable[float] = (50, 95, 99)) -> dict[str, float]:
        return summary(self.ms, ps)


def summary(values: Sequence[float], ps: Iterable[float] = (50, 95, 99)) -> dict[str, float]:
    """{"p50": ..., "p95": ..., "p99": ...} of ``values``."""
    return {f"p{p:g}": percentile(values, p) for p in ps}
