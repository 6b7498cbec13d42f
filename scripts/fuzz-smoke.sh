#!/usr/bin/env bash
# A short run of every fuzz target (default 25 s each, FUZZ_SECONDS to change): seeds the
# corpora from the tests, builds the targets with nightly's libFuzzer instrumentation
# (fuzz/target), then runs each from its corpus. A crash fails the script and leaves its
# input under fuzz/artifacts/<target>/ (`cargo +nightly fuzz run TARGET ARTIFACT` replays it).
# The long runs are the same command without the time limit:
#   cd fuzz && cargo +nightly fuzz run -s none TARGET -- -jobs=2 -workers=2
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${FUZZ_SECONDS:-25}
targets=(dns_message corefile cni_config ipam_state api_body api_patch kind_config)

command -v rustup >/dev/null && rustup toolchain list | grep -q '^nightly' \
  || { echo "fuzz-smoke: the nightly toolchain is required (rustup toolchain install nightly)" >&2; exit 1; }
if ! cargo fuzz --version >/dev/null 2>&1; then
  echo "fuzz-smoke: installing cargo-fuzz"
  cargo install cargo-fuzz --locked
fi

scripts/fuzz-corpus.sh >/dev/null
cd fuzz
cargo +nightly fuzz build -s none
log=$(mktemp)
trap 'rm -f "$log"' EXIT
for t in "${targets[@]}"; do
  # -s none: the targets are safe Rust, so AddressSanitizer only slows them; panics and
  # failed assertions are what they report.
  if ! cargo +nightly fuzz run -s none "$t" -- -max_total_time="$seconds" -print_final_stats=1 \
       >"$log" 2>&1; then
    tail -40 "$log" >&2
    echo "fuzz-smoke: $t failed (its input is under fuzz/artifacts/$t/)" >&2
    exit 1
  fi
  echo "fuzz-smoke: $t: $(grep -o 'number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$') executions in ${seconds}s"
done
