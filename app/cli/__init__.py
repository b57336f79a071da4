"""The ``gapdesk`` command: one module per command group, registered lazily by ``main``."""
