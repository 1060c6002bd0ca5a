#!/usr/bin/env bash
# Installs HashiCorp Serf (Debian's `serf` package: the agent with memberlist and Lifeguard inside)
# where it is missing, for `fleetbench validate swim --against serf` and test/serf.test.ts.
# Needs root and apt-get; anywhere else it says why and exits 1 (the serf tests then skip).
set -euo pipefail
if command -v serf >/dev/null 2>&1; then
  exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "install-serf: serf is missing and apt-get is not available; install HashiCorp Serf by hand" >&2
  exit 1
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "install-serf: serf is missing; run as root (apt-get install serf)" >&2
  exit 1
fi
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq serf >/dev/null
command -v serf >/dev/null 2>&1
