#!/usr/bin/env bash
# Create (or refresh) the project's virtualenv in .venv with everything the demo and the
# tests need, and install the sandbox package into it. Safe to run again: it only installs
# what changed. Usage: scripts/setup.sh [runtime|test]   (default: test)
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$here"
profile="${1:-test}"
python="${PYTHON:-python3}"
venv="$here/.venv"
stamp="$venv/.installed-$profile"

if [ ! -x "$venv/bin/python" ]; then
  echo "==> creating virtualenv $venv"
  if ! "$python" -m venv "$venv" 2>/dev/null; then
    # Debian's python3 ships venv/ensurepip separately.
    rm -rf "$venv"
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
      echo "==> installing python3-venv (Debian)"
      apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv >/dev/null
      "$python" -m venv "$venv"
    else
      echo "setup: '$python -m venv' failed; install python3-venv (sudo apt-get install python3-venv) and retry" >&2
      exit 1
    fi
  fi
  "$venv/bin/python" -m pip install --quiet --upgrade pip
fi

reqs="requirements.txt"
[ "$profile" = "test" ] && reqs="requirements-test.txt"
[ "$profile" = "test" ] && [ -f "$venv/.installed-runtime" ] && rm -f "$venv/.installed-runtime"
sum="$(cat requirements.txt requirements-test.txt sandbox/pyproject.toml | sha256sum | cut -c1-16)"
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$sum" ]; then
  echo "==> installing $reqs and the sandbox into $venv"
  "$venv/bin/python" -m pip install --quiet -r "$reqs" -e ./sandbox
  echo "$sum" > "$stamp"
fi
