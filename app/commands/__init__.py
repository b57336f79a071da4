"""Command-line subcommands, one module per area; app/cli.py registers them."""
