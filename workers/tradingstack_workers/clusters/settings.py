"""Environment contract of the clusters worker (the renderer writes these variables)."""

from __future__ import annotations

from typing import Self

from pydantic import Field, model_validator

from ..runtime.leadership import LeaderSettings
from ..runtime.settings import CommaList
from .sample import min_points

#: Below this every pair "clusters" and the sample a correlation needs (sample.py) grows
#: without bound (at 5e-324 it overflowed to infinity and the worker died at start).
MIN_CORRELATION_THRESHOLD = 0.1
#: The frozen-feed limit when none is set (ten minutes of an unchanged price).
MIN_FROZEN_AFTER_SECONDS = 600.0


class ClustersSettings(LeaderSettings):
    kind = "clusters"

    symbols: CommaList = Field(default=(), description="Allowlist; empty takes every snapshot")
    lookback_points: int = Field(default=360, ge=11)
    correlation_threshold: float = Field(default=0.70, ge=MIN_CORRELATION_THRESHOLD, le=1)
    interval_seconds: float = Field(default=60, gt=0)
    min_points: int | None = Field(
        default=None,
        ge=11,
        description="Aligned points before correlations count; default from the threshold "
        "(clusters/sample.py: 20 at 0.70), capped at the lookback",
    )
    history_ttl_seconds: float = Field(
        default=86_400,
        gt=0,
        description="A symbol's price history expires this long after its "
        "last point (a symbol no longer traded)",
    )
    stream_maxlen: int = Field(default=10_000, ge=1, description="Audit stream MAXLEN ~")
    blas_threads: int = Field(
        default=1,
        ge=1,
        description="Threads numpy's BLAS may use for the correlation's matrix products. "
        "One leaves the other cores to Redis, which the cycle writes to meanwhile: with "
        "BLAS on every core the two fought and a 0.4 ms product took 9-14 ms (issue #18)",
    )
    frozen_after_seconds: float | None = Field(
        default=None,
        gt=0,
        description="A symbol whose price has not changed for this long is frozen and left "
        "out (clusters/freshness.py); default 5 intervals, at least 600 s. Must exceed the "
        "bots' bar length",
    )

    @model_validator(mode="after")
    def _check_min_points(self) -> Self:
        if (
            self.frozen_after_seconds is not None
            and self.frozen_after_seconds <= self.interval_seconds
        ):
            raise ValueError(
                f"TS_FROZEN_AFTER_SECONDS: {self.frozen_after_seconds:g} must exceed "
                f"TS_INTERVAL_SECONDS ({self.interval_seconds:g}): every symbol would freeze"
            )
        if self.min_points is not None and self.min_points > self.lookback_points:
            raise ValueError(
                f"TS_MIN_POINTS: {self.min_points} is more than TS_LOOKBACK_POINTS "
                f"({self.lookback_points}): correlations would never be ready"
            )
        return self

    @property
    def frozen_after(self) -> float:
        """Seconds without a price change after which a symbol's feed counts as frozen.

        Unset: five sampling intervals, but never under :data:`MIN_FROZEN_AFTER_SECONDS`:
        a price stays put for a whole bar, and a worker started without the renderer
        (which derives the limit from the bots' bar length) must not take slow bars for a
        frozen feed.
        """
        if self.frozen_after_seconds is not None:
            return self.frozen_after_seconds
        return max(5 * self.interval_seconds, MIN_FROZEN_AFTER_SECONDS)

    @property
    def required_points(self) -> int:
        """The minimum sample in force; see :mod:`.sample` for the default's derivation."""
        if self.min_points is not None:
            return self.min_points
        return min(min_points(self.correlation_threshold), self.lookback_points)

    @property
    def min_points_capped(self) -> bool:
        """True when the lookback is shorter than the sample the threshold needs."""
        return self.min_points is None and self.required_points < min_points(
            self.correlation_threshold
        )
