#!/usr/bin/env bash
# ansible-test sanity the way CI must run it: over every tracked file of the working tree
# (uncommitted edits included), laid out as ansible_collections/ddos/scrubbing/ in a git
# repository (scripts/collection-tree.sh). Run inside an installed collection (no git)
# ansible-test skips every target and exits 0, so this script also fails when the output says
# so or when fewer tests ran than expected.
# Usage: scripts/sanity.sh [--core 2.19|2.20] [ansible-test sanity options]
#   2.19 (default): .venv, Python 3.11; 2.20: .venv-2.20, Python 3.12 (scripts/setup.sh makes both).
#   Each reads its own tests/sanity/ignore-<core>.txt.
set -uo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
core=2.19
if [ "${1:-}" = "--core" ]; then core="$2"; shift 2; fi
case "$core" in
  2.19) venv="$here/.venv/bin"; python=3.11 ;;
  2.20) venv="$here/.venv-2.20/bin"; python=3.12 ;;
  *) echo "sanity: unknown ansible-core $core (2.19 or 2.20)" >&2; exit 2 ;;
esac
[ -x "$venv/ansible-test" ] || { echo "sanity: $venv has no ansible-test; run scripts/setup.sh" >&2; exit 1; }
# requires_ansible (meta/runtime.yml) is tested at both ends: 2.19 must be its lower bound, and
# each venv's ansible-core must satisfy it (a bound that excludes 2.20 fails the 2.20 run).
"$venv/python" - "$here/meta/runtime.yml" "$core" <<'PY' || exit 1
import sys
import yaml
from ansible.release import __version__
from packaging.specifiers import SpecifierSet
from packaging.version import Version

path, core = sys.argv[1], sys.argv[2]
spec = SpecifierSet(yaml.safe_load(open(path, encoding="utf-8"))["requires_ansible"])
lowest = min((Version(s.version) for s in spec if s.operator in (">=", ">")), default=None)
if Version(__version__) not in spec:
    sys.exit("sanity %s: ansible-core %s is outside requires_ansible %s in %s" % (core, __version__, spec, path))
if core == "2.19" and (lowest is None or (lowest.major, lowest.minor) != (2, 19)):
    sys.exit("sanity 2.19: requires_ansible %s in %s: its lower bound must be 2.19, the oldest release tested"
             % (spec, path))
print("sanity %s: ansible-core %s satisfies requires_ansible %s" % (core, __version__, spec))
PY

# The sanity tests ansible-test runs on this collection with --local; a target list that shrinks
# (a test silently not run) fails the step.
min_tests="${DDOS_SANITY_MIN_TESTS:-24}"

work="$(mktemp -d /tmp/ddos-sanity.XXXXXX)"
trap 'rm -rf "$work"' EXIT
tree="$(bash "$here/scripts/collection-tree.sh" "$work")" || exit 1

# ansible-test bootstraps pip in each of its venvs with a script it would download from a host
# these machines cannot reach: give it the offline stand-in under every name it may look for.
mkdir -p "$HOME/.ansible/test/cache"
for v in 24_2 25_0 25_1 25_2 25_3; do
  cp "$here/scripts/ansible-test-get-pip.py" "$HOME/.ansible/test/cache/get_pip_$v.py"
done

log="$work/sanity.log"
( cd "$tree" && PATH="$venv:$PATH" "$venv/ansible-test" sanity --local --python "$python" --color no "$@" ) 2>&1 \
  | tee "$log"
rc=${PIPESTATUS[0]}
if grep -q "All targets skipped" "$log"; then
  echo "sanity $core: ansible-test skipped every target: it checked nothing" >&2
  exit 1
fi
if grep -q 'WARNING: Required program ".*" not found' "$log"; then
  grep 'WARNING: Required program' "$log" >&2
  echo "sanity $core: a sanity test could not run (install the program: scripts/ensure-debian.sh)" >&2
  exit 1
fi
ran=$(grep -c '^Running sanity test ' "$log")
if [ "$#" -eq 0 ] && [ "$ran" -lt "$min_tests" ]; then
  echo "sanity $core: only $ran sanity tests ran, expected at least $min_tests" >&2
  exit 1
fi
echo "sanity $core: $ran sanity tests ran over $(cd "$tree" && git ls-files | wc -l) tracked files"
exit "$rc"
