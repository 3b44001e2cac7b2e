"""P2.6 portfolio gate: permits or denies each trade proposal."""
