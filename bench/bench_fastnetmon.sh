#!/usr/bin/env bash
# Benchmark: flood start -> first provider write, and flood stop -> withdrawal, with a real
# FastNetMon 1.2.4 in front of a network-namespace veth (needs root; see
# tests/pytest/eda/test_fastnetmon_e2e.py for the setup). Prints every run and the medians.
#   bash bench/bench_fastnetmon.sh [RUNS]    (default 5)
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
runs="${1:-5}"
bash "$here/scripts/ensure-debian.sh"
bash "$here/scripts/install-collection.sh" >/dev/null  # the tests run the built collection
out="$(mktemp)"
for _ in $(seq "$runs"); do
  (cd "$here/tests/pytest" && DDOS_SKIP_BUILD=1 "$here/.venv/bin/python" -m pytest -q -s -p no:cacheprovider \
      eda/test_fastnetmon_e2e.py 2>&1 | grep "flood start" | tee -a "$out")
done
"$here/.venv/bin/python" - "$out" <<'PY'
import re, statistics, sys
rows = [tuple(map(float, re.findall(r"([0-9.]+) s", line))) for line in open(sys.argv[1])]
if not rows:
    sys.exit("no run completed (root and FastNetMon are needed)")
print("FastNetMon end to end, medians of %d runs:" % len(rows))
print("  flood start -> first provider write: %.2f s" % statistics.median(r[0] for r in rows))
print("  flood stop  -> withdrawal:           %.1f s  (ban_time 10 s + FastNetMon's averaging)" % statistics.median(r[1] for r in rows))
PY
rm -f "$out"
