"""Broker plugins: cache, dead-letter queue and event relay."""
