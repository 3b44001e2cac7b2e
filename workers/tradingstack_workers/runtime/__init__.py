"""The runtime every worker shares: settings, Redis, health, metrics, the main loop."""
