"""Errors a person can act on. The CLI prints them as one line; pages show them as a message."""


class UserError(Exception):
    """Something the user asked for cannot be done; the message says what and where."""
