"""The Redis key contract, defined once. Names keep the seeds' layout under a prefix."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Keys:
    prefix: str = "quantum"

    def snapshot(self, symbol: str) -> str:
        return f"{self.prefix}:position:snapshot:{symbol}"

    @property
    def snapshot_pattern(self) -> str:
        """For SCAN MATCH; never for KEYS."""
        return f"{self.prefix}:position:snapshot:*"

    @property
    def portfolio_state(self) -> str:
        return f"{self.prefix}:state:portfolio"

    def market_state(self, symbol: str) -> str:
        return f"{self.prefix}:state:market:{symbol}"

    @property
    def cluster_state(self) -> str:
        return f"{self.prefix}:portfolio:cluster_state"

    @property
    def cluster_state_stream(self) -> str:
        return f"{self.prefix}:stream:portfolio.cluster_state"

    def price_history(self, symbol: str) -> str:
        """Sorted set of one symbol's price points (clusters); survives a pod restart."""
        return f"{self.prefix}:p27:history:{symbol}"

    @property
    def price_history_pattern(self) -> str:
        """For SCAN MATCH over every symbol's price history."""
        return f"{self.prefix}:p27:history:*"

    @property
    def portfolio_heat(self) -> str:
        return f"{self.prefix}:portfolio:heat"

    @property
    def proposal_stream(self) -> str:
        return f"{self.prefix}:stream:trade.proposal"

    def permit(self, proposal_id: str) -> str:
        return f"{self.prefix}:permit:{proposal_id}"

    @property
    def gate_audit_stream(self) -> str:
        """Every gate decision once (permits expire; the audit trail must not)."""
        return f"{self.prefix}:stream:portfolio.gate"

    def budget(self, symbol: str) -> str:
        return f"{self.prefix}:portfolio:budget:{symbol}"

    @property
    def result_stream(self) -> str:
        return f"{self.prefix}:stream:apply.result"

    @property
    def intel_status(self) -> str:
        return f"{self.prefix}:p35:status"

    def intel_bucket(self, name: str) -> str:
        return f"{self.prefix}:p35:bucket:{name}"

    @property
    def intel_alerts_stream(self) -> str:
        return f"{self.prefix}:stream:p35.alerts"

    def dead_letter(self, stream: str) -> str:
        return f"{stream}:dead"
