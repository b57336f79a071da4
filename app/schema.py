"""Every table Gapdesk keeps, gathered in one metadata for migrations and tests."""

from sqlmodel import SQLModel

import app.tables  # noqa: F401  (registers the application's tables)
import review_queue.tables  # noqa: F401  (registers the queue's tables)

metadata = SQLModel.metadata
