"""Gapdesk application layer: settings, storage, auth, pipelines, CLI and the Streamlit entry."""
