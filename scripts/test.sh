#!/usr/bin/env bash
# The whole test suite: format and lint gates, then every test — unit, real-kernel and
# end-to-end — inside a private network and mount namespace, so that not even a buggy test
# can touch this machine's own network. Needs root (every kernel test is real).
set -euo pipefail
cd "$(dirname "$0")/.."
[ "$(id -u)" = 0 ] || { echo "run as root: the kernel tests create network namespaces" >&2; exit 1; }
# Golden files are compared, never rewritten, in a full run: UPDATE_GOLDEN cannot make it pass.
[ -z "${UPDATE_GOLDEN:-}" ] || { echo "UPDATE_GOLDEN is set: the suite compares golden files, it does not rewrite them (unset it; rewrite with cargo nextest run -p PKG --test NAME)" >&2; exit 1; }

scripts/install-deps.sh
cargo fmt --all -- --check
cargo clippy --workspace --all-targets --locked -- -D warnings
cargo build --workspace --all-targets --locked

if cargo nextest --version >/dev/null 2>&1; then
  runner=(cargo nextest run --workspace --offline --locked --no-fail-fast)
else
  runner=(cargo test --workspace --offline --locked --no-fail-fast)
fi
# Leftovers of an earlier, killed run (our own prefix only).
for ns in $(ip netns list 2>/dev/null | awk '{print $1}' | grep '^pn-t-' || true); do
  ip netns delete "$ns" || true
done
# A private tmpfs on /run/netns: the namespaces tests pin there (and any a killed test leaves
# behind) never appear in the machine's own /run/netns.
# The fuzz targets' bodies run in the suite on stable over their seeds (crates/fuzz-checks);
# `scripts/fuzz-smoke.sh` fuzzes each target with cargo-fuzz on nightly, apart from the suite
# (a cold nightly build of the targets does not fit the suite's time budget).
exec unshare --net --mount --propagation private -- \
  bash -c 'mkdir -p /run/netns && mount -t tmpfs podnet-test-netns /run/netns &&
           ip link set lo up && exec "$@"' bash "${runner[@]}" "$@"
