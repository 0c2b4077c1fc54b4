#!/usr/bin/env bash
# Set up .venv with the test extras and run the whole test suite (what CI runs).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bash "$root/scripts/setup_env.sh" test
cd "$root"
exec .venv/bin/python -m pytest -n 2 --dist worksteal -q "$@"
