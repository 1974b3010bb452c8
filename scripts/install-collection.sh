#!/usr/bin/env bash
# Build the collection tarball exactly as it would be published and install it into
# build/collections, so everything that runs it (demo, tests) runs what users get.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$here"
venv="$here/.venv/bin"
rm -rf build/dist build/collections
mkdir -p build/dist build/collections
"$venv/ansible-galaxy" collection build --force --output-path build/dist . >/dev/null
"$venv/ansible-galaxy" collection install --force --offline -p build/collections build/dist/ddos-scrubbing-*.tar.gz >/dev/null
echo "$here/build/collections"
