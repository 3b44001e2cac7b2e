"""P2.8 portfolio risk governor: per-symbol budgets with a last-known-good cache."""
