"""The worker pool: claims due jobs under a lease, runs them, records what happened."""
