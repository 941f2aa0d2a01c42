"""Subscriptions: a channel, or a person by direct message, hears of the changes it asks for (a flag,
a group, names matching a text; some environments; changes, rollouts, alerts), through the outbox."""
