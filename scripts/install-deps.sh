#!/usr/bin/env bash
# Installs what podnet needs on a fresh Debian machine: the kernel-side tools, the reference
# CNI plugins (to test against and to chain with), and the Rust build. Idempotent.
set -euo pipefail

packages=(nftables iptables iproute2 conntrack containernetworking-plugins
          dnsutils iputils-ping iperf3 curl util-linux)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y -q "${missing[@]}" >/dev/null 2>&1 || {
    apt-get update -q >/dev/null && apt-get install -y -q "${missing[@]}" >/dev/null
  }
fi
command -v cargo >/dev/null || { echo "cargo (rustup) is required" >&2; exit 1; }
