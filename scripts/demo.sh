#!/usr/bin/env bash
# Quickstart 1: set up, build the demo organisation, and open Gapdesk on it (embedded SQLite).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/gapdesk demo "$@"
