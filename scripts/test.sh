#!/usr/bin/env bash
# Set everything up and run the whole suite: the pytest suite (unit, sandbox, playbooks, EDA,
# AWX), then what reviewers run on a collection - galaxy-importer on the built tarball,
# antsibull-docs, ansible-lint (production profile, the whole collection root), antsibull-changelog
# lint, ansible-builder create (execution and decision environments), ansible-test sanity on
# ansible-core 2.19 (Python 3.11) and 2.20 (Python 3.12) - and the role's molecule scenario.
# The reviewers' tools and the molecule scenario run at the same time (each waits on its own
# processes); every step's time is printed. Exit status is non-zero if any part fails. Options go
# to pytest.
set -uo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$here" || exit 1
venv="$here/.venv/bin"
export PATH="$venv:$PATH"
failed=()
times=()
step() { echo; echo "==================== $1"; }
took() { times+=("$(printf '%-28s %5ds' "$1" "$2")"); }

begin=$SECONDS
start=$SECONDS
bash scripts/setup.sh test || exit 1
collections="$(bash scripts/install-collection.sh)" || exit 1
tarball="$(ls "$(dirname "$collections")"/dist/ddos-scrubbing-*.tar.gz)"
bash scripts/ensure-debian.sh || exit 1
took "setup, build, prerequisites" $((SECONDS - start))

step "pytest (unit, sandbox, playbooks, EDA, AWX)"
start=$SECONDS
# -rs prints every skip and its reason; in CI (CI=true) a skipped test fails the step: a
# prerequisite missing there is a broken setup, not a pass.
pytest_log="$(mktemp /tmp/ddos-pytest.XXXXXX)"
# Three workers on the 2-core machines: most tests wait on real processes (playbooks, sshd,
# PostgreSQL, the rulebook), so a third keeps the cores busy (the whole suite, same machine, same
# hour: 610 s with three, 764 s with two). One file per worker at a time, so a file's module-scoped
# servers stay in one process; the hold-down tests size their hold-downs from how long a run takes.
( cd tests/pytest && DDOS_SKIP_BUILD=1 "$venv/python" -m pytest -q -rs -p no:cacheprovider -n 3 --dist loadfile "$@" ) 2>&1 \
  | tee "$pytest_log"
[ "${PIPESTATUS[0]}" -eq 0 ] || failed+=(pytest)
if [ "${CI:-}" = true ] && grep -q '^SKIPPED' "$pytest_log"; then
  echo "CI=true: tests were skipped (see SKIPPED above); every prerequisite must be present in CI"
  failed+=(pytest-skips)
fi
rm -f "$pytest_log"
took pytest $((SECONDS - start))

# The reviewers' tools, at the same time; each one's output is printed when all are done.
work="$(mktemp -d /tmp/ddos-review.XXXXXX)"
trap 'rm -rf "$work"' EXIT
tree="$(bash scripts/collection-tree.sh "$work/tree")" || exit 1
reviewers=()
review() {   # NAME COMMAND...: run in the background, output to $work/NAME.log, status and time to NAME.done
  local name="$1"
  shift
  reviewers+=("$name")
  ( s=$SECONDS; "$@" > "$work/$name.log" 2>&1; echo "$? $((SECONDS - s))" > "$work/$name.done" ) &
}
in_tree() { ( cd "$tree" && ANSIBLE_COLLECTIONS_PATH="$work/tree" "$@" ); }
in_role() { ( cd roles/scrubbing && ANSIBLE_COLLECTIONS_PATH="$collections" "$@" ); }
start=$SECONDS
review galaxy-importer bash scripts/galaxy-importer.sh "$tarball"
review antsibull-docs in_tree "$venv/antsibull-docs" lint-collection-docs --plugin-docs .
review ansible-lint in_tree "$venv/ansible-lint" --offline --profile production --nocolor
review antsibull-changelog in_tree "$venv/antsibull-changelog" lint
review ansible-builder bash scripts/builder-create.sh "$work/builder" "$tarball"
review sanity-2.19 bash scripts/sanity.sh --core 2.19
review sanity-2.20 bash scripts/sanity.sh --core 2.20
# The role's molecule scenario too: in the group it costs about 10 s less than after it.
if [ -d roles/scrubbing/molecule ]; then
  review molecule in_role "$venv/molecule" test
fi
wait
for name in "${reviewers[@]}"; do
  read -r rc seconds < "$work/$name.done"
  step "$name ($seconds s, exit status $rc)"
  # sanity prints every pip install of its test venvs: show what it found, not how it got there
  case "$name" in
    sanity-*) grep -vE '^(Collecting|Downloading|Processing|Installing|Successfully|Requirement|WARNING: Location|  )' \
                "$work/$name.log" ;;
    *) cat "$work/$name.log" ;;
  esac
  [ "$rc" -eq 0 ] || failed+=("$name")
  took "$name" "$seconds"
done
took "reviewers' tools (together)" $((SECONDS - start))

took total $((SECONDS - begin))
step "times"
printf '%s\n' "${times[@]}"
echo
if [ ${#failed[@]} -gt 0 ]; then
  echo "FAILED: ${failed[*]}"
  exit 1
fi
echo "All checks passed."
