"""Signed webhooks (Standard Webhooks): endpoints, the outbox of deliveries, senders."""
