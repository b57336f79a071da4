"""Accounts, passwords, browser sessions and sign-in (local and single sign-on)."""
