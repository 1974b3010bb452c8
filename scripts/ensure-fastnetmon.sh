#!/usr/bin/env bash
# Install FastNetMon Community (Debian package) for the detector end-to-end test, if it is not
# there yet and we can (root with apt-get). Quiet and idempotent; never fails the caller: the
# test skips with a clear reason when FastNetMon is missing.
set -u
command -v fastnetmon >/dev/null 2>&1 && exit 0
[ -x /usr/sbin/fastnetmon ] && exit 0
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
  echo "ensure-fastnetmon: not root or no apt-get; the detector end-to-end test will be skipped" >&2
  exit 0
fi
echo "==> installing fastnetmon (Debian) for the detector end-to-end test"
export DEBIAN_FRONTEND=noninteractive
# The package's service must not start by itself: the test runs its own instance.
printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d
apt-get update -qq >/dev/null 2>&1
apt-get install -y -qq --no-install-recommends fastnetmon iproute2 >/dev/null 2>&1 \
  || echo "ensure-fastnetmon: apt-get install fastnetmon failed; the end-to-end test will be skipped" >&2
rm -f /usr/sbin/policy-rc.d
exit 0
