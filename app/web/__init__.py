"""Streamlit glue shared by the pages: the engine and units of work, who is signed in, the
navigation table, cached results, and the presenters of evidence and charts."""
