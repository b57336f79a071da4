"""Gapdesk application layer: settings, storage, auth, pipelines, CLI and the Streamlit entry."""

import sys

# pandera imports pyspark.pandas whenever pyspark is installed (for its type hints): that costs
# half a second of every command's start, patches pandas' classes and warns under pandas 3 on
# every run. Gapdesk uses Spark SQL only (app.detection.engine), never pandas-on-Spark.
sys.modules.setdefault("pyspark.pandas", None)  # type: ignore[arg-type]
