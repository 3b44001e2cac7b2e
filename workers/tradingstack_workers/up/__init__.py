"""``tradingstack up``: the embedded default, one TradingStack as local processes."""
