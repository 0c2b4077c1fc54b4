#!/usr/bin/env bash
# Set up .venv and run the main job: evolve a CartPole policy with OpenAI-ES until it solves
# the task (return >= 475), printing progress and the final return. Extra arguments go to
# `evojax-rl train` (e.g. --seed 1 --out runs/mine).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bash "$root/scripts/setup_env.sh"
exec "$root/.venv/bin/evojax-rl" train cartpole-openes "$@"
