#!/usr/bin/env bash
# galaxy-importer (what Galaxy and Automation Hub run on an uploaded collection) on the built
# tarball. Fails on an import error and on any warning, except the accepted ones below, each
# with its reason: a warning is something a reviewer will ask about.
# Usage: scripts/galaxy-importer.sh TARBALL
set -uo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
tarball="${1:?usage: galaxy-importer.sh TARBALL}"
venv="$here/.venv/bin"
# Accepted warnings (extended regular expressions):
# - the one statement of tests/sanity/ignore-2.19.txt and ignore-2.20.txt: FastNetMon runs its
#   notify script directly, and Debian has python3 but no python, the only Python shebang
#   ansible-test accepts (#!/usr/bin/env python).
accepted='^WARNING: Ignore files skip ansible-test sanity tests, found ignore-2\.(19|20)\.txt with 1 statement\(s\)$'

work="$(mktemp -d /tmp/ddos-importer.XXXXXX)"
trap 'rm -rf "$work"' EXIT
log="$work/importer.log"
# It calls ansible-doc and ansible-lint: the venv's bin must be on PATH. It writes its result
# file into the working directory.
( cd "$work" && PATH="$venv:$PATH" "$venv/python" -m galaxy_importer.main "$tarball" ) > "$log" 2>&1
rc=$?
grep -vE '^(Loading|Running|Importing|Getting|Finding|Linting|\.\.\.)' "$log" | grep -v '^$'
problems="$(grep -E '^(ERROR|WARNING|CRITICAL)' "$log" | grep -vE "$accepted")"
if [ "$rc" -ne 0 ] || [ -n "$problems" ]; then
  echo "galaxy-importer: the import has errors or warnings (exit status $rc):" >&2
  [ -n "$problems" ] && echo "$problems" >&2
  exit 1
fi
echo "galaxy-importer: imported with no error and no warning but the accepted ones"
