"""The TradingStack kopf operator: CRD model, renderer, reconciler."""
