#!/usr/bin/env bash
# Build the collection tarball exactly as it would be published and install it into
# build/collections, so everything that runs it (demo, tests) runs what users get.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$here"
venv="$here/.venv/bin"
out="${DDOS_BUILD_DIR:-$here/build}"
rm -rf "$out/dist" "$out/collections"
mkdir -p "$out/dist" "$out/collections"
"$venv/ansible-galaxy" collection build --force --output-path "$out/dist" . >/dev/null
ANSIBLE_COLLECTIONS_PATH="$out/collections" "$venv/ansible-galaxy" collection install --force --offline -p "$out/collections" "$out"/dist/ddos-scrubbing-*.tar.gz >/dev/null
echo "$out/collections"
