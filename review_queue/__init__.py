"""The review queue: findings, decisions, the append-only feedback log, and their services."""
