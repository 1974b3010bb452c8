#!/usr/bin/env bash
# Set everything up and run the whole suite: unit and sandbox tests, playbook integration
# tests, the EDA/FastNetMon end-to-end test, ansible-test sanity, ansible-lint (production
# profile) and the molecule scenario. Exit status is non-zero if any part fails.
set -uo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$here"
bash scripts/setup.sh test || exit 1
venv="$here/.venv/bin"
export PATH="$venv:$PATH"
collections="$(bash scripts/install-collection.sh)" || exit 1
installed="$collections/ansible_collections/ddos/scrubbing"
bash scripts/ensure-debian.sh || exit 1
failed=()
step() { echo; echo "==================== $1"; }

step "pytest (unit, sandbox, playbooks, EDA)"
( cd tests/pytest && DDOS_SKIP_BUILD=1 "$venv/python" -m pytest -q -p no:cacheprovider "$@" ) || failed+=(pytest)

step "ansible-test sanity"
mkdir -p "$HOME/.ansible/test/cache"
for v in 24_2 25_0 25_1 25_2; do cp scripts/ansible-test-get-pip.py "$HOME/.ansible/test/cache/get_pip_$v.py"; done
( cd "$installed" && "$venv/ansible-test" sanity --local --python 3.11 --color no ) || failed+=(sanity)

step "ansible-lint (production profile)"
( cd "$installed" && ANSIBLE_COLLECTIONS_PATH="$collections" "$venv/ansible-lint" --offline --profile production \
    playbooks roles ) || failed+=(ansible-lint)

if [ -d roles/scrubbing/molecule ]; then
  step "molecule (role scenario)"
  ( cd roles/scrubbing && ANSIBLE_COLLECTIONS_PATH="$collections" "$venv/molecule" test ) || failed+=(molecule)
fi

echo
if [ ${#failed[@]} -gt 0 ]; then
  echo "FAILED: ${failed[*]}"
  exit 1
fi
echo "All checks passed."
