#!/usr/bin/env bash
# Create .venv (if missing) and install the package with the extras given as $1 (default: none).
# Run by demo.sh and test.sh; idempotent, so a second run installs nothing new.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
extras="${1:-}"
py="${PYTHON:-python3}"
if [ ! -x "$root/.venv/bin/python" ]; then
  "$py" -m venv "$root/.venv"
  "$root/.venv/bin/python" -m pip install -q --upgrade pip >/dev/null
fi
stamp="$root/.venv/.installed-${extras:-core}"
if [ ! -f "$stamp" ] || [ "$root/pyproject.toml" -nt "$stamp" ]; then
  spec="$root"
  [ -n "$extras" ] && spec="$root[$extras]"
  echo "Installing evojax_rl${extras:+[$extras]} into .venv (first run only; log: .venv/install.log)" >&2
  if ! "$root/.venv/bin/python" -m pip install -e "$spec" >"$root/.venv/install.log" 2>&1; then
    tail -n 30 "$root/.venv/install.log" >&2
    echo "pip install failed; the whole log is in .venv/install.log" >&2
    exit 1
  fi
  touch "$stamp"
fi
