#!/usr/bin/env bash
# Set up .venv and run the main job: a short, real run with a visible result.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bash "$root/scripts/setup_env.sh"
exec "$root/.venv/bin/python" -m evojax_rl.demo "$@"
