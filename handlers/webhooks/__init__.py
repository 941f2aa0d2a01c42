"""Outgoing webhooks: the bot's events delivered from its outbox to configured receivers, signed,
retried with backoff, dead-lettered after too many failures, exactly once across replicas."""
