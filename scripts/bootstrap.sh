#!/usr/bin/env bash
# Install everything hubnet's lab, tests and benchmarks need on a fresh Debian machine. Idempotent.
set -euo pipefail
cd "$(dirname "$0")/.."

need_apt=()
command -v ip >/dev/null || need_apt+=(iproute2)
command -v nft >/dev/null || need_apt+=(nftables)
command -v iperf3 >/dev/null || need_apt+=(iperf3)
command -v wrk >/dev/null || need_apt+=(wrk)
command -v openssl >/dev/null || need_apt+=(openssl)
command -v nsenter >/dev/null || need_apt+=(util-linux)
command -v cc >/dev/null || need_apt+=(gcc libc6-dev)  # the package build compiles the CNI plugin (setup.py)
[ -x /usr/lib/cni/bridge ] || need_apt+=(containernetworking-plugins)
command -v pg_ctlcluster >/dev/null || need_apt+=(postgresql)
# The bgp route backend's engine (GoBGP), and the BGP routers the tests, the lab and the benchmarks peer with.
command -v gobgpd >/dev/null || need_apt+=(gobgpd)
command -v bird >/dev/null || need_apt+=(bird2)
[ -x /usr/lib/frr/bgpd ] || need_apt+=(frr)
# The HA lab's routers share the router address through VRRP (`hubnet lab up --routers 2 --controllers 2`).
command -v keepalived >/dev/null || need_apt+=(keepalived)
# portmap (chained after hubnet, tests/netns/node/test_chain.py) programs iptables (nft backend).
command -v iptables >/dev/null || need_apt+=(iptables)
# tests/unit/test_systemd_units.py runs `systemd-analyze verify` on deploy/systemd/.
command -v systemd-analyze >/dev/null || need_apt+=(systemd)
# tests/e2e/test_compose_engine.py runs docker-compose.yml on a Docker engine of its own (dockerd started by the test,
# private roots, no iptables) on a base image debootstrapped from Debian; the install below starts no system dockerd.
[ -x /usr/sbin/dockerd ] && [ -x /usr/bin/docker ] || need_apt+=(docker.io)
[ -x /usr/bin/docker-compose ] || need_apt+=(docker-compose)
[ -x /usr/sbin/debootstrap ] || need_apt+=(debootstrap)
# tests/netns/node/test_podman.py: podman with its CNI backend publishes a port through the agent's chain (portmap).
[ -x /usr/bin/podman ] || need_apt+=(podman)
# tests/integration/test_console.py drives the web console in headless Chromium through Debian's chromedriver
# (selenium from the `test` extra; no browser download).
[ -x /usr/bin/chromium ] || need_apt+=(chromium)
[ -x /usr/bin/chromedriver ] || need_apt+=(chromium-driver)
if [ ${#need_apt[@]} -gt 0 ]; then
  echo "bootstrap: installing ${need_apt[*]}"
  if [ "$(id -u)" -ne 0 ]; then echo "bootstrap: run as root to install ${need_apt[*]}" >&2; exit 1; fi
  apt-get update -qq
  # No package may start its system service (dockerd would make docker0 and rewrite the firewall; keepalived, bird,
  # frr would claim addresses and routes): a policy-rc.d of our own for the install, removed after it.
  own_policy=""
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d && own_policy=1
  fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_apt[@]}" >/dev/null || { rc=$?; [ -z "$own_policy" ] || rm -f /usr/sbin/policy-rc.d; exit $rc; }
  [ -z "$own_policy" ] || rm -f /usr/sbin/policy-rc.d
fi

PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
  .venv/bin/pip install -q --upgrade pip 2>&1 | { grep -v "^WARNING: Location" || true; }
fi
# Quiet: this machine's pip config names find-links folders that may not exist (one warning line each).
.venv/bin/pip install -q -e '.[test]' 2>&1 | { grep -vE "^WARNING: Location|BuildBackendWarning|^ *!!|\*{10}|^ *$|careful with folders|same$|name as your package|WheelFile" || true; }
