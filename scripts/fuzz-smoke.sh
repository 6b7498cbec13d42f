#!/usr/bin/env bash
# A short coverage-guided run of every cargo-fuzz target (FUZZ_SECONDS each, default 20),
# as the full test run does after the suite (scripts/test.sh). Installs what a fresh machine
# lacks: the nightly toolchain (minimal profile) and cargo-fuzz. Each target starts from its
# checked-in seeds (fuzz/seeds/<target>, read only) and its working corpus (fuzz/corpus,
# ignored by git), with debug assertions on (a dev build: it builds in half the time of a
# release one, and a short run needs no speed). A crash fails the script and leaves its
# input under fuzz/artifacts/<target>/; replay it with
#   cd fuzz && cargo +nightly fuzz run -s none --dev TARGET artifacts/TARGET/crash-…
# and keep it as a seed once fixed. Long runs: see fuzz/README.md.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${FUZZ_SECONDS:-20}

if ! rustup toolchain list | grep -q '^nightly'; then
  echo "fuzz-smoke: installing the nightly toolchain"
  rustup toolchain install nightly --profile minimal >/dev/null
fi
if ! cargo fuzz --version >/dev/null 2>&1; then
  echo "fuzz-smoke: installing cargo-fuzz"
  cargo install cargo-fuzz --locked --quiet
fi

cd fuzz
# -s none: the targets are safe Rust, so AddressSanitizer only slows them; panics and
# failed assertions are what they report.
cargo +nightly fuzz build -s none --dev
log=$(mktemp)
trap 'rm -f "$log"' EXIT
for t in $(cargo +nightly fuzz list); do
  mkdir -p "corpus/$t"
  if ! cargo +nightly fuzz run -s none --dev "$t" "corpus/$t" "seeds/$t" -- \
       -max_total_time="$seconds" -print_final_stats=1 >"$log" 2>&1; then
    tail -40 "$log" >&2
    echo "fuzz-smoke: $t failed (its input is under fuzz/artifacts/$t/)" >&2
    exit 1
  fi
  echo "fuzz-smoke: $t: $(grep -o 'number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$') executions in ${seconds}s"
done
