"""Trading bots: strategies, paper exchange, active-standby with fencing."""
