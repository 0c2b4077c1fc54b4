#!/usr/bin/env bash
# Create .venv (if missing) and install the package with the extras given as $1 (default: none).
# Sourced by demo.sh and test.sh; idempotent, so a second run installs nothing new.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
extras="${1:-}"
py="${PYTHON:-python3}"
if [ ! -x "$root/.venv/bin/python" ]; then
  "$py" -m venv "$root/.venv"
  "$root/.venv/bin/python" -m pip install -q --upgrade pip
fi
stamp="$root/.venv/.installed-${extras:-core}"
if [ ! -f "$stamp" ] || [ "$root/pyproject.toml" -nt "$stamp" ]; then
  spec="$root"
  [ -n "$extras" ] && spec="$root[$extras]"
  "$root/.venv/bin/python" -m pip install -q -e "$spec"
  touch "$stamp"
fi
