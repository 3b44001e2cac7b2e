"""TradingStack workers: the five worker kinds and the runtime they share."""
