#!/usr/bin/env bash
# ansible-test sanity the way CI must run it: over every tracked file of the working tree
# (uncommitted edits included), laid out as ansible_collections/ddos/scrubbing/ in a git
# repository. Run inside an installed collection (no git) ansible-test skips every target and
# exits 0, so this script also fails when the output says so or when fewer tests ran than
# expected.
set -uo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="$here/.venv/bin"
# The sanity tests ansible-test 2.19 runs on a collection with --local --python 3.11; a
# target list that shrinks (a test silently not run) fails the step.
min_tests="${DDOS_SANITY_MIN_TESTS:-24}"

work="$(mktemp -d /tmp/ddos-sanity.XXXXXX)"
trap 'rm -rf "$work"' EXIT
tree="$work/ansible_collections/ddos/scrubbing"
mkdir -p "$tree"
# Tracked files only, as a fresh clone has them, but with their working-tree content.
( cd "$here" && git ls-files -z | while IFS= read -r -d '' f; do
    [ -e "$f" ] || [ -L "$f" ] || continue   # deleted but not yet committed
    printf '%s\0' "$f"
  done | tar --null -T - -cf - ) | tar -xf - -C "$tree" || exit 1
( cd "$tree" && git init -q && git add -A && git -c user.name=sanity -c user.email=sanity@localhost \
    commit -q -m tree ) || exit 1

mkdir -p "$HOME/.ansible/test/cache"
for v in 24_2 25_0 25_1 25_2; do
  cp "$here/scripts/ansible-test-get-pip.py" "$HOME/.ansible/test/cache/get_pip_$v.py"
done

log="$work/sanity.log"
( cd "$tree" && PATH="$venv:$PATH" "$venv/ansible-test" sanity --local --python 3.11 --color no "$@" ) 2>&1 | tee "$log"
rc=${PIPESTATUS[0]}
if grep -q "All targets skipped" "$log"; then
  echo "sanity: ansible-test skipped every target: it checked nothing" >&2
  exit 1
fi
if grep -q 'WARNING: Required program ".*" not found' "$log"; then
  grep 'WARNING: Required program' "$log" >&2
  echo "sanity: a sanity test could not run (install the program: scripts/ensure-debian.sh)" >&2
  exit 1
fi
ran=$(grep -c '^Running sanity test ' "$log")
if [ "$#" -eq 0 ] && [ "$ran" -lt "$min_tests" ]; then
  echo "sanity: only $ran sanity tests ran, expected at least $min_tests" >&2
  exit 1
fi
echo "sanity: $ran sanity tests ran over $(cd "$tree" && git ls-files | wc -l) tracked files"
exit "$rc"
