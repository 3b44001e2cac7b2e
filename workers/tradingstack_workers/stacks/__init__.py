"""Commands that find a running stack by name: halt, resume, status, intel report."""
