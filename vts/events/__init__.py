"""Job events: the hub (this process's watchers), the announcer (after each durable
change: the hub, then the shared broker's cache, DLQ and relay) and the relay (other
replicas' events into the hub)."""
