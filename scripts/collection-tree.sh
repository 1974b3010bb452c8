#!/usr/bin/env bash
# Lay the collection out as DEST/ansible_collections/ddos/scrubbing/ in a fresh git repository:
# every tracked file as a fresh clone has it, with its working-tree content (uncommitted edits
# included). ansible-test, antsibull-docs and ansible-lint read this layout; ansible-test needs
# the git repository too (without one it skips every target). Prints the collection's path.
# Usage: scripts/collection-tree.sh DEST
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
dest="${1:?usage: collection-tree.sh DEST}"
tree="$dest/ansible_collections/ddos/scrubbing"
mkdir -p "$tree"
( cd "$here" && git ls-files -z | while IFS= read -r -d '' f; do
    [ -e "$f" ] || [ -L "$f" ] || continue   # deleted but not yet committed
    printf '%s\0' "$f"
  done | tar --null -T - -cf - ) | tar -xf - -C "$tree"
( cd "$tree" && git init -q && git add -A && git -c user.name=ci -c user.email=ci@localhost commit -q -m tree )
echo "$tree"
