"""The REST API: FastAPI routes over the same services as the pages, authorised by API tokens."""
