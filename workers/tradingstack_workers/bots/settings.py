"""Environment contract of a bot (the renderer writes these variables)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, Json

from ..runtime.settings import CommaList, RuntimeSettings


class BotSettings(RuntimeSettings):
    kind = "bots"

    bot_name: str = Field(min_length=1)
    strategy: Literal["bollinger_bounce", "rsi_mean_reversion", "breakout_momentum"]
    symbols: CommaList = Field(min_length=1)
    params: Json[dict[str, float]] = Field(default_factory=dict)
    mode: Literal["paper", "live"] = "paper"
    halted: bool = False
