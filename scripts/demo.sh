#!/usr/bin/env bash
# The main job, for now: build podnet, then attach two pods to a node with podnet-cni (through
# the same CNI runtime library the lab's kubelet uses) and show them reaching each other.
# Everything lives in network namespaces named pn-demo-*; the machine's own network is
# never touched. Pass --keep to leave the namespaces up for exploring (then run it with
# --down to remove them).
set -euo pipefail
cd "$(dirname "$0")/.."
[ "$(id -u)" = 0 ] || { echo "run as root: the demo creates network namespaces" >&2; exit 1; }

node=pn-demo-node; pods=(pn-demo-pod-a pn-demo-pod-b)
state=/run/podnet-demo
bin=$PWD/target/release

down() {
  for p in "${pods[@]}"; do
    [ -e "/run/netns/$p" ] && ip netns exec "$node" "$bin/podnet" cni del demo "$p" \
      --conf-dir "$state/net.d" --cni-path "$bin:/usr/lib/cni" --cache-dir "$state/cache" \
      >/dev/null 2>&1 || true
    ip netns delete "$p" 2>/dev/null || true
  done
  ip netns delete "$node" 2>/dev/null || true
  rm -rf "$state"
}

case "${1:-}" in
  --down) down; echo "demo removed"; exit 0 ;;
  --keep) keep=1 ;;
  *) keep=0 ;;
esac

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

step "installing what podnet needs and building (release)"
scripts/install-deps.sh
cargo build --release --locked --bin podnet --bin podnet-cni --bin podnet-ipam

down   # leftovers of an earlier run of this demo
[ "$keep" = 1 ] || trap down EXIT

step "a node and two pod sandboxes, as network namespaces"
ip netns add "$node"; ip -n "$node" link set lo up
for p in "${pods[@]}"; do ip netns add "$p"; done
ip netns list | grep pn-demo

mkdir -p "$state/net.d"
sed "s|@DATA_DIR@|$state/ipam|" examples/cni/demo.conflist > "$state/net.d/10-demo.conflist"
step "the network config ($state/net.d/10-demo.conflist)"
cat "$state/net.d/10-demo.conflist"

declare -A ip_of
for p in "${pods[@]}"; do
  step "podnet cni add demo $p   (inside the node's namespace)"
  out=$(ip netns exec "$node" "$bin/podnet" cni add demo "$p" \
    --conf-dir "$state/net.d" --cni-path "$bin:/usr/lib/cni" --cache-dir "$state/cache")
  echo "$out"
  ip_of[$p]=$(echo "$out" | python3 -c 'import json,sys; print(json.load(sys.stdin)["ips"][0]["address"].split("/")[0])')
done

step "what the kernel now holds"
echo "-- node: bridge and its ports"; ip -n "$node" -br link show master cni-demo
echo "-- node: bridge address";       ip -n "$node" -br addr show cni-demo
echo "-- pod a: eth0 and routes";     ip -n "${pods[0]}" -br addr show eth0; ip -n "${pods[0]}" route

step "pod a (${ip_of[${pods[0]}]}) → pod b (${ip_of[${pods[1]}]})"
ip netns exec "${pods[0]}" ping -c 3 -W 1 "${ip_of[${pods[1]}]}"
step "pod b → pod a"
ip netns exec "${pods[1]}" ping -c 3 -W 1 "${ip_of[${pods[0]}]}"

if [ "$keep" = 1 ]; then
  step "left up: try 'ip netns exec ${pods[0]} ping ${ip_of[${pods[1]}]}'; remove with $0 --down"
else
  step "done: removing the demo (podnet cni del, then the namespaces)"
fi
