#!/usr/bin/env bash
# The main job: install what podnet needs, build it, and bring up the quick-start lab — a
# three-node Kubernetes cluster made of network namespaces (examples/quick-start) with three
# web pods behind a Service and a client pod — then show packets going where Kubernetes says
# they go. The lab stays up for exploring; `scripts/quick-start.sh --down` removes it.
# The machine's own network is never touched: everything lives in namespaces podnet.quickstart.*.
set -euo pipefail
cd "$(dirname "$0")/.."
[ "$(id -u)" = 0 ] || { echo "run as root: the lab creates network namespaces" >&2; exit 1; }
podnet=$PWD/target/release/podnet
lab=(lab --name quickstart)

if [ "${1:-}" = "--down" ]; then
  "$podnet" "${lab[@]}" down
  exit 0
fi

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
show() { printf '\033[2m$ %s\033[0m\n' "$*"; "$@"; }

step "installing what podnet needs and building (release)"
scripts/install-deps.sh
cargo build --release --locked --bin podnet --bin podnet-cni --bin podnet-ipam

step "the lab: 3 nodes, the web Deployment and Service, a client pod"
# A lab left by an earlier run starts over from its config.
"$podnet" "${lab[@]}" down >/dev/null 2>&1 || true
show "$podnet" "${lab[@]}" up --config examples/quick-start/kind.yaml -f examples/quick-start/web.yaml
show "$podnet" "${lab[@]}" get nodes -o wide
show "$podnet" "${lab[@]}" get pods -o wide

ips=$("$podnet" "${lab[@]}" get pods -l app=web -o json |
  python3 -c 'import json,sys; print(" ".join(p["status"]["podIP"] for p in json.load(sys.stdin)["items"]))')
step "the client reaches every web pod, on its own node or another, by pod IP (no NAT: they see the client's IP)"
for ip in $ips; do
  show "$podnet" "${lab[@]}" exec client -- curl -s -m 5 "http://$ip:8080/clientip"; echo
done
step "by name: the cluster DNS (podnet dns at 10.96.0.10) and the Service (podnet agent, kube-proxy's nftables table) spread requests over the web pods"
for i in 1 2 3 4; do
  show "$podnet" "${lab[@]}" exec client -- curl -s -m 5 http://web/hostname; echo
done
show "$podnet" "${lab[@]}" exec client -- dig +short web.default.svc.cluster.local
show "$podnet" "${lab[@]}" node-exec quickstart-worker -- nft list chain ip kube-proxy services

step "leaving the cluster, the client is its node (egress masquerade); the external host sees the node IP"
show "$podnet" "${lab[@]}" exec client -- curl -s -m 5 http://203.0.113.10/clientip; echo
step "the pod's own files"
show "$podnet" "${lab[@]}" exec client -- cat /etc/resolv.conf

cat <<MSG

The lab is up. Explore it:
  export KUBECONFIG=\$($podnet ${lab[*]} kubeconfig)
  kubectl get pods -o wide                     # kubectl: /opt/podnet/kubectl/bin/kubectl
  $podnet ${lab[*]} exec client -- curl -s http://<web pod IP>:8080/hostname
  $podnet ${lab[*]} node-exec quickstart-worker -- ip route
  $podnet ${lab[*]} logs quickstart-worker/agent
  $podnet ${lab[*]} --help
Remove it:  scripts/quick-start.sh --down
MSG
