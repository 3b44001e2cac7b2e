"""P3.5 decision intelligence: execution-result analytics and drift alerts."""
