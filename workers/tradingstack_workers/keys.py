"""The Redis key contract, defined once. Names keep the seeds' layout under a prefix."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class LeaseKeys:
    """One leadership scope: the Redis lease (the local runtime's backend; a Kubernetes
    Lease replaces it in a cluster) and the fencing epoch every fenced write is checked
    against."""

    lease: str
    fence: str


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
    def snapshot_index(self) -> str:
        """Set of the symbols that have a :meth:`snapshot`: every snapshot writer adds its
        symbol in the same script, so readers need no SCAN of the whole keyspace."""
        return f"{self.prefix}:position:snapshot_symbols"

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

    @property
    def price_history(self) -> str:
        """Sorted set of the clusters' sampled prices, one member per sampling cycle (its
        time the score); survives a pod restart."""
        return f"{self.prefix}:p27:history"

    def legacy_price_history(self, symbol: str) -> str:
        """Sorted set of one symbol's price points: the clusters' format before
        :attr:`price_history` (still read, then moved into it and deleted)."""
        return f"{self.prefix}:p27:history:{symbol}"

    @property
    def legacy_price_history_pattern(self) -> str:
        """For SCAN MATCH over every :meth:`legacy_price_history`."""
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
    def reservations(self) -> str:
        """Hash proposal id -> Reservation JSON: exposure granted but not yet filled."""
        return f"{self.prefix}:portfolio:reservations"

    @property
    def reservation_grants(self) -> str:
        """Hash of running totals raised by every grant: ``count`` (grants), ``usd``
        (their gross USD) and ``s:<symbol>`` (grants per symbol); and by every removal:
        ``pruned`` (fields the gates pruned, expired or unreadable) and ``released``
        (fields the bots ended: :meth:`reservation_releases`). A gate compares them with
        what it read to learn what others granted or removed since."""
        return f"{self.prefix}:portfolio:reservations:grants"

    @property
    def reservation_releases(self) -> str:
        """Stream of the reservations the bots ended (a fill, a refusal, a trade given
        up), field ``id``: the proposal id; each one counted in :meth:`reservation_grants`'
        ``released`` in the same script (``runtime/releases.py``)."""
        return f"{self.prefix}:stream:portfolio.reservation_releases"

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
        """Seed 003's name (``quantum:p35:alerts``): the Governor UI, Discord bot and AI
        engine written to the seed read it. Not ``<prefix>:stream:*`` like the others, and
        not the ``<prefix>:stream:p35.alerts`` of DESIGN.md's Redis table: where the design
        and the seed disagree on a wire name, the seed's users win (issue #13)."""
        return f"{self.prefix}:p35:alerts"

    def intel_alert_dedup(self, window: str, reason: str, severity: str) -> str:
        """Set (NX, with a TTL) by the replica that raised an alert: at most one per period."""
        return f"{self.prefix}:p35:alert_dedup:{window}:{reason}:{severity}"

    def dead_letter(self, stream: str) -> str:
        return f"{stream}:dead"

    @property
    def halted(self) -> str:
        """Kill switch set by an operator: "1" stops new entries (exits still run)."""
        return f"{self.prefix}:control:halted"

    def account(self, account: str) -> str:
        """Paper account hash: cash, initial_cash, peak_equity."""
        return f"{self.prefix}:bots:{account}:account"

    def positions(self, account: str) -> str:
        """Paper account positions: hash symbol -> signed quantity."""
        return f"{self.prefix}:bots:{account}:positions"

    def orders(self, account: str) -> str:
        """Paper account order records: hash client order id -> JSON (the dedup set)."""
        return f"{self.prefix}:bots:{account}:orders"

    def order_index(self, account: str) -> str:
        """Sorted set of paper order ids scored by fill time: their records' expiry."""
        return f"{self.prefix}:bots:{account}:order_index"

    def marks(self, account: str) -> str:
        """Paper account marks: hash symbol -> last known mark price (margin checks)."""
        return f"{self.prefix}:bots:{account}:marks"

    def fills(self, account: str) -> str:
        """Paper account fills, one stream entry per fill (MAXLEN-trimmed)."""
        return f"{self.prefix}:bots:{account}:fills"

    def order_rate(self, account: str) -> str:
        """Sorted set of recent order ids scored by time: the orders-per-minute window."""
        return f"{self.prefix}:bots:{account}:order_rate"

    def inflight(self, account: str) -> str:
        """Set of client order ids sent to a live exchange whose outcome is not recorded yet."""
        return f"{self.prefix}:bots:{account}:inflight"

    def exchange_drift_stream(self, account: str) -> str:
        """Drift alerts: the exchange and the ledger disagreed beyond tolerance (MAXLEN)."""
        return f"{self.prefix}:stream:exchange.drift:{account}"

    def fence(self, account: str) -> str:
        """The account's current leader epoch, checked by the execution chokepoint."""
        return f"{self.prefix}:bots:{account}:epoch"

    def leader(self, account: str) -> str:
        """The Redis leader lease of an account (holder id, with a TTL)."""
        return f"{self.prefix}:bots:{account}:leader"

    def bot_leadership(self, account: str) -> LeaseKeys:
        """The bots of one account elect their trader here; the chokepoint reads the fence."""
        return LeaseKeys(self.leader(account), self.fence(account))

    def singleton_leadership(self, kind: str) -> LeaseKeys:
        """One writer of a singleton worker kind (clusters, governor) at a time."""
        return LeaseKeys(
            f"{self.prefix}:singleton:{kind}:leader", f"{self.prefix}:singleton:{kind}:epoch"
        )

    def singleton_journal(self, kind: str) -> str:
        """Stream of a singleton's fenced writes (epoch, holder, what): who wrote when."""
        return f"{self.prefix}:stream:singleton.{kind}"

    def bot_cursor(self, account: str, bot: str) -> str:
        """The ts of the last bar a bot's leader acted on: where a restart resumes."""
        return f"{self.prefix}:bots:{account}:cursor:{bot}"

    def day_open(self, account: str) -> str:
        """Hash UTC date -> equity at the day's first ledger write (daily P&L)."""
        return f"{self.prefix}:bots:{account}:day_open"

    def decided(self, account: str, proposal_id: str) -> str:
        """Set with a proposal's execution result: a replayed bar is not acted on twice."""
        return f"{self.prefix}:bots:{account}:decided:{proposal_id}"
