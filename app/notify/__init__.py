"""Telling people and systems: signed webhooks and e-mail, delivered from the outbox."""
