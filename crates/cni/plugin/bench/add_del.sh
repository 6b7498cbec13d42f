#!/usr/bin/env bash
# ADD and DEL latency of podnet-cni against Debian's reference bridge plugin, each with the
# same IPAM plugin (Debian's host-local; podnet-ipam too), timed end to end as a runtime
# sees a plugin call (process start to exit), medians over ROUNDS rounds.
#
#   crates/cni/plugin/bench/add_del.sh [ROUNDS]      (root; default 150)
#
# Runs itself inside a private network+mount namespace, which plays the node: the
# machine's own network is never touched. Contenders alternate within each round.
set -euo pipefail
ROUNDS=${1:-150}
if [ -z "${PODNET_BENCH_INSIDE:-}" ]; then
  cd "$(dirname "$0")/../../../.."
  target=$(realpath -m "${CARGO_TARGET_DIR:-target}")
  [ -n "${PODNET_BENCH_NO_BUILD:-}" ] ||
    CARGO_TARGET_DIR=$target cargo build --release --quiet --bin podnet-cni --bin podnet-ipam
  bin=$(mktemp -d)
  ln -s "$target/release/podnet-cni" "$target/release/podnet-ipam" \
    /usr/lib/cni/bridge /usr/lib/cni/host-local "$bin/"
  PODNET_BENCH_INSIDE=1 PODNET_BENCH_BIN=$bin exec unshare --net --mount --propagation private -- "$0" "$ROUNDS"
fi

ip link set lo up
mount -t tmpfs tmpfs /run/netns 2>/dev/null || { mkdir -p /run/netns && mount -t tmpfs tmpfs /run/netns; }
ip netns add bench-pod
data=$(mktemp -d)
export CNI_PATH=$PODNET_BENCH_BIN CNI_NETNS=/run/netns/bench-pod CNI_IFNAME=eth0

conf() { # plugin ipam bridge subnet
  printf '{"cniVersion":"1.0.0","name":"bench-%s-%s","type":"%s","bridge":"%s","isGateway":true,"ipam":{"type":"%s","dataDir":"%s","ranges":[[{"subnet":"%s"}]]}}' \
    "$1" "$2" "$1" "$3" "$2" "$data" "$4"
}
contenders=("podnet-cni host-local br-p1 10.50.1.0/24"
            "bridge host-local br-r1 10.50.2.0/24"
            "podnet-cni podnet-ipam br-p2 10.50.3.0/24")
declare -A add_t del_t
call_ms() { # verb conf -> prints ms
  local t0=$EPOCHREALTIME
  CNI_COMMAND=$1 CNI_CONTAINERID=bench "$CNI_PATH/$plugin" <<<"$2" >/tmp/podnet-bench.out ||
    { echo "$plugin $1 failed: $(cat /tmp/podnet-bench.out)" >&2; kill $$; }
  local t1=$EPOCHREALTIME
  echo "(${t1/./} - ${t0/./}) / 1000" | bc -l
}
for ((r = 0; r < ROUNDS + 5; r++)); do
  for c in "${contenders[@]}"; do
    read -r plugin ipam br subnet <<<"$c"
    cf=$(conf "$plugin" "$ipam" "$br" "$subnet")
    a=$(call_ms ADD "$cf"); d=$(call_ms DEL "$cf")
    if ((r >= 5)); then  # the first rounds warm caches and create the bridges
      add_t[$c]+="$a "; del_t[$c]+="$d "
    fi
  done
done
median() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{v[NR]=$1} END {printf "%.2f", (NR%2)? v[(NR+1)/2] : (v[NR/2]+v[NR/2+1])/2}'; }
printf '%-26s %10s %10s %12s   (%d rounds, ms, medians)\n' contender ADD DEL ADD+DEL "$ROUNDS"
for c in "${contenders[@]}"; do
  read -r plugin ipam _ <<<"$c"
  a=$(median <<<"${add_t[$c]}"); d=$(median <<<"${del_t[$c]}")
  printf '%-26s %10s %10s %12.2f\n' "$plugin + $ipam" "$a" "$d" "$(echo "$a + $d" | bc -l)"
done
