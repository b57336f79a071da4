#!/usr/bin/env bash
# Quickstart 2: set up everything the tests need, then run the whole suite
# (SQLite and the PostgreSQL at 127.0.0.1:5432, page tests, browser tests, short benchmarks).
set -uo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --dev || exit 1
# Two workers (the machine has two cores); a file's tests stay on one worker so its module-level
# fixtures (a demo site, a running app) are built once.
.venv/bin/python -m pytest -n 2 --dist loadfile "$@"
status=$?
if [ $status -eq 5 ]; then
  echo "pytest collected no tests: that is a failure, not a pass." >&2
  exit 1
fi
exit $status
