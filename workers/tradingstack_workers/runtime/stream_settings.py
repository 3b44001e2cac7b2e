"""Settings every stream-consuming worker shares (gate, intel), and their StreamConfig."""

from __future__ import annotations

from typing import Self

from pydantic import Field, model_validator

from .settings import RuntimeSettings
from .streams import StreamConfig


class StreamSettings(RuntimeSettings):
    stream_batch_size: int = Field(default=500, ge=1, le=10_000)
    stream_block_ms: int = Field(default=1000, ge=1)
    stream_claim_idle_ms: int = Field(
        default=30_000, ge=100, description="Pending this long: its consumer is dead"
    )
    stream_max_deliveries: int = Field(default=5, ge=1)

    @model_validator(mode="after")
    def _check_block(self) -> Self:
        # A read that blocks longer than a heartbeat stalls liveness; longer than the socket
        # timeout, and every idle read ends in a timeout error.
        block_s = self.stream_block_ms / 1000
        for name, limit in (
            ("TS_HEARTBEAT_INTERVAL_SECONDS", self.heartbeat_interval_seconds),
            ("TS_REDIS_SOCKET_TIMEOUT_SECONDS", self.redis_socket_timeout_seconds),
        ):
            if block_s >= limit:
                raise ValueError(
                    f"TS_STREAM_BLOCK_MS: {self.stream_block_ms} must be shorter than "
                    f"{name} ({limit:g} s)"
                )
        return self

    def stream_config(self, stream: str, group: str, dead_letter: str) -> StreamConfig:
        return StreamConfig(
            stream=stream,
            group=group,
            consumer=self.instance,
            dead_letter=dead_letter,
            batch_size=self.stream_batch_size,
            block_ms=self.stream_block_ms,
            claim_idle_ms=self.stream_claim_idle_ms,
            max_deliveries=self.stream_max_deliveries,
        )
