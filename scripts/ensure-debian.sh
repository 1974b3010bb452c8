#!/usr/bin/env bash
# Install the Debian packages the test suite runs for real: FastNetMon (detector end-to-end),
# PostgreSQL (the shared ledger), openssh-server (the remote state host), GoBGP and BIRD 2 (BGP
# mitigation against a real router), nftables and iproute2 (network namespaces), shellcheck (the
# sanity test of the shell scripts, which ansible-test skips without it).
# Idempotent. Exits non-zero when a package is missing and cannot be installed: a suite that
# would then skip is a failed suite (CI runs as root, where apt-get works).
set -u
packages=(fastnetmon postgresql openssh-server gobgpd bird2 nftables iproute2 shellcheck)
# one command each package provides (dpkg -s is slower and misses half-removed packages)
commands=(/usr/sbin/fastnetmon /usr/lib/postgresql/15/bin/postgres /usr/sbin/sshd /usr/bin/gobgpd /usr/sbin/bird
          /usr/sbin/nft /usr/sbin/ip /usr/bin/shellcheck)
missing=()
for i in "${!packages[@]}"; do
  [ -x "${commands[$i]}" ] || missing+=("${packages[$i]}")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
  echo "ensure-debian: missing ${missing[*]}; install them as root: apt-get install ${missing[*]}" >&2
  exit 1
fi
echo "==> installing ${missing[*]} (Debian)"
export DEBIAN_FRONTEND=noninteractive
# The packages' services must not start by themselves: the tests run their own instances.
printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d
trap 'rm -f /usr/sbin/policy-rc.d' EXIT
apt-get update -qq >/dev/null 2>&1
if ! apt-get install -y -qq --no-install-recommends "${missing[@]}" >/tmp/ensure-debian.log 2>&1; then
  tail -20 /tmp/ensure-debian.log >&2
  echo "ensure-debian: apt-get install ${missing[*]} failed" >&2
  exit 1
fi
