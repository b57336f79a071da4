#!/usr/bin/env bash
# Sets up everything Gapdesk needs on a fresh Debian/Ubuntu machine, idempotently.
#   scripts/setup.sh          the app (a virtual environment in .venv)
#   scripts/setup.sh --dev    plus the test tools, Debian's Chromium for browser tests,
#                             and the ralph LRS (in its own .venv-ralph) for xAPI tests
set -euo pipefail
cd "$(dirname "$0")/.."

dev=0
[ "${1:-}" = "--dev" ] && dev=1

python=""
for candidate in python3.13 python3.12 python3.11 python3; do
  if command -v "$candidate" >/dev/null 2>&1 &&
     "$candidate" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
    python=$candidate; break
  fi
done
if [ -z "$python" ]; then
  echo "Gapdesk needs Python 3.11 or newer; none was found on PATH." >&2
  exit 1
fi

if [ ! -x .venv/bin/python ]; then
  echo "Creating .venv with $python ..."
  "$python" -m venv .venv
fi
extra=""
[ $dev = 1 ] && extra="[dev]"
stamp=".venv/.installed$extra"
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
  echo "Installing Gapdesk$extra into .venv ..."
  .venv/bin/python -m pip install --quiet --upgrade pip
  .venv/bin/python -m pip install --quiet -e ".$extra"
  touch "$stamp"
fi

if [ $dev = 1 ]; then
  if [ ! -x /usr/bin/chromium ]; then
    echo "Installing Debian's Chromium for the browser tests ..."
    sudo=""
    [ "$(id -u)" = 0 ] || sudo="sudo"
    $sudo apt-get update -qq
    $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
  fi
  if ! command -v java >/dev/null 2>&1; then
    # Spark (GAPDESK_DETECTION_ENGINE=local[N] or spark://...) runs on a JVM: Java 17 or later.
    echo "Installing Debian's Java runtime for the Spark detection tests ..."
    sudo=""
    [ "$(id -u)" = 0 ] || sudo="sudo"
    $sudo apt-get update -qq
    $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq default-jre-headless >/dev/null
  fi
  if [ -f scripts/install-ralph.sh ]; then
    bash scripts/install-ralph.sh
  fi
fi
