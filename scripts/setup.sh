#!/usr/bin/env bash
# Create (or refresh) the project's virtualenv in .venv with everything the demo and the
# tests need, and install the sandbox package into it; for the test profile also .venv-2.20
# (Python 3.12, ansible-core 2.20) for ansible-test sanity on the newest supported ansible-core.
# Safe to run again: it only installs what changed. Usage: scripts/setup.sh [runtime|test]
# (default: test)
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

# runtime: what the demo needs (the collection's packages and ansible-core); test: the suite's too
reqs="requirements-demo.txt"
[ "$profile" = "test" ] && reqs="requirements-test.txt"
[ "$profile" = "test" ] && [ -f "$venv/.installed-runtime" ] && rm -f "$venv/.installed-runtime"
sum="$(cat requirements.txt requirements-demo.txt requirements-test.txt meta/ee-requirements.txt sandbox/pyproject.toml | sha256sum | cut -c1-16)"
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$sum" ]; then
  echo "==> installing $reqs and the sandbox into $venv"
  "$venv/bin/python" -m pip install --quiet -r "$reqs" -e ./sandbox
  echo "$sum" > "$stamp"
fi

[ "$profile" = "test" ] || exit 0
# ansible-core 2.20 needs Python >= 3.12: PYTHON312, else a python3.12 on PATH, else pyenv's.
venv20="$here/.venv-2.20"
stamp20="$venv20/.installed"
sum20="$(sha256sum < requirements-sanity-2.20.txt | cut -c1-16)"
if [ ! -x "$venv20/bin/python" ]; then
  # A pyenv shim named python3.12 may stand for a Python that is not installed: try each
  # candidate and take the first that runs as 3.12.
  py312=""
  candidates=("${PYTHON312:-}")
  if command -v pyenv >/dev/null 2>&1; then
    for candidate in "$(pyenv root)"/versions/3.12.*/bin/python3.12; do candidates+=("$candidate"); done
  fi
  candidates+=("$(command -v python3.12 || true)")
  for candidate in "${candidates[@]}"; do
    if [ -n "$candidate" ] && "$candidate" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 12))' 2>/dev/null; then
      py312="$candidate"
      break
    fi
  done
  if [ -z "$py312" ]; then
    echo "setup: no Python 3.12 for the ansible-core 2.20 sanity venv; set PYTHON312=/path/to/python3.12" >&2
    exit 1
  fi
  echo "==> creating virtualenv $venv20 ($py312)"
  "$py312" -m venv "$venv20"
  "$venv20/bin/python" -m pip install --quiet --upgrade pip
fi
if [ ! -f "$stamp20" ] || [ "$(cat "$stamp20")" != "$sum20" ]; then
  echo "==> installing requirements-sanity-2.20.txt into $venv20"
  "$venv20/bin/python" -m pip install --quiet -r requirements-sanity-2.20.txt
  echo "$sum20" > "$stamp20"
fi
