#!/usr/bin/env bash
# The main job on the shipped material: check every spec against the reference,
# then batch-grade every assignment's sample submissions into grader-results/.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
for spec in specs/*.yaml; do
    name=$(basename "$spec" .yaml)
    .venv/bin/grader validate "$spec" >/dev/null && echo "$spec: the reference scores 100%"
    if [ -d "submissions/$name" ]; then
        .venv/bin/grader batch "$spec" "submissions/$name" --format json,csv,junit \
            --out "grader-results/$name"
    fi
done
