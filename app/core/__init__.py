"""The core: settings, the database engine and units of work, the application's own tables,
errors, safe CSV writing, backup and health."""
