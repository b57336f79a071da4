"""The command group every ``gapdesk`` group uses: expected failures become one line, exit 1."""

from __future__ import annotations

import importlib
from typing import Any

import click

from app.auth.accounts import AccountError
from app.core.db import (
    DatabaseUnavailable,
)
from app.core.errors import UserError
from app.core.settings import ConfigError

# Errors a person can act on: shown as one line, never as a traceback.
_EXPECTED = (UserError, ConfigError, DatabaseUnavailable, AccountError, PermissionError)


class GapdeskGroup(click.Group):
    """A command group that turns expected failures into one clear line and exit code 1.

    ``lazy`` maps command names to ``module:attribute``; they are imported on first use.
    """

    def __init__(self, *args: Any, lazy: dict[str, str] | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.lazy = lazy or {}

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *self.lazy})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in self.lazy and cmd_name not in self.commands:
            module_name, attribute = self.lazy[cmd_name].split(":")
            command = getattr(importlib.import_module(module_name), attribute)
            self.add_command(command, cmd_name)
        return super().get_command(ctx, cmd_name)

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except _EXPECTED as exc:
            raise click.ClickException(str(exc)) from None
