#!/usr/bin/env bash
# ansible-builder create for the execution environment and the decision environment
# (extensions/awx/): the build contexts, without a container engine. The definitions name files
# of the collection (meta/ee-requirements.txt, bindep.txt) and the collection tarball, so the
# collection's layout is copied as it is and the tarball put where docs/awx.md says.
# Usage: scripts/builder-create.sh OUT TARBALL   -> OUT/ee and OUT/de (each with its Containerfile)
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
out="${1:?usage: builder-create.sh OUT TARBALL}"
tarball="${2:?usage: builder-create.sh OUT TARBALL}"
builder="${ANSIBLE_BUILDER:-$here/.venv/bin/ansible-builder}"
rm -rf "$out"
mkdir -p "$out/src/extensions"
cp -r "$here/extensions/awx" "$out/src/extensions/awx"
cp -r "$here/meta" "$here/bindep.txt" "$out/src/"
cp "$tarball" "$out/src/extensions/awx/ddos-scrubbing.tar.gz"
for kind in ee:execution-environment.yml de:decision-environment.yml; do
  name="${kind%%:*}"
  ( cd "$out/src/extensions/awx" && "$builder" create -f "${kind#*:}" -c "$out/$name" --output-filename Containerfile )
done
