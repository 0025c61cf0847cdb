#!/usr/bin/env bash
# Run the test suite (the command CI runs): sets up first, then pytest.
#
# With no arguments: the suite's files run in parallel, one process per processor
# (pytest-xdist, a file at a time per process: test_samples' one pool of graders
# stays whole), then the tests marked `alone` (machine-wide slots, durations, CPU
# time, machine-wide leftovers) one after another on an otherwise quiet machine.
# With arguments: plain pytest with them (e.g. bash scripts/test.sh tests/test_cli.py).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
if [ $# -gt 0 ]; then
    exec .venv/bin/python -m pytest "$@"
fi
status=0
.venv/bin/python -m pytest -n auto --dist loadfile -m "not slow and not alone" || status=$?
.venv/bin/python -m pytest -m "alone and not slow" || status=$?
exit $status
