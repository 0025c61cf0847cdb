#!/usr/bin/env bash
# Run the test suite (the command CI runs): sets up first, then pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/python -m pytest "$@"
