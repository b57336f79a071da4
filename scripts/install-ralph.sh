#!/usr/bin/env bash
# Installs ralph (a real xAPI LRS, openfun/ralph) into its own virtual environment so the xAPI
# importer's live-LRS tests can start one. Kept apart from .venv because ralph pins its own
# versions of pydantic, fastapi and friends. Idempotent: does nothing when ralph already runs.
set -euo pipefail

cd "$(dirname "$0")/.."
VENV="${RALPH_VENV:-.venv-ralph}"
PYTHON="${RALPH_PYTHON:-python3.11}"

if [ -x "$VENV/bin/ralph" ] && "$VENV/bin/ralph" --help >/dev/null 2>&1; then
    echo "ralph already installed in $VENV"
    exit 0
fi

if ! command -v "$PYTHON" >/dev/null 2>&1; then
    echo "install-ralph: $PYTHON not found (set RALPH_PYTHON to a Python 3.9-3.12 interpreter)" >&2
    exit 1
fi

"$PYTHON" -m venv "$VENV"
"$VENV/bin/pip" install --quiet --upgrade pip
# ralph imports requests without declaring it, hence the explicit requirement.
"$VENV/bin/pip" install --quiet "ralph-malph[cli,lrs]" requests
"$VENV/bin/ralph" --help >/dev/null
echo "ralph installed in $VENV"
